#!/usr/bin/env node
'use strict';
// Overhead: the slowdown of a fixed CPU-bound workload with a profiler on, against off, measured
// inside one process (separate processes vary by ±30% on these machines). Blocks of a fixed amount
// of work alternate on/off (on-off, off-on, ...); each block's cost is the process's CPU time over
// it (every thread: the signal handler, the drains, a profiler's own threads). The work yields to
// the event loop between chunks, so the profiler's timers (ptprof's drain) run inside the blocks.
//
//   node bench/overhead.js [--profiler ptprof|dd|none] [--pairs 120] [--block-ms 100] [--rates 100,1000] [--json]
//
// --profiler none is a null test: both blocks of each pair are off, so its spread is the machine's.
const { Sampler } = require('../packages/sampler');
const peers = require('./lib/peers');
const truth = require('./lib/truth');
const { fixedWork } = require('./workloads/hogs');
const { median } = require('./lib/stats');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const profiler = opt('--profiler', 'ptprof');
const pairs = Number(opt('--pairs', 120));
const blockMs = Number(opt('--block-ms', 100));
const rates = String(opt('--rates', '100,1000')).split(',').map(Number);
const CHUNKS = 20;

// ptprof's drains (the rings read, samples filtered, symbolized, aggregated), timed on the thread
// that runs them, to tell their cost from the signal handler's.
let drainNs = 0;
const drain = Sampler.prototype.drain;
Sampler.prototype.drain = function timedDrain() {
  const t = truth.threadCpuNs();
  drain.call(this);
  drainNs += truth.threadCpuNs() - t;
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function block(iterations) {
  for (let i = 0; i < CHUNKS; i++) {
    fixedWork(iterations);
    await tick();
  }
}

function calibrate() {
  // Iterations for one chunk of blockMs / CHUNKS of CPU, found at that size: fixedWork's cost is
  // not linear in its iterations (Math.sin of a larger argument costs more), so timing one large
  // call and scaling down gave blocks of ~22 ms of CPU instead of 100.
  const target = (blockMs / CHUNKS) * 1e6;
  let n = 100000;
  for (let round = 0; round < 6; round++) {
    const c0 = truth.threadCpuNs();
    for (let k = 0; k < 4; k++) fixedWork(n);
    const dt = (truth.threadCpuNs() - c0) / 4;
    n = Math.max(1000, Math.round((n * target) / dt));
  }
  return n;
}


async function measure(on, hz, iterations, costs, detail) {
  let sampler;
  const s0 = truth.processCpuNs();
  if (on) {
    if (profiler === 'dd') peers.ddStart(hz);
    else if (profiler === 'ptprof') sampler = new Sampler({ hz }).start();
    // 'none': a null test, both blocks off, to see the spread the machine alone gives
  }
  drainNs = 0;
  const c0 = truth.processCpuNs();
  await block(iterations);
  if (sampler) sampler.drain(); // what the block's samples cost to collect, not the final profile
  const c1 = truth.processCpuNs();
  const blockDrainNs = drainNs;
  if (on) {
    if (profiler === 'dd') peers.ddStop([]);
    else if (sampler) {
      const p = sampler.stop();
      if (detail) {
        detail.drainNs += blockDrainNs;
        detail.cpuNs += c1 - c0;
        detail.records += p.stats.records;
        detail.filtered += p.stats.filtered.setitimer + p.stats.filtered.timer_create;
        // The handler's own time, entry to exit, over the sampler's window (the block and its
        // start and stop, a little wider than the block).
        detail.handlerNs += Number(p.facts.ptprof_handler_nanos ?? 0);
      }
    }
    costs.push(truth.processCpuNs() - c1 + (c0 - s0));
  }
  return c1 - c0;
}

async function main() {
  let iterations = calibrate();
  const costs = [];
  for (let i = 0; i < 10; i++) await measure(i % 2 === 1, rates[0], iterations, []); // warm up both paths (JIT tiers)
  iterations = calibrate(); // again, with every path optimized
  const out = { profiler, pairs, blockMs, chunks: CHUNKS, rates: [] };
  for (const hz of rates) {
    const ratios = [];
    const on = [];
    const off = [];
    const startStop = [];
    const detail = { drainNs: 0, cpuNs: 0, records: 0, filtered: 0, handlerNs: 0 };
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 ? [true, false] : [false, true];
      const r = {};
      for (const o of order) r[o] = await measure(o, hz, iterations, startStop, detail);
      on.push(r[true]);
      off.push(r[false]);
      ratios.push(r[true] / r[false]);
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))];
    const row = {
      hz,
      median: median(ratios),
      p25: q(0.25),
      p75: q(0.75),
      min: sorted[0],
      max: sorted.at(-1),
      offMs: median(off) / 1e6,
      onMs: median(on) / 1e6,
      startStopMs: median(startStop) / 1e6,
      // ptprof only: the share of the on-blocks' CPU spent in drains; signals per CPU-second of
      // the blocks and the share of them filtered (setitimer's, on threads that have a timer).
      drainShare: profiler !== 'ptprof' ? null : detail.drainNs / detail.cpuNs,
      handlerShare: profiler !== 'ptprof' ? null : detail.handlerNs / detail.cpuNs,
      signalsPerSec: profiler !== 'ptprof' ? null : detail.records / (detail.cpuNs / 1e9),
      filteredShare: profiler !== 'ptprof' ? null : detail.filtered / detail.records,
    };
    out.rates.push(row);
    if (!args.includes('--json')) {
      console.log(
        `${profiler} ${hz} Hz: on/off median ${row.median.toFixed(4)} (p25 ${row.p25.toFixed(4)}, p75 ${row.p75.toFixed(4)}, ` +
          `min ${row.min.toFixed(4)}, max ${row.max.toFixed(4)}), block ${row.offMs.toFixed(1)} ms off, start+stop ${row.startStopMs.toFixed(2)} ms` +
          (row.drainShare == null ? '' : `, drains ${(row.drainShare * 100).toFixed(2)}% of CPU, handler ${(row.handlerShare * 100).toFixed(2)}%, ${row.signalsPerSec.toFixed(0)} signals/s, ${(row.filteredShare * 100).toFixed(0)}% filtered`),
      );
    }
  }
  if (args.includes('--json')) console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
