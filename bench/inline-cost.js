#!/usr/bin/env node
'use strict';
// What expanding inlined frames costs a program (run by bench/inlining.js under each Node):
//   - V8's detailed source positions (ptprof turns them on: positions at every instruction of the
//     code V8 optimizes, not only at calls): the CPU of TypeScript 5 type-checking typescript.d.ts
//     (bench/workloads tsc: about a thousand functions optimized), with and without
//     --detailed-line-info (the same switch as a flag), no profiler, in alternating fresh processes;
//   - reading each optimized function's table when V8 reports it: the addon's own count of the CPU
//     it spent (DrainCounters.inlineNs), in the same tsc run with ptprof registered.
//
//   node bench/inline-cost.js [--pairs 3] [--json]
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { median } = require('./lib/stats');

const args = process.argv.slice(2);
const PAIRS = Number(args.includes('--pairs') ? args[args.indexOf('--pairs') + 1] : 3);

/** One tsc run in a fresh process: its CPU (ns), and with ptprof registered, the table counters. */
function child(flags, ptprof) {
  const src = `
    ${ptprof ? "require('./packages/sampler').registerCurrentThread();" : ''}
    const { tsc } = require('./bench/workloads');
    tsc.prepare();
    const c0 = process.cpuUsage();
    tsc.run().then(() => {
      const c = process.cpuUsage(c0);
      const out = { cpuNs: (c.user + c.system) * 1000 };
      ${ptprof ? "const d = require('./packages/timers-native').binding.drain().counters; out.tables = d.inlineTables; out.readNs = d.inlineNs;" : ''}
      console.log(JSON.stringify(out));
    });`;
  const r = spawnSync(process.execPath, [...flags, '-e', src], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8', timeout: 300e3 });
  if (r.status !== 0) throw new Error(`tsc run ${flags.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}


const plain = [];
const detailed = [];
for (let i = 0; i < PAIRS; i++) {
  // Alternating order: the machine's drift touches both alike.
  if (i % 2 === 0) {
    plain.push(child([], false).cpuNs);
    detailed.push(child(['--detailed-line-info'], false).cpuNs);
  } else {
    detailed.push(child(['--detailed-line-info'], false).cpuNs);
    plain.push(child([], false).cpuNs);
  }
}
const withPtprof = child([], true);
const out = {
  node: process.version,
  pairs: PAIRS,
  tscMs: median(plain) / 1e6,
  detailedRatio: median(detailed) / median(plain),
  tables: withPtprof.tables,
  readUsPerTable: withPtprof.readNs / 1e3 / Math.max(1, withPtprof.tables),
  readShare: withPtprof.readNs / withPtprof.cpuNs,
};
console.log(args.includes('--json') ? JSON.stringify(out) : out);
