#!/usr/bin/env node
'use strict';
// ptprof's benchmark suite: is the profile right about CPU time? Every workload under every
// profiler that can handle it, side by side in one run, against the OS's own counts.
//
//   npm run bench [-- --write-readme] [--reps 3] [--peer-reps 1] [--only serial,parallel] [--rates 100,1000]
//                 [--ms 1000] [--pairs 120] [--no-overhead] [--json FILE]
//   npm run bench -- --from FILE [--write-readme]     the tables again from a run saved with --json FILE
//
// Workloads (bench/workloads): serial (one hog on the main thread), parallel (the hog in N worker
// threads at once), mixed (CPU alternating with waits that burn no CPU), pool (libuv's pool:
// pbkdf2 and deflate), tsc (TypeScript 5's compiler type-checking typescript.d.ts).
// Profilers (bench/lib/peers.js): ptprof in its three modes, node --cpu-prof, @datadog/pprof.
// Each run is a fresh process (bench/lib/child.js); overhead is measured inside one process
// (bench/overhead.js); the kernel's tick rate is measured (bench/lib/hz.js).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const peers = require('./lib/peers');
const { writeSection, machine } = require('./lib/readme');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const REPS = Number(opt('--reps', 3));
const PEER_REPS = Number(opt('--peer-reps', 1));
const ONLY = opt('--only', null)?.split(',');
const RATES = String(opt('--rates', '100,1000')).split(',').map(Number);
const MS = Number(opt('--ms', 1000));
// On/off pairs of the overhead blocks, per profiler and rate. 120, not 40: single pairs spread by
// ±30% here, and with 40 the median moved by ±0.5% between runs (1.4% in one, 0.4% in the next at
// 100 Hz), as much as the goal it is judged against; 120 gave 0.75% and 0.88% (issue 14).
const PAIRS = Number(opt('--pairs', 120));
const MIN_THREAD_NS = 100e6; // threads compared one by one: those that burned at least 100 ms

const PROFILERS = [
  { id: 'ptprof', label: 'ptprof', reps: REPS },
  { id: 'ptprof-setitimer', label: 'setitimer only (Go < 1.18)', reps: PEER_REPS },
  { id: 'ptprof-noweights', label: 'timer per thread, no weights (Go 1.18)', reps: PEER_REPS },
  { id: 'cpuprof', label: 'node --cpu-prof', reps: PEER_REPS },
  { id: 'dd', label: '@datadog/pprof', reps: PEER_REPS },
  // ptprof with inlinedFrames: false (one frame per code object, as before it expanded inlining).
  { id: 'ptprof-outer', label: 'ptprof, outer frames only', reps: PEER_REPS, only: ['inlined'] },
];
/** The profilers of the main tables (every workload). */
const MAIN_PROFILERS = PROFILERS.filter((p) => !p.only);
const WORKLOADS = [
  { id: 'serial', workload: 'serial', label: 'serial: 1 hog, main thread', fn: 'serialHog' },
  ...[1, 2, 4, 8].map((n) => ({ id: `parallel${n}`, workload: 'parallel', n, label: `parallel: ${n} worker${n > 1 ? 's' : ''}`, fn: 'parallelHog' })),
  { id: 'mixed', workload: 'mixed', label: 'mixed: CPU + blocking', fn: 'cpuWork' },
  { id: 'pool', workload: 'pool', label: 'pool: pbkdf2 + deflate' },
  { id: 'tsc', workload: 'tsc', label: 'tsc (TypeScript 5)' },
  // Functions V8 inlines (workloads/inlined.js): a table of its own, per function.
  { id: 'inlined', workload: 'inlined', label: 'inlined helpers', profilers: ['ptprof', 'ptprof-outer', 'cpuprof', 'dd'] },
].filter((w) => !ONLY || ONLY.includes(w.id) || ONLY.includes(w.workload));
/** The workloads of the main tables. */
const MAIN = WORKLOADS.filter((w) => w.id !== 'inlined');
const BLOCKING = ['atomicsWaiter', 'sleeper'];

const ROOT = path.resolve(__dirname, '..');
const log = (...a) => console.error(...a);

function runNode(nodeArgs, timeoutMs = 180e3) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`node ${nodeArgs.join(' ')} -> ${code ?? sig}\n${err.slice(-2000)}`));
    });
  });
}

