#!/usr/bin/env node
'use strict';
// How much of a short program's profile is ptprof's own work (issue 14: at most 0.5% of a 1 s
// program's): the program runs under `ptprof --hz N -o p.folded`, and the share is the CPU of the
// stacks under the `(ptprof)` root over the CPU of all sampled stacks (the `(unsampled)` rows
// left out of the whole, so the share errs high). With --against DIR, each run of this checkout
// alternates with one of another checkout (built), so both meet the same moments of the machine.
//
//   node bench/share.js [--runs 20] [--hz 100] [--against DIR] [-- node program args]
//
// The program defaults to bench/workloads/self-share.js (a worker, crypto and zlib, ~0.75 s of CPU).
// A sample stands for a period or more (10 ms at 100 Hz): the figure is a mean over many runs.
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawnSync } = require('node:child_process');
const { programArgs } = require('./lib/program-args');

const ROOT = path.resolve(__dirname, '..');
const { opt, command } = programArgs(process.argv.slice(2));
const runs = Number(opt('--runs', '20'));
const hz = Number(opt('--hz', '100'));
const other = opt('--against', undefined);

/** One run under the checkout at `root`: [ms under (ptprof), ms sampled]. */
function runOnce(root) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-share-'));
  try {
    const out = path.join(dir, 'p.folded');
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const r = spawnSync(process.execPath, [path.join(root, 'packages', 'cli', 'bin', 'ptprof.js'), '-q', '--hz', String(hz), '-o', out, '--', ...command], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`ptprof under ${root} failed (${r.status}): ${r.stderr.slice(-800)}`);
    let all = 0;
    let mine = 0;
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      if (!line) continue;
      const sp = line.lastIndexOf(' ');
      const frames = line.slice(0, sp).split(';');
      if (frames.includes('(unsampled)')) continue;
      const v = Number(line.slice(sp + 1));
      all += v;
      if (frames.includes('(ptprof)')) mine += v;
    }
    return [mine / 1e6, all / 1e6];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const checkouts = other ? [['other', path.resolve(other)], ['this', ROOT]] : [['this', ROOT]];
const res = Object.fromEntries(checkouts.map(([k]) => [k, []]));
for (let i = 0; i < runs; i++) for (const [k, root] of checkouts) res[k].push(runOnce(root));
console.log(`${command.join(' ')} under ptprof --hz ${hz}, ${runs} runs${other ? ' each, alternately' : ''}:`);
for (const [k, root] of checkouts) {
  const mine = res[k].reduce((a, r) => a + r[0], 0);
  const all = res[k].reduce((a, r) => a + r[1], 0);
  console.log(`  ${k === 'this' ? 'this checkout' : root}: (ptprof) ${(mine / runs).toFixed(2)} ms a run of ${(all / runs).toFixed(0)} ms sampled = ${((100 * mine) / all).toFixed(2)}%`
    + ` (runs: ${res[k].map((r) => r[0].toFixed(0)).join(' ')})`);
}
