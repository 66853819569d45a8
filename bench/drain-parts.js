#!/usr/bin/env node
'use strict';
// What a short program's `(ptprof)` is made of (issue 14): the program runs under the `ptprof`
// command, with a preload that wraps the sampler's own steps and reads the main thread's CPU
// clock around each call. A call inside a timer tick is counted under "in ticks" (the drains in
// the profiled window, what the samples under (ptprof) stand for), one from `stop()` under "at
// stop" (the process's end, after sampling), any other under "outside ticks". The agent's start
// is not here: it runs before the preload (bench/own.js measures it). Each figure is the median
// over the runs of that step's total, with its number of calls. The wrappers cost ~1 µs a call,
// which the steps called thousands of times (JS frames) carry.
//
//   node bench/drain-parts.js [--runs 3] [--hz 100] [-- node program args]
//
// The program defaults to bench/workloads/self-share.js (a worker, crypto and zlib, ~1 s).
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawnSync } = require('node:child_process');
const { median } = require('./lib/stats');
const { programArgs } = require('./lib/program-args');

const ROOT = path.resolve(__dirname, '..');
const PTPROF = path.join(ROOT, 'packages', 'cli', 'bin', 'ptprof.js');
const { opt, command } = programArgs(process.argv.slice(2));
const runs = Number(opt('--runs', '3'));
const hz = Number(opt('--hz', '100'));

// The steps wrapped: module (under packages/sampler/dist/src), class, method.
const STEPS = [
  ['sampler', 'Sampler', 'stop'],
  ['sampler', 'Sampler', 'tick'],
  ['sampler', 'Sampler', 'drainNow'],
  ['sampler', 'Sampler', 'ingest'],
  ['symbolizer', 'Symbolizer', 'addEvents'],
  ['symbolizer', 'Symbolizer', 'replay'],
  ['symbolizer', 'Symbolizer', 'jsFrames'],
  ['symbolizer', 'Symbolizer', 'nativeFrame'],
  ['symbolizer', 'Symbolizer', 'refreshRemaps'],
  ['elf', 'NativeResolver', 'resolve'],
  ['stacks', 'OwnCode', 'reroot'],
];

const PRELOAD = `'use strict';
const { isMainThread } = require('node:worker_threads');
if (isMainThread) {
  const src = ${JSON.stringify(path.join(ROOT, 'packages', 'sampler', 'dist', 'src'))};
  const { binding } = require(${JSON.stringify(path.join(ROOT, 'packages', 'timers-native'))});
  const tid = process.pid;
  const acc = {};
  let phase = 'outside ticks';
  let inTick = 0;
  for (const [mod, cls, name] of ${JSON.stringify(STEPS)}) {
    const P = require(src + '/' + mod + '.js')[cls].prototype;
    const f = P[name];
    if (typeof f !== 'function') throw new Error('drain-parts: no ' + cls + '.' + name + ' to wrap');
    P[name] = function (...a) {
      if (name === 'stop') phase = 'at stop';
      if (name === 'tick') inTick++;
      const key = (inTick > 0 ? 'in ticks' : phase) + ': ' + cls + '.' + name;
      const t0 = binding.threadCpuNs(tid);
      try {
        return f.apply(this, a);
      } finally {
        const e = acc[key] || (acc[key] = { ns: 0, calls: 0 });
        e.ns += binding.threadCpuNs(tid) - t0;
        e.calls++;
        if (name === 'tick') inTick--;
      }
    };
  }
  process.on('exit', () => process.stderr.write('DRAIN-PARTS ' + JSON.stringify(acc) + '\\n'));
}
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-drain-parts-'));
try {
  const preload = path.join(dir, 'preload.js');
  fs.writeFileSync(preload, PRELOAD);
  const out = path.join(dir, 'p.pb.gz');
  const [exe, ...rest] = command;
  if (!/(^|\/)node$/.test(exe) && exe !== process.execPath) throw new Error('drain-parts: the command must be node (the preload is a node -r)');
  const per = new Map();
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, [PTPROF, '-q', '--hz', String(hz), '-o', out, '--', exe, '-r', preload, ...rest], { encoding: 'utf8', cwd: ROOT });
    const line = (r.stderr || '').split('\n').find((l) => l.startsWith('DRAIN-PARTS '));
    if (r.status !== 0 || !line) throw new Error(`drain-parts: run ${i + 1} failed (exit ${r.status}):\n${r.stderr}`);
    for (const [k, v] of Object.entries(JSON.parse(line.slice('DRAIN-PARTS '.length)))) {
      if (!per.has(k)) per.set(k, []);
      per.get(k).push(v);
    }
  }
  const shown = command.map((a, i) => (i === 0 ? path.basename(a) : path.isAbsolute(a) ? path.relative(ROOT, a) : a));
  console.log(`${shown.join(' ')} under ptprof --hz ${hz}, ${runs} runs; the main thread's CPU by step, medians:`);
  const order = ['in ticks', 'outside ticks', 'at stop'];
  const rows = [...per.entries()].sort((a, b) => order.indexOf(a[0].split(':')[0]) - order.indexOf(b[0].split(':')[0]) || median(b[1].map((v) => v.ns)) - median(a[1].map((v) => v.ns)));
  for (const [k, vs] of rows) {
    console.log(`  ${k.padEnd(36)} ${(median(vs.map((v) => v.ns)) / 1e6).toFixed(2).padStart(8)} ms  ${String(median(vs.map((v) => v.calls))).padStart(6)} calls`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
