// Interrupted system calls: a workload heavy on fs, loopback sockets, child processes, timers and
// waits prints byte-for-byte the same output with and without sampling at 10 kHz on every thread,
// and no EINTR (or anything else) reaches user code. The handler is installed with SA_RESTART.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const samplerIndex = path.resolve(__dirname, '..', '..', 'src', 'index.js');

const workload = `
const fs = require('node:fs'), net = require('node:net'), path = require('node:path'), crypto = require('node:crypto');
const { execFileSync, spawn } = require('node:child_process');
const hz = Number(process.env.PTPROF_STRESS_HZ || 0);
const sampler = hz ? require(${JSON.stringify(samplerIndex)}).start({ hz, threads: 'all' }) : null;
const dir = process.argv[2];
const out = [];
const h = (b) => crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);
function burn(n) { let x = 0; for (let i = 0; i < n; i++) x += Math.sqrt(i); return x > 0; }

// 1. Synchronous fs: many small writes, reads, renames, stats.
for (let i = 0; i < 300; i++) {
  const f = path.join(dir, 'f' + (i % 20));
  fs.writeFileSync(f, Buffer.alloc(4096 + i, i % 251));
  fs.renameSync(f, f + '.r'); fs.renameSync(f + '.r', f);
  burn(300000);
}
let all = Buffer.alloc(0);
for (let i = 0; i < 20; i++) all = Buffer.concat([all, fs.readFileSync(path.join(dir, 'f' + i))]);
out.push('fs-sync ' + h(all) + ' ' + all.length);

// 2. Child processes, synchronous and not.
let kids = '';
for (let i = 0; i < 20; i++, burn(300000)) kids += execFileSync('printf', ['%s,', String(i)]).toString();
out.push('exec ' + kids);

// 3. Big synchronous read/write through a pipe-like file, and a blocking sleep.
const big = crypto.randomBytes(1 << 22);
fs.writeFileSync(path.join(dir, 'big'), big);
out.push('big ' + (h(fs.readFileSync(path.join(dir, 'big'))) === h(big)));
const sab = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < 20; i++) { Atomics.wait(sab, 0, 0, 2); burn(1000000); }
out.push('waits ok');

// 4. Async: a loopback server and clients, async fs, timers, a spawned child.
const server = net.createServer((s) => s.pipe(s));
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const echoes = await Promise.all(Array.from({ length: 20 }, (_, i) => new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const payload = Buffer.alloc(64 * 1024, i);
    const got = [];
    c.on('data', (d) => { got.push(d); if (Buffer.concat(got).length >= payload.length) c.end(); });
    c.on('end', () => resolve(h(Buffer.concat(got))));
    c.on('error', reject);
    c.write(payload);
  })));
  out.push('echo ' + h(echoes.join('')));
  const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => fs.promises.readFile(path.join(dir, 'f' + (i % 20)))));
  out.push('fs-async ' + h(Buffer.concat(reads)));
  let ticks = 0;
  await new Promise((r) => { const t = setInterval(() => { burn(300000); if (++ticks === 30) { clearInterval(t); r(); } }, 1); });
  out.push('timers ' + ticks);
  const child = await new Promise((resolve, reject) => {
    const c = spawn('sh', ['-c', 'cat; echo done'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let s = ''; c.stdout.on('data', (d) => (s += d)); c.on('error', reject);
    c.on('close', (code) => resolve(s + code));
    c.stdin.end('piped\\n');
  });
  out.push('spawn ' + JSON.stringify(child));
  server.close();
  if (sampler) {
    const p = sampler.stop();
    process.stderr.write('samples ' + p.stats.records + '\\n');
  }
  process.stdout.write(out.join('\\n') + '\\n');
});
`;

function run(hz: number): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-eintr-'));
  const file = path.join(dir, 'workload.js');
  fs.writeFileSync(file, workload);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  try {
    const r = spawnSync(process.execPath, [file, data], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PTPROF_STRESS_HZ: String(hz) } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('stress: interrupted system calls', function () {
  this.timeout(120_000);
  it('fs, sockets, child processes and timers give the same output with and without 10 kHz sampling', () => {
    const plain = run(0);
    assert.equal(plain.status, 0, plain.stderr);
    const sampled = run(10000);
    assert.equal(sampled.status, 0, sampled.stderr);
    assert.equal(sampled.stdout, plain.stdout);
    const samples = Number(/^samples (\d+)$/m.exec(sampled.stderr)?.[1]);
    assert.ok(samples > 100, `too few samples (${samples}) for the test to mean anything`);
    assert.equal(sampled.stderr.replace(/^samples \d+\n/m, ''), '', 'nothing else on stderr (no EINTR, no warning)');
    assert.match(plain.stdout, /^spawn "piped\\ndone\\n0"$/m);
    console.log(`      ${samples} samples; output ${plain.stdout.length} bytes identical`);
  });
});
