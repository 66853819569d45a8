#!/usr/bin/env node
'use strict';
// Overhead as a user pays it: real programs run whole under each profiler, side by side.
//
//   tsc     TypeScript 5's tsc type-checking this repository (bench/workloads/real), a few seconds
//           of CPU: the whole run's CPU (every process and thread of the command, as the shell's
//           `times` counts its children), the profile's writing at exit included.
//   server  an HTTP server (bench/workloads/real/server.js) under load from autocannon: 2 s of
//           warm-up, then a few seconds measured. Requests per second, and CPU per request two
//           ways: over the whole run (the shell's `times`: the start, the profile's writing and
//           the ptprof command included), and steady, over the measured seconds alone (every
//           process under the shell, from /proc): what a service that keeps a profiler on pays.
//
// Each round runs every mode once, in a rotated order, and each figure is the median over the
// rounds of the ratio to the same round's run without a profiler (these machines are noisy; a
// ratio within a round is steadier than absolute figures across rounds).
//
//   node bench/real.js [--rounds 5] [--programs tsc,server] [--modes none,ptprof-100,...] [--seconds 5] [--write-readme] [--json]
//
// Modes: none; ptprof-100, ptprof-1000 (`ptprof --hz N -- ...`, the real CLI); cpu-prof-100,
// cpu-prof-1000 (`node --cpu-prof --cpu-prof-interval`); dd-100, dd-1000 (@datadog/pprof's time
// profiler with collectCpuTime, started at preload, written at exit).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { writeSection, machine } = require('./lib/readme');
const { median } = require('./lib/stats');

const ROOT = path.resolve(__dirname, '..');
const REAL = path.join(__dirname, 'workloads', 'real');
const PTPROF = path.join(ROOT, 'packages', 'cli', 'bin', 'ptprof.js');
const TSC = require.resolve('typescript5/bin/tsc', { paths: [ROOT] });
const AUTOCANNON = require.resolve('autocannon/autocannon.js', { paths: [ROOT] });

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const rounds = Number(opt('--rounds', 5));
const seconds = Number(opt('--seconds', 5));
const programs = String(opt('--programs', 'tsc,server')).split(',');
const modes = String(opt('--modes', 'none,ptprof-100,ptprof-1000,cpu-prof-100,dd-100,dd-1000')).split(',');
const log = (line) => process.stderr.write(`${line}\n`);
const WARM_S = 2;

/** The command line of `cmd` under a mode, and its environment; the profile goes into `dir`. */
function underMode(mode, cmd, dir) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('PTPROF_')) delete env[k];
  const [name, hz] = mode.split(/-(?=\d+$)/);
  if (name === 'none') return { argv: cmd, env };
  if (name === 'ptprof') return { argv: [process.execPath, PTPROF, '-q', '--hz', hz, '-o', path.join(dir, 'p.pb.gz'), '--', ...cmd], env };
  if (name === 'cpu-prof') {
    return { argv: [cmd[0], '--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', String(Math.round(1e6 / Number(hz))), ...cmd.slice(1)], env };
  }
  if (name === 'dd') {
    return { argv: [cmd[0], '--require', path.join(REAL, 'dd-preload.js'), ...cmd.slice(1)], env: { ...env, PTPROF_BENCH_HZ: hz, PTPROF_BENCH_DD_OUT: path.join(dir, 'dd.pb.gz') } };
  }
  throw new Error(`unknown mode ${mode}`);
}

// Runs argv under bash, which reports its children's CPU (user + system, every descendant it
// waited for) with `times` once the command ends; SIGTERM to bash is passed to the command.
const TIMED = 'trap \'kill -TERM $child 2>/dev/null\' TERM; "$@" & child=$!; wait $child; wait $child; times';

function parseTimes(text) {
  // bash's `times`: "0m0.010s 0m0.003s\n1m2.500s 0m0.300s": the second line is the children's.
  const lines = text.trim().split('\n').filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim()));
  const [u, s] = lines[lines.length - 1].trim().split(' ').map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return Number(m[1]) * 60 + Number(m[2]);
  });
  return u + s;
}

