#!/usr/bin/env node
'use strict';
// The inlined-functions benchmark on every Node with a prebuild (npm run bench:inlining): the
// inlined workload (workloads/inlined.js) under ptprof, ptprof with outer frames only, node
// --cpu-prof and @datadog/pprof, run by each Node's own binary (bench/index.js --only inlined),
// one table for all of them.
//
//   npm run bench:inlining [-- --write-readme] [--nodes 20.20.2,26.10.0] [--reps 3] [--rates 1000] [--ms 1000] [--pairs 3]
//                          [--json FILE]     also keep the run's figures in FILE
//   npm run bench:inlining -- --from FILE [--write-readme]   the section again from a saved run
//
// Under each Node it also measures what the expansion costs a program (bench/inline-cost.js).
//
// Each other Node comes from node_modules/.cache/ptprof-node (node scripts/prebuild.js --fetch-only)
// and loads the prebuild for its ABI (PREBUILDS_ONLY=1): build them first (npm run prebuild).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const prebuild = require('../scripts/prebuild.js');
const { writeSection, machine } = require('./lib/readme');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const NODES = String(opt('--nodes', [...new Set(prebuild.TARGETS.map((t) => t.node))].join(','))).split(',');
const REPS = opt('--reps', '3');
const RATES = opt('--rates', '1000');
const MS = opt('--ms', '1000');
const PAIRS = opt('--pairs', '3');
const ROOT = path.resolve(__dirname, '..');
const log = (...a) => console.error(...a);

function nodeBinary(version) {
  if (process.version === `v${version}`) return { bin: process.execPath, env: {} };
  const bin = path.join(prebuild.nodeDistDir('x64', version), 'bin', 'node');
  if (!fs.existsSync(bin)) throw new Error(`no Node ${version} at ${bin}: run "node scripts/prebuild.js --fetch-only" first`);
  return { bin, env: { PREBUILDS_ONLY: '1' } };
}