/** One workload under one profiler at one rate, in a fresh process: the run's figures. */
async function runOne(w, p, hz) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-'));
  try {
    const spec = { workload: w.workload, n: w.n ?? 1, ms: MS, profiler: p.id, hz, out: path.join(tmp, 'out.json') };
    const flags = [];
    const profDir = path.join(tmp, 'cpuprof');
    if (p.id === 'cpuprof') flags.push('--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', String(Math.round(1e6 / hz)));
    await runNode([...flags, path.join(__dirname, 'lib', 'child.js'), JSON.stringify(spec)]);
    const r = JSON.parse(fs.readFileSync(spec.out, 'utf8'));
    if (p.id === 'cpuprof') {
      const keyOf = (threadId) => (threadId === 0 ? 'main' : r.workerKeys[threadId] ?? `worker ${threadId}`);
      r.prof = peers.cpuprofFigures(profDir, Object.keys(r.truth.fns), r.window.t0Us, r.window.t1Us, keyOf);
    }
    return figures(r);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Profile ÷ OS for the process, each thread that burned enough, each named function; shares. */
function figures(r) {
  const { truth, prof } = r;
  // ptprof's (unsampled) rows: each thread's CPU its samples do not stand for (ratioAll, processAll).
  const un = prof.unsampledThreads;
  const threads = truth.threads
    .filter((t) => t.ns >= MIN_THREAD_NS)
    .map((t) => ({
      key: t.key, kind: t.kind, comm: t.comm, ratio: (prof.threads[t.key] ?? 0) / t.ns,
      ratioAll: un ? ((prof.threads[t.key] ?? 0) + (un[t.key] ?? 0)) / t.ns : null,
    }));
  // The threads that run the hog: the main thread (serial) or the workers (parallel).
  const isHog = (key) => (r.spec.workload === 'serial' ? key === 'main' : r.spec.workload === 'parallel' && key.startsWith('worker '));
  const hogs = threads.filter((t) => isHog(t.key)).map((t) => t.ratio);
  const hogsAll = threads.filter((t) => isHog(t.key) && t.ratioAll != null).map((t) => t.ratioAll);
  const fns = {};
  const shares = {};
  const truthTotal = truth.processNs;
  for (const [name, ns] of Object.entries(truth.fns)) {
    if (ns >= MIN_THREAD_NS) fns[name] = prof.fns[name] / ns;
    shares[name] = { truth: ns / truthTotal, prof: prof.fns[name] / prof.totalNs, truthMs: ns / 1e6, profMs: prof.fns[name] / 1e6 };
  }
  const nonJsTruth = truth.threads.filter((t) => t.kind !== 'js').reduce((a, t) => a + t.ns, 0);
  // What the profile misses, thread by thread: threads there when it started, threads born during it.
  const shortfall = { before: { ns: 0, n: 0 }, during: { ns: 0, n: 0 } };
  for (const t of truth.threads) {
    if (t.ns < 1e6) continue;
    const g = shortfall[t.born ? 'during' : 'before'];
    g.ns += t.ns - (prof.threads[t.key] ?? 0);
    g.n++;
  }
  return {
    shortfall,
    workerBoot: r.workerBoot ?? [],
    dropped: prof.stats?.dropped?.ring ?? 0,
    process: prof.totalNs / truth.processNs,
    processAll: prof.unsampledNs != null ? (prof.totalNs + prof.unsampledNs) / truth.processNs : null,
    threads,
    hogs,
    hogsAll,
    fns,
    shares,
    nonJs: nonJsTruth > 0 ? prof.nonJsNs / nonJsTruth : null,
    processMs: truth.processNs / 1e6,
    wallMs: r.wallMs,
  };
}

const median = (xs) => {
  const s = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f3 = (x) => (x == null ? '—' : x.toFixed(3));
const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(1)}%`);

async function accuracy() {
  const results = new Map(); // `${w.id}|${p.id}|${hz}` -> [figures]
  const maxReps = Math.max(...PROFILERS.map((p) => p.reps));
  // Repetitions outermost, so that the machine's drift touches every profiler alike.
  for (let rep = 0; rep < maxReps; rep++) {
    for (const w of WORKLOADS) {
      for (const hz of RATES) {
        for (const p of PROFILERS) {
          if (rep >= p.reps) continue;
          if ((p.only && !p.only.includes(w.id)) || (w.profilers && !w.profilers.includes(p.id))) continue;
          const key = `${w.id}|${p.id}|${hz}`;
          const t = Date.now();
          let f;
          for (let attempt = 1; !f; attempt++) {
            try {
              f = await runOne(w, p, hz);
            } catch (err) {
              log(`rep ${rep + 1} ${key}: ${err.message.split('\n').slice(0, 3).join(' | ')}`);
              if (attempt === 2) break; // left out of the medians; a cell with no run shows "—"
            }
          }
          if (!f) continue;
          if (!results.has(key)) results.set(key, []);
          results.get(key).push(f);
          log(
            `rep ${rep + 1} ${w.id.padEnd(10)} ${String(hz).padStart(4)} Hz ${p.id.padEnd(17)} process ${f3(f.process)}  ` +
              `threads ${f.threads.map((x) => f3(x.ratio)).join(' ')}  fns ${Object.entries(f.fns).map(([k, v]) => `${k} ${f3(v)}`).join(' ')}  (${Date.now() - t} ms)`,
          );
        }
      }
    }
  }
  return results;
}

/** Medians over the repetitions: process; per thread the median of each run's min and max; fns. */
function summarize(runs) {
  if (!runs?.length) return null;
  const mins = runs.map((r) => (r.threads.length ? Math.min(...r.threads.map((t) => t.ratio)) : null));
  const maxs = runs.map((r) => (r.threads.length ? Math.max(...r.threads.map((t) => t.ratio)) : null));
  const fnNames = Object.keys(runs[0].fns);
  const shareNames = Object.keys(runs[0].shares);
  const all = (r) => r.threads.filter((t) => t.ratioAll != null).map((t) => t.ratioAll);
  return {
    n: runs.length,
    process: median(runs.map((r) => r.process)),
    processAll: median(runs.map((r) => r.processAll ?? null)),
    threadMin: median(mins),
    threadMax: median(maxs),
    threadMinAll: median(runs.map((r) => (all(r).length ? Math.min(...all(r)) : null))),
    threadMaxAll: median(runs.map((r) => (all(r).length ? Math.max(...all(r)) : null))),
    hogMinAll: median(runs.map((r) => (r.hogsAll?.length ? Math.min(...r.hogsAll) : null))),
    hogMaxAll: median(runs.map((r) => (r.hogsAll?.length ? Math.max(...r.hogsAll) : null))),
    threadCount: runs[0].threads.length,
    hogMin: median(runs.map((r) => (r.hogs.length ? Math.min(...r.hogs) : null))),
    hogMax: median(runs.map((r) => (r.hogs.length ? Math.max(...r.hogs) : null))),
    fns: Object.fromEntries(fnNames.map((n) => [n, median(runs.map((r) => r.fns[n]))])),
    shares: Object.fromEntries(
      shareNames.map((n) => [n, { truth: median(runs.map((r) => r.shares[n].truth)), prof: median(runs.map((r) => r.shares[n].prof)) }]),
    ),
    nonJs: median(runs.map((r) => r.nonJs)),
    dropped: Math.max(...runs.map((r) => r.dropped)),
  };
}

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i < 2 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );
}

async function overhead() {
  const out = [];
  // The null test first: both blocks of every pair off, so its spread is the machine's alone.
  for (const [profiler, rates] of [['none', [RATES[0]]], ['ptprof', RATES], ['dd', RATES]]) {
    log(`overhead: ${profiler}, ${PAIRS} on/off pairs per rate`);
    const res = JSON.parse(
      await runNode([path.join(__dirname, 'overhead.js'), '--profiler', profiler, '--pairs', String(PAIRS), '--rates', rates.join(','), '--json']),
    );
    for (const r of res.rates) {
      log(`  ${profiler} ${r.hz} Hz: median ${r.median.toFixed(4)} (p25 ${r.p25.toFixed(4)}, p75 ${r.p75.toFixed(4)})`);
      out.push({ profiler, ...r, pairs: res.pairs, blockMs: res.blockMs });
    }
  }
  return out;
}

const LABEL = Object.fromEntries(PROFILERS.map((p) => [p.id, p.label]));

function report(S, over, env) {
  const cell = (w, p, hz, fn) => {
    const s = S.get(`${w.id}|${p.id}|${hz}`);
    return s ? fn(s) : '—';
  };
  const head = ['workload', 'rate', ...MAIN_PROFILERS.map((p) => p.label)];
  const rowsFor = (ws, fn) => ws.flatMap((w) => RATES.map((hz) => [w.label, `${hz} Hz`, ...MAIN_PROFILERS.map((p) => cell(w, p, hz, fn))]));
  // The two totals tables have ptprof twice: its samples, then with its (unsampled) rows.
  const headAll = ['workload', 'rate', 'ptprof: samples', 'ptprof: with (unsampled)', ...MAIN_PROFILERS.slice(1).map((p) => p.label)];
  const rowsAll = (ws, fn, fnAll) => ws.flatMap((w) => RATES.map((hz) => [w.label, `${hz} Hz`, cell(w, MAIN_PROFILERS[0], hz, fn),
    cell(w, MAIN_PROFILERS[0], hz, fnAll), ...MAIN_PROFILERS.slice(1).map((p) => cell(w, p, hz, fn))]));
  const range = (lo, hi) => (lo == null ? '—' : lo === hi ? f3(lo) : `${f3(lo)}–${f3(hi)}`);

  const parts = [];
  parts.push(
    '`npm run bench` runs each workload under each profiler, each run in a fresh process, and compares the profile with the ' +
      "OS's own count over the same interval: the process's CPU clock, each thread's CPU clock, and each named function's CPU read " +
      "from its thread's clock inside the workload. Overhead is measured inside one process. `npm run bench -- --write-readme` " +
      'rewrites this section.',
  );
  parts.push(
    `Measured ${env.date} with \`${env.command}\` (${env.minutes} min) on ${env.cores} cores (${env.cpu}), Linux ${env.kernel} ` +
      `with kernel HZ=${env.hz} (measured: a 10 kHz CPU-clock timer on one spinning thread delivered ${env.signalsPerCpuSecond} signals per ` +
      `second of its CPU), Node ${env.node}, @datadog/pprof ${env.ddVersion}, TypeScript ${env.tsVersion}. Every run is a fresh process; ` +
      `ptprof's figures are medians of ${env.reps} runs, the others' of ${env.peerReps}. Profilers: ptprof (default: a timer per thread on ` +
      'every thread, each sample weighted 1 + si_overrun); ptprof with setitimer only (`_timers: false`, Go before 1.18); ptprof with a ' +
      'timer per thread but no weights (`_overrunWeights: false`, Go 1.18); `node --cpu-prof` (interval 10 ms at 100 Hz, 1 ms at 1000 Hz, ' +
      'one .cpuprofile per JS thread, each sample worth the time to the next); @datadog/pprof\'s time profiler with `collectCpuTime` and ' +
      '`withContexts`, started in every worker (its `cpu` values).',
  );

  parts.push(goals(S, over));

  parts.push('### Whole process: profile CPU ÷ OS CPU');
  parts.push(table(headAll, rowsAll(MAIN, (s) => f3(s.process), (s) => f3(s.processAll))));
  parts.push(
    "OS CPU: the process's CPU clock from just after the profiler started to just before it stopped; `--cpu-prof` samples are " +
      'clipped to that window by their timestamps, and its `(idle)` samples are left out. Workloads: one CPU hog on the main thread ' +
      `(${ENV.ms} ms of CPU); the same hog in N workers at once (${ENV.ms} ms each; ${env.cores} cores); CPU phases alternating with blocking ` +
      "calls; libuv's pool running 8 pbkdf2 and 4 deflates of 16 MiB; TypeScript 5's `tsc` type-checking its own typescript.d.ts against " +
      '@types/node, in process. "ptprof: samples": its samples alone; "with (unsampled)": with the `(unsampled)` row of each ' +
      "thread (the CPU its clock counted that its samples do not stand for: after its last sample, before a new thread's timer, " +
      "dropped records), which makes the profile's total the process's CPU, plus what a thread's samples stood for beyond its " +
      'CPU and no row of its last window could give back (the `oversampled_nanos` fact).',
  );

  parts.push(`### Per thread: profile CPU ÷ the thread's CPU clock (lowest–highest over the threads that burned ≥ ${MIN_THREAD_NS / 1e6} ms)`);
  const tw = MAIN.filter((w) => [...S.entries()].some(([k, s]) => k.startsWith(`${w.id}|`) && s.threadCount > 0));
  parts.push(table(headAll, rowsAll(tw, (s) => range(s.threadMin, s.threadMax), (s) => range(s.threadMinAll, s.threadMaxAll))));
  parts.push(
    "The threads: the main thread and the workers, libuv's pool threads (pool), V8's helper threads (tsc: concurrent marking and " +
      'compilation). 0.000: a thread the profiler does not see at all. For @datadog/pprof a worker is compared with its CPU between ' +
      'its own start() and stop(). At 100 Hz a thread is resolved to one period, 10 ms: ±10% for a thread that burned 100 ms, ±1% ' +
      'for the hogs\' 1 s; the goal below is judged on the threads that run the hog (serial\'s main thread, parallel\'s workers). ' +
      "With (unsampled), the main thread's figure also counts what the sampler's own start() and stop() burn inside its window but " +
      "outside the bench's readings, which are taken after start() returns and before stop() is called (arming and deleting every " +
      "thread's timer: the most with 8 workers).",
  );

  const nj = MAIN.filter((w) => ['pool', 'tsc'].includes(w.workload));
  if (nj.length) {
    parts.push("### Threads without JS, together (libuv's pool, V8's helpers, profilers' own threads): profile CPU ÷ their CPU clocks");
    parts.push(table(head, rowsFor(nj, (s) => f3(s.nonJs))));
    parts.push(
      '@datadog/pprof reports this CPU as one stackless sample ("Non JS threads activity") on the main thread, whatever thread burned ' +
        'it; `--cpu-prof` has nothing for it.',
    );
  }

  const fw = MAIN.filter((w) => w.fn);
  if (fw.length) {
    parts.push('### Per function: profile CPU in the function ÷ its CPU measured inside the workload');
    parts.push(table(head, rowsFor(fw, (s) => f3(s.fns[Object.keys(s.fns)[0]]))));
    parts.push('serialHog, parallelHog (summed over the workers) and cpuWork (the CPU phases of the mixed workload); inclusive time.');
  }

  if (WORKLOADS.some((w) => w.id === 'mixed')) {
    parts.push("### Blocking functions: their share of the profile (their true share of the process's CPU in that run)");
    const rows = [];
    for (const fn of BLOCKING) {
      for (const hz of RATES) rows.push([fn, `${hz} Hz`, ...MAIN_PROFILERS.map((p) => cell({ id: 'mixed' }, p, hz, (s) => `${pct(s.shares[fn].prof)} (${pct(s.shares[fn].truth)})`))]);
    }
    parts.push(table(['function', 'rate', ...MAIN_PROFILERS.map((p) => p.label)], rows));
    parts.push(
      'Each of the mixed workload\'s 50 rounds runs cpuWork (20 ms of CPU), atomicsWaiter (`Atomics.wait` for 10 ms) and sleeper ' +
        '(`execFileSync("sleep", ["0.01"])`: spawning costs this process CPU, the sleep none). The true share differs between runs: a ' +
        "profiler's signals wake a blocked thread and make it burn CPU.",
    );
  }

  if (WORKLOADS.some((w) => w.id === 'inlined')) parts.push(inliningTables([{ node: env.node, S }]));

  const ov = over.filter((o) => o.profiler !== 'none');
  if (ov.length) {
    const nul = over.find((o) => o.profiler === 'none');
    parts.push("### Overhead: the process's CPU time for a fixed workload with the profiler on ÷ off, in one process");
    const rows = over.map((o) => [
      o.profiler === 'none' ? 'none (null test)' : LABEL[o.profiler],
      o.profiler === 'none' ? '—' : `${o.hz} Hz`,
      o.median.toFixed(4),
      `${o.p25.toFixed(4)}–${o.p75.toFixed(4)}`,
      o.profiler === 'none' ? '—' : `${o.startStopMs.toFixed(1)} ms`,
      o.drainShare == null ? '—' : `${(o.drainShare * 100).toFixed(2)}%`,
      o.handlerShare == null ? '—' : `${(o.handlerShare * 100).toFixed(2)}%`,
      o.signalsPerSec == null ? '—' : `${o.signalsPerSec.toFixed(0)} (${(o.filteredShare * 100).toFixed(0)}% filtered)`,
    ]);
    parts.push(table(['profiler', 'rate', 'median on ÷ off', 'middle half', 'start + stop', "ptprof's drains", "ptprof's signal handler", 'signals per CPU-second'], rows));
    parts.push(
      `${ov[0].pairs} pairs of blocks per rate, alternating on-off and off-on; each block is ${ov[0].blockMs} ms of JS work, ` +
        "12 frames deep, in 20 chunks that yield to the event loop (so ptprof's drains run inside it), costed as the process's CPU " +
        'time. The profiler is started before an "on" block and stopped after it; start + stop, outside the blocks, is their median ' +
        'cost. ' +
        (nul
          ? `The null test runs the same pairs with both blocks off: its middle half (${nul.p25.toFixed(4)}–${nul.p75.toFixed(4)}) is ` +
            "what this machine's noise alone gives. "
          : '') +
        "ptprof's drains: the share of the on-blocks' CPU spent reading the rings, filtering, symbolizing and rescanning threads " +
        "(a drain closes each block: one per 100 ms, where a running sampler drains every 250 ms). ptprof's signal handler: its " +
        "own count of its time, entry to exit, over the on-blocks' CPU (the kernel's delivery of each signal is not in it). " +
        "Filtered signals are setitimer's, which stays on as in Go but is dropped by the handler, without a stack walk, on threads " +
        'that have their own timer.',
    );
  }

  return parts.join('\n\n');
}

