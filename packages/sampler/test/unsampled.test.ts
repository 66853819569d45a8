// Each thread's unsampled remainder (issue 14): the CPU a thread's clock counted in the profile's
// window that its samples do not stand for is one `(unsampled)` row on it, so that the profile
// adds up to the OS's count of the process's CPU. No row is negative: a thread whose samples stood
// for more than it burned (its first period began before the window) carries the difference into
// its next window; what is left at stop is taken off its rows, or, where it has none in the last
// window, is the oversampled_nanos fact.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { binding } from '@ptprof/timers-native';
import { Sampler, mergeProfiles, type Profile } from '../src/index';
import { listTids, threadComm } from '../src/threads';
import { hogHere, hogSource, hogWorkers, nativeIndex, registerPath } from './workloads';

const UNSAMPLED = '(unsampled)';
const isUnsampled = (s: Profile['samples'][number]): boolean => s.frames.length === 1 && s.frames[0].name === UNSAMPLED;
const sum = (rows: Profile['samples']): number => rows.reduce((a, s) => a + s.cpuNanos, 0);
const num = (p: Profile, k: string): number => p.facts[k] as number;

/** `whole`: a profile of the whole run (a window's oversampled_nanos is signed: see the sampler). */
function checkRows(p: Profile, whole = true): void {
  const rows = p.samples.filter(isUnsampled);
  for (const r of rows) {
    assert.equal(r.count, 0, 'an (unsampled) row stands for no signal');
    assert.ok(r.cpuNanos >= 1000, `an (unsampled) row of ${r.cpuNanos} ns`);
  }
  assert.equal(sum(rows), num(p, 'unsampled_nanos'));
  if (whole) assert.ok(num(p, 'oversampled_nanos') >= 0);
}

/** A registered worker that burns `ms` of CPU each time it is told to, and blocks in between. */
function blockingWorker(): Promise<{ tid: number; burn: (ms: number) => Promise<void>; end: () => Promise<void> }> {
  const w = new Worker(`
    require(${JSON.stringify(registerPath)});
    const { binding } = require(${JSON.stringify(nativeIndex)});
    const { parentPort } = require('node:worker_threads');
    const cpu = () => binding.threadCpuNs();
    const unsampledHog = ${hogSource('unsampledHog')};
    parentPort.on('message', (ms) => { if (ms === 0) return parentPort.close(); unsampledHog(ms, cpu); parentPort.postMessage('done'); });
    parentPort.postMessage(binding.gettid());`, { eval: true });
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('message', (tid: number) => {
      resolve({
        tid,
        burn: (ms) => new Promise((done) => { w.once('message', () => done()); w.postMessage(ms); }),
        end: () => new Promise((done) => { w.once('exit', () => done()); w.postMessage(0); }),
      });
    });
  });
}

