// Thread exit: each JS thread's environment cleanup hook deletes the timers on that thread and
// releases its slot, whether the worker returns or calls process.exit(); the slot's ring is still
// collected by the next drain, then reused. unregister() does the same on demand.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { binding, decodeDrain } from '../src/index';
import { INDEX_JS, SI_TIMER, burnUntilSignals, cleanup, createTimer, posixTimerCount, sampleSelf } from './support';

interface WorkerReport { tid: number; slot: number; timerId: number }

/**
 * A worker that registers, arms a 1 ms timer on its own CPU clock, burns `burnMs` of CPU, reports,
 * and leaves with its timer armed, by returning or by process.exit(). With `spinUntilStopped`, it
 * keeps spinning after reporting until `stop` is called.
 */
function startWorker(opts: { exit: boolean; burnMs: number; ownTimer?: boolean; spin?: boolean; name?: string }) {
  const sab = new SharedArrayBuffer(4);
  const flag = new Int32Array(sab);
  const worker = new Worker(
    `const { parentPort, workerData: w } = require('node:worker_threads');
     const { binding } = require(w.index);
     const { tid, slot } = binding.register({ name: w.name });
     let timerId = -1;
     if (w.ownTimer) {
       timerId = binding.timerCreate(tid);
       binding.setTimerValid(tid, true);
       binding.timerSettime(timerId, 1e6, 1e6);
     }
     const burn = (ms) => { const end = binding.threadCpuNs() + ms * 1e6; let x = 0;
       while (binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += i % 7; return x; };
     burn(w.burnMs);
     parentPort.postMessage({ tid, slot, timerId });
     const flag = new Int32Array(w.sab);
     if (w.spin) while (Atomics.load(flag, 0) === 0) burn(1);
     if (w.exit) process.exit(0);`,
    { eval: true, workerData: { index: INDEX_JS, sab, ownTimer: true, spin: false, name: 'worker', ...opts } },
  );
  const report = new Promise<WorkerReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { report, exited, stop: () => Atomics.store(flag, 0, 1) };
}