/** The goals, each with ptprof's worst figure, and the reasons for the misses. */
function goals(S, over) {
  const pt = (id, hz) => S.get(`${id}|ptprof|${hz}`);
  const scope = WORKLOADS.filter((w) => w.workload === 'serial' || w.workload === 'parallel');
  const worst = (vals) => vals.filter((v) => v != null).reduce((a, v) => (a == null || Math.abs(v - 1) > Math.abs(a - 1) ? v : a), null);
  const within = (v, tol) => v != null && Math.abs(v - 1) <= tol;
  const rows = [];
  const missed = new Set();
  const row = (goal, hz, value, ok, why) => {
    rows.push([goal, hz, value, ok ? 'met' : '**missed**']);
    if (!ok) missed.add(why);
  };
  for (const hz of RATES) {
    const proc = worst(scope.map((w) => pt(w.id, hz)?.process));
    const thr = worst(scope.flatMap((w) => [pt(w.id, hz)?.hogMin, pt(w.id, hz)?.hogMax]));
    const fn = worst(scope.map((w) => pt(w.id, hz)?.fns[w.fn]));
    const procAll = worst(MAIN.map((w) => pt(w.id, hz)?.processAll));
    const thrAll = worst(scope.flatMap((w) => [pt(w.id, hz)?.hogMinAll, pt(w.id, hz)?.hogMaxAll]));
    if (MAIN.length) row('with (unsampled): process within 1%, every workload', `${hz} Hz`, f3(procAll), within(procAll, 0.01), 'unsampled');
    if (scope.length) row('with (unsampled): each hog thread within 1%, 1–8 threads', `${hz} Hz`, f3(thrAll), within(thrAll, 0.01), 'unsampled');
    if (scope.length) {
      row('process within 1%, 1–8 threads', `${hz} Hz`, f3(proc), within(proc, 0.01), 'tail');
      row('each hog thread within 1%, 1–8 threads', `${hz} Hz`, f3(thr), within(thr, 0.01), 'tail');
      row('each function within 1%, 1–8 threads', `${hz} Hz`, f3(fn), within(fn, 0.01), 'tail');
    }
  }
  for (const id of ['mixed', 'pool', 'tsc']) {
    const w = WORKLOADS.find((x) => x.id === id);
    if (!w) continue;
    for (const hz of RATES) {
      const s = pt(id, hz);
      row(`process within 1%, ${w.label}`, `${hz} Hz`, f3(s?.process), within(s?.process, 0.01), s?.dropped ? 'drops' : 'tail');
      if (id === 'mixed') {
        const v = s?.fns.cpuWork;
        row('each function within 1%, mixed (cpuWork)', `${hz} Hz`, f3(v), within(v, 0.01), 'attribution');
      }
    }
  }
  if (WORKLOADS.some((w) => w.id === 'mixed')) {
    for (const hz of RATES) {
      const v = pt('mixed', hz)?.shares.atomicsWaiter.prof;
      row('a function that burns no CPU gets < 2%', `${hz} Hz`, pct(v), v != null && v < 0.02, 'blocking');
    }
  }
  for (const hz of RATES) {
    const s = pt('inlined', hz);
    if (!s) continue;
    const v = worst(Object.values(s.fns));
    row('each function within 2%, inlined helpers', `${hz} Hz`, f3(v), within(v, 0.02), 'inlining');
  }
  for (const o of over.filter((x) => x.profiler === 'ptprof')) {
    const limit = o.hz <= 100 ? 1.01 : 1.03;
    row(`overhead ≤ ${Math.round((limit - 1) * 100)}%`, `${o.hz} Hz`, `${((o.median - 1) * 100).toFixed(1)}%`, o.median <= limit, 'overhead');
  }
  const out = [`### Goals (ptprof, default mode)`, table(['goal', 'rate', 'ptprof (worst)', ''], rows)];
  const why = reasons(S, over, missed);
  if (why.length) out.push('Why the misses, as measured in this run:', why.map((x) => `- ${x}`).join('\n'));
  return out.join('\n\n');
}

