'use strict';
// The workloads. Each measures its own truth inside itself (the CPU each named function burned,
// read from the thread's CPU clock around or inside it); the harness (lib/child.js) adds the
// process's and every thread's clock around the whole run.
//
//   fnNames   the named functions whose profile time is compared with their true CPU
//   blocking  those of them that mostly wait (their share of the profile vs their true share)
//   run(ctx)  -> { fns: { name: ns }, workers: [{ tid, threadId, windowNs, dd }], release() }
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { Worker } = require('node:worker_threads');
const { ROOT } = require('../lib/workers');
const truth = require('../lib/truth');
const hogs = require('./hogs');
const inlinedCode = require('./inlined');

/** n workers running hogs[fn] at once; resolves once all reported, with release() to let them exit. */
async function workersAtOnce(n, fn, ms, ctx, fnNames) {
  const ws = [];
  const reports = [];
  for (let i = 0; i < n; i++) {
    const w = new Worker(path.join(__dirname, 'worker.js'), {
      workerData: { fn, ms, register: ctx.register, dd: ctx.dd, fnNames },
    });
    const exited = new Promise((resolve) => w.once('exit', resolve));
    reports.push(
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        exited.then(() => reject(new Error('worker exited before reporting')));
      }),
    );
    ws.push({ w, exited });
  }
  const workers = await Promise.all(reports);
  return {
    workers,
    async release() {
      for (const { w } of ws) w.postMessage('exit');
      await Promise.all(ws.map((x) => x.exited));
    },
  };
}

const serial = {
  fnNames: ['serialHog'],
  async run(ctx) {
    return { fns: { serialHog: hogs.serialHog(ctx.spec.ms, truth.threadCpuNs) }, workers: [] };
  },
};

const parallel = {
  fnNames: ['parallelHog'],
  async run(ctx) {
    const r = await workersAtOnce(ctx.spec.n, 'parallelHog', ctx.spec.ms, ctx, this.fnNames);
    return { fns: { parallelHog: r.workers.reduce((a, w) => a + w.fnNs, 0) }, ...r };
  },
};

// CPU phases alternating with waits that burn no CPU (Atomics.wait) and with a synchronous child
// process (its spawn costs this process some CPU, measured).
const mixed = {
  fnNames: ['cpuWork', 'atomicsWaiter', 'sleeper'],
  blocking: ['atomicsWaiter', 'sleeper'],
  async run(ctx) {
    const fns = { cpuWork: 0, atomicsWaiter: 0, sleeper: 0 };
    const rounds = Math.round(ctx.spec.ms / 20);
    for (let i = 0; i < rounds; i++) {
      fns.cpuWork += hogs.cpuWork(20, truth.threadCpuNs);
      let t = truth.threadCpuNs();
      hogs.atomicsWaiter(10);
      fns.atomicsWaiter += truth.threadCpuNs() - t;
      t = truth.threadCpuNs();
      hogs.sleeper(10);
      fns.sleeper += truth.threadCpuNs() - t;
    }
    return { fns, workers: [] };
  },
};

// libuv's thread pool: pbkdf2 and deflate, all at once; no JS runs on those threads.
const pool = {
  fnNames: [],
  prepare() {
    // 16 MiB of compressible but not trivial text, made deterministically.
    const words = [];
    let seed = 12345;
    for (let i = 0; i < 4096; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      words.push((seed >>> 8).toString(36));
    }
    const parts = [];
    let size = 0;
    for (let i = 0; size < 16 << 20; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const w = words[seed % words.length] + (i % 13 === 0 ? '\n' : ' ');
      parts.push(w);
      size += w.length;
    }
    this.text = Buffer.from(parts.join(''));
  },
  async run() {
    const jobs = [];
    for (let i = 0; i < 8; i++) {
      jobs.push(new Promise((resolve, reject) => crypto.pbkdf2('secret', `salt${i}`, 150000, 64, 'sha512', (e) => (e ? reject(e) : resolve()))));
    }
    for (let i = 0; i < 4; i++) {
      jobs.push(new Promise((resolve, reject) => zlib.deflate(this.text, { level: 6 }, (e) => (e ? reject(e) : resolve()))));
    }
    await Promise.all(jobs);
    return { fns: {}, workers: [] };
  },
};

// A real program nobody here wrote: TypeScript 5's pure-JS compiler type-checking its own API
// declarations (typescript.d.ts) against @types/node, in this process.
const tsc = {
  fnNames: [],
  prepare() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-tsc-'));
    const ts = path.dirname(require.resolve('typescript5/package.json', { paths: [ROOT] }));
    fs.writeFileSync(
      path.join(this.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          noEmit: true,
          incremental: false,
          strict: true,
          target: 'ES2022',
          module: 'node16',
          lib: ['ES2022'],
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          skipLibCheck: false,
        },
        files: [path.join(ts, 'lib', 'typescript.d.ts')],
      }),
    );
    this.tscJs = path.join(ts, 'lib', 'tsc.js');
  },
  async run() {
    const argv = process.argv;
    const exit = process.exit;
    let code;
    process.argv = [argv[0], this.tscJs, '-p', this.dir];
    process.exit = (c) => {
      code = c; // tsc ends with process.exit: keep the harness alive
    };
    try {
      require(this.tscJs);
    } finally {
      process.argv = argv;
      process.exit = exit;
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    if (code) throw new Error(`tsc exited ${code}`);
    return { fns: {}, workers: [] };
  },
};

// Small functions V8 inlines into the loops that call them (./inlined.js): escapeHtml, etag (with
// a helper of another module), tokenize, nearest (a class method and a helper), each for `ms` of CPU.
const inlined = {
  fnNames: inlinedCode.fnNames,
  async run(ctx) {
    return { fns: inlinedCode.runInlined(ctx.spec.ms, truth.threadCpuNs), workers: [] };
  },
};

module.exports = { serial, parallel, mixed, pool, tsc, inlined };
