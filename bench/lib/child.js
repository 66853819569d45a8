'use strict';
// One benchmark run in its own process: one workload under one profiler at one rate.
//
//   node [--cpu-prof ...] bench/lib/child.js '{"workload":"serial","profiler":"ptprof","hz":100,"ms":1000,"out":"x.json"}'
//
// The truth window is [t0, t1]: from just after the profiler started to just before it stops. The
// OS's counts over that window (the process's CPU clock, each thread's CPU clock, each named
// function's CPU as measured inside the workload) are written to `out` with the profile's figures.
// For --cpu-prof the profiles are written at exit; the parent reads them, keeping samples in [t0, t1].
const fs = require('node:fs');
const truth = require('./truth');
const peers = require('./peers');

async function main() {
  const spec = JSON.parse(process.argv[2]);
  // ptprof registers this thread before the workload's code is loaded, as the CLI's agent does at
  // preload: V8 then records positions at every instruction of the code it optimizes, which
  // placing a pc inside inlined code needs (see @ptprof/timers-native src/inline.cc).
  if (peers.PTPROF_MODES[spec.profiler]) require('../../packages/sampler').registerCurrentThread();
  const workloads = require('../workloads');
  const W = workloads[spec.workload];
  if (!W) throw new Error(`no workload ${spec.workload}`);
  if (W.prepare) await W.prepare(spec);
  const ptprofOpts = peers.PTPROF_MODES[spec.profiler];
  const dd = spec.profiler === 'dd';

  let sampler;
  if (ptprofOpts) {
    const { Sampler } = require('../../packages/sampler');
    sampler = new Sampler({ hz: spec.hz, ...ptprofOpts }).start();
  } else if (dd) {
    peers.ddStart(spec.hz);
  }
  const wall0 = Date.now();
  const t0 = truth.monotonicNs();
  const th0 = truth.snapshotThreads();
  const p0 = truth.processCpuNs();

  const res = await W.run({ spec, register: !!ptprofOpts, dd: dd ? { hz: spec.hz } : null });

  const th1 = truth.snapshotThreads();
  const p1 = truth.processCpuNs();
  const t1 = truth.monotonicNs();
  const wallMs = Date.now() - wall0;

  // Name every thread: main, worker <threadId>, or what else it is (libuv pool threads appear
  // during the run; V8's helpers were there before).
  const workerOf = new Map((res.workers ?? []).map((w) => [w.tid, w]));
  const keyOfTid = (tid) => {
    if (tid === process.pid) return 'main';
    const w = workerOf.get(tid);
    if (w) return `worker ${w.threadId}`;
    return `tid ${tid}`;
  };
  const threads = [];
  for (const [tid, t] of th1) {
    const w = workerOf.get(tid);
    let ns = t.ns - (th0.get(tid)?.ns ?? 0);
    // @datadog/pprof runs inside each worker from its start() to its stop(): compare it with that.
    if (w && w.windowNs != null) ns = w.windowNs;
    const js = tid === process.pid || !!w;
    const kind = js ? 'js' : th0.has(tid) ? 'helper' : 'new';
    threads.push({ key: keyOfTid(tid), tid, comm: t.comm, kind, born: !th0.has(tid), ns });
  }

  let prof = null;
  if (sampler) {
    prof = peers.ptprofFigures(sampler.stop(), [...W.fnNames], keyOfTid);
    const nonJs = new Set(threads.filter((t) => t.kind !== 'js').map((t) => t.key));
    prof.nonJsNs = Object.entries(prof.threads).reduce((a, [k, v]) => a + (nonJs.has(k) ? v : 0), 0);
  } else if (dd) {
    const m = peers.ddStop([...W.fnNames]);
    prof = { totalNs: m.totalNs, threads: { main: m.totalNs - m.lumpNs }, nonJsNs: m.lumpNs, fns: m.fns };
    for (const w of res.workers ?? []) {
      prof.totalNs += w.dd.totalNs;
      prof.nonJsNs += w.dd.lumpNs;
      prof.threads[`worker ${w.threadId}`] = w.dd.totalNs - w.dd.lumpNs;
      for (const n of W.fnNames) prof.fns[n] += w.dd.fns[n];
    }
  }
  if (res.release) await res.release();

  const out = {
    spec,
    wallMs,
    window: { t0Us: t0 / 1000, t1Us: t1 / 1000 },
    workerBoot: (res.workers ?? []).map((w) => ({ bootNs: w.bootNs, registerNs: w.registerNs })),
    workerKeys: Object.fromEntries((res.workers ?? []).map((w) => [w.threadId, `worker ${w.threadId}`])),
    truth: { processNs: p1 - p0, threads, fns: res.fns },
    prof,
  };
  fs.writeFileSync(spec.out, JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
