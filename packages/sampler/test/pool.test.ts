// libuv's thread pool: async crypto.pbkdf2 burns CPU on pool threads, which only
// threads: 'all' gives timers of their own. Ground truth: each thread's CPU clock.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { binding } from '@ptprof/timers-native';
import { Sampler } from '../src/index';
import { cpuByThread } from './workloads';

function pbkdf2Batch(jobs: number, iterations: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = jobs;
    for (let i = 0; i < jobs; i++)
      crypto.pbkdf2('secret', 'salt', iterations, 32, 'sha256', (err) => (err ? reject(err) : --left === 0 && resolve()));
  });
}

// Iterations for a job of about 150 ms of CPU (two jobs per pool thread), never fewer than 250,000.
// The CPU a thread burns before its timer is armed (10-20 ms per pool thread born during sampling,
// measured on every Node version) and V8's helper threads' bursts shorter than a tick are fixed
// losses: the pool threads must burn enough for them to stay well inside 10%. Newer Nodes' OpenSSL
// (3.5 in Node 22+, 3.0 in Node 20) hashes 25-30% faster, so a fixed count would not. (Under mocha
// Node 20 has started the pool before this test, Node 22+ has not.)
function iterationsFor150ms(): number {
  crypto.pbkdf2Sync('secret', 'salt', 5_000, 32, 'sha256');
  const c0 = binding.threadCpuNs();
  crypto.pbkdf2Sync('secret', 'salt', 50_000, 32, 'sha256');
  const ns = binding.threadCpuNs() - c0;
  return Math.max(250_000, Math.round((50_000 * 150e6) / Math.max(ns, 1)));
}

async function measure(hz: number): Promise<{ profile: number; os: number }> {
  const iterations = iterationsFor150ms();
  const before = cpuByThread();
  const s = new Sampler({ hz, threads: 'all' }).start();
  await pbkdf2Batch(8, iterations);
  const after = cpuByThread();
  const p = s.stop();
  let os = 0;
  for (const [tid, c] of after) if (tid !== process.pid) os += c - (before.get(tid) ?? 0);
  const profile = p.threads.filter((t) => t.tid !== process.pid).reduce((a, t) => a + t.cpuNanos, 0);
  const poolish = p.samples.filter((x) => x.labels.thread_id !== process.pid && x.frames.some((f) => /PBKDF2|pbkdf2|sha256|SHA256|EVP_|HMAC/i.test(f.name)));
  assert.ok(poolish.length > 0, 'no sample on a pool thread names the hashing code');
  return { profile, os };
}

describe('the libuv thread pool', function () {
  this.timeout(60_000);
  it("threads: 'all' sees pbkdf2 on pool threads started during sampling, within 10% of their CPU (100 Hz)", async () => {
    const r = await measure(100);
    console.log(`      cold pool, 100 Hz: profile ${(r.profile / 1e6).toFixed(0)} ms, OS ${(r.os / 1e6).toFixed(0)} ms, ratio ${(r.profile / r.os).toFixed(4)}`);
    assert.ok(Math.abs(r.profile / r.os - 1) <= 0.1, `ratio ${r.profile / r.os}`);
  });
  it('and with the pool already running, at 1000 Hz', async () => {
    const r = await measure(1000);
    console.log(`      warm pool, 1000 Hz: profile ${(r.profile / 1e6).toFixed(0)} ms, OS ${(r.os / 1e6).toFixed(0)} ms, ratio ${(r.profile / r.os).toFixed(4)}`);
    assert.ok(Math.abs(r.profile / r.os - 1) <= 0.1, `ratio ${r.profile / r.os}`);
  });
});
