#!/usr/bin/env node
'use strict';
// What long-running programs pay (npm run bench:longrun): measured side by side in one run.
//
//   stop     SIGINT to ptprof until ptprof has exited with 130 and the profile written: a program
//            stuck in a loop (the interrupt path) and an idle one (the event loop's), median of runs;
//            and one pbkdf2Sync call that never returns in time (the deadline)
//   idle     TypeScript 5's tsc type-checking its own declarations (a real program compiling a lot of
//            code), and an empty program (start-up alone): their process CPU with no ptprof, with the
//            agent loaded and timers off (--signal, no window asked for), and profiled whole; runs
//            interleaved, medians
//   restart  starting the timers in a process that compiled 20,000 functions while they were off
//            (V8 enumerates its code again), against the first start, through ptprof/api
//   push     --push at 100 Hz, one window a second to a local receiver: the main thread's CPU and
//            the whole process's per window (the work in worker threads, so that the main thread
//            holds ptprof's own work), the bytes of each request, and the upload worker's start
//
//   npm run bench:longrun [-- --write-readme] [--runs 5]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { writeSection, machine } = require('./lib/readme');
const { median } = require('./lib/stats');

const args = process.argv.slice(2);
const RUNS = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 5);
const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'ptprof.js');
const FIX = path.join(ROOT, 'packages', 'cli', 'test', 'fixtures');
const LIB = path.join(__dirname, 'lib', 'longrun-child.js');

const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
const env = () => {
  const e = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('PTPROF_')) delete e[k];
  delete e.NODE_OPTIONS;
  return e;
};

/** ptprof on stuck.js MODE (or burn.js wait), SIGINT `afterMs` after "ready"; ms from SIGINT to ptprof's exit. */
function stopOnce(argv, afterMs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-stop-'));
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, '-q', '-o', 'cpu.pb.gz', '--', 'node', ...argv], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let sentAt = 0;
    c.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (!sentAt && /ready/.test(out)) {
        setTimeout(() => {
          sentAt = performance.now();
          c.kill('SIGINT');
        }, afterMs);
        sentAt = -1;
      }
    });
    c.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => {
      const ms = performance.now() - sentAt;
      const written = fs.existsSync(path.join(dir, 'cpu.pb.gz'));
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ ms, code, written, err });
    });
  });
}

async function stopSection() {
  const rows = [];
  for (const [label, argv] of [
    ['stuck in a loop (`for (;;)`): reached at an interrupt', [path.join(FIX, 'stuck.js'), 'loop']],
    ['idle (waiting for I/O): from the event loop', [path.join(FIX, 'burn.js'), 'wait', '40']],
    ['in one `crypto.pbkdf2Sync` call that takes minutes', [path.join(FIX, 'stuck.js'), 'native']],
  ]) {
    const r = [];
    for (let i = 0; i < RUNS; i++) r.push(await stopOnce(argv, 1000));
    rows.push({ label, ms: r.map((x) => x.ms), codes: [...new Set(r.map((x) => x.code))], written: r.filter((x) => x.written).length, n: r.length });
  }
  const table = [
    '| the program, when SIGINT comes | exit status | profile written | SIGINT to ptprof\'s exit, median (range) |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.codes.join(', ')} | ${r.written} of ${r.n} | ${median(r.ms).toFixed(0)} ms (${range(r.ms)}) |`),
  ].join('\n');
  return table;
}

/** One tsc (or empty) run, in the mode given; its process CPU (ns) and peak RSS, from the child's own count at its end. */
function tscOnce(mode, what) {
  const out = path.join(os.tmpdir(), `ptprof-bench-tsc-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const profile = path.join(os.tmpdir(), `ptprof-bench-tsc-${process.pid}.pb.gz`);
  const child = [LIB, what, out];
  const argv = mode === 'plain' ? child
    : mode === 'off' ? [BIN, '-q', '--signal', 'SIGUSR2', '--', process.execPath, ...child]
      : [BIN, '-q', '-o', profile, '--', process.execPath, ...child];
  const r = spawnSync(process.execPath, argv, { env: env(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc (${mode}) failed: ${r.stderr}`);
  const res = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(out, { force: true });
  fs.rmSync(profile, { force: true });
  return res;
}

