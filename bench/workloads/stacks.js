'use strict';
// A workload with many distinct stacks (the hand-off's worst case: a window's rows grow with its
// distinct stacks): 400 generated functions, each calling another chosen by a seed, 6 deep, the
// leaf spinning. Almost every sample is a stack of its own, as in a large server under load.
//
//   node stacks.js MS [SEED]    burns MS ms of CPU (as a child process of bench/tree.js)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const K = 400;
const DEPTH = 6;

/** The generated functions, in a file of their own (so that frames have a file and a line). */
function load() {
  const file = path.join(os.tmpdir(), `ptprof-bench-stacks-${K}.js`);
  if (!fs.existsSync(file)) {
    const lines = ["'use strict';", 'const f = [];'];
    for (let i = 0; i < K; i++) {
      lines.push(`f[${i}] = function fn${i}(d, s) {`);
      lines.push(`  if (d === 0) { let x = s; for (let j = 0; j < 2000; j++) x = (x * 31 + j) % 1000003; return x; }`);
      lines.push(`  return f[(s + ${i * 7919}) % ${K}](d - 1, (s * 1103515245 + 12345) % 2147483648);`);
      lines.push('};');
    }
    lines.push('module.exports = f;');
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, lines.join('\n'));
    fs.renameSync(tmp, file);
  }
  return require(file);
}

/** Burns `ms` ms of this thread's CPU in distinct stacks; yields to the event loop every 20 ms. */
function burn(ms, seed = 1) {
  const f = load();
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const end = cpu() + ms;
  let s = seed;
  return new Promise((resolve) => {
    const step = () => {
      const stop = Math.min(end, cpu() + 20);
      while (cpu() < stop) for (let i = 0; i < 50; i++) s = f[s % K](DEPTH, s + i) + 1;
      if (cpu() >= end) resolve(s);
      else setImmediate(step);
    };
    step();
  });
}

module.exports = { burn, load };

if (require.main === module) burn(Number(process.argv[2]) || 200, Number(process.argv[3]) || process.pid);
