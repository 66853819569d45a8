// Identical stacks with identical labels become one pprof sample (counts and cpu ns summed);
// anything that differs (a frame field, a label, a label's type) keeps rows apart.
import assert from 'node:assert/strict';
import { toPprof, type ProfileInput, type SampleInput } from '../src';
import { randomProfile } from './helpers';

const num = (v: number | bigint): number => Number(v);
const f = (name: string, line = 1, column = 1) => ({ name, file: '/a.js', line, column });

function values(input: ProfileInput): number[][] {
  return toPprof(input).sample.map((s) => s.value.map(num));
}

function profile(samples: SampleInput[]): ProfileInput {
  return { periodNanos: 1e7, samples };
}

describe('merging identical rows', () => {
  it('sums counts and cpu ns of identical stacks with identical labels', () => {
    const labels = { thread_id: 7, thread_name: 'main' };
    const v = values(profile([
      { frames: [f('a'), f('b')], count: 2, cpuNanos: 20, labels },
      { frames: [f('a'), f('b')], count: 3, cpuNanos: 31, labels: { thread_name: 'main', thread_id: 7 } }, // key order differs
      { frames: [f('a'), f('b')], count: 5, cpuNanos: 50.4, labels },
    ]));
    assert.deepEqual(v, [[10, 101]]);
  });

  it('sums fractional cpu ns before rounding', () => {
    const v = values(profile([
      { frames: [f('a')], count: 1, cpuNanos: 0.4 },
      { frames: [f('a')], count: 1, cpuNanos: 0.4 },
    ]));
    assert.deepEqual(v, [[2, 1]]); // 0.8 -> 1; rounding each row first would give 0
  });

  it('keeps rows apart when a frame, its order, a column, a label value or a label type differs', () => {
    const base: SampleInput = { frames: [f('a'), f('b')], count: 1, cpuNanos: 10, labels: { thread_id: 1 } };
    const variants: SampleInput[] = [
      base,
      { ...base, frames: [f('b'), f('a')] },
      { ...base, frames: [f('a', 1, 2), f('b')] },
      { ...base, frames: [f('a', 2), f('b')] },
      { ...base, frames: [{ ...f('a'), file: '/b.js' }, f('b')] },
      { ...base, frames: [f('a')] },
      { ...base, labels: { thread_id: 2 } },
      { ...base, labels: { thread_id: '1' } },
      { ...base, labels: { thread_id: 1, thread_name: 'x' } },
      { ...base, labels: {} },
    ];
    const p = toPprof(profile(variants));
    // Rows with no labels and rows whose labels object is empty are the same row.
    assert.equal(p.sample.length, variants.length);
    const again = toPprof(profile([...variants, ...variants]));
    assert.equal(again.sample.length, variants.length);
    assert.deepEqual(again.sample.map((s) => s.value.map(num)), variants.map(() => [2, 20]));
  });

  it('treats absent labels, an empty labels object and "" label values alike', () => {
    const v = values(profile([
      { frames: [f('a')], count: 1, cpuNanos: 1 },
      { frames: [f('a')], count: 1, cpuNanos: 1, labels: {} },
      { frames: [f('a')], count: 1, cpuNanos: 1, labels: { thread_name: '' } },
    ]));
    assert.deepEqual(v, [[3, 3]]);
  });

  it('merges a random profile into exactly its distinct (stack, labels) keys, totals unchanged', () => {
    const input = randomProfile(99, 400, 3, 2); // few functions and threads: many duplicates
    const keys = new Map<string, [number, number]>();
    let count = 0;
    let cpu = 0;
    for (const s of input.samples) {
      const k = JSON.stringify([s.frames.map((x) => [x.name, x.file, x.line, x.column]), s.labels]);
      const e = keys.get(k) ?? [0, 0];
      keys.set(k, [e[0] + s.count, e[1] + s.cpuNanos]);
      count += s.count;
      cpu += s.cpuNanos;
    }
    assert.ok(keys.size < input.samples.length, 'the fixture has duplicates');
    const v = values(input);
    assert.equal(v.length, keys.size);
    assert.deepEqual(v, [...keys.values()]);
    assert.equal(v.reduce((a, x) => a + x[0]!, 0), count);
    assert.equal(v.reduce((a, x) => a + x[1]!, 0), cpu);
  });
});
