// mergeProfiles: two consecutive windows of one process as one profile, what one profile of both
// stretches would hold. Synthetic windows (the real ones come from window.test.ts's sampler).
import assert from 'node:assert/strict';
import { countFacts, mergeProfiles, type Frame, type Profile } from '../src';
import { emptyStats } from '../src/profile';

const f = (name: string, line = 1): Frame => ({ name, file: '/app.js', line, column: 1 });

function window(start: bigint, rows: { tid: number; name: string; frames: Frame[]; count: number; cpu: number }[], records: number): Profile {
  const threads = new Map<number, { tid: number; name: string; js: boolean; count: number; cpuNanos: number }>();
  for (const r of rows) {
    const t = threads.get(r.tid) ?? { tid: r.tid, name: r.name, js: true, count: 0, cpuNanos: 0 };
    t.count += r.count;
    t.cpuNanos += r.cpu;
    threads.set(r.tid, t);
  }
  const stats = { ...emptyStats(), records, kept: records, dropped: { ring: 1, shared: 0 }, codeMaps: 2, uniqueStacks: rows.length };
  return {
    samples: rows.map((r) => ({ frames: r.frames, count: r.count, cpuNanos: r.cpu, labels: { thread_id: r.tid, thread_name: r.name, thread_kind: 'js' as const } })),
    periodNanos: 1e7, hz: 100, mode: 'all', startTimeNanos: start, durationNanos: 1e9, processCpuNanos: 5e8,
    threads: [...threads.values()], stats,
    facts: { hz: 100, mode: 'all', ...countFacts(stats), threads: threads.size, process_cpu_nanos: 5e8, timer_signal: 'SIGRTMIN+6' },
    comments: [],
  };
}

describe('mergeProfiles', () => {
  // Equal frames from different windows are different objects (as after source mapping).
  const a = window(1000n, [
    { tid: 1, name: 'main', frames: [f('hot'), f('main')], count: 3, cpu: 30e6 },
    { tid: 2, name: 'worker 1', frames: [f('work')], count: 2, cpu: 20e6 },
  ], 5);
  const b = window(2000n, [
    { tid: 1, name: 'main', frames: [f('hot'), f('main')], count: 4, cpu: 40e6 },
    { tid: 1, name: 'main', frames: [f('cold'), f('main')], count: 1, cpu: 10e6 },
  ], 5);
  const m = mergeProfiles(a, b);

  it('sums rows of the same thread and stack, keeps the others', () => {
    const rows = m.samples.map((s) => `${s.labels.thread_id}:${s.frames.map((x) => x.name).join(';')}=${s.count}/${s.cpuNanos}`).sort();
    assert.deepEqual(rows, ['1:cold;main=1/10000000', '1:hot;main=7/70000000', '2:work=2/20000000']);
    assert.equal(m.stats.uniqueStacks, 3);
  });

  it('adds threads by tid, durations, CPU and the counting facts; keeps the first start', () => {
    assert.deepEqual(m.threads.map((t) => [t.tid, t.count, t.cpuNanos]), [[1, 8, 80e6], [2, 2, 20e6]]);
    assert.equal(m.startTimeNanos, 1000n);
    assert.equal(m.durationNanos, 2e9);
    assert.equal(m.processCpuNanos, 1e9);
    assert.equal(m.facts.records, 10);
    assert.equal(m.facts['dropped.ring'], 2);
    assert.equal(m.facts.process_cpu_nanos, 1e9);
    assert.equal(m.facts.threads, 2);
    assert.equal(m.stats.codeMaps, 2, 'a state (code maps held now), not a count');
    assert.equal(m.facts.timer_signal, 'SIGRTMIN+6');
  });

  it('leaves its inputs as they were (a window is handed to several recordings)', () => {
    assert.equal(a.samples[0].count, 3);
    assert.equal(b.samples[0].count, 4);
    assert.equal(a.facts.records, 5);
  });
});
