// Memory: the sampler's memory grows with the number of distinct (thread, stack) rows, not with
// the number of samples. Two workers run the same 20 functions for one phase and again for a
// second: the samples double; rows grow only by the rare stacks seen for the first time (V8's
// helper threads, the profiler's own work), and the heap only in proportion to the rows. Then 200
// new functions add rows, and heap in proportion (the figure per row is printed).
//
// The workload runs in workers and the heap measured is the main thread's, where the sampler
// drains and aggregates: a thread that runs the workload itself has its heap move by +-300 KiB
// between two back-to-back measurements (optimized code, feedback and deopt data come and go),
// as much as keeping every sample would add.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const samplerIndex = path.resolve(__dirname, '..', '..', 'src', 'index.js');
const samplerRegister = path.resolve(__dirname, '..', '..', 'src', 'register.js');

const script = `
const { Worker } = require('node:worker_threads');
const { start } = require(${JSON.stringify(samplerIndex)});
const workerCode = \`
  require(${JSON.stringify(samplerRegister)});
  const { parentPort } = require('node:worker_threads');
  function makeFns(prefix, n) {
    const fns = [];
    for (let i = 0; i < n; i++) fns.push(eval('(function ' + prefix + i + '(k) { let x = 0; for (let j = 0; j < k; j++) x += j * 0.5; return x; })'));
    return fns;
  }
  function run(fns, ms) { const t = Date.now(); let x = 0; while (Date.now() - t < ms) for (const f of fns) x += f(2000); return x; }
  const fns = { a: makeFns('memA', 20), b: makeFns('memB', 200) };
  run(fns.a, 300); run(fns.b, 300); // compiled and optimized before measuring
  parentPort.on('message', ({ set, ms }) => { run(fns[set], ms); parentPort.postMessage('done'); });
  parentPort.postMessage('ready');
\`;
function heap() { gc(); gc(); return process.memoryUsage().heapUsed; }
const workers = [0, 1].map(() => new Worker(workerCode, { eval: true }));
const next = (w) => new Promise((resolve) => w.once('message', resolve));
const phase = async (set, ms) => { await Promise.all(workers.map((w) => { const p = next(w); w.postMessage({ set, ms }); return p; })); };
(async () => {
  await Promise.all(workers.map(next));
  const s = start({ hz: 1000, threads: 'js' });
  await phase('a', 300); s.drain(); // the first drain reads the symbol tables once
  const out = {};
  await phase('a', 3000); s.drain(); out.h1 = heap(); out.u1 = s.uniqueStacks; { const st = s.profile().stats; out.n1 = st.kept; out.ev1 = st.codeEvents; }
  await phase('a', 9000); s.drain(); out.h2 = heap(); out.u2 = s.uniqueStacks; { const st = s.profile().stats; out.n2 = st.kept; out.ev2 = st.codeEvents; }
  await phase('b', 3000); s.drain(); out.h3 = heap(); out.u3 = s.uniqueStacks; { const st = s.profile().stats; out.n3 = st.kept; out.ev3 = st.codeEvents; }
  s.stop();
  for (const w of workers) await w.terminate();
  console.log(JSON.stringify(out));
})();
`;

