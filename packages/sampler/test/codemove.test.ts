// Code moves during full GCs (compaction). A sample must resolve against the code map as it was
// when the sample was taken (code events are replayed up to each record's sequence number):
// resolving against the final map under forced compaction resolved almost none (docs/ARCHITECTURE.md).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const samplerIndex = path.resolve(__dirname, '..', 'src', 'index.js');

const script = `
const { Sampler } = require(${JSON.stringify(samplerIndex)});
function churn(n) { const a = []; for (let i = 0; i < n; i++) a.push({ i, s: 'x' + i, arr: new Array(8).fill(i) }); return a.length; }
function knownHot(ms) {
  const t = Date.now(); let x = 0;
  while (Date.now() - t < ms) { for (let i = 0; i < 5000; i++) x += Math.sqrt(i); x += churn(200); }
  return x;
}
function driver() {
  let x = 0;
  for (let round = 0; round < 80; round++) { x += knownHot(15); gc(); }
  return x;
}
const s = new Sampler({ hz: 1000 }).start();
driver();
const p = s.stop();
// JS samples: a JS frame somewhere (a frame of a .js file, or one that no code event covered).
// Correct: driver is on the stack and every JS frame from the leaf up to it is one of ours.
const OURS = new Set(['knownHot', 'churn', 'driver']);
const isJs = (f) => f.name === '(unknown)' || /\.js$/.test(f.file || '');
let inDriver = 0, correct = 0, wrong = [];
for (const smp of p.samples) {
  if (smp.labels.thread_name !== 'main' || !smp.frames.some(isJs)) continue;
  inDriver += smp.count;
  const d = smp.frames.findIndex((f) => f.name === 'driver');
  const bad = d < 0 ? smp.frames.filter(isJs) : smp.frames.slice(0, d + 1).filter((f) => isJs(f) && !OURS.has(f.name));
  if (d >= 0 && bad.length === 0) correct += smp.count; else wrong.push(smp.count + 'x ' + smp.frames.map((f) => f.name).join('<'));
}
console.log(JSON.stringify({ inDriver, correct, moves: p.stats.codeMoves, events: p.stats.codeEvents, wrong: wrong.slice(0, 5) }));
`;

describe('code moves during garbage collection', function () {
  this.timeout(60_000);
  it('with forced compacting full GCs, >= 99% of JS samples in known functions resolve to them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-codemove-'));
    const file = path.join(dir, 'codemove.js');
    fs.writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--expose-gc', '--compact-on-every-full-gc', file], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    console.log(`      ${JSON.stringify(out)}`);
    assert.ok(out.moves > 0, 'the workload must move code, or this test proves nothing');
    assert.ok(out.inDriver >= 150, `too few JS samples (${out.inDriver}) to judge`);
    assert.ok(out.correct / out.inDriver >= 0.99, `${out.correct}/${out.inDriver} resolved correctly; wrong: ${out.wrong.join(' | ')}`);
  });
});