describe('cleanup', function () {
  let main: { tid: number; isolateId: number; slot: number };
  before(function () {
    binding.installHandler();
    main = binding.register({ codeEvents: false, name: 'main' });
    const rows = binding.threads().filter((t) => t.tid === main.tid);
    assert.ok(rows.length === 1 && rows[0].registerCpuNs > 0 && rows[0].registerCpuNs <= binding.threadCpuNs(), JSON.stringify(rows));
    assert.deepEqual(rows.map(({ registerCpuNs: _, ...t }) => t),
      [{ tid: main.tid, slot: main.slot, isolateId: main.isolateId, js: true, name: 'main', timerValid: false }]);
  });
  afterEach(cleanup);

  it('50 workers that leave with an armed timer (half return, half process.exit) leave no timer behind', async function () {
    const kernelBase = posixTimerCount();
    const addonBase = binding.timerCount();
    binding.drain();
    binding.setEnabled(true);
    const reports: WorkerReport[] = [];
    const codes: number[] = [];
    const N = 50;
    // A thread's timer is checked only at ticks that land on it while it runs. Five threads
    // preempting each other on two cores get ticks at random: about one per 4 ms of CPU (HZ=250),
    // so 20 ms of CPU goes unsampled with probability e^-5 = 0.7%. 60 ms: e^-15.
    const BURN_MS = 60;
    const AT_ONCE = 5;
    for (let i = 0; i < N; i += AT_ONCE) {
      const batch = Array.from({ length: AT_ONCE }, (_, k) => startWorker({ exit: (i + k) % 2 === 1, burnMs: BURN_MS, name: `w${i + k}` }));
      for (const w of batch) {
        reports.push(await w.report);
        codes.push(await w.exited);
      }
    }
    binding.setEnabled(false);
    assert.deepEqual(codes, new Array(N).fill(0));
    const tids = new Set(reports.map((r) => r.tid));
    assert.equal(tids.size, N, 'each worker is its own thread');

    assert.equal(posixTimerCount(), kernelBase, '/proc/self/timers is back to its count before the workers');
    assert.equal(binding.timerCount(), addonBase);
    assert.deepEqual(binding.timers().filter((t) => tids.has(t.tid)), []);
    assert.deepEqual(binding.threads().filter((t) => tids.has(t.tid)), [], 'no worker is still known');

    // Released slots keep their records until a drain collects them: none was reused meanwhile.
    const slots = new Set(reports.map((r) => r.slot));
    assert.equal(slots.size, N, 'a released slot is not reused before its ring is drained');
    assert.ok(!slots.has(main.slot));

    const raw = binding.drain();
    // The drain names the threads it read, exited ones included (threads() no longer lists them).
    const named = new Map(raw.threads.map((t) => [t.tid, t]));
    for (const [i, r] of reports.entries()) {
      assert.equal(named.get(r.tid)?.name, `w${i}`);
      assert.equal(named.get(r.tid)?.js, true);
    }
    const d = decodeDrain(raw);
    const seen = new Map<number, number>();
    for (const r of d.records) {
      assert.equal(r.code, SI_TIMER);
      assert.ok(tids.has(r.tid), `a record from tid ${r.tid}`);
      seen.set(r.tid, (seen.get(r.tid) ?? 0) + 1);
    }
    // Nearly every worker's records: a thread's timer is checked only at the ticks that land on it
    // while it runs, and on a busy machine a short thread may see none (see BURN_MS).
    const collected = [...tids].filter((t) => (seen.get(t) ?? 0) > 0).length;
    console.log(`      records of ${collected} of ${N} exited workers collected`);
    assert.ok(collected >= N - 5, `records of only ${collected} of ${N} exited workers were collected`);
    assert.equal(d.counters.ringDrops, 0);

    // The drain freed the slots: the next thread gets the lowest one again.
    const next = startWorker({ exit: false, burnMs: 1, ownTimer: false });
    const rep = await next.report;
    await next.exited;
    assert.equal(rep.slot, Math.min(...slots));
    binding.drain();
  });

  it('a worker\'s exit deletes timers on its thread that another thread created', async function () {
    const kernelBase = posixTimerCount();
    const w = startWorker({ exit: false, burnMs: 1, ownTimer: false, spin: true });
    const { tid } = await w.report;
    const id = createTimer(tid);
    binding.timerSettime(id, 1e6, 1e6);
    assert.equal(posixTimerCount(), kernelBase + 1);
    assert.deepEqual(binding.timers().filter((t) => t.tid === tid).map((t) => t.id), [id]);
    w.stop();
    await w.exited;
    assert.equal(posixTimerCount(), kernelBase);
    assert.deepEqual(binding.timers().filter((t) => t.tid === tid), []);
    assert.throws(() => binding.timerSettime(id, 1e6, 1e6), /no such timer: EINVAL/);
  });

  it('unregister() deletes the caller\'s timers, releases its slot, and its records are still drained', function () {
    const kernelBase = posixTimerCount();
    const addonBase = binding.timerCount();
    const a = createTimer(main.tid);
    const b = createTimer(main.tid);
    assert.equal(posixTimerCount(), kernelBase + 2);
    binding.setTimerValid(main.tid, true);
    binding.setEnabled(true);
    binding.timerSettime(a, 1e6, 1e6);
    burnUntilSignals(5);
    binding.setEnabled(false);

    assert.equal(binding.unregister(), true);
    assert.equal(posixTimerCount(), kernelBase);
    assert.equal(binding.timerCount(), addonBase);
    assert.ok(!binding.threads().some((t) => t.tid === main.tid));
    for (const id of [a, b]) assert.throws(() => binding.timerDelete(id), /no such timer: EINVAL/);
    assert.equal(binding.setTimerValid(main.tid, true), false, 'the thread is no longer known');
    assert.equal(binding.unregister(), false, 'nothing left to unregister');

    const d = decodeDrain(binding.drain());
    assert.ok(d.records.length >= 5, `${d.records.length} records from before unregister()`);
    assert.ok(d.records.every((r) => r.tid === main.tid && r.known && r.js));

    // Registering again works and records again, with stacks.
    main = binding.register({ codeEvents: false });
    const again = sampleSelf(main.tid, 1e6, () => burnUntilSignals(3));
    assert.ok(again.records.length > 0);
    assert.ok(again.records.every((r) => r.known && r.js && r.isolateId === main.isolateId));
  });
});
