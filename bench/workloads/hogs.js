'use strict';
// The named functions the workloads run. Each CPU hog burns `ms` of its own thread's CPU (read
// through `cpu`, the thread's CPU clock) and returns what it burned (ns), measured inside itself.
// One function per name, so a profile's time for a name is that function's time.

let sink = 0;

function serialHog(ms, cpu) {
  let x = 0;
  const t0 = cpu();
  for (;;) {
    for (let i = 0; i < 20000; i++) x += Math.sqrt(i) * Math.sin(i);
    if (cpu() - t0 >= ms * 1e6) break;
  }
  sink += x;
  return cpu() - t0;
}

function parallelHog(ms, cpu) {
  let x = 0;
  const t0 = cpu();
  for (;;) {
    for (let i = 0; i < 20000; i++) x += Math.sqrt(i) * Math.sin(i);
    if (cpu() - t0 >= ms * 1e6) break;
  }
  sink += x;
  return cpu() - t0;
}

/** The CPU phase of the mixed workload. */
function cpuWork(ms, cpu) {
  let x = 0;
  const t0 = cpu();
  for (;;) {
    for (let i = 0; i < 5000; i++) x += Math.sqrt(i) * Math.sin(i);
    if (cpu() - t0 >= ms * 1e6) break;
  }
  sink += x;
  return cpu() - t0;
}

const cell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks for `ms` of wall time in Atomics.wait: no CPU at all. */
function atomicsWaiter(ms) {
  return Atomics.wait(cell, 0, 0, ms);
}

/** Blocks for `ms` in a synchronous child process: the CPU is the spawn's, in this process. */
function sleeper(ms) {
  return require('node:child_process').execFileSync('sleep', [String(ms / 1000)]);
}

/** A fixed amount of CPU work, a few frames deep (the overhead benchmark's unit). */
function fixedWork(iterations, depth = 12) {
  if (depth > 0) return fixedWork(iterations, depth - 1);
  let x = 0;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i) * Math.sin(i);
  sink += x;
  return x;
}

module.exports = { serialHog, parallelHog, cpuWork, atomicsWaiter, sleeper, fixedWork, sink: () => sink };
