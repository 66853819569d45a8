// encode -> decodePprof: every number and string of the input survives; ids and the string table
// follow the pprof rules. The decoded Profile is read field by field here (not via the package's
// own readers) so that a bug in those cannot hide a bug in the writer.
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import type { Profile } from 'pprof-format';
import { decodePprof, encodePprof, toPprof, topFunctions, type FrameInput, type ProfileInput } from '../src';
import { handMadeProfile, randomProfile } from './helpers';

const num = (v: number | bigint): number => (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : v);

interface Back {
  frames: Required<Pick<FrameInput, 'name' | 'file' | 'line' | 'column'>>[];
  count: number;
  cpu: number;
  labels: Record<string, string | number>;
}

/** Rebuilds the input rows from a decoded profile. */
function rowsOf(p: Profile): Back[] {
  const s = (i: number | bigint): string => {
    const str = p.stringTable.strings[num(i)];
    assert.notEqual(str, undefined, `string index ${i} out of range`);
    return str!;
  };
  const fns = new Map(p.function.map((f) => [num(f.id), f]));
  const locs = new Map(p.location.map((l) => [num(l.id), l]));
  return p.sample.map((smp) => {
    const frames = smp.locationId.map((id) => {
      const loc = locs.get(num(id));
      assert.ok(loc, `location ${id} exists`);
      assert.equal(num(loc.mappingId), 1);
      assert.equal(loc.line.length, 1, 'one Line per Location');
      const line = loc.line[0]!;
      const fn = fns.get(num(line.functionId));
      assert.ok(fn, `function ${line.functionId} exists`);
      assert.equal(s(fn.systemName), s(fn.name), 'system_name = name');
      assert.equal(num(fn.startLine), num(line.line), 'start_line is the frame line');
      return { name: s(fn.name), file: s(fn.filename), line: num(line.line), column: num(line.column) };
    });
    const labels: Record<string, string | number> = {};
    for (const l of smp.label) {
      const key = s(l.key);
      assert.ok(!(key in labels), `label ${key} once per sample`);
      labels[key] = num(l.str) !== 0 ? s(l.str) : num(l.num);
    }
    assert.equal(smp.value.length, 2);
    return { frames, count: num(smp.value[0]!), cpu: num(smp.value[1]!), labels };
  });
}

function expectedRows(input: ProfileInput): Back[] {
  return input.samples.map((r) => ({
    frames: r.frames.map((f) => ({ name: f.name, file: f.file ?? '', line: f.line ?? 0, column: f.column ?? 0 })),
    count: r.count,
    cpu: Math.round(r.cpuNanos),
    labels: { ...r.labels },
  }));
}

function assertWellFormed(p: Profile): void {
  const strings = p.stringTable.strings;
  assert.equal(strings[0], '', 'string table starts with ""');
  assert.equal(new Set(strings).size, strings.length, 'string table deduplicated');
  for (const [what, list] of [['mapping', p.mapping], ['location', p.location], ['function', p.function]] as const) {
    const ids = list.map((x) => num(x.id));
    assert.deepEqual(ids, ids.map((_, i) => i + 1), `${what} ids are 1..n`);
  }
}

