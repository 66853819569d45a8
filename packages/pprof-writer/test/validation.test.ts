// Bad input throws a TypeError that names the field, from every entry point, before any output.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodePprof, toFolded, toPprof, writeFoldedFileSync, writePprofFile, writePprofFileSync, type ProfileInput } from '../src';
import { rmDir, tmpDir } from './helpers';

const good = (): ProfileInput => ({
  periodNanos: 1e7,
  samples: [{ frames: [{ name: 'f', file: '/a.js', line: 1, column: 2 }], count: 1, cpuNanos: 1e7, labels: { thread_id: 1 } }],
});

/** [what, mutate the good input, the field the message must name] */
const cases: [string, (p: any) => void, string][] = [
  ['periodNanos 0', (p) => { p.periodNanos = 0; }, 'periodNanos'],
  ['periodNanos negative', (p) => { p.periodNanos = -1; }, 'periodNanos'],
  ['periodNanos NaN', (p) => { p.periodNanos = NaN; }, 'periodNanos'],
  ['periodNanos Infinity', (p) => { p.periodNanos = Infinity; }, 'periodNanos'],
  ['periodNanos missing', (p) => { delete p.periodNanos; }, 'periodNanos'],
  ['periodNanos a string', (p) => { p.periodNanos = '100'; }, 'periodNanos'],
  ['samples missing', (p) => { delete p.samples; }, 'samples'],
  ['samples not an array', (p) => { p.samples = {}; }, 'samples'],
  ['sample null', (p) => { p.samples[0] = null; }, 'samples[0]'],
  ['frames missing', (p) => { delete p.samples[0].frames; }, 'samples[0].frames'],
  ['frames not an array', (p) => { p.samples[0].frames = 'f'; }, 'samples[0].frames'],
  ['frame not an object', (p) => { p.samples[0].frames = [1]; }, 'samples[0].frames[0]'],
  ['frame name missing', (p) => { delete p.samples[0].frames[0].name; }, 'samples[0].frames[0].name'],
  ['frame name a number', (p) => { p.samples[0].frames[0].name = 3; }, 'samples[0].frames[0].name'],
  ['frame file a number', (p) => { p.samples[0].frames[0].file = 3; }, 'samples[0].frames[0].file'],
  ['frame line negative', (p) => { p.samples[0].frames[0].line = -1; }, 'samples[0].frames[0].line'],
  ['frame line fractional', (p) => { p.samples[0].frames[0].line = 1.5; }, 'samples[0].frames[0].line'],
  ['frame column NaN', (p) => { p.samples[0].frames[0].column = NaN; }, 'samples[0].frames[0].column'],
  ['count negative', (p) => { p.samples[0].count = -1; }, 'samples[0].count'],
  ['count fractional', (p) => { p.samples[0].count = 0.5; }, 'samples[0].count'],
  ['count NaN', (p) => { p.samples[0].count = NaN; }, 'samples[0].count'],
  ['count missing', (p) => { delete p.samples[0].count; }, 'samples[0].count'],
  ['count a bigint', (p) => { p.samples[0].count = 1n; }, 'samples[0].count'],
  ['cpuNanos negative', (p) => { p.samples[0].cpuNanos = -0.1; }, 'samples[0].cpuNanos'],
  ['cpuNanos Infinity', (p) => { p.samples[0].cpuNanos = Infinity; }, 'samples[0].cpuNanos'],
  ['cpuNanos missing', (p) => { delete p.samples[0].cpuNanos; }, 'samples[0].cpuNanos'],
  ['labels an array', (p) => { p.samples[0].labels = []; }, 'samples[0].labels'],
  ['label value fractional', (p) => { p.samples[0].labels = { x: 1.5 }; }, 'samples[0].labels["x"]'],
  ['label value NaN', (p) => { p.samples[0].labels = { x: NaN }; }, 'samples[0].labels["x"]'],
  ['label value an object', (p) => { p.samples[0].labels = { x: {} }; }, 'samples[0].labels["x"]'],
  ['label value boolean', (p) => { p.samples[0].labels = { x: true }; }, 'samples[0].labels["x"]'],
  ['label key empty', (p) => { p.samples[0].labels = { '': 'v' }; }, 'samples[0].labels'],
  ['startTimeNanos negative', (p) => { p.startTimeNanos = -1; }, 'startTimeNanos'],
  ['startTimeNanos negative bigint', (p) => { p.startTimeNanos = -1n; }, 'startTimeNanos'],
  ['startTimeNanos NaN', (p) => { p.startTimeNanos = NaN; }, 'startTimeNanos'],
  ['startTimeNanos a string', (p) => { p.startTimeNanos = '1'; }, 'startTimeNanos'],
  ['durationNanos negative', (p) => { p.durationNanos = -5; }, 'durationNanos'],
  ['durationNanos Infinity', (p) => { p.durationNanos = Infinity; }, 'durationNanos'],
  ['comments not an array', (p) => { p.comments = 'x'; }, 'comments'],
  ['comment not a string', (p) => { p.comments = ['a', 2]; }, 'comments[1]'],
  ['mappingFile a number', (p) => { p.mappingFile = 1; }, 'mappingFile'],
  ['second sample bad', (p) => { p.samples.push({ frames: [], count: 1, cpuNanos: -1 }); }, 'samples[1].cpuNanos'],
];

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('validation', () => {
  it('accepts the good input (the cases below differ from it in one field only)', () => {
    assert.doesNotThrow(() => toPprof(good()));
  });

  for (const [what, mutate, field] of cases) {
    it(`rejects ${what} with a TypeError naming ${field}`, () => {
      const input = good();
      mutate(input);
      const named = new RegExp(`(^|[^\\w.\\[])${escapeRe(field)}( |$)`);
      for (const call of [() => toPprof(input), () => encodePprof(input), () => toFolded(input)]) {
        assert.throws(call, (err: unknown) => {
          assert.ok(err instanceof TypeError, `a TypeError, got ${String(err)}`);
          assert.match(err.message, named);
          return true;
        });
      }
    });
  }

  it('rejects a non-object input', () => {
    for (const bad of [undefined, null, 42, 'x', []]) {
      assert.throws(() => toPprof(bad as any), (e: unknown) => e instanceof TypeError && /\binput\b/.test(e.message));
    }
  });

  it('rejects bad folded options', () => {
    assert.throws(() => toFolded(good(), { value: 'wall' as any }), /options\.value/);
    assert.throws(() => toFolded(good(), { rootLabel: '' }), /options\.rootLabel/);
  });

  it('accepts the edge values: zero counts, empty samples, optional fields null or absent', () => {
    assert.doesNotThrow(() => toPprof({ periodNanos: 0.6, samples: [] }));
    assert.doesNotThrow(() => toPprof({ periodNanos: 1, samples: [{ frames: [], count: 0, cpuNanos: 0 }] }));
    assert.doesNotThrow(() => toPprof({
      periodNanos: 1, startTimeNanos: 0n, durationNanos: 0, comments: [],
      samples: [{ frames: [{ name: 'x', file: null as any, line: undefined, column: 0 }], count: 1, cpuNanos: 0.5, labels: { n: -3 } }],
    }));
  });

  it('throws before any file is touched', async () => {
    const dir = tmpDir('validation');
    try {
      const target = path.join(dir, 'out.pb.gz');
      fs.writeFileSync(target, 'old');
      const bad = good();
      (bad as any).periodNanos = -1;
      assert.throws(() => writePprofFileSync(target, bad), TypeError);
      await assert.rejects(writePprofFile(target, bad), TypeError);
      assert.throws(() => writeFoldedFileSync(target, bad), TypeError);
      assert.deepEqual(fs.readdirSync(dir), ['out.pb.gz']);
      assert.equal(fs.readFileSync(target, 'utf8'), 'old');
    } finally {
      rmDir(dir);
    }
  });
});
