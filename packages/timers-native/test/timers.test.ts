// Per-thread CPU timers (timer_create on a thread's CPU clock, SIGEV_THREAD_ID), setitimer, and the
// accuracy that weighting each signal by 1 + si_overrun gives, on the real kernel.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { binding, decodeDrain, threadClockId } from '../src/index';
import {
  SI_KERNEL, SI_TIMER, INDEX_JS, burnCpu, burnUntilSignals, cleanup, cpuNowNs, createTimer, deleteTimer, posixTimerCount,
  sampleSelf, sleep, weight,
} from './support';

/** A worker that reports its tid, then spins until the shared flag is set. */
function spinningWorker(): { worker: Worker; tid: Promise<number>; stop: () => Promise<void> } {
  const sab = new SharedArrayBuffer(4);
  const flag = new Int32Array(sab);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { binding } = require(workerData.index);
     const flag = new Int32Array(workerData.sab);
     parentPort.postMessage(binding.gettid());
     let x = 0;
     while (Atomics.load(flag, 0) === 0) { for (let i = 0; i < 10000; i++) x += i % 7; }`,
    { eval: true, workerData: { index: INDEX_JS, sab } },
  );
  const tid = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    worker,
    tid,
    stop: () => {
      Atomics.store(flag, 0, 1);
      return exited;
    },
  };
}

/** Waits until thread `tid` has burned `ms` more CPU (it must be running), however busy the machine. */
async function untilCpu(tid: number, ms: number): Promise<void> {
  const target = binding.threadCpuNs(tid) + ms * 1e6;
  const deadline = Date.now() + 20_000;
  while (binding.threadCpuNs(tid) < target) {
    if (Date.now() > deadline) throw new Error(`thread ${tid} did not burn ${ms} ms of CPU in 20 s`);
    await sleep(5);
  }
}

/** Waits until the handler has seen `n` more signals (while the main thread idles, a worker's). */
async function untilSignals(n: number): Promise<void> {
  const start = binding.signalCount();
  const deadline = Date.now() + 20_000;
  while (binding.signalCount() - start < n) {
    if (Date.now() > deadline) throw new Error(`${binding.signalCount() - start} of ${n} signals in 20 s`);
    await sleep(5);
  }
}

/** |measured / expected - 1|, printed so that a run shows the numbers it checked. */
function ratio(label: string, weighted: number, periodNs: number, cpuNs: number): number {
  const r = (weighted * periodNs) / cpuNs;
  console.log(`      ${label}: ${weighted} periods x ${periodNs / 1e6} ms / ${(cpuNs / 1e6).toFixed(1)} ms CPU = ${r.toFixed(4)}`);
  return r;
}

describe('timers', function () {
  let self: { tid: number; isolateId: number; slot: number };

  before(function () {
    binding.installHandler();
    self = binding.register();
  });
  afterEach(cleanup);

  it('a timer on the calling thread delivers SI_TIMER signals to that thread', function () {
    const addonTimers = binding.timerCount();
    const kernelTimers = posixTimerCount();
    const d = sampleSelf(self.tid, 1e6, () => {
      assert.equal(binding.timerCount(), addonTimers + 1);
      assert.equal(posixTimerCount(), kernelTimers + 1);
      burnUntilSignals(5);
    });
    assert.equal(binding.timerCount(), addonTimers);
    assert.equal(posixTimerCount(), kernelTimers);
    assert.ok(d.records.length >= 5, `expected records for 100 ms of CPU, got ${d.records.length}`);
    for (const r of d.records) {
      assert.equal(r.code, SI_TIMER);
      assert.equal(r.tid, self.tid);
      assert.equal(r.known, true);
      assert.equal(r.timerValid, true);
      assert.equal(r.js, true);
      assert.ok(r.overrun >= 0);
    }
  });

  it('a timer created on another thread\'s clock signals that thread, known or not', async function () {
    const w = spinningWorker();
    try {
      const tid = await w.tid;
      assert.notEqual(tid, self.tid);
      assert.ok(binding.threadCpuNs(tid) > 0);

      binding.setEnabled(true);
      const id = createTimer(tid);
      binding.timerSettime(id, 1e6, 1e6);
      await untilSignals(10); // the worker is not known: its records go to the shared ring
      assert.ok(binding.sharedPending() > 0, 'records wait in the shared ring');
      const claimedAt = binding.monotonicNs();
      binding.claimThread(tid);
      binding.setTimerValid(tid, true);
      const cpu0 = cpuNowNs(tid);
      const drained0 = binding.drain(); // the records before the claim, counted below
      assert.equal(binding.sharedPending(), 0);
      await untilCpu(tid, 150);
      await untilSignals(10);
      binding.setTimerValid(tid, false);
      binding.timerSettime(id, 0, 0);
      const cpu1 = cpuNowNs(tid);
      await untilCpu(tid, 2); // the worker ran again: a signal queued to it was taken while recording
      binding.setEnabled(false);
      deleteTimer(id);
      assert.equal(binding.releaseThread(tid), true);

      const before = decodeDrain(drained0).records;
      const after = decodeDrain(binding.drain()).records;
      const all = [...before, ...after];
      assert.ok(before.length >= 10, `unclaimed worker: ${before.length} records`);
      assert.ok(after.length >= 10, `claimed worker: ${after.length} records`);
      for (const r of all) {
        assert.equal(r.code, SI_TIMER);
        assert.equal(r.tid, tid);
        assert.equal(r.js, false, 'no stack walk on a thread whose isolate is not registered');
        assert.equal(r.known, r.timeNs >= claimedAt);
      }
      assert.ok(before.some((r) => !r.known), 'records from before the claim are not known');
      const claimed = after.filter((r) => r.known);
      assert.ok(claimed.every((r) => r.timerValid));
      // The worker's own CPU accounts for the claimed phase's records.
      const rr = ratio('worker 1000 Hz', weight(after), 1e6, cpu1 - cpu0);
      assert.ok(Math.abs(rr - 1) < 0.05, `worker ratio ${rr}`);
    } finally {
      await w.stop();
    }
  });

  it('setitimer(periodNs) delivers SI_KERNEL signals and getitimer reads it back', function () {
    binding.drain();
    binding.setEnabled(true);
    binding.setitimer(4e6);
    const it = binding.getitimer();
    assert.equal(it.intervalNs, 4e6);
    // The kernel adds one tick to a CPU itimer's first expiry (set_cpu_itimer): at most 10 ms at HZ >= 100.
    assert.ok(it.valueNs > 0 && it.valueNs <= 4e6 + 10e6, `valueNs ${it.valueNs}`);
    burnUntilSignals(5);
    binding.setitimer(0);
    binding.setEnabled(false);
    assert.deepEqual(binding.getitimer(), { valueNs: 0, intervalNs: 0 });
    const { records } = decodeDrain(binding.drain());
    assert.ok(records.length >= 5, `expected setitimer records, got ${records.length}`);
    for (const r of records) {
      assert.equal(r.code, SI_KERNEL);
      assert.equal(r.overrun, 0, 'setitimer signals carry no overrun');
    }
    assert.ok(records.some((r) => r.tid === self.tid && r.known && !r.timerValid));
  });

  it('at 1000 Hz the overrun-weighted count is within 2% of the thread\'s CPU time', function () {
    const period = 1e6;
    const d = sampleSelf(self.tid, period, () => burnCpu(1000));
    const mine = d.records.filter((r) => r.tid === self.tid && r.code === SI_TIMER);
    assert.equal(mine.length, d.records.length);
    // HZ=250: the timer is checked once per 4 ms tick, so most signals stand for several periods.
    assert.ok(mine.some((r) => r.overrun > 0), 'a 1 ms timer checked every tick overruns');
    assert.ok(mine.length < weight(mine), 'unweighted counting undercounts');
    const r = ratio('1000 Hz', weight(mine), period, d.cpuNs);
    assert.ok(Math.abs(r - 1) <= 0.02, `1000 Hz ratio ${r}`);
  });

  it('at 4000 Hz (a period of a quarter tick) the weighted count is still within 2%', function () {
    const period = 250e3;
    const d = sampleSelf(self.tid, period, () => burnCpu(1000));
    const mine = d.records.filter((r) => r.tid === self.tid && r.code === SI_TIMER);
    assert.equal(mine.length, d.records.length);
    assert.ok(weight(mine) > 4 * mine.length, 'each signal stands for several periods');
    const r = ratio('4000 Hz', weight(mine), period, d.cpuNs);
    assert.ok(Math.abs(r - 1) <= 0.02, `4000 Hz ratio ${r}`);
  });

  it('at 100 Hz the overrun-weighted count is within 2% of the thread\'s CPU time', function () {
    const period = 10e6;
    const d = sampleSelf(self.tid, period, () => burnCpu(1500));
    const mine = d.records.filter((r) => r.tid === self.tid && r.code === SI_TIMER);
    assert.equal(mine.length, d.records.length);
    const r = ratio('100 Hz', weight(mine), period, d.cpuNs);
    assert.ok(Math.abs(r - 1) <= 0.02, `100 Hz ratio ${r}`);
  });

  it('timerGetoverrun gives the overrun of the timer\'s last signal; an unarmed timer sends nothing', async function () {
    binding.drain();
    binding.setEnabled(true);
    const unarmed = createTimer(self.tid);
    burnCpu(30);
    assert.equal(decodeDrain(binding.drain()).records.length, 0);
    assert.equal(binding.timerGetoverrun(unarmed), 0);
    deleteTimer(unarmed);

    // A worker burns, then blocks: its CPU clock stops, so its timer's last signal stays the last.
    const sab = new SharedArrayBuffer(8);
    const sync = new Int32Array(sab);
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { binding } = require(workerData.index);
       const sync = new Int32Array(workerData.sab);
       parentPort.postMessage(binding.gettid());
       Atomics.wait(sync, 0, 0);              // until armed
       const s0 = binding.signalCount(), end = binding.threadCpuNs() + 5e9; // the only busy thread
       let x = 0;
       while (binding.signalCount() - s0 < 8 && binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += i % 7;
       Atomics.store(sync, 1, 1); Atomics.notify(sync, 1);
       Atomics.wait(sync, 0, 1);              // idle until released`,
      { eval: true, workerData: { index: INDEX_JS, sab } },
    );
    try {
      const tid = await new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const id = createTimer(tid);
      binding.timerSettime(id, 1e6, 1e6);
      Atomics.store(sync, 0, 1);
      Atomics.notify(sync, 0);
      while (Atomics.load(sync, 1) === 0) await sleep(5);
      // Blocked: its CPU clock stands still, so its last signal has been handled.
      for (let t = binding.threadCpuNs(tid); ; ) {
        await sleep(10);
        const now = binding.threadCpuNs(tid);
        if (now === t) break;
        t = now;
      }
      const recs = decodeDrain(binding.drain()).records.filter((r) => r.tid === tid);
      assert.ok(recs.length >= 5);
      const last = recs[recs.length - 1];
      assert.equal(binding.timerGetoverrun(id), last.overrun);
      assert.ok(recs.some((r) => r.overrun > 0));
      binding.timerSettime(id, 0, 0);
      assert.equal(binding.timerGetoverrun(id), 0, 'settime resets it');
      deleteTimer(id);
    } finally {
      Atomics.store(sync, 0, 2);
      Atomics.notify(sync, 0);
      await new Promise((resolve) => worker.once('exit', resolve));
    }
  });

  it('threadCpuNs reads any thread of this process; processCpuNs covers them all', async function () {
    const own0 = binding.threadCpuNs();
    const byTid = binding.threadCpuNs(self.tid);
    const own1 = binding.threadCpuNs();
    assert.ok(own0 <= byTid && byTid <= own1, `${own0} <= ${byTid} <= ${own1}`);
    assert.ok(binding.processCpuNs() >= binding.threadCpuNs());

    const w = spinningWorker();
    try {
      const tid = await w.tid;
      const a = binding.threadCpuNs(tid);
      await untilCpu(tid, 20); // fails by timeout if another thread's clock does not move
      const b = binding.threadCpuNs(tid);
      assert.ok(b - a >= 20e6);
      assert.ok(binding.processCpuNs() >= binding.threadCpuNs() + b);
    } finally {
      await w.stop();
    }
    const m0 = binding.monotonicNs();
    const m1 = binding.monotonicNs();
    assert.ok(m1 >= m0 && m0 > 0);
  });

  it('timers() lists the addon\'s timers; timerCreate(tid, true) is exclusive per thread', function () {
    const a = createTimer(self.tid);
    // Disarmed, on a live thread: 0/0 like a dead thread's timer (the caller knows which it armed).
    assert.deepEqual(binding.timers().filter((t) => t.tid === self.tid), [{ id: a, tid: self.tid, valueNs: 0, intervalNs: 0 }]);
    binding.timerSettime(a, 5e9, 1e9);
    const armed = binding.timers().find((t) => t.id === a)!;
    assert.equal(armed.intervalNs, 1e9);
    assert.ok(armed.valueNs > 4e9 && armed.valueNs <= 5e9, `${armed.valueNs} ns to the first expiry`);
    binding.timerSettime(a, 0, 0);
    assert.equal(binding.timerCreate(self.tid, true), -1, 'the addon already holds a timer on this thread');
    const b = createTimer(self.tid); // not exclusive: a second one
    assert.deepEqual(binding.timers().filter((t) => t.tid === self.tid).map((t) => t.id).sort(), [a, b].sort());
    deleteTimer(a);
    deleteTimer(b);
    const c = binding.timerCreate(self.tid, true);
    assert.ok(c >= 0);
    deleteTimer(c);
    assert.deepEqual(binding.timers().filter((t) => t.tid === self.tid), []);
  });

  it('an armed timer whose thread exited reads 0/0 in timers() (the kernel detaches it): how a reused tid is told apart', async function () {
    const worker = new Worker(`const { parentPort } = require('node:worker_threads');
      parentPort.postMessage(require(${JSON.stringify(INDEX_JS)}).binding.gettid());
      parentPort.once('message', () => process.exit(0));`, { eval: true });
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
    const id = createTimer(tid);
    binding.timerSettime(id, 1e9, 1e9);
    assert.equal(binding.timers().find((t) => t.id === id)!.intervalNs, 1e9, 'armed while the thread lives');
    worker.postMessage('exit');
    await exited;
    const dead = binding.timers().find((t) => t.id === id)!;
    assert.deepEqual([dead.valueNs, dead.intervalNs], [0, 0]);
    deleteTimer(id);
  });

  it('the sampling period mailbox holds what was set, process-wide', async function () {
    assert.equal(binding.samplingPeriod(), 0);
    binding.setSamplingPeriod(1e6);
    try {
      assert.equal(binding.samplingPeriod(), 1e6);
      const w = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         parentPort.postMessage(require(workerData).binding.samplingPeriod());`,
        { eval: true, workerData: INDEX_JS },
      );
      const seen = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
      assert.equal(seen, 1e6, 'a worker reads the same mailbox');
      assert.throws(() => binding.setSamplingPeriod(-1), TypeError);
    } finally {
      binding.setSamplingPeriod(0);
    }
    assert.equal(binding.samplingPeriod(), 0);
  });

  it('threadClockId computes the kernel\'s per-thread CPU clock id', function () {
    // MAKE_THREAD_CPUCLOCK(1234, CPUCLOCK_SCHED): ~1234 = -1235, << 3 = -9880, | 6 = -9874
    assert.equal(threadClockId(1234), -9874);
    assert.equal(threadClockId(1) & 7, 6);
  });
});