describe('round trip: encodePprof -> decodePprof', () => {
  it('keeps every count, cpu ns, label, name, file, line, column of the hand-made profile', () => {
    const input = handMadeProfile();
    const buf = encodePprof(input);
    assert.deepEqual([...buf.subarray(0, 2)], [0x1f, 0x8b], 'gzipped');
    const p = decodePprof(buf);
    assertWellFormed(p);
    assert.deepEqual(rowsOf(p), expectedRows(input));
  });

  it('keeps period, period type, sample types, time, duration, comments and the mapping', () => {
    const input = handMadeProfile();
    const p = decodePprof(encodePprof(input));
    const s = (i: number | bigint): string => p.stringTable.strings[num(i)]!;
    assert.deepEqual(p.sampleType.map((t) => [s(t.type), s(t.unit)]), [['samples', 'count'], ['cpu', 'nanoseconds']]);
    assert.ok(p.periodType);
    assert.deepEqual([s(p.periodType.type), s(p.periodType.unit)], ['cpu', 'nanoseconds']);
    assert.equal(num(p.period), input.periodNanos);
    assert.equal(BigInt(p.timeNanos), input.startTimeNanos);
    assert.equal(num(p.durationNanos), input.durationNanos);
    assert.deepEqual(p.comment.map(s), input.comments);
    assert.equal(s(p.defaultSampleType), 'cpu');
    assert.equal(p.mapping.length, 1);
    const m = p.mapping[0]!;
    assert.equal(num(m.id), 1);
    assert.equal(s(m.filename), input.mappingFile);
    assert.equal(m.hasFunctions, true);
  });

  it('creates one location per distinct frame and one function per distinct (name, file, line)', () => {
    const input = randomProfile(7, 300);
    const p = toPprof(input);
    const locKeys = new Set<string>();
    const fnKeys = new Set<string>();
    for (const r of input.samples) {
      for (const f of r.frames) {
        locKeys.add(JSON.stringify([f.name, f.file, f.line, f.column]));
        fnKeys.add(JSON.stringify([f.name, f.file, f.line]));
      }
    }
    assert.equal(p.location.length, locKeys.size);
    assert.equal(p.function.length, fnKeys.size);
    assertWellFormed(p);
  });

  it('round-trips a random profile of 500 rows (rows without duplicates stay in order)', () => {
    const input = randomProfile(12345, 500);
    const p = decodePprof(encodePprof(input));
    assertWellFormed(p);
    // Merge the expected rows independently: key = frames + labels.
    const merged = new Map<string, Back>();
    for (const r of expectedRows(input)) {
      const key = JSON.stringify([r.frames, r.labels]);
      const m = merged.get(key);
      if (m) { m.count += r.count; m.cpu += r.cpu; } else merged.set(key, { ...r });
    }
    assert.deepEqual(rowsOf(p), [...merged.values()]);
  });

  it('keeps numbers beyond 32 bits, negative numeric labels, unicode and a number-typed start time', () => {
    const start = 1_712_345_678_901 * 1e6; // Date.now() * 1e6, a float above 2^53
    const input: ProfileInput = {
      periodNanos: 1e9 / 3, // not an integer: written rounded
      startTimeNanos: start,
      durationNanos: 86_400e9,
      samples: [
        { frames: [{ name: 'ünïcødé ƒ → 日本', file: '/tmp/ñ/a b.js', line: 123_456, column: 65_000 }],
          count: 3_000_000_000, cpuNanos: 5_000_000_000_123.4, labels: { offset: -5, big: 2 ** 40 + 3, s: 'x' } },
      ],
    };
    const p = decodePprof(encodePprof(input));
    assert.equal(num(p.period), 333_333_333);
    assert.equal(BigInt(p.timeNanos), BigInt(start));
    assert.equal(num(p.durationNanos), 86_400e9);
    assert.deepEqual(rowsOf(p), expectedRows(input));
  });

  it('decodes an uncompressed profile too, and the gzip member is the protobuf of toPprof', () => {
    const input = handMadeProfile();
    const raw = toPprof(input).encode();
    assert.deepEqual(zlib.gunzipSync(encodePprof(input)), Buffer.from(raw));
    assert.deepEqual(rowsOf(decodePprof(Buffer.from(raw))), expectedRows(input));
  });

  it('defaults the mapping to process.execPath and leaves time/duration 0 when not given', () => {
    const p = decodePprof(encodePprof({ periodNanos: 1e6, samples: [{ frames: [{ name: 'f' }], count: 1, cpuNanos: 1e6 }] }));
    assert.equal(p.stringTable.strings[num(p.mapping[0]!.filename)], process.execPath);
    assert.equal(num(p.timeNanos), 0);
    assert.equal(num(p.durationNanos), 0);
    assert.deepEqual(p.comment, []);
    assert.deepEqual(rowsOf(p)[0]!.labels, {});
  });

  it('writes an empty frames array as the single frame "(no stack)" and an empty name as "(anonymous)"', () => {
    const p = toPprof({ periodNanos: 1e6, samples: [
      { frames: [], count: 2, cpuNanos: 2e6 },
      { frames: [{ name: '', file: '/a.js', line: 1 }], count: 1, cpuNanos: 1e6 },
    ] });
    const rows = rowsOf(p);
    assert.deepEqual(rows[0]!.frames, [{ name: '(no stack)', file: '', line: 0, column: 0 }]);
    assert.equal(rows[1]!.frames[0]!.name, '(anonymous)');
  });

  it('writes a profile with no samples', () => {
    const p = decodePprof(encodePprof({ periodNanos: 1e7, samples: [] }));
    assertWellFormed(p);
    assert.equal(p.sample.length, 0);
    assert.equal(p.sampleType.length, 2);
  });
});

