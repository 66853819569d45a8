// Worker churn: 500 workers started and ended while sampling at 1000 Hz in threads: 'all' (some
// terminated mid-computation, some calling process.exit inside the worker, some returning). The
// process survives, the POSIX timers return to their baseline, the profile is valid.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Sampler } from '../../src/index';
import { registerPath } from '../workloads';
import { assertValidProfile, posixTimers } from './common';

function churnWorker(i: number): Promise<void> {
  const how = i % 3; // 0: terminated mid-computation, 1: process.exit in the worker, 2: returns
  const src = `
    require(${JSON.stringify(registerPath)});
    const { parentPort } = require('node:worker_threads');
    function churnBody(ms) { const t = Date.now(); let x = 0; while (Date.now() - t < ms) x += Math.sqrt(x + 1); return x; }
    parentPort.postMessage('up');
    churnBody(${how === 0 ? 1000 : 3});
    if (${how} === 1) process.exit(7);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true });
    w.on('error', reject);
    w.on('message', () => {
      if (how === 0) setTimeout(() => void w.terminate(), 2);
    });
    w.on('exit', () => resolve());
  });
}

describe('stress: worker churn', function () {
  this.timeout(240_000);
  it('500 workers come and go at 1000 Hz: no crash, timers back to baseline, a valid profile', async () => {
    const baseline = posixTimers();
    const s = new Sampler({ hz: 1000, threads: 'all' }).start();
    let peak = 0;
    for (let i = 0; i < 500; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => churnWorker(i + k)));
      peak = Math.max(peak, posixTimers());
    }
    const p = s.stop();
    assert.equal(posixTimers(), baseline, 'POSIX timers leaked');
    assert.ok(peak > baseline, 'timers were armed while sampling');
    assertValidProfile(p);
    const workers = p.threads.filter((t) => t.name.startsWith('worker ')).length;
    console.log(`      ${workers} worker threads in the profile, peak ${peak} timers, ${p.stats.kept} samples, ${p.stats.uniqueStacks} stacks, dropped ${p.stats.dropped.ring + p.stats.dropped.shared}`);
    assert.ok(workers > 100, `only ${workers} workers sampled`);
  });
});