function idleSection() {
  const modes = ['plain', 'off', 'whole'];
  const got = {};
  for (const what of ['empty', 'tsc']) for (const m of modes) got[`${what} ${m}`] = [];
  for (let i = 0; i < RUNS; i++) for (const what of ['empty', 'tsc']) for (const m of modes) got[`${what} ${m}`].push(tscOnce(m, what));
  const cpu = (k) => median(got[k].map((x) => x.cpuNs));
  const rss = (k) => median(got[k].map((x) => x.rssMB));
  const labels = {
    plain: 'no ptprof',
    off: '`ptprof --signal SIGUSR2`, no window asked for: the agent loaded, timers off',
    whole: '`ptprof` (the whole run profiled, 100 Hz)',
  };
  const row = (m) => {
    const tsc = cpu(`tsc ${m}`);
    const start = cpu(`empty ${m}`);
    return `| ${labels[m]} | ${(start / 1e6).toFixed(0)} ms | ${(tsc / 1e6).toFixed(0)} ms | ${(tsc / cpu('tsc plain')).toFixed(3)} | `
      + `${((tsc - start) / (cpu('tsc plain') - cpu('empty plain'))).toFixed(3)} | ${rss(`tsc ${m}`).toFixed(0)} MB |`;
  };
  return [
    '| | an empty program: process CPU | tsc: process CPU | ÷ no ptprof | start-up taken out: ÷ no ptprof | tsc: peak RSS |',
    '|---|---:|---:|---:|---:|---:|',
    ...modes.map(row),
  ].join('\n');
}

function restartSection() {
  const r = [];
  for (let i = 0; i < RUNS; i++) {
    const x = spawnSync(process.execPath, [LIB, 'restart'], { env: env(), encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`restart: ${x.stderr}`);
    r.push(JSON.parse(x.stdout.trim().split('\n').pop()));
  }
  const f = (k) => median(r.map((x) => x[k]));
  return [
    '| start of the timers (`ptprof/api` start()) | main thread CPU, median | wall, median |',
    '|---|---:|---:|',
    `| the first, in a fresh process | ${f('firstCpuMs').toFixed(1)} ms | ${f('firstWallMs').toFixed(1)} ms |`,
    `| again, after 20,000 functions were compiled with the timers off (40,000 code events, past the log's bound while nothing records: V8 enumerates its code again) | ${f('againCpuMs').toFixed(1)} ms | ${f('againWallMs').toFixed(1)} ms |`,
  ].join('\n');
}

function pushOnce(mode) {
  const x = spawnSync(process.execPath, [LIB, 'push', mode], { env: env(), encoding: 'utf8', timeout: 120_000 });
  if (x.status !== 0) throw new Error(`push ${mode}: ${x.stderr}`);
  return JSON.parse(x.stdout.trim().split('\n').pop());
}

function pushSection() {
  const got = { base: [], idle: [], push: [] };
  for (let i = 0; i < RUNS; i++) for (const m of ['base', 'idle', 'push']) got[m].push(pushOnce(m));
  const med = (m, k) => median(got[m].map((x) => x[k]));
  const windows = med('push', 'windows');
  const mainMs = (med('push', 'mainNs') - med('idle', 'mainNs')) / 1e6 / windows;
  const procMs = (med('push', 'processNs') - med('idle', 'processNs')) / 1e6 / windows;
  const startMs = (med('idle', 'processNs') - med('base', 'processNs')) / 1e6;
  return {
    table: [
      '| --push at 100 Hz, a window a second, 4 busy threads | median over the runs |',
      '|---|---:|',
      `| per window: CPU on the program's main thread (the cut, source maps, the pprof encoding) | ${mainMs.toFixed(1)} ms |`,
      `| per window: CPU of the whole process (the above, gzip on libuv's pool, the upload worker) | ${procMs.toFixed(1)} ms |`,
      `| per window: the request's body (the gzipped pprof in multipart/form-data) | ${(med('push', 'bytesPerWindow') / 1024).toFixed(1)} KiB |`,
      `| per window: distinct stacks | ${med('push', 'rowsPerWindow').toFixed(0)} |`,
      `| once: starting the upload worker (process CPU) | ${startMs.toFixed(0)} ms |`,
    ].join('\n'),
    windows,
  };
}

async function main() {
  const m = machine();
  const runs = `Measured ${m.date} with \`npm run bench:longrun\` on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}, ${RUNS} runs each.`;
  console.error('stop signals...');
  const stop = await stopSection();
  console.error('timers off (tsc)...');
  const idle = idleSection();
  console.error('starting again...');
  const restart = restartSection();
  console.error('push...');
  const push = pushSection();
  const longrun = `${stop}\n\n${idle}\n\n${restart}\n\nSIGINT is sent 1 s after the program says it is ready; the time runs until ptprof has exited (the profile written, the summary printed with -q off). CPU is each process's own count (getrusage) at its end, the agent's start-up included (the empty program is that start-up alone); the runs of all modes interleaved. ${runs}`;
  const pushText = `${push.table}\n\nPer window: a run that pushes minus the same run with the pusher started but cutting no window, divided by the windows pushed (${push.windows} a run); once: that run minus the same run recorded without a pusher. Four worker threads run a fixed amount of work through 200 functions calling each other, the main thread holds only ptprof's own work; the receiver is a local process. The process CPU is noisy on a shared machine: the main thread's is the precise figure. ${runs}`;
  console.log(longrun);
  console.log();
  console.log(pushText);
  if (args.includes('--write-readme')) {
    writeSection('longrun', longrun);
    writeSection('push', pushText);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