describe('inlined frames, system names and start lines', () => {
  // A stack as V8 runs it: leaf() and mid() were inlined into outer()'s optimized code, which
  // main() called. leaf, mid and outer ran at one machine address.
  const leaf: FrameInput = { name: 'leaf', file: '/a.js', line: 3, column: 5, startLine: 1, inlined: true };
  const mid: FrameInput = { name: 'mid', file: '/b.js', line: 12, column: 9, startLine: 10, inlined: true };
  const outer: FrameInput = { name: 'outer', file: '/a.js', line: 22, column: 3, startLine: 20 };
  const main: FrameInput = { name: 'main', file: '/a.js', line: 40, column: 1, startLine: 30, systemName: 'main2' };

  it('writes a run of inlined frames as one Location, innermost Line first, with each line and start line', () => {
    const p = decodePprof(encodePprof({ periodNanos: 1e6, samples: [
      { frames: [leaf, mid, outer, main], count: 3, cpuNanos: 3e6 },
      { frames: [outer, main], count: 1, cpuNanos: 1e6 },
    ] }));
    assertWellFormed(p);
    const s = (i: number | bigint): string => p.stringTable.strings[num(i)]!;
    const fns = new Map(p.function.map((f) => [num(f.id), f]));
    const shape = (locId: number | bigint): string[] => {
      const loc = p.location.find((l) => num(l.id) === num(locId))!;
      return loc.line.map((l) => {
        const fn = fns.get(num(l.functionId))!;
        return `${s(fn.name)}/${s(fn.systemName)} ${s(fn.filename)}:${num(l.line)}:${num(l.column)} start ${num(fn.startLine)}`;
      });
    };
    assert.equal(p.sample[0]!.locationId.length, 2, 'three inlined-together frames are one location, main another');
    assert.deepEqual(shape(p.sample[0]!.locationId[0]!), [
      'leaf/leaf /a.js:3:5 start 1', 'mid/mid /b.js:12:9 start 10', 'outer/outer /a.js:22:3 start 20']);
    assert.deepEqual(shape(p.sample[0]!.locationId[1]!), ['main/main2 /a.js:40:1 start 30']);
    // outer on its own (not an inlined run) is a location of its own; main's is shared.
    assert.deepEqual(shape(p.sample[1]!.locationId[0]!), ['outer/outer /a.js:22:3 start 20']);
    assert.equal(num(p.sample[1]!.locationId[1]!), num(p.sample[0]!.locationId[1]!));
    // One function per (name, system name, file, start line): outer's executing line does not split it.
    assert.equal(p.function.length, 4);
  });

  it('counts each inlined function in top: flat for the innermost, cum for every function of the run', () => {
    const p = toPprof({ periodNanos: 1e6, samples: [{ frames: [leaf, mid, outer, main], count: 2, cpuNanos: 2e6 }] });
    const rows = topFunctions(p);
    const by = new Map(rows.map((r) => [r.name, r]));
    assert.equal(by.get('leaf')!.flat, 2e6);
    assert.equal(by.get('mid')!.flat, 0);
    for (const n of ['leaf', 'mid', 'outer', 'main']) assert.equal(by.get(n)!.cum, 2e6, n);
  });

  it('refuses a non-boolean inlined and a non-integer startLine or startColumn, naming the field', () => {
    assert.throws(() => toPprof({ periodNanos: 1, samples: [{ frames: [{ name: 'f', inlined: 1 as unknown as boolean }], count: 1, cpuNanos: 1 }] }),
      /samples\[0\]\.frames\[0\]\.inlined must be a boolean/);
    assert.throws(() => toPprof({ periodNanos: 1, samples: [{ frames: [{ name: 'f', startLine: -1 }], count: 1, cpuNanos: 1 }] }),
      /samples\[0\]\.frames\[0\]\.startLine must be a non-negative integer/);
    assert.throws(() => toPprof({ periodNanos: 1, samples: [{ frames: [{ name: 'f' }, { name: 'g', startColumn: 1.5 }], count: 1, cpuNanos: 1 }] }),
      /samples\[0\]\.frames\[1\]\.startColumn must be a non-negative integer/);
  });

  it('takes startColumn and writes nothing of it (pprof has no start column)', () => {
    const withColumn = (startColumn?: number): Buffer => Buffer.from(toPprof({
      periodNanos: 1e6, samples: [{ frames: [{ ...outer, ...(startColumn !== undefined ? { startColumn } : {}) }, main], count: 1, cpuNanos: 1e6 }],
    }).encode());
    assert.deepEqual(withColumn(17), withColumn(undefined));
  });
});
