'use strict';
// The measuring side of bench/longrun.js, one mode per process:
//   tsc OUT        TypeScript 5's tsc in this process; its CPU and peak RSS written to OUT
//   empty OUT      nothing: what start-up costs, written the same way
//   restart        ptprof/api start() in a fresh process, then again after 20,000 functions were
//                  compiled with the timers off
//   push base|idle|push
//                  four workers run a fixed amount of work; the main thread records (base), or pushes
//                  a window a second to a receiver in another process (push), or is set up to push
//                  but cuts no window in the run (idle: the pusher's start-up alone)
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Worker } = require('node:worker_threads');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist');
const { binding } = require(path.join(ROOT, 'packages', 'timers-native'));

const threadNs = () => {
  process.cpuUsage(); // brings this thread's accounting up to date
  return binding.threadCpuNs();
};
const processNs = () => {
  process.cpuUsage();
  return binding.processCpuNs();
};

async function tsc(out, empty) {
  if (!empty) {
    const { tsc: W } = require('../workloads');
    W.prepare();
    await W.run();
  }
  const u = process.cpuUsage();
  fs.writeFileSync(out, JSON.stringify({ cpuNs: (u.user + u.system) * 1000, rssMB: process.resourceUsage().maxRSS / 1024 }));
}

function restart() {
  const api = require(path.join(CLI, 'src', 'api.js'));
  const burn = (ms) => {
    const end = threadNs() + ms * 1e6;
    let x = 0;
    while (threadNs() < end) for (let i = 0; i < 1e4; i++) x += Math.sqrt(i);
    return x;
  };
  const timed = (fn) => {
    const c = threadNs();
    const w = performance.now();
    fn();
    return { cpuMs: (threadNs() - c) / 1e6, wallMs: performance.now() - w };
  };
  const first = timed(() => api.start());
  burn(100);
  api.stop();
  let sum = 0;
  for (let i = 0; i < 20000; i++) sum += new Function(`return function f${i}(x) { return x * ${i} + ${i % 7}; }`)()(i);
  const again = timed(() => api.start());
  burn(100);
  const p = api.stop();
  console.log(JSON.stringify({
    firstCpuMs: first.cpuMs, firstWallMs: first.wallMs, againCpuMs: again.cpuMs, againWallMs: again.wallMs,
    dropped: Number(p.facts.code_events_dropped ?? 0), sum: sum > 0,
  }));
}

// 200 functions calling each other 6 deep along paths that depend on the input: a few hundred
// distinct stacks a window, as a program with some variety has.
const WORKER = `
require(${JSON.stringify(path.join(ROOT, 'packages', 'sampler', 'register.js'))});
const { workerData, parentPort } = require('node:worker_threads');
let src = '';
for (let i = 0; i < 200; i++) {
  src += 'function fn' + i + '(x, d) { if (d > 0) return fns[(x * 31 + ' + i + ') % 200](x + 1, d - 1); let s = 0; for (let j = 0; j < 400; j++) s += (x * ' + (i + 3) + ' + j) % ' + (i + 7) + '; return s; }\\n';
}
const fns = new Function(src + 'return [' + Array.from({ length: 200 }, (_, i) => 'fn' + i).join(',') + '];')();
globalThis.fns = fns;
let s = 0;
for (let k = 0; k < workerData.rounds; k++) s += fns[k % 200](k, 6);
parentPort.postMessage(s);
`;

async function push(mode) {
  const receiver = spawn(process.execPath, ['-e', `
    const { startReceiver } = require(${JSON.stringify(path.join(CLI, 'test', 'receiver.js'))});
    startReceiver().then((r) => {
      console.log(r.url);
      process.on('SIGTERM', () => {
        const n = r.accepted.length;
        console.log(JSON.stringify({ n, bytes: r.accepted.reduce((s, x) => s + x.bytes, 0), rows: r.accepted.reduce((s, x) => s + x.profile.sample.length, 0) }));
        process.exit(0);
      });
    });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  receiver.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  while (!/\n/.test(out)) await new Promise((r) => setTimeout(r, 20));
  const url = out.split('\n')[0];

  const { processRecorder } = require(path.join(CLI, 'src', 'agent', 'recorder.js'));
  const { Pusher } = require(path.join(CLI, 'src', 'agent', 'push.js'));
  const recorder = processRecorder(() => ({ hz: 100 }));
  let pusher;
  let rec;
  const cfg = { url, app: 'bench', everyMs: 1000, tags: [], queueWindows: 10, timeoutMs: 10_000 };
  if (mode !== 'base') pusher = new Pusher({ ...cfg, everyMs: mode === 'idle' ? 3_600_000 : 1000 }, recorder, { root: true, command: 'bench' }, true).start();
  else rec = recorder.begin('base');

  const m0 = threadNs();
  const p0 = processNs();
  await Promise.all(Array.from({ length: 4 }, () => new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { rounds: 1_000_000 } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const mainNs = threadNs() - m0;
  const procNs = processNs() - p0;
  let windows = 0;
  if (pusher) {
    windows = pusher.summary.windows;
    pusher.flush();
  } else {
    rec.close();
  }
  out = '';
  receiver.kill('SIGTERM');
  await new Promise((r) => receiver.once('close', r));
  const got = JSON.parse(out.trim().split('\n').pop() || '{"n":0,"bytes":0,"rows":0}');
  console.log(JSON.stringify({ mainNs, processNs: procNs, windows, bytesPerWindow: got.n ? got.bytes / got.n : 0, rowsPerWindow: got.n ? got.rows / got.n : 0 }));
}

const [mode, arg] = process.argv.slice(2);
(mode === 'tsc' || mode === 'empty' ? tsc(arg, mode === 'empty') : mode === 'restart' ? Promise.resolve(restart()) : push(arg)).catch((e) => {
  console.error(e);
  process.exit(1);
});
