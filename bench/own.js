#!/usr/bin/env node
'use strict';
// ptprof's own CPU, part by part, as the summary counts it (issue 14): what was sampled under the
// (ptprof) root, the addon's threads, the signal handler, the native reads of V8's inlining
// tables, the agent's start and its work at the process's end (outside the profile's window), and
// the ptprof command's own process. Each part is measured by a clock (not inferred from two noisy
// whole runs), so a few runs give a steady median.
//
//   tsc     TypeScript 5's tsc type-checking this repository (bench/workloads/real): ~7 s of CPU
//   small   bench/workloads/self-share.js: ~0.8 s of CPU, a worker, crypto and zlib
//   empty   node -e 0: what every profiled process pays at least
//
// Then a busy HTTP server in steady state (a window of 5 s under load, at 100 and 1000 Hz: what a
// service that keeps ptprof on pays), and an idle one (wake-ups and CPU a second).
//
//   node bench/own.js [--runs 5] [--hz 100] [--write-readme]
//   node bench/own.js --against DIR [--runs 7] [--programs tsc,small,empty]
//   node bench/own.js --marginal [--runs 3] [--hz 100]
//
// --against DIR: before and after. DIR is another checkout of ptprof, built (a git worktree of an
// earlier commit, its node_modules copied from this one, then `npx tsc -b` there). Each program
// runs under DIR's ptprof and this one's alternately, so both meet the same moments of a noisy
// machine; the medians of each part are printed side by side. No README section is written.
//
// --marginal: a busy HTTP server profiled whole (the default mode, whose parts go to the ptprof
// command every 2 s), 12 s and 32 s of load alternately: what 20 s more of steady load cost, part
// by part, the hand-offs and the command's merging included. Printed only.
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { writeSection, machine } = require('./lib/readme');
const { median } = require('./lib/stats');

const ROOT = path.resolve(__dirname, '..');
const PTPROF = path.join(ROOT, 'packages', 'cli', 'bin', 'ptprof.js');
const TSC = require.resolve('typescript5/bin/tsc', { paths: [ROOT] });
const AUTOCANNON = require.resolve('autocannon/autocannon.js', { paths: [ROOT] });
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', 5));
const hz = Number(opt('--hz', 100));

const PROGRAMS = {
  tsc: [process.execPath, TSC, '-p', path.join(__dirname, 'workloads', 'real', 'tsconfig.tsc-check.json')],
  small: [process.execPath, path.join(__dirname, 'workloads', 'self-share.js')],
  empty: [process.execPath, '-e', '0'],
};
const PARTS = ['sampled under (ptprof)', "on ptprof's threads", 'in the signal handler', 'reading inlining tables', 'starting', 'ending the process', 'in this command'];

function nanos(text) {
  const m = /^([\d.]+)(ns|us|µs|ms|s)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[m[2]];
}

