'use strict';
// The kernel's tick rate, measured: a CPU-clock timer is checked only at the tick, so a 10 kHz
// timer on one spinning thread delivers at most HZ signals per second of that thread's CPU.
// (getconf CLK_TCK is USER_HZ, always 100, not the tick; /boot/config-* is often unreadable.)
//
//   node bench/lib/hz.js    -> {"signalsPerCpuSecond":249.8,"hz":250}
const { Sampler } = require('../../packages/sampler');
const truth = require('./truth');

function spin(ms) {
  const t0 = truth.threadCpuNs();
  let x = 0;
  while (truth.threadCpuNs() - t0 < ms * 1e6) for (let i = 0; i < 10000; i++) x += Math.sqrt(i);
  return x;
}

function measureHz(ms = 600) {
  const s = new Sampler({ hz: 10000, threads: 'js' }).start();
  const c0 = truth.threadCpuNs();
  spin(ms);
  const cpu = truth.threadCpuNs() - c0;
  const p = s.stop();
  const main = p.threads.find((t) => t.name === 'main');
  const perSec = (main ? main.count : 0) / (cpu / 1e9);
  const common = [100, 250, 300, 1000];
  const hz = common.reduce((a, b) => (Math.abs(b - perSec) < Math.abs(a - perSec) ? b : a));
  return { signalsPerCpuSecond: Math.round(perSec * 10) / 10, hz };
}

module.exports = { measureHz };

if (require.main === module) console.log(JSON.stringify(measureHz()));
