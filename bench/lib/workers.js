'use strict';
// CPU hogs in worker threads with ground truth from each thread's own CPU clock.
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const ROOT = path.resolve(__dirname, '..', '..');
const registerPath = path.join(ROOT, 'packages', 'sampler', 'register.js');
const nativeIndex = path.join(ROOT, 'packages', 'timers-native', 'dist', 'src', 'index.js');

/** Source of a named function that burns `ms` of its thread's CPU and returns what it burned (ns). */
function hogSource(name) {
  return `(function ${name}(ms, cpu) {
    let x = 0; const t0 = cpu();
    for (;;) { for (let i = 0; i < 20000; i++) x += Math.sqrt(i) * Math.sin(i); if (cpu() - t0 >= ms * 1e6) break; }
    globalThis.__sink = x; return cpu() - t0;
  })`;
}

/**
 * n workers at once, each registering with ptprof (unless register is false) and burning ms of CPU
 * in a function named fn; resolves with [{ tid, cpuNs }].
 */
function hogWorkers(n, fn, ms, { register = true, body } = {}) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    const src = `
      ${register ? `require(${JSON.stringify(registerPath)});` : ''}
      const { binding } = require(${JSON.stringify(nativeIndex)});
      const cpu = () => { process.cpuUsage(); return binding.threadCpuNs(); };
      const fn = ${body ?? hogSource(fn)};
      const cpuNs = fn(${ms}, cpu);
      require('node:worker_threads').parentPort.postMessage({ tid: binding.gettid(), cpuNs });`;
    runs.push(new Promise((resolve, reject) => {
      const w = new Worker(src, { eval: true });
      let out;
      w.on('message', (m) => (out = m));
      w.on('error', reject);
      w.on('exit', (c) => (out ? resolve(out) : reject(new Error(`worker exited ${c}`))));
    }));
  }
  return Promise.all(runs);
}

function cpuIn(profile, fn) {
  let ns = 0;
  for (const s of profile.samples) if (s.frames.some((f) => f.name === fn)) ns += s.cpuNanos;
  return ns;
}

module.exports = { hogSource, hogWorkers, cpuIn, registerPath, nativeIndex, ROOT };