/** ptprof's shortfall per thread (ms), over its runs at a rate that dropped nothing. */
function shortfallAt(hz) {
  const acc = { before: { ns: 0, n: 0 }, during: { ns: 0, n: 0 } };
  for (const [key, runs] of RAW) {
    const [, p, r] = key.split('|');
    if (p !== 'ptprof' || Number(r) !== hz) continue;
    for (const run of runs) {
      if (run.dropped) continue;
      for (const g of ['before', 'during']) {
        acc[g].ns += run.shortfall[g].ns;
        acc[g].n += run.shortfall[g].n;
      }
    }
  }
  const ms = (g) => (acc[g].n ? (acc[g].ns / acc[g].n / 1e6).toFixed(1) : '—');
  return { before: ms('before'), during: ms('during'), nBefore: acc.before.n, nDuring: acc.during.n };
}

/** Mean CPU a ptprof-profiled worker burns before registering, and in registering (ms). */
function workerBoot() {
  const boots = [];
  for (const [key, runs] of RAW) if (key.split('|')[1] === 'ptprof') for (const r of runs) boots.push(...r.workerBoot);
  const mean = (xs) => (xs.length ? (xs.reduce((a, x) => a + x, 0) / xs.length / 1e6).toFixed(1) : '—');
  return { n: boots.length, boot: mean(boots.map((b) => b.bootNs)), register: mean(boots.map((b) => b.registerNs)) };
}