/** Each part of ptprof's own CPU, and all the CPU used, in ns, from a summary's own-CPU line. */
function ownParts(stderr) {
  const line = /ptprof's own CPU: (\S+) = [\d.]+% of the (\S+) used: (.*)$/m.exec(stderr);
  if (!line) throw new Error(`no own-CPU line in:\n${stderr}`);
  const out = { own: nanos(line[1]), used: nanos(line[2]) };
  for (const p of PARTS) out[p] = 0;
  for (const m of line[3].matchAll(/(\S+) (sampled under \(ptprof\)|on ptprof's threads|in the signal handler|reading inlining tables|starting|ending the process|in this command)/g)) out[m[2]] = nanos(m[1]);
  return out;
}

/** One run: each part of ptprof's own CPU, and all the CPU used, in ns, from the summary. */
function runOnce(argv, ptprof = PTPROF) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-own-'));
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const r = spawnSync(process.execPath, [ptprof, '--hz', String(hz), '-o', path.join(dir, 'p.pb.gz'), '--', ...argv], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`ptprof ${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}`);
    return ownParts(r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (ns) => `${(ns / 1e6).toFixed(1)} ms`;

/** Context switches and CPU (ns) of every thread of process pid so far. */
function threadCounters(pid) {
  let wakeups = 0;
  let cpu = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      wakeups += Number(/^voluntary_ctxt_switches:\t(\d+)$/m.exec(st)[1]) + Number(/^nonvoluntary_ctxt_switches:\t(\d+)$/m.exec(st)[1]);
      cpu += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { wakeups, cpu };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Idle HTTP servers, `n` under ptprof (100 Hz) and one without, started together (idle processes
 * hardly disturb each other): their threads' wake-ups and CPU from 4 s to 30 s after the start
 * (the settling: ptprof symbolizes the server's start ~2-3 s in, and V8 then reduces the heap
 * that work grew, in several GCs on its own threads over the next ~25 s; no run without ptprof
 * does) and from 30 s to 40 s (steady: what a server left idle pays). Each figure a second.
 */
async function idleServers(n) {
  const { spawn } = require('node:child_process');
  const src = 'require("node:http").createServer((q, r) => r.end("x")).listen(0, () => console.log("up"))';
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const servers = [];
  try {
    for (let i = 0; i <= n; i++) {
      const profiled = i < n;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-own-'));
      const argv = profiled ? [PTPROF, '-q', '-o', path.join(dir, 'idle.pb.gz'), '--', process.execPath, '-e', src] : ['-e', src];
      const child = spawn(process.execPath, argv, { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
      servers.push({ profiled, dir, child, up: new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => String(d).includes('up') && resolve());
        child.on('exit', (c) => reject(new Error(`the idle server ended (${c})`)));
      }) });
    }
    await Promise.all(servers.map((x) => x.up));
    // The server: ptprof's child, or the process itself.
    for (const x of servers) {
      x.pid = x.profiled ? Number(fs.readFileSync(`/proc/${x.child.pid}/task/${x.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) : x.child.pid;
    }
    const at = [];
    for (const t of [4, 30, 40]) {
      await sleep((t - (at.length ? [4, 30, 40][at.length - 1] : 0)) * 1000);
      at.push(servers.map((x) => threadCounters(x.pid)));
    }
    const per = (k, i, j, secs) => ({ wakeups: (at[j][k].wakeups - at[i][k].wakeups) / secs, cpuUs: (at[j][k].cpu - at[i][k].cpu) / 1e3 / secs });
    return servers.map((x, k) => ({ profiled: x.profiled, settling: per(k, 0, 1, 26), steady: per(k, 1, 2, 10) }));
  } finally {
    for (const x of servers) {
      x.child.kill('SIGINT');
      await new Promise((r) => (x.child.exitCode !== null ? r() : x.child.on('exit', r)));
      fs.rmSync(x.dir, { recursive: true, force: true });
    }
  }
}

/** --against: each program under the other checkout's ptprof and this one's, alternately. */
function against(dir) {
  const other = path.join(path.resolve(dir), 'packages', 'cli', 'bin', 'ptprof.js');
  if (!fs.existsSync(other)) throw new Error(`--against ${dir}: no packages/cli/bin/ptprof.js there`);
  const names = String(opt('--programs', Object.keys(PROGRAMS).join(','))).split(',');
  const cols = ['own', ...PARTS];
  console.log(`| program | checkout | ${cols.join(' | ')} |`);
  console.log(`|---|---|${cols.map(() => '---:').join('|')}|`);
  for (const name of names) {
    const argv = PROGRAMS[name];
    if (!argv) throw new Error(`--programs: no program ${name} (${Object.keys(PROGRAMS).join(', ')})`);
    const a = [];
    const b = [];
    for (let i = 0; i < runs; i++) {
      a.push(runOnce(argv, other));
      b.push(runOnce(argv));
    }
    for (const [label, all] of [[dir, a], ['this checkout', b]]) {
      console.log(`| ${name} | ${label} | ${cols.map((k) => ms(median(all.map((r) => r[k])))).join(' | ')} |`);
    }
  }
}

/** autocannon (10 connections) on the server at `port` for `s` seconds: the requests it made. */
function load(port, s) {
  const ac = spawnSync(process.execPath, [AUTOCANNON, '-c', '10', '-d', String(s), '--json', `http://127.0.0.1:${port}/`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(ac.stdout).requests.total;
}

/**
 * bench/workloads/real/server.js under `ptprof <options> -o DIR/p.pb.gz --` in a new directory:
 * the child (its stderr piped when `stderr`), the directory, and the port the server printed.
 */
async function startServer(options, stderr) {
  const { spawn } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-own-'));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const server = path.join(__dirname, 'workloads', 'real', 'server.js');
  const child = spawn(process.execPath, [PTPROF, ...options, '-o', path.join(dir, 'p.pb.gz'), '--', process.execPath, server, '0'],
    { cwd: dir, env, stdio: ['ignore', 'pipe', stderr ? 'pipe' : 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`the busy server ended (${c})`)));
  }).catch((err) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return { child, dir, port };
}

/** Ends a server started by startServer with `signal`, and removes its directory. */
async function endServer({ child, dir }, signal) {
  child.kill(signal);
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * A busy HTTP server in steady state, what a service that keeps ptprof on pays: the server
 * (bench/workloads/real/server.js) under autocannon, with `ptprof --signal SIGUSR2`: `warm` s of
 * load in a first window, then `seconds` s of load in a second, whose ptprof's own CPU is read
 * from its facts, part by part (the samples under (ptprof): the drains
 * and the code events; the addon's threads; the signal handler, entry to exit; the reads of V8's
 * inlining tables), over the process's CPU in the window. Not in it: the kernel's delivery of each
 * signal, and what the hand-off of a whole-run profile's parts (every 2 s) or a push adds.
 */
// 10 s: a sample under (ptprof) is 10 ms at 100 Hz, 0.2% of a 5 s window; the drains' few samples
// a window moved the share by ±0.4% from run to run at 5 s.
async function busyServer(rate, seconds = 10, warm = 3) {
  const { decodePprof, stringAt, parseFacts, numberFact } = require('@ptprof/pprof-writer');
  const srv = await startServer(['-q', '--hz', String(rate), '--signal', 'SIGUSR2']);
  const { child, dir, port } = srv;
  try {
    // The warm-up in a first window, so that the sampler's one-time work (reading node's symbol
    // table when the first native frame is named: ~30 ms, 1-3 samples) is done before the window
    // measured.
    child.kill('SIGUSR2');
    await sleep(200);
    load(port, warm);
    child.kill('SIGUSR2');
    const written = async (n) => {
      for (let i = 0; i < 100; i++) {
        const f = fs.readdirSync(dir).find((x) => x.endsWith(`.${n}.pb.gz`));
        if (f) return f;
        await sleep(100);
      }
      return undefined;
    };
    if (!(await written(1))) throw new Error('the busy server\'s first window was not written');
    child.kill('SIGUSR2');
    await sleep(200);
    const requests = load(port, seconds);
    child.kill('SIGUSR2');
    const file = await written(2);
    if (!file) throw new Error('the busy server\'s second window was not written');
    await sleep(300); // written whole (renamed into place), read after its writer is done
    const p = decodePprof(fs.readFileSync(path.join(dir, file)));
    const facts = parseFacts(p.comment.map((i) => stringAt(p, i)));
    const n = (k) => numberFact(facts, k) ?? 0;
    const parts = { sampled: n('ptprof_nanos'), threads: n('ptprof_threads_nanos'), handler: n('ptprof_handler_nanos'), inline: n('inline.read_nanos') };
    return { cpu: n('process_cpu_nanos'), requests, parts, own: Object.values(parts).reduce((a, b) => a + b, 0) };
  } finally {
    await endServer(srv, 'SIGTERM');
  }
}

/**
 * The same busy server profiled whole (`ptprof -- node server.js`: the default mode, whose agent
 * hands its parts to the ptprof command every 2 s, which merges them), under `seconds` s of load, then
 * SIGINT: each part of ptprof's own CPU from the summary, and all the CPU used.
 */
async function busyWhole(seconds) {
  const srv = await startServer(['--hz', String(hz)], true);
  let err = '';
  srv.child.stderr.on('data', (d) => (err += d));
  try {
    load(srv.port, seconds);
  } finally {
    await endServer(srv, 'SIGINT');
  }
  return ownParts(err);
}

/**
 * --marginal: what a service profiled whole pays per second of steady load, hand-offs and the
 * ptprof command's merging included: runs with 12 s and with 32 s of load, alternately (3 each);
 * the difference of their medians, part by part, over the difference of all CPU used. The one-time
 * costs (the start, the end, V8's heap reduction in either process ~8 s in) are in both and cancel.
 */
async function marginal() {
  const short = [];
  const long = [];
  for (let i = 0; i < runs; i++) {
    short.push(await busyWhole(12));
    long.push(await busyWhole(32));
  }
  const d = (k) => median(long.map((r) => r[k])) - median(short.map((r) => r[k]));
  const used = d('used');
  console.log(`A busy HTTP server profiled whole at ${hz} Hz, 20 s more of load (${runs} runs of 12 s and of 32 s, alternately): ${ms(used)} more CPU used, of which ptprof's own ${ms(d('own'))} = ${((100 * d('own')) / used).toFixed(2)}%`);
  for (const p of PARTS) console.log(`  ${p}: ${ms(d(p))} (${((100 * d(p)) / used).toFixed(2)}%)`);
}

async function main() {
  if (args.includes('--against')) return against(opt('--against'));
  if (args.includes('--marginal')) return marginal();
  const t0 = Date.now();
  const rows = [];
  for (const [name, argv] of Object.entries(PROGRAMS)) {
    const all = [];
    for (let i = 0; i < runs; i++) all.push(runOnce(argv));
    const med = {};
    for (const k of ['own', 'used', ...PARTS]) med[k] = median(all.map((r) => r[k]));
    rows.push({ name, med });
    process.stderr.write(`${name}: own ${ms(med.own)} of ${ms(med.used)} (${((100 * med.own) / med.used).toFixed(1)}%)\n`);
  }
  const busy = {};
  for (const rate of [100, 1000]) {
    busy[rate] = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) busy[rate].push(await busyServer(rate));
  }
  const busyRows = Object.entries(busy).map(([rate, all]) => {
    const m = (f) => median(all.map(f));
    const share = m((r) => r.own / r.cpu);
    process.stderr.write(`busy server at ${rate} Hz: own ${(100 * share).toFixed(2)}% (${all.map((r) => (100 * r.own / r.cpu).toFixed(2)).join(' ')})\n`);
    return `| ${rate} Hz | ${ms(m((r) => r.cpu))} | ${ms(m((r) => r.own))} | ${(100 * share).toFixed(2)}% | ${['sampled', 'threads', 'handler', 'inline'].map((k) => ms(m((r) => r.parts[k]))).join(' | ')} |`;
  });
  const servers = await idleServers(Math.max(3, Math.ceil(runs / 2)));
  const idle = { none: servers.filter((x) => !x.profiled), ptprof: servers.filter((x) => x.profiled) };
  const cell = (all, stretch, k, fmt) => {
    const v = all.map((x) => x[stretch][k]).sort((a, b) => a - b);
    return v.length > 1 ? `${fmt(median(v))} (${fmt(v[0])}–${fmt(v.at(-1))})` : fmt(v[0]);
  };
  const idleRows = ['none', 'ptprof'].map((k) => `| ${k === 'none' ? 'no profiler' : 'ptprof (100 Hz)'} | `
    + ['steady', 'settling'].map((st) => `${cell(idle[k], st, 'wakeups', (x) => x.toFixed(1))} | ${cell(idle[k], st, 'cpuUs', (x) => `${x.toFixed(0)} µs`)}`).join(' | ') + ' |');
  const m = machine();
  const table = [
    `| program | all CPU used | ptprof's own | share | sampled under (ptprof) | ptprof's threads | the signal handler | inlining tables | agent's start | agent's end | the ptprof command |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(({ name, med }) => `| ${name} | ${ms(med.used)} | ${ms(med.own)} | ${((100 * med.own) / med.used).toFixed(1)}% | ${PARTS.map((p) => ms(med[p])).join(' | ')} |`),
  ].join('\n');
  const idleTable = ['| an idle HTTP server | steady (30–40 s): wake-ups a second, all threads | CPU a second | settling (4–30 s): wake-ups a second | CPU a second |', '|---|---:|---:|---:|---:|', ...idleRows].join('\n');
  const busyTable = ['| a busy HTTP server, steady | the process\'s CPU in the window | ptprof\'s own | share | sampled under (ptprof) | ptprof\'s threads | the signal handler | inlining tables |',
    '|---|---:|---:|---:|---:|---:|---:|---:|', ...busyRows].join('\n');
  const text = `Measured ${m.date} with \`npm run bench:own -- --write-readme\` (${runs} runs each, medians, ${hz} Hz, ${((Date.now() - t0) / 60000).toFixed(1)} min) on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}. Each part is read from the summary's "ptprof's own CPU" line, each measured by a CPU clock: the samples under the (ptprof) root, the addon's own threads (ptprof-collect, ptprof-control, by their clocks), the signal handler (from its entry to its exit, summed by the addon), the native reads of V8's inlining tables (their thread's CPU clock), the agent's start (the process's CPU from the agent's first line to the profile's start) and end (the main thread's CPU from the process's end to its profile handed over), and the ptprof command's own process up to the profile's writing. "All CPU used": the processes' CPU in the profile's window plus everything counted outside it. tsc: TypeScript 5 checking this repository; small: bench/workloads/self-share.js (a worker, crypto, zlib); empty: \`node -e 0\`.\n\n${table}\n\nA busy program, in steady state: an HTTP server (bench/workloads/real/server.js) under autocannon (10 connections) with \`ptprof --signal SIGUSR2\`: 3 s of load in a first window (the sampler's one-time work, such as reading node's symbol table when a native frame is first named, done there), then 10 s of load in a second; ptprof's own CPU in the second window, from its facts (the samples under (ptprof), the other parts each by its clock), over the process's CPU in the window; medians of ${busy[100].length} runs at each rate. Not in it: the kernel's delivery of each signal (the handler's time runs from its first instruction to its last), and the hand-off of a whole-run profile's parts (every 2 s) or a push's windows (their own section).\n\n${busyTable}\n\nAn idle program: HTTP servers waiting for requests, ${idle.ptprof.length} under ptprof and one without, started together; their threads' context switches and CPU clocks (/proc), steady from 30 s to 40 s after the start, and settling from 4 s to 30 s (ptprof symbolizes the server's start ~2–3 s in; V8 then reduces the heap that work grew, in GCs on its own threads, which no run without ptprof has), medians (lowest–highest).\n\n${idleTable}`;
  console.log(table);
  console.log(busyTable);
  console.log(idleTable);
  if (args.includes('--write-readme')) {
    writeSection('own', text);
    process.stderr.write('README.md: bench:own section written\n');
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
