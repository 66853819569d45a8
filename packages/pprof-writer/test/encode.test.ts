// encodeProfile writes the bytes pprof-format's own encode() writes, for every kind of field and
// number: the encoder is ours for speed (issue 14), pprof-format stays the reference.
import assert from 'node:assert/strict';
import { Function as PprofFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { encodeProfile, toPprof } from '../src';
import { handMadeProfile, prng, randomProfile } from './helpers';

const same = (p: Profile, what: string): void => {
  const ours = Buffer.from(encodeProfile(p));
  const theirs = Buffer.from(p.encode());
  assert.equal(ours.length, theirs.length, `${what}: length`);
  assert.ok(ours.equals(theirs), `${what}: the first differing byte is at ${ours.findIndex((b, i) => b !== theirs[i])}`);
  // And what a reader gets back is the profile itself.
  assert.deepEqual(Profile.decode(ours).sample.length, p.sample.length, `${what}: samples read back`);
};

describe('encodeProfile: pprof-format\'s bytes, measured once', () => {
  it('the hand-made profile and 20 random ones, as toPprof builds them', () => {
    same(toPprof(handMadeProfile()), 'hand-made');
    for (let seed = 1; seed <= 20; seed++) same(toPprof(randomProfile(seed, 50 + seed * 37, 10 + seed, 1 + (seed % 5))), `random ${seed}`);
  });

  it('runs of inlined frames (several Lines to a Location)', () => {
    const outer = { name: 'render', file: '/app/r.js', line: 10, column: 3 };
    const inl = { name: 'escape', file: '/app/e.js', line: 2, column: 9, inlined: true };
    same(toPprof({
      periodNanos: 1e7,
      samples: [
        { frames: [inl, { ...inl, name: 'fmt', inlined: true }, outer], count: 3, cpuNanos: 3e7 },
        { frames: [outer], count: 1, cpuNanos: 1e7, labels: { thread_id: 7, thread_name: 'main' } },
      ],
    }), 'inlined');
  });

  it('every field, zero, small, large, negative and bigint numbers', () => {
    const rnd = prng(42);
    const numbers: (number | bigint)[] = [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31,
      2 ** 32, 2 ** 35, 2 ** 42 + 5, 2 ** 49 - 2, 2 ** 53 - 1, -1, -(2 ** 31), -(2 ** 40), 0n, 1n, 2n ** 56n - 1n, 2n ** 56n,
      2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, -1n];
    const pick = (): number | bigint => numbers[Math.floor(rnd() * numbers.length)]!;
    const strings = new StringTable();
    for (const s of ['', 'cpu', 'nanoseconds', 'é — ü', 'x'.repeat(300)]) strings.dedup(s);
    for (let round = 0; round < 30; round++) {
      const p = new Profile({
        sampleType: [new ValueType({ type: pick() || 2, unit: pick() }), new ValueType({ type: 1, unit: pick() })].slice(0, 1 + (round % 2)),
        sample: Array.from({ length: 1 + (round % 4) }, (_, i) => new Sample({
          locationId: Array.from({ length: i + round % 3 }, pick),
          value: [pick(), pick(), 0],
          label: i % 2 ? [new Label({ key: pick() || 5, str: pick() }), new Label({ key: 3, num: pick(), numUnit: pick() })] : [],
        })),
        mapping: [new Mapping({ id: pick() || 1, memoryStart: pick(), memoryLimit: pick(), fileOffset: pick(), filename: pick(), buildId: pick(),
          hasFunctions: round % 2 === 0, hasFilenames: round % 3 === 0, hasLineNumbers: true, hasInlineFrames: round % 5 === 0 })],
        location: Array.from({ length: round % 4 }, () => new Location({
          id: pick() || 1, mappingId: pick(), address: pick(), isFolded: round % 2 === 1,
          line: Array.from({ length: 1 + (round % 3) }, () => new Line({ functionId: pick() || 1, line: pick(), column: pick() })),
        })),
        function: Array.from({ length: round % 3 }, () => new PprofFunction({ id: pick() || 1, name: pick(), systemName: pick(), filename: pick(), startLine: pick() })),
        stringTable: strings,
        dropFrames: pick(), keepFrames: pick(), timeNanos: pick(), durationNanos: pick(),
        periodType: round % 4 === 0 ? undefined : new ValueType({ type: pick() || 1, unit: pick() }),
        period: pick(), comment: round % 2 ? [pick(), pick(), 0] : [], defaultSampleType: pick(), docUrl: pick(),
      });
      same(p, `round ${round}`);
    }
  });

  // pprof-format measures an empty sub-message (every field 0) as nothing but writes its tag and
  // length: the rounds above give each one a field. Ours writes it whole and measures it so.
  it('an empty profile', () => {
    same(new Profile(), 'empty');
  });
});