function reasons(S, over, missed) {
  const out = [];
  if (missed.has('inlining')) {
    out.push('Inlined helpers: a function that builds strings (escapeHtml) loses the samples taken in string builtins before ' +
      "they set up a frame (V8's stack walk starts at its caller's caller; see the README's Limits); and " + INLINING_WHY);
  }
  const tickMs = (1000 / ENV.hz).toFixed(0);
  if (missed.has('tail')) {
    const sf = RATES.map((hz) => ({ hz, ...shortfallAt(hz) }));
    const wb = workerBoot();
    out.push(
      `Every thread comes up a few ms short, whatever it burned. A CPU-clock timer's expiry is acted on only at a kernel tick (every ` +
        `${tickMs} ms here) that finds the thread running; the CPU a thread burns after the last such tick, before it blocks for good or ` +
        'the profile stops, is never sampled: up to a tick of CPU per thread, at any rate. Measured over all of ' +
        `ptprof's runs, threads that were there when the profile started came up short by ${sf.map((x) => `${x.before} ms at ${x.hz} Hz`).join(', ')} each.`,
    );
    out.push(
      `Threads born during the profile came up short by ${sf.map((x) => `${x.during} ms at ${x.hz} Hz`).join(', ')} each. Until a new ` +
        "thread has a timer of its own only setitimer's process-wide signals reach it (at most one per tick for the whole process, " +
        'shared by all its threads), and the CPU it burns after the last of them and before its own timer is armed is not counted. ' +
        (wb.n
          ? `A worker burned ${wb.boot} ms of CPU in Node's worker bootstrap (with loading the addon) and ${wb.register} ms in ptprof's register module (which enumerates ` +
            "V8's code before it arms the thread's timer) before it had one, unless the sampler's 10 ms poll armed it first. "
          : '') +
        "libuv's pool threads are armed by that poll. " +
        `With ${ENV.ms} ms of CPU per thread and up to a dozen threads (workers, pool, V8's helpers), these few ms per thread add up to ` +
        'more than 1% of the process; the loss is per thread, not per second, so it shrinks in longer profiles. At 100 Hz a ' +
        'single thread is also resolved only to one period (10 ms), either way. This shortfall is what the `(unsampled)` rows ' +
        'carry, thread by thread: the goals "with (unsampled)" count them.',
    );
  }
  if (missed.has('unsampled')) {
    out.push(
      "With the (unsampled) rows the profile's total is the process's CPU plus what a thread's samples stood for beyond its CPU " +
        "and no row of its last window could give back (a thread sampled in an earlier window only): the oversampled_nanos fact. " +
        'A miss here is that excess, or a thread the profile does not list.',
    );
  }
  if (missed.has('drops')) {
    const d = [...S.entries()].filter(([k, s]) => k.includes('|ptprof|') && s.dropped).map(([k, s]) => `${k.split('|')[0]} at ${k.split('|')[2]} Hz: ${s.dropped}`);
    out.push(
      `Samples dropped (profile.stats.dropped.ring, most per run: ${d.join(', ')}). tsc type-checks synchronously on the main thread ` +
        "for seconds; the sampler drains the rings from a timer on the event loop, which does not run meanwhile, so the main thread's " +
        "256 KiB ring fills (tsc's stacks are deep, and setitimer's signals are recorded before being filtered) and later samples are " +
        'dropped. The drops are counted and reported, not silent, but the total is short by them; a larger `ringBytes` or a drain ' +
        'that does not need the event loop would avoid them.',
    );
  }
  if (missed.has('attribution')) {
    const at = RATES.map((hz) => ({ hz, s: S.get(`mixed|ptprof|${hz}`) })).filter((x) => x.s);
    out.push(
      'cpuWork is given CPU that sleeper burned (' +
        at.map((x) => `at ${x.hz} Hz sleeper got ${pct(x.s.shares.sleeper.prof)} of the profile for a true ${pct(x.s.shares.sleeper.truth)}`).join(', ') +
        "). A CPU-clock timer's expiry is acted on only at the next tick that finds the thread running, and the sample is the stack " +
        "of that moment: CPU burned in a short burst just before the thread blocks (sleeper's spawn, then the wait for the child) is " +
        'charged to whatever runs at the next tick, most often the next cpuWork. The thread\'s total is not affected (the per-thread ' +
        'table); the attribution is off by up to a tick of CPU at each switch from a short burst to a block, for any profiler ' +
        'driven by CPU-clock timers.',
    );
  }
  if (missed.has('blocking')) out.push('A function that burns no CPU got 2% or more of the profile: see the blocking table.');
  if (missed.has('overhead')) {
    const o = over.filter((x) => x.profiler === 'ptprof');
    const nul = over.find((x) => x.profiler === 'none');
    out.push(
      'Overhead: ' +
        o
          .map(
            (x) =>
              `at ${x.hz} Hz the drains take ${(x.drainShare * 100).toFixed(2)}% of the CPU` +
              (x.handlerShare == null ? '' : ` and the signal handler ${(x.handlerShare * 100).toFixed(2)}% (its entry to its exit; the kernel's delivery of the signals is not in it)`) +
              `, for ${x.signalsPerSec.toFixed(0)} signals per ` +
              `CPU-second, ${(x.filteredShare * 100).toFixed(0)}% of them setitimer's on threads that have a timer (dropped by the handler's table, without a stack walk)`,
          )
          .join('; ') +
        '. A drain (every 250 ms, and at once when the 10 ms poll finds a thread without a timer burning CPU) reads every ' +
        "thread's timer, and lists /proc/self/task when an unclaimed thread was seen or 500 ms passed, whatever the rate; each block " +
        "here starts a new sampler, whose first drain arms every thread's timer." +
        (nul ? ` The null test's middle half here, ${nul.p25.toFixed(4)}–${nul.p75.toFixed(4)}, is the resolution this machine allows.` : ''),
    );
  }
  return out;
}