describe('(unsampled): each thread\'s unsampled remainder', function () {
  this.timeout(60_000);

  it('adds the profile up to the OS\'s count of the process, with threads that exited', async () => {
    const s = new Sampler({ hz: 100, threads: 'all' }).start();
    hogHere('mainHog', 120);
    await hogWorkers(2, (i) => `workerHog${i}`, 60);
    const p = s.stop();
    checkRows(p);
    const total = sum(p.samples);
    const expected = p.processCpuNanos + num(p, 'oversampled_nanos');
    console.log(`      profile ${(total / 1e6).toFixed(3)} ms = ${(sum(p.samples.filter((x) => !isUnsampled(x))) / 1e6).toFixed(3)} sampled + ${(num(p, 'unsampled_nanos') / 1e6).toFixed(3)} unsampled; OS ${(p.processCpuNanos / 1e6).toFixed(3)} ms + ${(num(p, 'oversampled_nanos') / 1e6).toFixed(3)} oversampled`);
    // The clocks are read a few µs apart, and remainders under 1 µs make no row.
    assert.ok(Math.abs(total - expected) < 500_000, `profile ${total} ns, OS ${p.processCpuNanos} ns + oversampled ${num(p, 'oversampled_nanos')} ns`);
    // The two workers exited before the stop: their remainder, if any, is on one row of its own.
    const exited = p.samples.filter((x) => isUnsampled(x) && x.labels.thread_id === 0);
    assert.ok(exited.every((x) => x.labels.thread_name === 'exited threads'));
  });

  it('gives a thread its exact CPU: samples plus its row (less what is carried as oversampled)', async () => {
    const w = await blockingWorker();
    try {
      // The worker is blocked while its clock is read here and by the sampler: both read the same.
      await new Promise((r) => setTimeout(r, 50));
      const before = binding.threadCpuNs(w.tid);
      const s = new Sampler({ hz: 100, threads: 'all' }).start();
      await w.burn(137);
      // Blocked again before the sampler's clocks are read (it posts its answer, then returns to
      // its event loop).
      await new Promise((r) => setTimeout(r, 50));
      const p = s.stop();
      const truth = binding.threadCpuNs(w.tid) - before;
      checkRows(p);
      const mine = p.samples.filter((x) => x.labels.thread_id === w.tid);
      const sampled = sum(mine.filter((x) => !isUnsampled(x)));
      const total = sum(mine);
      console.log(`      worker: clock ${(truth / 1e6).toFixed(3)} ms, samples ${(sampled / 1e6).toFixed(3)} ms, with its row ${(total / 1e6).toFixed(3)} ms`);
      assert.ok(sampled > 0, 'the worker was sampled');
      // Exact either way: CPU its samples missed is its row; what they stood for beyond its CPU
      // is taken off its rows at stop.
      assert.ok(Math.abs(total - truth) <= 1000, `the worker's profile ${total} ns, its clock ${truth} ns`);
      assert.ok(mine.filter((x) => !isUnsampled(x)).every((x) => x.cpuNanos > 0));
    } finally {
      await w.end();
    }
  });

  it('carries a negative remainder across windows, so that the windows add up to one profile of the run', async () => {
    const s = new Sampler({ hz: 100, threads: 'all' }).start();
    const windows: Profile[] = [];
    for (let i = 0; i < 5; i++) {
      hogHere('windowedHog', 37);
      windows.push(s.window());
    }
    hogHere('windowedHog', 37);
    windows.push(s.stop());
    for (const w of windows) checkRows(w, false);
    const all = windows.reduce((a, b) => mergeProfiles(a, b));
    checkRows(all);
    const expected = all.processCpuNanos + num(all, 'oversampled_nanos');
    assert.ok(Math.abs(sum(all.samples) - expected) < 500_000 * windows.length, `windows ${sum(all.samples)} ns, OS ${expected} ns`);
    // Carried, not lost: what is oversampled at the end is at most a period per thread seen.
    const threads = new Set(all.samples.map((x) => x.labels.thread_id)).size;
    assert.ok(num(all, 'oversampled_nanos') <= threads * all.periodNanos, `oversampled ${num(all, 'oversampled_nanos')} ns over ${threads} threads`);
  });

  it('counts the CPU of ptprof\'s own threads (ptprof-collect, ptprof-control) by their clocks: ptprof_threads_nanos', () => {
    // The collector at its fastest default (20 ms): its passes burn CPU to count.
    const s = new Sampler({ hz: 100, threads: 'all', collectIntervalMs: 20 }).start();
    // The collector names itself once it runs, which can be just after start() returns (the first
    // start of the process: this test alone), so it is looked for for up to a second.
    const ownTids = (): number[] => listTids().filter((t) => ['ptprof-collect', 'ptprof-control'].includes(threadComm(t) ?? ''));
    let own = ownTids();
    for (let i = 0; i < 200 && !own.some((t) => threadComm(t) === 'ptprof-collect'); i++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      own = ownTids();
    }
    assert.ok(own.some((t) => threadComm(t) === 'ptprof-collect'), 'the collector runs');
    const clocks = (): number => own.reduce((a, t) => a + binding.threadCpuNs(t), 0);
    const c0 = clocks();
    hogHere('ownThreadsHog', 300);
    const c1 = clocks();
    const p = s.stop();
    const fact = num(p, 'ptprof_threads_nanos');
    console.log(`      ptprof's threads: ${(fact / 1e6).toFixed(3)} ms in the profile's window, ${((c1 - c0) / 1e6).toFixed(3)} ms between two readings inside it`);
    // The window is a little wider than the readings inside it (start's and stop's own reads).
    assert.ok(fact >= c1 - c0 && fact <= c1 - c0 + 2e6, `ptprof_threads_nanos ${fact} ns; their clocks moved ${c1 - c0} ns inside the window`);
    assert.ok(fact > 0);
  });

  it('counts the signal handler\'s time in the window: ptprof_handler_nanos, from the addon\'s count between the window\'s two drains', () => {
    const s = new Sampler({ hz: 1000, threads: 'all' }).start();
    hogHere('handlerHog', 200);
    const p = s.stop();
    const fact = num(p, 'ptprof_handler_nanos');
    const samples = p.samples.reduce((a, x) => a + x.count, 0);
    console.log(`      the handler: ${(fact / 1e6).toFixed(3)} ms for ${samples} samples`);
    // Some for every sample (a stack walk each), and far less than the CPU it sampled.
    assert.ok(samples >= 50, `${samples} samples`);
    assert.ok(fact >= samples * 100, `${fact} ns for ${samples} samples`);
    assert.ok(fact < 0.2 * p.processCpuNanos, `${fact} ns of ${p.processCpuNanos} ns`);
  });

  it('unsampled: false leaves the rows out', () => {
    const s = new Sampler({ hz: 100, unsampled: false }).start();
    hogHere('plainHog', 50);
    const p = s.stop();
    assert.equal(p.samples.filter(isUnsampled).length, 0);
    assert.equal(p.facts.unsampled_nanos, 0);
    assert.ok(p.samples.length > 0);
  });
});
