#!/usr/bin/env node
'use strict';
// The sampler's steady cost on a busy program (issue 14): the CPU its timer ticks and drains take
// on the thread that runs them, while that thread burns CPU in chunks that yield to the event loop
// (as a server does), measured by the thread's own CPU clock around each tick.
//
//   node bench/drain-cost.js [--hz 100] [--seconds 4] [--runs 3] [--drain-ms N] [--against DIR]
//
// --against DIR: another checkout of ptprof (built), measured alternately with this one.
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);

if (args[0] === '--child') {
  const [, root, hz, seconds, drainMs] = args;
  const { Sampler } = require(path.join(root, 'packages', 'sampler'));
  const { binding } = require(path.join(root, 'packages', 'timers-native'));
  let tickNs = 0;
  let ticks = 0;
  const tick = Sampler.prototype.tick;
  Sampler.prototype.tick = function timedTick() {
    const t = binding.threadCpuNs();
    tick.call(this);
    tickNs += binding.threadCpuNs() - t;
    ticks++;
  };
  const s = new Sampler({ hz: Number(hz), ...(drainMs !== '-' ? { drainIntervalMs: Number(drainMs) } : {}) }).start();
  const c0 = binding.threadCpuNs();
  const end = Date.now() + Number(seconds) * 1000;
  const work = () => {
    let x = 0;
    for (let i = 0; i < 2e5; i++) x += Math.sqrt(i);
    return x;
  };
  (function loop() {
    work();
    if (Date.now() < end) return setImmediate(loop);
    const cpu = binding.threadCpuNs() - c0;
    s.stop();
    process.stdout.write(JSON.stringify({ share: tickNs / cpu, ticks, perTickUs: tickNs / ticks / 1e3 }) + '\n');
  })();
  return;
}

const hz = opt('--hz', '100');
const seconds = opt('--seconds', '4');
const runs = Number(opt('--runs', 3));
const drainMs = opt('--drain-ms', '-');
const against = opt('--against', null);
const trees = [...(against ? [path.resolve(against)] : []), path.resolve(__dirname, '..')];
const got = new Map(trees.map((t) => [t, []]));
for (let r = 0; r < runs; r++) {
  for (const t of trees) {
    const out = spawnSync(process.execPath, [__filename, '--child', t, hz, seconds, drainMs], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`${t}: ${out.stderr}`);
    got.get(t).push(JSON.parse(out.stdout.trim().split('\n').pop()));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [t, rs] of got) {
  console.log(`${t === trees[trees.length - 1] ? 'this checkout' : t}: ticks and drains ${(100 * median(rs.map((x) => x.share))).toFixed(2)}% of the busy thread's CPU ` +
    `(runs: ${rs.map((x) => (100 * x.share).toFixed(2)).join(', ')}%), ${median(rs.map((x) => x.ticks))} ticks, ${median(rs.map((x) => x.perTickUs)).toFixed(1)} µs each`);
}