function runTsc(mode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-real-'));
  try {
    const { argv, env } = underMode(mode, [process.execPath, TSC, '-p', path.join(REAL, 'tsconfig.tsc-check.json')], dir);
    const r = spawnSync('bash', ['-c', TIMED, 'timed', ...argv], { env, encoding: 'utf8', cwd: dir, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`tsc under ${mode} failed (${r.status}): ${r.stderr.slice(-500)}`);
    return { cpuS: parseTimes(r.stdout) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU (ns) used so far by every process below pid, from /proc (utime + stime, clock ticks of 10 ms). */
function treeCpuNs(pid) {
  const kids = new Map(); // ppid -> pids
  const cpu = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(name));
      cpu.set(Number(name), (Number(f[11]) + Number(f[12])) * 1e7);
    } catch {
      // ended meanwhile
    }
  }
  let total = 0;
  const todo = [...(kids.get(pid) ?? [])];
  while (todo.length > 0) {
    const p = todo.pop();
    total += cpu.get(p) ?? 0;
    todo.push(...(kids.get(p) ?? []));
  }
  return total;
}

function load(port, s) {
  const ac = spawnSync(process.execPath, [AUTOCANNON, '-c', '10', '-d', String(s), '--json', `http://127.0.0.1:${port}/`],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(ac.stdout).requests.total;
}

function runServer(mode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-real-'));
  return new Promise((resolve, reject) => {
    const { argv, env } = underMode(mode, [process.execPath, path.join(REAL, 'server.js'), '0'], dir);
    const child = spawn('bash', ['-c', TIMED, 'timed', ...argv], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const port = /^(\d+)\n/.exec(out)?.[1];
      if (port && !child.loading) {
        child.loading = true;
        const warm = load(port, WARM_S);
        const cpu0 = treeCpuNs(child.pid);
        const measured = load(port, seconds);
        child.steadyNs = treeCpuNs(child.pid) - cpu0;
        child.measured = measured;
        child.requests = warm + measured;
        child.kill('SIGTERM');
      }
    });
    child.on('exit', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (code !== 0 || child.requests === undefined) return reject(new Error(`server under ${mode}: exit ${code}: ${err.slice(-500)}`));
      const cpuS = parseTimes(out);
      resolve({
        reqPerS: child.measured / seconds, cpuPerReqUs: (cpuS / child.requests) * 1e6, cpuS,
        steadyPerReqUs: child.steadyNs / child.measured / 1e3,
      });
    });
  });
}


async function main() {
  const results = {}; // program -> mode -> [{...}] per round
  for (const p of programs) results[p] = Object.fromEntries(modes.map((m) => [m, []]));
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    const order = modes.map((_, i) => modes[(i + r) % modes.length]);
    for (const p of programs) {
      for (const m of order) {
        const res = p === 'tsc' ? runTsc(m) : await runServer(m);
        results[p][m].push(res);
        log(`round ${r + 1}/${rounds} ${p} ${m}: ${JSON.stringify(res)}`);
      }
    }
  }
  const table = {};
  for (const p of programs) {
    table[p] = {};
    for (const m of modes) {
      const ratio = (key) => median(results[p][m].map((x, i) => x[key] / results[p].none[i][key]));
      table[p][m] = p === 'tsc'
        ? { cpuS: median(results[p][m].map((x) => x.cpuS)), cpuRatio: ratio('cpuS') }
        : {
          reqPerS: median(results[p][m].map((x) => x.reqPerS)), reqRatio: ratio('reqPerS'),
          cpuPerReqUs: median(results[p][m].map((x) => x.cpuPerReqUs)), cpuPerReqRatio: ratio('cpuPerReqUs'),
          steadyPerReqUs: median(results[p][m].map((x) => x.steadyPerReqUs)), steadyRatio: ratio('steadyPerReqUs'),
        };
    }
  }
  const m = machine();
  const pct = (x) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
  const lines = [];
  lines.push(`\`npm run bench:real\` runs real programs whole under each profiler and compares each run with the same round's run without one (median over ${rounds} rounds, modes in rotated order). Measured ${m.date} on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}, in ${((Date.now() - t0) / 60000).toFixed(1)} min.`);
  lines.push('');
  if (table.tsc) {
    lines.push('**tsc** (TypeScript 5 type-checking this repository): the whole run\'s CPU (every process and thread, as the shell\'s `times` counts it, writing the profile included)');
    lines.push('');
    lines.push('| profiler | CPU (median) | vs none |');
    lines.push('|---|---:|---:|');
    for (const mode of modes) lines.push(`| ${mode} | ${table.tsc[mode].cpuS.toFixed(2)} s | ${mode === 'none' ? '' : pct(table.tsc[mode].cpuRatio)} |`);
    lines.push('');
  }
  if (table.server) {
    lines.push(`**server** (node:http rendering HTML with small helpers, JSON with an ETag) under autocannon (10 connections, ${WARM_S} s of warm-up then ${seconds} s measured), on the same 2 cores as the load generator. CPU per request, whole run: the shell's \`times\` over all requests (start, exit, the profile's writing and the ptprof command included). Steady: the CPU of every process under the shell (/proc) over the measured seconds alone, what a service that keeps a profiler on pays.`);
    lines.push('');
    lines.push('| profiler | requests/s | vs none | CPU per request, whole run | vs none | steady | vs none |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const mode of modes) {
      const x = table.server[mode];
      const vs = (r) => (mode === 'none' ? '' : pct(r));
      lines.push(`| ${mode} | ${x.reqPerS.toFixed(0)} | ${vs(x.reqRatio)} | ${x.cpuPerReqUs.toFixed(0)} µs | ${vs(x.cpuPerReqRatio)} | ${x.steadyPerReqUs.toFixed(0)} µs | ${vs(x.steadyRatio)} |`);
    }
  }
  const text = lines.join('\n');
  if (args.includes('--json')) console.log(JSON.stringify({ table, results }, null, 1));
  else console.log(text);
  if (args.includes('--write-readme')) {
    writeSection('real', text);
    log('README.md: bench:real section written');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