const INLINED_FNS = require('./workloads/inlined').fnNames;
const INLINING_WHY =
  "an inlined function loses what V8 attributes to its caller: the call's own instructions (loading its arguments, checking " +
  "its target) carry the caller's position, and a sample's pc is the instruction after the one that was slow, at the end of a " +
  "call often the caller's.";

/**
 * The inlined workload's table: per function (and per Node, for bench/inlining.js), each profiler's
 * CPU for the function ÷ its true CPU. `runs`: [{ node, S }] with S the summaries by key.
 */
function inliningTables(runs) {
  const profs = PROFILERS.filter((p) => WORKLOADS.find((w) => w.id === 'inlined')?.profilers.includes(p.id));
  const rows = [];
  for (const { node, S } of runs) {
    for (const fn of INLINED_FNS) {
      for (const hz of RATES) {
        rows.push([fn, ...(runs.length > 1 ? [node] : []), `${hz} Hz`, ...profs.map((p) => {
          const s = S.get(`inlined|${p.id}|${hz}`);
          return s ? f3(s.fns[fn]) : '—';
        })]);
      }
    }
  }
  return [
    '### Inlined functions: profile CPU in the function ÷ its CPU measured inside the workload',
    table(['function', ...(runs.length > 1 ? ['Node'] : []), 'rate', ...profs.map((p) => p.label)], rows),
    'Code as an HTTP service has it (workloads/inlined.js): escape-html\'s escapeHtml, an ETag hash with a helper of another ' +
      'module, a tokenizer with a character-class helper, a nearest-point search with a class method and a helper; each runs in ' +
      'phases of its own called from a loop, and V8 inlines it (and its helpers) into that loop. "Outer frames only" is ptprof with ' +
      '`inlinedFrames: false`: one frame per code object, as before it expanded inlined frames. Inclusive time.',
  ].join('\n\n');
}

