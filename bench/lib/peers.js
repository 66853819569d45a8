'use strict';
// The profilers measured side by side, each reduced to the same figures:
//   { totalNs, threads: { key: ns }, nonJsNs, fns: { name: ns } }
// where a function's time is inclusive (every sample with the function anywhere on its stack).
const fs = require('node:fs');
const path = require('node:path');

// ---------------------------------------------------------------------------------------------
// ptprof

const PTPROF_MODES = {
  ptprof: {},
  'ptprof-setitimer': { _timers: false },
  'ptprof-noweights': { _overrunWeights: false },
  // One frame per code object, as V8's code events name it (ptprof before it expanded inlining).
  'ptprof-outer': { inlinedFrames: false },
};

/**
 * Figures of a ptprof Profile; `keyOfTid` names threads ('main', 'worker 3', ...). The
 * `(unsampled)` rows (each thread's CPU its samples do not stand for) are kept apart: totalNs and
 * threads are the samples', unsampledNs and unsampledThreads those rows'.
 */
function ptprofFigures(profile, fnNames, keyOfTid) {
  const fns = Object.fromEntries(fnNames.map((n) => [n, 0]));
  let totalNs = 0;
  let unsampledNs = 0;
  const unsampledThreads = {};
  for (const s of profile.samples) {
    if (s.frames.length === 1 && s.frames[0].name === '(unsampled)') {
      unsampledNs += s.cpuNanos;
      const key = s.labels.thread_id === 0 ? 'exited threads' : keyOfTid(s.labels.thread_id);
      unsampledThreads[key] = (unsampledThreads[key] ?? 0) + s.cpuNanos;
      continue;
    }
    totalNs += s.cpuNanos;
    const seen = new Set();
    for (const f of s.frames) {
      if (f.name in fns && !seen.has(f.name)) {
        seen.add(f.name);
        fns[f.name] += s.cpuNanos;
      }
    }
  }
  const threads = {};
  for (const t of profile.threads) {
    const key = keyOfTid(t.tid);
    threads[key] = (threads[key] ?? 0) + t.cpuNanos;
  }
  return { totalNs, threads, fns, stats: profile.stats, unsampledNs, unsampledThreads };
}

// ---------------------------------------------------------------------------------------------
// @datadog/pprof: V8's CpuProfiler (wall-clock sampling) with CPU time collection. Each JS thread
// must start its own; CPU of threads without JS comes back as one stackless sample.

function ddStart(hz) {
  const { time } = require('@datadog/pprof');
  time.start({ intervalMicros: Math.round(1e6 / hz), collectCpuTime: true, withContexts: true, durationMillis: 3600e3 });
}

function ddStop(fnNames) {
  const { time } = require('@datadog/pprof');
  const p = time.stop();
  const str = (i) => p.stringTable.strings[Number(i)];
  const cpuAt = p.sampleType.findIndex((t) => str(t.type) === 'cpu');
  if (cpuAt < 0) throw new Error('@datadog/pprof: no cpu sample type (collectCpuTime unsupported?)');
  const lumpName = time.constants.NON_JS_THREADS_FUNCTION_NAME;
  const locs = new Map(p.location.map((l) => [Number(l.id), l]));
  const funcs = new Map(p.function.map((f) => [Number(f.id), str(f.name)]));
  const fns = Object.fromEntries(fnNames.map((n) => [n, 0]));
  let totalNs = 0;
  let lumpNs = 0;
  for (const s of p.sample) {
    const v = Number(s.value[cpuAt]);
    totalNs += v;
    const names = new Set();
    for (const id of s.locationId) {
      const l = locs.get(Number(id));
      for (const line of l?.line ?? []) names.add(funcs.get(Number(line.functionId)));
    }
    if (names.has(lumpName)) lumpNs += v;
    for (const n of names) if (n in fns) fns[n] += v;
  }
  return { totalNs, lumpNs, fns };
}

// ---------------------------------------------------------------------------------------------
// node --cpu-prof: one .cpuprofile per JS thread (CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile),
// samples stamped in µs of CLOCK_MONOTONIC; a sample stands for the time until the next one.

/**
 * Figures of the .cpuprofile files in dir, counting only samples stamped in [t0Us, t1Us).
 * `keyOfThreadId` names threads by their worker threadId (0: main).
 */
function cpuprofFigures(dir, fnNames, t0Us, t1Us, keyOfThreadId) {
  const fns = Object.fromEntries(fnNames.map((n) => [n, 0]));
  const threads = {};
  let totalNs = 0;
  let idleNs = 0;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    const threadId = Number(file.split('.').at(-3));
    const p = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    // Inclusive names of each node, computed once.
    const namesOf = new Map();
    const names = (id) => {
      let s = namesOf.get(id);
      if (s) return s;
      s = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) s.add(byId.get(at).callFrame.functionName);
      namesOf.set(id, s);
      return s;
    };
    let t = p.startTime;
    const stamps = p.timeDeltas.map((d) => (t += d));
    let threadNs = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const at = stamps[i];
      if (at < t0Us || at >= t1Us) continue;
      const next = i + 1 < stamps.length ? stamps[i + 1] : p.endTime;
      const ns = Math.max(0, Math.min(next, t1Us) - at) * 1000;
      const ids = names(p.samples[i]);
      if (ids.has('(idle)')) {
        idleNs += ns;
        continue;
      }
      threadNs += ns;
      for (const n of ids) if (n in fns) fns[n] += ns;
    }
    const key = keyOfThreadId(threadId);
    threads[key] = (threads[key] ?? 0) + threadNs;
    totalNs += threadNs;
  }
  return { totalNs, idleNs, threads, nonJsNs: 0, fns, files: files.length };
}

module.exports = { PTPROF_MODES, ptprofFigures, ddStart, ddStop, cpuprofFigures };
