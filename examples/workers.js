'use strict';
// A small program for ptprof's Quick start: the main thread and two worker threads each burn CPU
// in a function of their own, and four crypto.pbkdf2 calls run on libuv's thread pool.
//
//   npx ptprof -- node examples/workers.js
//
// The profile shows mainHog on thread "main", workerHog on "worker 1" and "worker 2", and the
// pool's CPU (sha512) on the libuv threads (with --threads all, the default).
const crypto = require('node:crypto');
const { Worker, isMainThread, parentPort, threadId } = require('node:worker_threads');

// A fixed amount of work per thread (about 0.6 s of CPU on a recent x86 core), not a wall-clock
// deadline: on a busy machine the threads take longer but burn the same CPU. Few, long calls: a
// function called thousands of times from one loop gets inlined into its caller by V8 (Maglev on
// Node 24+), and its CPU is then its caller's in any profile built from V8's code events.
const CALLS = Number(process.env.HOG_CALLS) || 30;

function mainHog(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.sqrt(i) * Math.sin(i);
  return s;
}

function workerHog(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s * 31 + i) % 1000003;
  return s;
}

async function main() {
  const started = performance.now();
  const workers = [1, 2].map(() => new Worker(__filename));
  const done = workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  const pool = Array.from({ length: 4 }, (_, i) => new Promise((resolve, reject) => {
    crypto.pbkdf2(`secret ${i}`, 'salt', 100000, 64, 'sha512', (err, key) => (err ? reject(err) : resolve(key)));
  }));
  // The main thread works in slices and returns to the event loop in between, as a server does.
  let x = 0;
  for (let i = 0; i < CALLS; i++) {
    x += mainHog(1500000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const results = await Promise.all([...done, ...pool]);
  const ms = (performance.now() - started).toFixed(0);
  console.log(`main and ${workers.length} workers done in ${ms} ms; ${results.length - workers.length} pbkdf2 keys (${x > 0 ? 'ok' : '?'})`);
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  let x = 0;
  for (let i = 0; i < CALLS; i++) x += workerHog(4000000);
  parentPort.postMessage({ threadId, x });
}