describe('stress: memory', function () {
  this.timeout(60_000);
  it('grows with unique stacks, not with samples', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-mem-'));
    try {
      const file = path.join(dir, 'mem.js');
      fs.writeFileSync(file, script);
      const r = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', timeout: 50_000 });
      assert.equal(r.status, 0, r.stderr);
      const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
      const perRow = (o.h3 - o.h2) / Math.max(1, o.u3 - o.u2);
      console.log(`      same stacks: samples ${o.n1} -> ${o.n2}, rows ${o.u1} -> ${o.u2}, code events +${o.ev2 - o.ev1}, heap ${((o.h2 - o.h1) / 1024).toFixed(0)} KiB; ` +
        `200 new functions: rows ${o.u2} -> ${o.u3}, heap +${((o.h3 - o.h2) / 1024).toFixed(0)} KiB (${perRow.toFixed(0)} B per new row)`);
      assert.ok(o.n2 > o.n1 * 2.5, 'many more samples the second time');
      // A few dozen stacks are seen for the first time whatever the sample count (V8's helper
      // threads, the profiler's own work: 48-52 in five runs for 489-769 more samples); rows that
      // grew with samples would be hundreds.
      assert.ok(o.u2 - o.u1 < 40 + (o.n2 - o.n1) / 20, `rows grew with samples: ${o.u1} -> ${o.u2} for ${o.n2 - o.n1} samples`);
      // Measured ~1 KiB per row. The code map grows too, with the code V8 keeps reporting (code it
      // optimizes again, with its inlining table; the sampler's own): 45-361 events during the
      // second phase, 84-211 KiB with 40-57 new rows, in seven runs. That is bounded by the code, not
      // by the samples. The second phase is three times as long as the first so that keeping every
      // sample (~250 B each, ~1.1 MiB for its ~4500 more samples) is far beyond the bound.
      const bound = (rows: number, events: number) => rows * 2048 + events * 1024 + 128 * 1024;
      const grew = (a: string, b: string) => `heap grew by ${o['h' + b] - o['h' + a]} bytes for ${o['u' + b] - o['u' + a]} new rows and ${o['ev' + b] - o['ev' + a]} code events`;
      assert.ok(o.h2 - o.h1 < bound(o.u2 - o.u1, o.ev2 - o.ev1), grew('1', '2'));
      assert.ok(o.u3 > o.u2 + 100, 'new stacks became new rows');
      assert.ok(o.h3 - o.h2 < bound(o.u3 - o.u2, o.ev3 - o.ev2), grew('2', '3'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stress: memory over worker lifetimes', function () {
  this.timeout(600_000);
  it('1,000 workers that register, compile and exit: code maps are freed, the main thread\'s heap stays flat', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const { start } = require(${JSON.stringify(samplerIndex)});
      const src = \`require(${JSON.stringify(samplerRegister)});
        const fns = []; for (let i = 0; i < 50; i++) fns.push(new Function('k', 'let x = 0; for (let j = 0; j < k; j++) x += j % ' + (i + 2) + '; return x;'));
        let x = 0; for (const f of fns) x += f(1000);\`;
      const one = () => new Promise((resolve, reject) => { const w = new Worker(src, { eval: true }); w.on('error', reject); w.on('exit', resolve); });
      function heap() { gc(); gc(); return process.memoryUsage().heapUsed; }
      (async () => {
        const s = start({ hz: 100, threads: 'js' });
        const out = {};
        for (let i = 0; i < 1000; i += 4) {
          await Promise.all([one(), one(), one(), one()]);
          if (i + 4 === 200 || i + 4 === 1000) { s.drain(); const st = s.profile().stats; out['h' + (i + 4)] = heap(); out['maps' + (i + 4)] = st.codeMaps; out['rows' + (i + 4)] = s.uniqueStacks; }
        }
        s.stop();
        console.log(JSON.stringify(out));
      })();`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-lifetimes-'));
    const file = path.join(dir, 'script.js');
    fs.writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', timeout: 540_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const growth = (out.h1000 - out.h200) / 1024;
    const rows = out.rows1000 - out.rows200;
    console.log(`      heap after 200 workers ${(out.h200 / 1048576).toFixed(1)} MiB, after 1000 ${(out.h1000 / 1048576).toFixed(1)} MiB (${growth.toFixed(0)} KiB more for ${rows} more profile rows); code maps held ${out.maps200}, ${out.maps1000}`);
    // Before the exited workers' maps were freed: one map per worker ever seen, each with the
    // worker's enumerated code (thousands of entries).
    assert.ok(out.maps1000 <= 6, `${out.maps1000} code maps held after 1000 workers`);
    // What remains is the profile itself: each worker's samples are rows of their own thread
    // (about 1 KiB a row, the test above), and its name.
    assert.ok(growth < rows * 1.5 + 1024, `the heap grew by ${growth.toFixed(0)} KiB over 800 worker lifetimes, for ${rows} rows`);
  });
});
