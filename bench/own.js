#!/usr/bin/env node
'use strict';
// ptprof's own CPU, part by part, as the summary counts it (issue 14): what was sampled under the
// (ptprof) root, the native reads of V8's inlining tables, the agent's start and its work at the
// process's end (outside the profile's window), and the ptprof command's own process. Each part
// is measured by a CPU clock (not inferred from two noisy whole runs), so a few runs give a
// steady median.
//
//   tsc     TypeScript 5's tsc type-checking this repository (bench/workloads/real): ~7 s of CPU
//   small   bench/workloads/self-share.js: ~0.8 s of CPU, a worker, crypto and zlib
//   empty   node -e 0: what every profiled process pays at least
//
//   node bench/own.js [--runs 5] [--hz 100] [--write-readme]
//   node bench/own.js --against DIR [--runs 7] [--programs tsc,small,empty]
//
// --against DIR: before and after. DIR is another checkout of ptprof, built (a git worktree of an
// earlier commit, its node_modules copied from this one, then `npx tsc -b` there). Each program
// runs under DIR's ptprof and this one's alternately, so both meet the same moments of a noisy
// machine; the medians of each part are printed side by side. No README section is written.
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { writeSection, machine } = require('./lib/readme');
const { median } = require('./lib/stats');

const ROOT = path.resolve(__dirname, '..');
const PTPROF = path.join(ROOT, 'packages', 'cli', 'bin', 'ptprof.js');
const TSC = require.resolve('typescript5/bin/tsc', { paths: [ROOT] });
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', 5));
const hz = Number(opt('--hz', 100));

const PROGRAMS = {
  tsc: [process.execPath, TSC, '-p', path.join(__dirname, 'workloads', 'real', 'tsconfig.tsc-check.json')],
  small: [process.execPath, path.join(__dirname, 'workloads', 'self-share.js')],
  empty: [process.execPath, '-e', '0'],
};
const PARTS = ['sampled under (ptprof)', "on ptprof's threads", 'reading inlining tables', 'starting', 'ending the process', 'in this command'];

function nanos(text) {
  const m = /^([\d.]+)(ns|us|µs|ms|s)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[m[2]];
}

/** One run: each part of ptprof's own CPU, and all the CPU used, in ns, from the summary. */
function runOnce(argv, ptprof = PTPROF) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-own-'));
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const r = spawnSync(process.execPath, [ptprof, '--hz', String(hz), '-o', path.join(dir, 'p.pb.gz'), '--', ...argv], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`ptprof ${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}`);
    const line = /ptprof's own CPU: (\S+) = [\d.]+% of the (\S+) used: (.*)$/m.exec(r.stderr);
    if (!line) throw new Error(`no own-CPU line in:\n${r.stderr}`);
    const out = { own: nanos(line[1]), used: nanos(line[2]) };
    for (const p of PARTS) out[p] = 0;
    for (const m of line[3].matchAll(/(\S+) (sampled under \(ptprof\)|on ptprof's threads|reading inlining tables|starting|ending the process|in this command)/g)) out[m[2]] = nanos(m[1]);
    return out;
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
 * An idle HTTP server for `seconds` after 4 s of warm-up: wake-ups and CPU per second, all its
 * threads. 4 s: the sampler holds what its drains take for up to 2 s before it symbolizes it
 * (sampler.ts, HOLD_MS), so the server's start is symbolized ~2-3 s in, once: after 2 s of
 * warm-up that one-time work fell inside the idle stretch (11 wake-ups and 7 ms of CPU a second,
 * against 5-8 and 1.0-1.8 ms after 4 s), which is not what an idle server pays. Some runs, under
 * either checkout, meet a stretch of V8's own work instead (its collector and its worker threads,
 * ~7-10 s after the start: ~25 wake-ups and 6-9 ms of CPU a second; no run without ptprof has it).
 */
async function idleServer(profiled, seconds = 5) {
  const { spawn } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-own-'));
  const src = 'require("node:http").createServer((q, r) => r.end("x")).listen(0, () => console.log("up"))';
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const argv = profiled ? [PTPROF, '-q', '-o', path.join(dir, 'idle.pb.gz'), '--', process.execPath, '-e', src] : ['-e', src];
  const child = spawn(process.execPath, argv, { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => String(d).includes('up') && resolve());
      child.on('exit', (c) => reject(new Error(`the idle server ended (${c})`)));
    });
    await sleep(4000);
    // The server: ptprof's child, or the process itself.
    const kids = profiled ? fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number) : [child.pid];
    const pid = kids[0];
    const a = threadCounters(pid);
    await sleep(seconds * 1000);
    const b = threadCounters(pid);
    return { wakeups: (b.wakeups - a.wakeups) / seconds, cpuUs: (b.cpu - a.cpu) / 1e3 / seconds };
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    fs.rmSync(dir, { recursive: true, force: true });
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

async function main() {
  if (args.includes('--against')) return against(opt('--against'));
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
  const idle = { none: [], ptprof: [] };
  for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
    idle.none.push(await idleServer(false));
    idle.ptprof.push(await idleServer(true));
  }
  const idleMed = (k) => ({ wakeups: median(idle[k].map((x) => x.wakeups)), cpuUs: median(idle[k].map((x) => x.cpuUs)) });
  const idleRows = ['none', 'ptprof'].map((k) => `| ${k === 'none' ? 'no profiler' : 'ptprof (100 Hz)'} | ${idleMed(k).wakeups.toFixed(1)} | ${idleMed(k).cpuUs.toFixed(0)} µs |`);
  const m = machine();
  const table = [
    `| program | all CPU used | ptprof's own | share | sampled under (ptprof) | ptprof's threads | inlining tables | agent's start | agent's end | the ptprof command |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(({ name, med }) => `| ${name} | ${ms(med.used)} | ${ms(med.own)} | ${((100 * med.own) / med.used).toFixed(1)}% | ${PARTS.map((p) => ms(med[p])).join(' | ')} |`),
  ].join('\n');
  const idleTable = ['| an idle HTTP server | wake-ups per second (all threads) | CPU per second |', '|---|---:|---:|', ...idleRows].join('\n');
  const text = `Measured ${m.date} with \`npm run bench:own -- --write-readme\` (${runs} runs each, medians, ${hz} Hz, ${((Date.now() - t0) / 60000).toFixed(1)} min) on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}. Each part is read from the summary's "ptprof's own CPU" line, each measured by a CPU clock: the samples under the (ptprof) root, the addon's own threads (ptprof-collect, ptprof-control, by their clocks), the native reads of V8's inlining tables (their thread's CPU clock), the agent's start (the process's CPU from the agent's first line to the profile's start) and end (the main thread's CPU from the process's end to its profile handed over), and the ptprof command's own process up to the profile's writing. "All CPU used": the processes' CPU in the profile's window plus everything counted outside it. tsc: TypeScript 5 checking this repository; small: bench/workloads/self-share.js (a worker, crypto, zlib); empty: \`node -e 0\`.\n\n${table}\n\nAn idle program: an HTTP server waiting for requests, its threads' context switches and CPU clocks (/proc) over 5 s after 4 s of warm-up (the sampler's one-time work on the server's start done), medians of ${idle.none.length} runs each.\n\n${idleTable}`;
  console.log(table);
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
