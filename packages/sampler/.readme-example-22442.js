// example.js: node example.js
const { Worker } = require('node:worker_threads');
const { start } = require('@ptprof/sampler');

function spin(ms) {
  const t = Date.now();
  let x = 0;
  while (Date.now() - t < ms) x += Math.sqrt(x + 1);
  return x;
}

const sampler = start({ hz: 1000 }); // per-thread timers on every OS thread of the process
spin(300);
const w = new Worker(`require('@ptprof/sampler/register');  // this worker: JS stacks + its own timer
  function workerSpin(ms) { const t = Date.now(); let x = 0; while (Date.now() - t < ms) x += Math.sqrt(x + 1); return x; }
  workerSpin(300);`, { eval: true });
w.on('exit', () => {
  const profile = sampler.stop();
  console.log('profiled CPU / OS CPU:', (profile.samples.reduce((a, s) => a + s.cpuNanos, 0) / profile.processCpuNanos).toFixed(3));
  for (const t of profile.threads) console.log(t.name.padEnd(10), (t.cpuNanos / 1e6).toFixed(0), 'ms');
});
