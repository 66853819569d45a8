#!/usr/bin/env node
'use strict';
// What one profile for a process tree costs.
//
// 1. The hand-off, per window, in one process with the real sampler running a workload of many
//    distinct stacks (workloads/stacks.js): what the agent spends writing a part (JSON, the
//    format chosen) and what the CLI spends reading it, beside the same window as gzipped pprof
//    (the alternative measured: toPprof + encode + gzip + atomic write; readProfileFile + fromPprof).
//    CPU time of this process around each step; the median over the windows.
// 2. The agent's memory: the rows it holds (one window's) against the rows of the whole run (what
//    a process that writes one profile at exit holds, as with --split).
// 3. The CLI's memory: `ptprof -- node spawner` starting N processes that each burn 200 ms in
//    distinct stacks, in tree mode (the default) and with --split; the CLI's peak RSS
//    (process.resourceUsage().maxRSS at its exit) and wall time.
//
//   npm run bench:tree [-- --write-readme] [--windows 4] [--window-ms 2000] [--procs 1,50,200]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { writeSection, machine } = require('./lib/readme');
const { median } = require('./lib/stats');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const WINDOWS = Number(opt('--windows', 4));
const WINDOW_MS = Number(opt('--window-ms', 2000));
const PROCS = String(opt('--procs', '1,50,200')).split(',').map(Number);
const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'src');

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const timed = (fn) => {
  const t = cpuMs();
  const r = fn();
  return [cpuMs() - t, r];
};
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const ms = (x) => `${x.toFixed(2)} ms`;

/** Part 1 and 2, at one rate: a row per window measured. */
async function handoff(hz) {
  const { Sampler } = require(path.join(ROOT, 'packages', 'sampler'));
  const writer = require(path.join(ROOT, 'packages', 'pprof-writer'));
  const { Handoff } = require(path.join(CLI, 'handoff.js'));
  const { TreeCollector } = require(path.join(CLI, 'tree.js'));
  const { burn } = require('./workloads/stacks');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-tree-'));
  const sampler = new Sampler({ hz, threads: 'all' }).start();
  let current;
  const handing = new Handoff({ window: () => current }, dir, { pid: process.pid, ppid: process.ppid, root: true, command: 'bench', name: 'bench' }, writer);
  const collector = new TreeCollector(dir);
  const rows = [];
  const seen = new Set();
  for (let w = 0; w < WINDOWS; w++) {
    await burn(WINDOW_MS, w + 1);
    const [windowMs, p] = timed(() => sampler.window());
    current = p;
    const [partMs] = timed(() => handing.window());
    if (handing.errors.count) throw handing.errors.first;
    const part = fs.readdirSync(dir).find((n) => n.endsWith('.part'));
    const partBytes = fs.statSync(path.join(dir, part)).size;
    const [readMs] = timed(() => collector.poll());
    const pb = path.join(dir, 'w.pb.gz');
    const [pprofMs] = timed(() => writer.writePprofFileSync(pb, p));
    const pprofBytes = fs.statSync(pb).size;
    const [pprofReadMs] = timed(() => {
      const read = writer.readProfileFile(pb);
      return writer.fromPprof(read.profile);
    });
    for (const s of p.samples) seen.add(`${s.labels.thread_id}:${s.frames.map((f) => `${f.name}@${f.line}`).join(',')}`);
    const cpuNs = p.samples.reduce((a, s) => a + s.cpuNanos, 0);
    rows.push({ rows: p.samples.length, cpuMs: cpuNs / 1e6, windowMs, partMs, partBytes, readMs, pprofMs, pprofBytes, pprofReadMs, wallMs: p.durationNanos / 1e6 });
  }
  sampler.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  const m = (k) => median(rows.map((r) => r[k]));
  return {
    hz, windows: rows.length, rows: m('rows'), distinctAll: seen.size, maxWindowRows: Math.max(...rows.map((r) => r.rows)),
    wallMs: m('wallMs'), cpuMs: m('cpuMs'), windowMs: m('windowMs'), partMs: m('partMs'), partBytes: m('partBytes'), readMs: m('readMs'),
    pprofMs: m('pprofMs'), pprofBytes: m('pprofBytes'), pprofReadMs: m('pprofReadMs'),
  };
}

