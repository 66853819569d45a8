#!/usr/bin/env node
'use strict';
// The attenuation table of docs/ARCHITECTURE.md, re-measured with ptprof's own sampler: N worker threads
// each burn 1 s of CPU in parallel; profile CPU / OS CPU (each thread's own CPU clock) for
//   setitimer          process-wide ITIMER_PROF only (Go before 1.18): _timers: false
//   timer_create       a timer per thread, one period per signal (Go 1.18): _overrunWeights: false
//   + 1+si_overrun     ptprof: each signal weighs (1 + si_overrun) periods
//
//   node bench/attenuation.js [--write-readme] [--ms 1000]
const { Sampler } = require('../packages/sampler');
const { hogWorkers, cpuIn } = require('./lib/workers');
const { writeSection, machine } = require('./lib/readme');

const args = process.argv.slice(2);
const ms = Number(args.includes('--ms') ? args[args.indexOf('--ms') + 1] : 1000);
const CASES = [
  [100, 2],
  [250, 2],
  [250, 4],
  [1000, 1],
  [1000, 4],
];
const MODES = [
  ['setitimer', { _timers: false }],
  ['timer_create per thread (Go 1.18)', { _overrunWeights: false }],
  ['+ weight 1+si_overrun (ptprof)', {}],
];

async function main() {
  const rows = [];
  for (const [hz, n] of CASES) {
    const row = [hz, n];
    for (const [, opts] of MODES) {
      const s = new Sampler({ hz, threads: 'js', ...opts }).start();
      const res = await hogWorkers(n, 'attenuationHog', ms);
      const p = s.stop();
      const os = res.reduce((a, r) => a + r.cpuNs, 0);
      row.push(cpuIn(p, 'attenuationHog') / os);
    }
    rows.push(row);
    console.error(`${hz} Hz x ${n}: ${row.slice(2).map((r) => r.toFixed(3)).join('  ')}`);
  }
  const m = machine();
  const table = [
    `| rate | threads | ${MODES.map((x) => x[0]).join(' | ')} |`,
    `|---:|---:|${MODES.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r[0]} Hz | ${r[1]} | ${r.slice(2).map((v) => v.toFixed(3)).join(' | ')} |`),
  ].join('\n');
  const text = `${table}\n\nProfile CPU ÷ OS CPU, worker threads each burning ${ms} ms of CPU in parallel. ` +
    `Measured ${m.date} with \`npm run bench:attenuation\` on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}.`;
  console.log(text);
  if (args.includes('--write-readme')) writeSection('attenuation', text);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
