// register() notes the thread's CPU clock as it was when the thread called it (registerCpuNs),
// before V8 lists its code: a worker burns CPU in Node's bootstrap before it can register, and a
// sampler that weighs setitimer's signals by a thread's CPU since its previous one must not pin
// that bootstrap on the first signal it takes (sampler.ts, noteDrain).
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { binding } from '../src/index';
import { INDEX_JS, cleanup } from './support';

interface Report { tid: number; before: number; after: number; listed: number; claimedCpu: number }

/** A worker that burns `burnMs` of CPU, then registers, reading its CPU clock around the call. */
function registerLate(burnMs: number): Promise<Report> {
  const worker = new Worker(
    `const { parentPort, workerData: w } = require('node:worker_threads');
     const { binding } = require(w.index);
     const end = binding.threadCpuNs() + w.burnMs * 1e6; let x = 0;
     while (binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += i % 7;
     const before = binding.threadCpuNs();
     const { tid } = binding.register({ name: 'late' });
     const after = binding.threadCpuNs();
     const row = binding.threads().find((t) => t.tid === tid);
     parentPort.postMessage({ tid, before, after, listed: row ? row.registerCpuNs : -1 });`,
    { eval: true, workerData: { index: INDEX_JS, burnMs } },
  );
  return new Promise((resolve, reject) => {
    worker.once('message', (m: Report) => worker.once('exit', () => resolve(m)));
    worker.once('error', reject);
  });
}

describe('register: the thread\'s CPU clock when it registered', function () {
  this.timeout(30_000);
  afterEach(cleanup);

  it('a worker that burned 40 ms first: registerCpuNs is its clock at register(), in threads() and in the drain', async () => {
    binding.installHandler();
    binding.drain();
    const r = await registerLate(40);
    console.log(`      before ${(r.before / 1e6).toFixed(1)} ms, registerCpuNs ${(r.listed / 1e6).toFixed(1)} ms, after ${(r.after / 1e6).toFixed(1)} ms (V8's listing between)`);
    assert.ok(r.listed >= 40e6, `registerCpuNs ${r.listed} counts the 40 ms burned before register()`);
    assert.ok(r.listed >= r.before && r.listed <= r.after, `registerCpuNs ${r.listed} is read within register(): ${r.before}..${r.after}`);
    // The worker is gone; the drain still names it, with the same clock.
    const t = binding.drain().threads.find((x) => x.tid === r.tid);
    assert.equal(t?.registerCpuNs, r.listed);
  });

  it('cpuNs: a clock the caller read earlier is kept (its agent\'s first line); one in the future is not', async () => {
    const worker = new Worker(
      `const { parentPort, workerData: w } = require('node:worker_threads');
       const { binding } = require(w.index);
       const burn = (ms) => { const end = binding.threadCpuNs() + ms * 1e6; let x = 0;
         while (binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += i % 7; return x; };
       const early = binding.threadCpuNs();
       burn(20);
       const { tid } = binding.register({ name: 'early', cpuNs: early });
       const kept = binding.threads().find((t) => t.tid === tid).registerCpuNs;
       binding.unregister();
       const before = binding.threadCpuNs();
       binding.register({ name: 'future', cpuNs: before + 1e12 });
       const future = binding.threads().find((t) => t.tid === tid).registerCpuNs;
       parentPort.postMessage({ early, kept, before, future });`,
      { eval: true, workerData: { index: INDEX_JS } },
    );
    const r = await new Promise<{ early: number; kept: number; before: number; future: number }>((resolve, reject) => {
      worker.once('message', (m) => worker.once('exit', () => resolve(m)));
      worker.once('error', reject);
    });
    assert.equal(r.kept, r.early, 'the clock given');
    assert.ok(r.future >= r.before && r.future < r.before + 1e9, `a clock in the future is replaced by now: ${r.future} (before: ${r.before})`);
  });

  it('a thread claimed without registering has none (0)', () => {
    binding.claimThread(process.pid);
    try {
      const row = binding.threads().find((t) => t.tid === process.pid);
      assert.equal(row?.registerCpuNs, 0);
    } finally {
      binding.releaseThread(process.pid);
    }
  });
});