/** Part 3: the CLI's peak RSS and the run's wall time with n processes, tree or --split. */
function cliRun(n, split) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-tree-cli-'));
  const spawner = path.join(dir, 'spawner.js');
  const stacks = path.join(__dirname, 'workloads', 'stacks.js');
  // N processes, 4 at a time, each burning 200 ms in distinct stacks.
  fs.writeFileSync(spawner, `const { spawn } = require('child_process');
    let next = 0, running = 0;
    const start = () => {
      while (running < 4 && next < ${n}) {
        running++;
        const c = spawn(process.execPath, [${JSON.stringify(stacks)}, '200', String(++next)], { stdio: 'inherit' });
        c.on('exit', () => { running--; start(); });
      }
    };
    start();`);
  const hook = path.join(dir, 'rss.js');
  const rssFile = path.join(dir, 'rss');
  fs.writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-r', hook, path.join(CLI, 'bin.js'), '-q', ...(split ? ['--split'] : []), '-o', path.join(dir, 'out.pb.gz'), '--', 'node', spawner],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ptprof exited ${r.status}: ${r.stderr}`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.pb.gz'));
  const bytes = files.reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
  const rssKb = Number(fs.readFileSync(rssFile, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  return { n, split, rssMb: rssKb / 1024, wallS, files: files.length, bytes };
}

async function main() {
  const results = [];
  for (const hz of [100, 1000]) {
    const r = await handoff(hz);
    results.push(r);
    console.log(JSON.stringify(r));
  }
  const runs = [];
  for (const n of PROCS) {
    for (const split of [false, true]) {
      const r = cliRun(n, split);
      runs.push(r);
      console.log(JSON.stringify(r));
    }
  }
  const mc = machine();
  const lines = [
    '| rate | window | rows in it | its CPU | part (JSON) | agent writes it | CLI reads it | as gzipped pprof | agent writes it | CLI reads it |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.hz} Hz | ${(r.wallMs / 1000).toFixed(1)} s | ${Math.round(r.rows)} | ${r.cpuMs.toFixed(0)} ms | ${kib(r.partBytes)} | ${ms(r.partMs)} | ${ms(r.readMs)} | ${kib(r.pprofBytes)} | ${ms(r.pprofMs)} | ${ms(r.pprofReadMs)} |`),
    '',
    `Medians over ${WINDOWS} windows of ${WINDOW_MS} ms, in one process running the sampler on a workload where almost every sample is a stack of its own (400 generated functions, 6 deep); CPU time of the process around each step. The agent's share of the window's CPU: ${results.map((r) => `${(100 * r.partMs / r.cpuMs).toFixed(2)}% at ${r.hz} Hz`).join(', ')} (the sampler's own window(), which drains and names what the timer-driven drain would have: ${results.map((r) => ms(r.windowMs)).join(', ')}). Rows the agent holds: one window's (at most ${results.map((r) => r.maxWindowRows).join(' and ')}), where one profile of the whole run holds ${results.map((r) => r.distinctAll).join(' and ')} over these ${WINDOWS} windows and keeps growing.`,
    '',
    '| Node processes | CLI peak RSS, tree (one profile) | CLI peak RSS, --split | run, tree | run, --split | output |',
    '|---:|---:|---:|---:|---:|---|',
    ...PROCS.map((n) => {
      const t = runs.find((r) => r.n === n && !r.split);
      const s = runs.find((r) => r.n === n && r.split);
      return `| ${n} | ${t.rssMb.toFixed(1)} MiB | ${s.rssMb.toFixed(1)} MiB | ${t.wallS.toFixed(1)} s | ${s.wallS.toFixed(1)} s | 1 file, ${kib(t.bytes)} / ${s.files} files, ${kib(s.bytes)} |`;
    }),
    '',
    `Each process (the spawner's children, 4 at a time) burns 200 ms of CPU in distinct stacks; the CLI's peak RSS is \`process.resourceUsage().maxRSS\` at its exit. Measured ${mc.date} with \`npm run bench:tree\` on ${mc.cores} cores, Linux ${mc.kernel}, Node ${mc.node}.`,
  ];
  const table = lines.join('\n');
  console.log(`\n${table}`);
  if (args.includes('--write-readme')) writeSection('tree', table);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