function main() {
  const t0 = Date.now();
  // bench/index.js reads these from its own command line (the same flags as its children's).
  process.argv.push('--rates', RATES);
  const bench = require('./index.js');
  if (args.includes('--from')) {
    const saved = JSON.parse(fs.readFileSync(opt('--from'), 'utf8'));
    const runs = saved.runs.map((r) => ({ ...r, S: new Map(r.results.map(([k, v]) => [k, bench.summarize(v)])) }));
    return output(bench, runs, saved.minutes, saved.machine);
  }
  const runs = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-inlining-'));
  try {
    for (const version of NODES) {
      const { bin, env } = nodeBinary(version);
      const json = path.join(tmp, `${version}.json`);
      log(`Node ${version}: bench/index.js --only inlined`);
      const r = spawnSync(bin, [path.join(__dirname, 'index.js'), '--only', 'inlined', '--no-overhead', '--rates', RATES, '--reps', REPS,
        '--peer-reps', '1', '--ms', MS, '--json', json], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
      if (r.status !== 0) throw new Error(`Node ${version}: bench/index.js exited ${r.status ?? r.signal}`);
      const saved = JSON.parse(fs.readFileSync(json, 'utf8'));
      const S = new Map(saved.results.map(([k, v]) => [k, bench.summarize(v)]));
      log(`Node ${version}: bench/inline-cost.js`);
      const c = spawnSync(bin, [path.join(__dirname, 'inline-cost.js'), '--json', '--pairs', PAIRS], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
      if (c.status !== 0) throw new Error(`Node ${version}: bench/inline-cost.js exited ${c.status ?? c.signal}: ${c.stderr.slice(-2000)}`);
      const cost = JSON.parse(c.stdout.trim().split('\n').pop());
      log(`  ${JSON.stringify(cost)}`);
      runs.push({ node: version, S, results: saved.results, env: saved.env, cost });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const minutes = ((Date.now() - t0) / 60e3).toFixed(1);
  const m = { ...machine(), cpu: os.cpus()[0]?.model?.trim() ?? 'unknown CPU' };
  if (args.includes('--json')) {
    fs.writeFileSync(opt('--json'), JSON.stringify({ minutes, machine: m, runs: runs.map(({ S, ...r }) => r) }));
  }
  output(bench, runs, minutes, m);
}

/** The section: goal per Node, the per-function table, why the misses, what it costs. */
function output(bench, runs, minutes, m) {
  const e = runs[0].env;
  const shownArgs = args.filter((a, i) => !['--json', '--from'].includes(a) && !['--json', '--from'].includes(args[i - 1]));
  const rows = runs.map(({ node, S }) => {
    const worst = RATES.split(',').flatMap((hz) => Object.values(S.get(`inlined|ptprof|${hz}`)?.fns ?? {}));
    const w = worst.reduce((a, v) => (a == null || Math.abs(v - 1) > Math.abs(a - 1) ? v : a), null);
    return `| ${node} | ${w == null ? '—' : w.toFixed(3)} | ${w != null && Math.abs(w - 1) <= 0.02 ? 'met' : '**missed**'} |`;
  });
  const text = [
    `Measured ${m.date} with \`npm run bench:inlining${shownArgs.length ? ` -- ${shownArgs.join(' ')}` : ''}\` (${minutes} min) ` +
      `on ${m.cores} cores (${m.cpu}), Linux ${m.kernel} with kernel HZ=${e.hz}, @datadog/pprof ${e.ddVersion}; ` +
      `each Node is the official x64 build. Every run is a fresh process; ptprof's figures are medians of ${REPS} runs, the others' of 1; ` +
      `each function burns ${MS} ms of CPU per run.`,
    '### Goal: each inlined function within 2% (ptprof, worst function)',
    ['| Node | ptprof (worst) | |', '|---|---:|---|', ...rows].join('\n'),
    ...whyMissed(runs, bench),
    bench.inliningTables(runs),
    '### What it costs the program',
    ['| Node | tsc CPU, detailed positions ÷ without | optimized functions read (tsc) | µs per function | share of tsc\'s CPU |', '|---|---:|---:|---:|---:|',
      ...runs.map(({ node, cost }) => `| ${node} | ${cost.detailedRatio.toFixed(3)} | ${cost.tables} | ${cost.readUsPerTable.toFixed(0)} | ${(cost.readShare * 100).toFixed(1)}% |`)].join('\n'),
    `TypeScript 5 type-checking typescript.d.ts (the tsc workload, about ${runs[0].cost.tscMs.toFixed(0)} ms of CPU on Node ${runs[0].node}), ` +
      `medians of ${PAIRS} alternating fresh processes with and without \`--detailed-line-info\` (what ptprof turns on: V8 records ` +
      'positions at every instruction of the code it optimizes, not only at calls), no profiler; and, with ptprof registered, the ' +
      "CPU the addon spent reading each optimized function's table when V8 reported it (its own count, on the thread V8 compiled on). " +
      'Once a program is warm it optimizes little, and both costs stop.',
  ].join('\n\n');
  console.log(text);
  if (args.includes('--write-readme')) {
    writeSection('inlining', text);
    log('README.md: bench:inlining section written');
  }
}

/**
 * Why functions missed the goal, from the figures: escapeHtml (string building in builtins sampled
 * before they set up their frame) against V8's own profiler where it expands the same frames, and
 * the other functions' worst.
 */
function whyMissed(runs, bench) {
  const hz = RATES.split(',')[0];
  const fig = (S, p, fn) => S.get(`inlined|${p}|${hz}`)?.fns?.[fn];
  const range = (xs) => {
    const v = xs.filter((x) => x != null);
    return v.length ? `${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)}` : '—';
  };
  const esc = range(runs.map(({ S }) => fig(S, 'ptprof', 'escapeHtml')));
  const others = runs.flatMap(({ S }) => ['etag', 'tokenize', 'nearest'].map((fn) => fig(S, 'ptprof', fn)));
  const v8 = runs.filter(({ S }) => (fig(S, 'cpuprof', 'etag') ?? 0) > 0.5);
  const out = [
    `escapeHtml gets ${esc} of its CPU: it builds strings, and a sample taken in V8's string builtins (StringAdd, StringSubstring) ` +
      "before they set up a frame is walked by V8 (GetStackSample) from escapeHtml's caller's caller, so escapeHtml and the loop it is " +
      'inlined into lose that CPU to the function above them (README, Limits). ' +
      (v8.length
        ? `V8's own profiler, which expands inlined frames from Node ${v8.map((r) => r.node).join(', ')}, gets ` +
          `${range(v8.flatMap(({ S }) => [fig(S, 'cpuprof', 'escapeHtml'), fig(S, 'dd', 'escapeHtml')]))} for it there. `
        : '') +
      `The other functions get ${range(others)}: ${bench.INLINING_WHY}`,
  ];
  return ['Why the misses:', out.map((x) => `- ${x}`).join('\n')];
}

main();
