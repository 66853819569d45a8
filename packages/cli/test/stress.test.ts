// Reliability through the real command (issue: reliability, scenarios "full rings" and "exits"):
// a profile is written and valid however the program ends while 8 workers burn CPU, the command
// returns the program's status, and samples lost to full rings are counted in the profile and in
// the summary.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanEnv, facts, goPprof, ptprof, ptprofSignal, readProfile, rmDir, tmpDir } from './helpers';
import { stringAt } from '@ptprof/pprof-writer';

const eightWorkers = (after: string) => `
const { Worker } = require('node:worker_threads');
const src = \`
  const { parentPort } = require('node:worker_threads');
  function workerSpin() { let x = 0; for (;;) { for (let i = 0; i < 1e5; i++) x += Math.sqrt(i); if (globalThis.stop) break; } }
  parentPort.postMessage('up');
  if (require('node:worker_threads').workerData === 3) { setTimeout(() => process.exit(9), 150); }
  else workerSpin();\`;
let up = 0;
for (let i = 0; i < 8; i++) {
  const w = new Worker(src, { eval: true, workerData: i });
  w.on('message', () => { if (++up === 8) setTimeout(() => { console.log('ready'); ${after} }, 300); });
}
function mainSpin(ms) { const t = Date.now(); let x = 0; while (Date.now() - t < ms) x += Math.sqrt(x + 1); return x; }
setInterval(() => mainSpin(5), 10);
`;

function threadNames(file: string): Set<string> {
  const p = readProfile(file);
  const names = new Set<string>();
  for (const s of p.sample) for (const l of s.label) if (stringAt(p, l.key) === 'thread_name') names.add(stringAt(p, l.str));
  return names;
}

function assertEightWorkers(dir: string, out: string): void {
  const file = path.join(dir, out);
  assert.ok(fs.existsSync(file), `no profile written: ${fs.readdirSync(dir).join(', ')}`);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'a temporary file was left');
  const names = threadNames(file);
  const workers = [...names].filter((n) => n.startsWith('worker '));
  assert.ok(workers.length >= 7, `workers in the profile: ${[...names].join(', ')}`);
  assert.match(goPprof(['-top', file], dir), /workerSpin/);
}

describe('stress: exits while 8 workers run', function () {
  this.timeout(120_000);

  for (const [name, after, expect] of [
    ['an uncaught exception', `throw new Error('boom');`, 1],
    ['process.exit(4) from the main thread', `process.exit(4);`, 4],
  ] as const) {
    it(`${name}: a valid profile, exit ${expect}`, () => {
      const dir = tmpDir('exit8');
      try {
        fs.writeFileSync(path.join(dir, 'app.js'), eightWorkers(after));
        const r = ptprof(['--hz', '1000', '-o', 'out.pb.gz', '-q', '--', process.execPath, 'app.js'], { cwd: dir });
        assert.equal(r.status, expect, r.stderr);
        assertEightWorkers(dir, 'out.pb.gz');
      } finally {
        rmDir(dir);
      }
    });
  }

  for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${sig} sent to ptprof: a valid profile, exit ${code}`, async () => {
      const dir = tmpDir('sig8');
      try {
        fs.writeFileSync(path.join(dir, 'app.js'), eightWorkers(''));
        const r = await ptprofSignal(['--hz', '1000', '-o', 'out.pb.gz', '-q', '--', process.execPath, 'app.js'], sig, { cwd: dir });
        assert.equal(r.status, code, r.stderr);
        assertEightWorkers(dir, 'out.pb.gz');
      } finally {
        rmDir(dir);
      }
    });
  }
});

describe('stress: full rings', function () {
  this.timeout(60_000);
  it('a small ring, deep stacks, 10 kHz and no collector: drops counted in the profile and the summary, the profile intact', () => {
    const dir = tmpDir('rings');
    try {
      fs.writeFileSync(path.join(dir, 'deep.js'), `
        function deepRing(n) { if (n > 0) return deepRing(n - 1) + 1; let x = 0; for (let i = 0; i < 2e5; i++) x += Math.sqrt(i); return x; }
        // Bursts with pauses: the sampler's drain runs between them (the ring fills in each burst).
        function burst(k) { const t = Date.now(); while (Date.now() - t < 300) deepRing(400); if (k > 0) setTimeout(() => burst(k - 1), 150); }
        burst(4);`);
      // The collector thread would keep even a small ring from overflowing: it is off here.
      const env = cleanEnv({ PTPROF_RING_BYTES: '16384', PTPROF_FRAMES: '512', PTPROF_COLLECT_MS: '0' });
      const r = ptprof(['--hz', '10000', '-o', 'out.pb.gz', '--', process.execPath, 'deep.js'], { cwd: dir, env });
      assert.equal(r.status, 0, r.stderr);
      const summaryDrops = Number(/(\d+) dropped/.exec(r.stderr)?.[1]);
      assert.ok(summaryDrops > 0, `the summary reports no drops:\n${r.stderr}`);
      const p = readProfile(path.join(dir, 'out.pb.gz'));
      const f = facts(p);
      const ring = Number(f['dropped.ring']);
      assert.ok(ring > 0, JSON.stringify(f));
      assert.equal(ring + Number(f['dropped.shared'] ?? 0), summaryDrops);
      // What was kept is whole: deep stacks, every frame named.
      assert.match(goPprof(['-top', path.join(dir, 'out.pb.gz')], dir), /deepRing/);
      // (TurboFan inlines part of the recursion: a stack walk sees ~130 physical frames of 400.)
      const deep = p.sample.filter((s) => s.locationId.length >= 100);
      assert.ok(deep.length > 0, 'deep stacks were kept');
    } finally {
      rmDir(dir);
    }
  });
});
