'use strict';
// Ground truth from the OS: the CPU clocks of the process and of each of its threads.
//
// A running thread's clock can be a tick stale until something brings its accounting up to date;
// getrusage (process.cpuUsage()) does, so it is called before every read.
const fs = require('node:fs');
const { nativeIndex } = require('./workers');

const { binding } = require(nativeIndex);

/** The calling thread's CPU time (ns). */
function threadCpuNs() {
  process.cpuUsage();
  return binding.threadCpuNs();
}

/** The process's CPU time (ns), every thread, the exited ones included. */
function processCpuNs() {
  process.cpuUsage();
  return binding.processCpuNs();
}

/** CLOCK_MONOTONIC in ns: the clock V8's profiler stamps its samples with (in µs). */
function monotonicNs() {
  return binding.monotonicNs();
}

function comm(tid) {
  try {
    return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Every thread of this process now: Map tid -> { tid, comm, ns }. */
function snapshotThreads() {
  process.cpuUsage();
  const out = new Map();
  for (const name of fs.readdirSync('/proc/self/task')) {
    const tid = Number(name);
    let ns;
    try {
      ns = binding.threadCpuNs(tid);
    } catch {
      continue; // exited meanwhile
    }
    out.set(tid, { tid, comm: comm(tid), ns });
  }
  return out;
}

module.exports = { binding, threadCpuNs, processCpuNs, monotonicNs, snapshotThreads };
