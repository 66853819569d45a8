#!/usr/bin/env node
'use strict';
// npm run test:asan: builds timers-native with AddressSanitizer and UndefinedBehaviorSanitizer into
// a staging folder (the package's own build/ is untouched), then runs the native and sampler tests
// against that build: node itself is not instrumented, so the sanitizer runtimes are preloaded
// (LD_PRELOAD) and the tests load the instrumented addon through PTPROF_ADDON_PATH.
//
//   node scripts/test-asan.js [package ...]     (default: timers-native sampler)
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const PKG = path.join(ROOT, 'packages', 'timers-native');
const STAGE = path.join(ROOT, 'node_modules', '.cache', 'ptprof-asan');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`test-asan: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
}

// 1. Build in a staging copy of the package's sources.
fs.rmSync(STAGE, { recursive: true, force: true });
fs.mkdirSync(path.join(STAGE, 'src'), { recursive: true });
fs.copyFileSync(path.join(PKG, 'binding.gyp'), path.join(STAGE, 'binding.gyp'));
for (const f of fs.readdirSync(path.join(PKG, 'src'))) if (/\.(cc|h)$/.test(f)) fs.copyFileSync(path.join(PKG, 'src', f), path.join(STAGE, 'src', f));
fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(STAGE, 'node_modules'));
const san = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g';
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [PKG] });
// The running Node's own headers (Debian's node: /usr/include/node); never a download.
const nodedir = path.resolve(path.dirname(process.execPath), '..');
if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node.h'))) {
  console.error(`test-asan: no Node headers at ${nodedir}/include/node (install the headers of node ${process.version})`);
  process.exit(1);
}
run(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: STAGE, env: { ...process.env, CXXFLAGS: san, CFLAGS: san, LDFLAGS: '-fsanitize=address,undefined' } });
const addon = path.join(STAGE, 'build', 'Release', 'ptprof_timers.node');
const libs = execFileSync('ldd', [addon]).toString();
if (!/libasan/.test(libs) || !/libubsan/.test(libs)) {
  console.error('test-asan: the staged addon is not linked with the sanitizers:\n' + libs);
  process.exit(1);
}

// 2. Run the tests against it.
const gcc = (lib) => execFileSync('gcc', [`-print-file-name=${lib}`]).toString().trim();
const env = {
  ...process.env,
  PTPROF_ADDON_PATH: addon,
  LD_PRELOAD: [gcc('libasan.so'), gcc('libubsan.so')].join(':'),
  // Node's own allocations are not ours to report; V8 and Node install SIGSEGV handlers.
  ASAN_OPTIONS: 'detect_leaks=0:allow_user_segv_handler=1:abort_on_error=1:detect_odr_violation=0',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
// The tests must really load the instrumented addon, with the runtimes in place.
const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(PKG, 'dist', 'src', 'index.js'))}); process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8'))`], { env, encoding: 'utf8' });
if (probe.status !== 0 || !probe.stdout.includes(addon) || !/libasan/.test(probe.stdout)) {
  console.error(`test-asan: the instrumented addon was not loaded (exit ${probe.status})\n${probe.stderr}`);
  process.exit(1);
}
console.log(`test-asan: ${path.relative(ROOT, addon)} loaded with ASan and UBSan`);
const pkgs = process.argv.slice(2).length ? process.argv.slice(2) : ['timers-native', 'sampler'];
const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test.js'), ...pkgs], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