let RAW = new Map();
let ENV = { hz: 250, ms: MS };

/** --from FILE: the tables again from a run saved with --json FILE, without measuring anything. */
function fromFile(file) {
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  RAW = new Map(saved.results);
  ENV.hz = saved.env.hz;
  ENV.ms = saved.env.ms ?? 1000;
  const S = new Map([...RAW].map(([k, v]) => [k, summarize(v)]));
  const text = report(S, saved.over ?? [], saved.env);
  console.log(text);
  if (args.includes('--write-readme')) {
    writeSection('results', text);
    log('README.md: bench:results section written');
  }
}

async function main() {
  if (args.includes('--from')) return fromFile(opt('--from'));
  const t0 = Date.now();
  const m = machine();
  log('measuring the kernel tick rate');
  const hz = JSON.parse(await runNode([path.join(__dirname, 'lib', 'hz.js')]));
  log(`  ${hz.signalsPerCpuSecond} signals per CPU-second at 10 kHz: HZ=${hz.hz}`);
  ENV.hz = hz.hz;
  const results = await accuracy();
  RAW = results;
  const S = new Map([...results].map(([k, v]) => [k, summarize(v)]));
  const over = args.includes('--no-overhead') ? [] : await overhead();
  const shown = args.filter((a, i) => a !== '--json' && args[i - 1] !== '--json');
  const pkg = (name) => JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [ROOT] }), 'utf8')).version;
  const env = {
    ...m,
    hz: m.hz !== 'unknown' ? m.hz : hz.hz,
    signalsPerCpuSecond: hz.signalsPerCpuSecond,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown CPU',
    command: `npm run bench${shown.length ? ` -- ${shown.join(' ')}` : ''}`,
    minutes: ((Date.now() - t0) / 60e3).toFixed(1),
    ddVersion: pkg('@datadog/pprof'),
    tsVersion: pkg('typescript5'),
    reps: REPS,
    peerReps: PEER_REPS,
    ms: MS,
  };
  const text = report(S, over, env);
  console.log(text);
  if (args.includes('--json')) fs.writeFileSync(opt('--json', 'bench.json'), JSON.stringify({ env, results: [...results], over }, null, 1));
  if (args.includes('--write-readme')) {
    writeSection('results', text);
    log('README.md: bench:results section written');
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { inliningTables, summarize, INLINING_WHY };
