// Per-thread rings: fixed size, chosen by configure() for slots claimed afterwards; a full ring
// drops the new record and counts it, and what it keeps is whole. framesLimit caps each stack.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { binding, decodeDrain } from '../src/index';
import { INDEX_JS, SI_TIMER, burnUntilSignals, cleanup, cpuNowNs, createTimer, deleteTimer, sleep } from './support';

const RECORD_HEADER = 80;

/** Runs `work` at the bottom of `depth` nested JS calls. */
function deep(depth: number, work: () => number): number {
  return depth === 0 ? work() : deep(depth - 1, work) + 1;
}

describe('rings', function () {
  let self: { tid: number; isolateId: number; slot: number };

  before(function () {
    // Before this thread registers: its slot gets a 4 KiB ring. The collector thread is paused:
    // these tests are about what a ring holds when nobody empties it.
    binding.configure({ ringBytes: 4096, framesLimit: 64, collectIntervalMs: 0 });
    binding.installHandler();
    self = binding.register({ codeEvents: false });
  });
  afterEach(cleanup);

  it('a 4 KiB ring at 10 kHz without draining drops and counts; every kept record is whole', function () {
    const period = 1e5;
    const base = decodeDrain(binding.drain()).counters;
    const id = createTimer(self.tid);
    binding.setTimerValid(self.tid, true);
    binding.setEnabled(true);
    const cpu0 = cpuNowNs();
    binding.timerSettime(id, period, period);
    deep(100, () => burnUntilSignals(30, 300));
    binding.timerSettime(id, 0, 0);
    const cpu1 = cpuNowNs();
    binding.setEnabled(false);
    deleteTimer(id);
    const d = decodeDrain(binding.drain());

    const signals = d.counters.signals - base.signals;
    const drops = d.counters.ringDrops - base.ringDrops;
    const kept = d.records.length;
    console.log(`      ${signals} signals: ${kept} kept, ${drops} dropped`);
    assert.ok(drops > 0, 'the ring overflowed');
    assert.equal(kept + drops, signals, 'every signal is either a record or a counted drop');
    assert.equal(d.counters.disabled, base.disabled);
    assert.equal(d.counters.sharedDrops, base.sharedDrops);

    let bytes = 0;
    for (const r of d.records) {
      assert.equal(r.tid, self.tid);
      assert.equal(r.code, SI_TIMER);
      assert.ok(r.known && r.timerValid && r.js);
      assert.ok(r.overrun >= 0);
      assert.ok(r.frames.length <= 64, `${r.frames.length} frames`);
      assert.equal(r.truncated, r.frames.length === 64);
      for (const f of r.frames) assert.ok(Number.isInteger(f) && f > 0 && f < 2 ** 48, `frame 0x${f.toString(16)}`);
      bytes += RECORD_HEADER + 8 * r.frames.length;
    }
    assert.ok(d.records.some((r) => r.truncated), 'a 100-deep stack fills the 64-frame limit');
    assert.ok(bytes <= 4096, `${bytes} bytes kept in a 4096-byte ring`);
    assert.ok(bytes > 4096 - (RECORD_HEADER + 8 * 64), 'the ring was filled before dropping');

    // What the timer produced: signals that each stand for 1 + si_overrun periods of the CPU time.
    // The kept ones are the first (a full ring drops the newest): they stand for part of the CPU
    // time, and at most one signal per period was sent.
    const periods = (cpu1 - cpu0) / period;
    const keptWeight = d.records.reduce((s, r) => s + 1 + r.overrun, 0);
    console.log(`      kept records stand for ${keptWeight} of ${periods.toFixed(0)} periods`);
    assert.ok(keptWeight < periods);
    assert.ok(kept + drops <= periods);
  });

  it('after a drain the ring takes records again; ringDrops is cumulative', function () {
    const before = decodeDrain(binding.drain()).counters.ringDrops;
    assert.ok(before > 0);
    const id = createTimer(self.tid);
    binding.setTimerValid(self.tid, true);
    binding.setEnabled(true);
    binding.timerSettime(id, 1e6, 1e6);
    burnUntilSignals(3); // short records: they fit
    binding.timerSettime(id, 0, 0);
    binding.setEnabled(false);
    deleteTimer(id);
    const d = decodeDrain(binding.drain());
    assert.ok(d.records.length >= 2, `${d.records.length} records`);
    assert.equal(d.counters.ringDrops, before);
  });

  it('framesLimit applies to the next stack walk; ringBytes only to slots claimed afterwards', async function () {
    binding.configure({ framesLimit: 8, ringBytes: 1 << 20 });
    try {
      // This thread keeps its 4 KiB ring, with at most 8 frames per record now.
      const base = decodeDrain(binding.drain()).counters.ringDrops;
      const id = createTimer(self.tid);
      binding.setTimerValid(self.tid, true);
      binding.setEnabled(true);
      binding.timerSettime(id, 1e5, 1e5);
      deep(100, () => burnUntilSignals(40));
      binding.timerSettime(id, 0, 0);
      deleteTimer(id);
      const mine = decodeDrain(binding.drain());
      assert.ok(mine.records.every((r) => r.frames.length <= 8));
      assert.ok(mine.records.some((r) => r.frames.length === 8 && r.truncated));
      assert.ok(mine.counters.ringDrops > base, 'still the small ring: 8-frame records overflow it too');
      // 4096 / (RECORD_HEADER + 64) records at most in the 4 KiB ring
      assert.ok(mine.records.length <= Math.floor(4096 / (RECORD_HEADER + 64)), `${mine.records.length} records`);

      // A thread registering now gets a 1 MiB ring: the same load drops nothing.
      const base2 = decodeDrain(binding.drain()).counters.ringDrops;
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const { binding } = require(workerData);
         const { tid } = binding.register({ codeEvents: false });
         const id = binding.timerCreate(tid);
         binding.setTimerValid(tid, true);
         binding.timerSettime(id, 1e5, 1e5);
         const burn = (ms) => { const end = binding.threadCpuNs() + ms * 1e6; let x = 0;
           while (binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += i % 7; return x; };
         const s0 = binding.signalCount(); // the main thread idles: these are the worker's
         const burnUntil = (n) => { while (binding.signalCount() - s0 < n) burn(2); return 0; };
         const deep = (d) => d === 0 ? burnUntil(40) : deep(d - 1) + 1;
         deep(100);
         binding.timerSettime(id, 0, 0);
         binding.timerDelete(id);
         parentPort.postMessage(tid);`,
        { eval: true, workerData: INDEX_JS },
      );
      // Listening for 'exit' from the start: a worker that exits right after posting has its
      // message and its 'exit' emitted in one go, before an await after the message resumes
      // (seen as a 180 s hang on a loaded machine).
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      const tid = await new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await exited;
      binding.setEnabled(false);
      const theirs = decodeDrain(binding.drain());
      const recs = theirs.records.filter((r) => r.tid === tid);
      console.log(`      worker with a 1 MiB ring: ${recs.length} records, ${theirs.counters.ringDrops - base2} dropped`);
      assert.ok(recs.length > 32, `${recs.length} records: more than a 4 KiB ring could hold`);
      assert.equal(theirs.counters.ringDrops, base2);
      assert.ok(recs.every((r) => r.frames.length <= 8));
    } finally {
      binding.configure({ framesLimit: 128, ringBytes: 256 * 1024 });
    }
  });

  it('draining while another thread writes: records wrap around a 4 KiB ring intact, none lost unseen', async function () {
    binding.configure({ ringBytes: 4096, framesLimit: 64 });
    const base = decodeDrain(binding.drain()).counters;
    binding.setEnabled(true);
    // The worker's stacks vary from 2 to 64 frames, so records straddle the ring's end at varied offsets.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { binding } = require(workerData);
       const { tid } = binding.register({ codeEvents: false });
       const id = binding.timerCreate(tid);
       binding.setTimerValid(tid, true);
       parentPort.postMessage(tid);
       binding.timerSettime(id, 1e6, 1e6);
       const s0 = binding.signalCount(), end = binding.threadCpuNs() + 5e9; // the only busy thread
       const deep = (d) => { if (d > 0) return deep(d - 1) + 1; let x = 0; for (let i = 0; i < 20000; i++) x += i % 7; return x; };
       let n = 0;
       while (binding.signalCount() - s0 < 100 && binding.threadCpuNs() < end) deep(n++ % 80);
       binding.timerSettime(id, 0, 0);
       binding.timerDelete(id);`,
      { eval: true, workerData: INDEX_JS },
    );
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    let exited = false;
    worker.once('exit', () => { exited = true; });
    const records = [];
    let drains = 0;
    while (!exited) {
      records.push(...decodeDrain(binding.drain()).records);
      drains++;
      await sleep(1);
    }
    binding.setEnabled(false);
    const last = decodeDrain(binding.drain());
    records.push(...last.records);
    const drops = last.counters.ringDrops - base.ringDrops;
    const signals = last.counters.signals - base.signals;
    const bytes = records.reduce((s, r) => s + RECORD_HEADER + 8 * r.frames.length, 0);
    console.log(`      ${drains} drains: ${records.length} records (${bytes} bytes through a 4096-byte ring), ${drops} dropped, ${signals} signals`);
    assert.ok(bytes > 4 * 4096, 'the ring wrapped several times');
    assert.equal(records.length + drops, signals);
    let prev = 0;
    for (const r of records) {
      assert.equal(r.tid, tid);
      assert.equal(r.code, SI_TIMER);
      assert.ok(r.known && r.timerValid && r.js);
      assert.ok(r.frames.length <= 64);
      assert.ok(r.timeNs >= prev, 'one thread\'s records come out in order');
      prev = r.timeNs;
      for (const f of r.frames) assert.ok(Number.isInteger(f) && f > 0 && f < 2 ** 48);
    }
    binding.configure({ framesLimit: 128, ringBytes: 256 * 1024 });
  });

  it('the collector thread empties a ring that nobody drains: a busy thread keeps its records', function () {
    binding.configure({ collectIntervalMs: 20 });
    try {
      const base = decodeDrain(binding.drain()).counters;
      const id = createTimer(self.tid);
      binding.setTimerValid(self.tid, true);
      binding.setEnabled(true);
      binding.timerSettime(id, 1e5, 1e5);
      // 64-frame stacks: 592 bytes a record, 6 fit in the 4 KiB ring; 400 signals would drop
      // almost all of them without the collector.
      deep(100, () => burnUntilSignals(400));
      binding.setEnabled(false);
      deleteTimer(id);
      const d = decodeDrain(binding.drain());
      const mine = d.records.filter((r) => r.tid === self.tid && r.code === SI_TIMER);
      console.log(`      ${mine.length} records through a 4 KiB ring, ${d.counters.ringDrops - base.ringDrops} dropped`);
      assert.ok(mine.length >= 300, `only ${mine.length} records kept`);
      // A 4 KiB ring holds 6 of these records: without the collector, ~394 of 400 would drop.
      assert.ok(d.counters.ringDrops - base.ringDrops < mine.length / 2, 'the collector kept most');
      const threads = require('node:fs').readdirSync('/proc/self/task').map((t: string) => require('node:fs').readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim());
      assert.ok(threads.includes('ptprof-collect'), 'the collector thread is named');
    } finally {
      binding.configure({ collectIntervalMs: 0 });
    }
  });
});
