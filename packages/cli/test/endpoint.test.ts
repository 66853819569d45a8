// The Go-compatible endpoint (--listen): GET /debug/pprof/profile?seconds=N from the first Node
// process of the run, read by the real client (go tool pprof) while an HTTP server is under load;
// one recording at a time (409); its answer's headers as Go's net/http/pprof; a bad address or a
// port in use refused before the program starts (exit 2, one line).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { decodePprof, stringAt, topFunctions } from '@ptprof/pprof-writer';
import { assertOneLine, cleanEnv, comments, fixture, ptprof, ptprofAsync, rmDir, tmpDir, tmpDirWithOkJs, type Run } from './helpers';

const GO = fs.existsSync('/usr/lib/go/bin/go') ? '/usr/lib/go/bin/go' : 'go';

interface Served {
  run: Promise<Run>;
  /** The program's own HTTP port, and the endpoint's. */
  app: number;
  endpoint: number;
  pid: number;
}

/** ptprof --listen 127.0.0.1:0 -- node server.js, once both ports are known. */
function serve(dir: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    let app = 0;
    let endpoint = 0;
    let pid = 0;
    const check = (): void => {
      if (app && endpoint) resolve({ run, app, endpoint, pid });
    };
    const run = ptprofAsync(['--listen', '127.0.0.1:0', '--', 'node', fixture('server.js')], {
      cwd: dir,
      env: cleanEnv(),
      onStdout: (out, p) => {
        const m = /^listening (\d+)$/m.exec(out);
        if (m && !app) {
          app = Number(m[1]);
          pid = p;
          check();
        }
      },
      onStderr: (err) => {
        const m = /serves http:\/\/127\.0\.0\.1:(\d+)\/debug\/pprof\/profile/.exec(err);
        if (m && !endpoint) {
          endpoint = Number(m[1]);
          check();
        }
      },
    });
    run.then((r) => reject(new Error(`ended before serving: ${r.stderr}`)), reject);
  });
}

/** Requests to the program's server, `n` at a time, until stopped. */
function load(port: number, n = 3): { stop: () => Promise<number> } {
  const agent = new http.Agent({ keepAlive: true });
  let running = true;
  let done = 0;
  const one = (): Promise<void> => new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/page', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        done++;
        resolve();
      });
    }).on('error', () => resolve());
  });
  const loops = Array.from({ length: n }, async () => {
    while (running) await one();
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return done;
    },
  };
}

function get(port: number, query: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/debug/pprof/profile${query}` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function goPprofAsync(args: string[], tmp: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(GO, ['tool', 'pprof', ...args], { env: { ...process.env, PPROF_TMPDIR: tmp, HOME: process.env.HOME ?? tmp } });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('/debug/pprof/profile (--listen)', function () {
  this.timeout(180_000);
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('endpoint');
  });
  afterEach(() => rmDir(dir));

  it('go tool pprof -top http://127.0.0.1:PORT/debug/pprof/profile?seconds=2 against an HTTP server under load', async function () {
    const probe = spawn(GO, ['version']);
    const hasGo = await new Promise<boolean>((resolve) => {
      probe.on('error', () => resolve(false));
      probe.on('close', (code) => resolve(code === 0));
    });
    if (!hasGo) {
      console.log('      skipped: go is not installed (apt-get install -y golang-go)');
      this.skip();
    }
    const s = await serve(dir);
    const traffic = load(s.app);
    const url = `http://127.0.0.1:${s.endpoint}/debug/pprof/profile?seconds=2`;
    const r = await goPprofAsync(['-top', url], dir);
    const requests = await traffic.stop();
    process.kill(s.pid, 'SIGTERM');
    const end = await s.run;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Fetching profile over HTTP from http:\/\/127\.0\.0\.1/);
    assert.match(r.stdout, /Type: cpu/);
    assert.match(r.stdout, /renderPage/, `${requests} requests served; top:\n${r.stdout}`);
    // The comments say what the profile covers.
    assert.match(r.stdout, /covers="?process \d+ only/);
    assert.equal(end.status, 0, end.stderr);
  });

  it('answers as Go does: a gzipped pprof as application/octet-stream; one recording at a time (409); bad hz 400; other paths 404', async () => {
    const s = await serve(dir);
    const traffic = load(s.app, 2);
    const first = get(s.endpoint, '?seconds=2&hz=250');
    await new Promise((r) => setTimeout(r, 300));
    const second = await get(s.endpoint, '?seconds=1');
    const bad = await get(s.endpoint, '?seconds=1&hz=abc');
    const other = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.endpoint, path: '/debug/pprof/heap' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    const ok = await first;
    await traffic.stop();
    process.kill(s.pid, 'SIGTERM');
    await s.run;

    assert.equal(second.status, 409);
    assert.equal(second.headers['x-go-pprof'], '1');
    assert.match(String(second.headers['content-type']), /^text\/plain/);
    assert.match(second.body.toString(), /already being recorded for another request/);
    assert.equal(bad.status, 400);
    assert.equal(other, 404);

    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'application/octet-stream');
    assert.equal(ok.headers['content-disposition'], 'attachment; filename="profile"');
    assert.match(String(ok.headers['x-ptprof-covers']), /^process \d+ only$/);
    assert.equal(ok.body[0], 0x1f, 'gzip');
    const p = decodePprof(zlib.gunzipSync(ok.body));
    assert.ok(comments(p).some((c) => /hz=250/.test(c)), 'the rate asked for');
    assert.ok(comments(p).some((c) => /seconds=2/.test(c)));
    const names = topFunctions(p, { n: 20 }).map((t) => t.name);
    assert.ok(names.includes('renderPage'), `top: ${names}`);
    assert.equal(stringAt(p, p.sampleType[1].type), 'cpu');
  });

  it('a bad address, or a port in use: one line, exit 2, and the program does not start', async () => {
    const d = tmpDirWithOkJs('listen-bad');
    try {
      for (const bad of ['127.0.0.1:99999', 'localhost', 'nosuchhost.invalid:6060']) {
        const r = ptprof(['--listen', bad, 'ok.js'], { cwd: d });
        assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
        assertOneLine(r.stderr, /listen/);
      }
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as net.AddressInfo).port;
      const r = await ptprofAsync(['--listen', `127.0.0.1:${port}`, 'ok.js'], { cwd: d });
      taken.close();
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use \\(EADDRINUSE\\)`));
      assert.equal(fs.existsSync(path.join(d, 'ran.txt')), false, 'nothing ran');
    } finally {
      rmDir(d);
    }
  });
});
