#!/usr/bin/env node
'use strict';
// The packaging test (npm run test:packaging): what a user gets from npm, without this repository.
//
//   1. `npm pack` every package in packages/ (their "files": dist/, the bin shim, the prebuilds);
//   2. `npm install` the tarballs into an empty directory with npm's default settings, under an
//      empty user config (not this machine's ~/.npmrc) and with --ignore-scripts: npm 11 runs no
//      install scripts of registry dependencies, so the addon must come from its prebuilds, never
//      from a compiler (the test checks that nothing was built);
//   3. there, `npx ptprof -- node workers.js` (examples/workers.js: a main thread, two workers and
//      libuv's pool) and checks the profile it writes: a pprof file with the example's functions on
//      their threads, read back with the installed @ptprof/pprof-writer, and with `go tool pprof
//      -top` when Go is installed; and `npx ptprof view` writes the page of it (the view package's
//      page scripts, style and template are in its tarball); and `npx ptprof -- node dist/spin.js`,
//      a TypeScript file bundled by esbuild with a source map, names its function by the .ts file
//      (the installed @ptprof/sourcemaps and its parser, @jridgewell/trace-mapping, at work).
// Step 3 runs with the Node running this script, and with every Node given by --node (fetched from
// the npm registry like scripts/test-node-versions.js does, put first on PATH: npx, ptprof and the
// profiled `node` are all that Node). Ends with "N passed, N failed" (one per Node).
//
//   node scripts/test-packaging.js                    with this Node
//   node scripts/test-packaging.js --node 22,24,26    also with these (majors or exact versions; "all")
//   node scripts/test-packaging.js --keep             keep the directory (printed) for a look
//
// Needs the compiled TypeScript (npm run build:ts), the repository's devDependencies (esbuild) and the
// registry (pprof-format, node-gyp-build, @jridgewell/trace-mapping).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const prebuild = require('./prebuild.js');
const { printUsage } = require('./lib/common.js');

const ROOT = path.resolve(__dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples', 'workers.js');
/** src/spin.ts of the app: bundled with a source map, its `spin` must come out as src/spin.ts:SPIN_LINE. */
const SPIN_TS = `// Bundled by esbuild into dist/spin.js with a source map.
interface Rounds { count: number }
export function spin(rounds: Rounds): number {
  let s = 0;
  for (let i = 0; i < rounds.count; i++) s = (s * 31 + i) % 1000003;
  return s;
}
console.log(spin({ count: 3e7 }) >= 0 ? 'spun' : '');
`;
const SPIN_LINE = 3;

function parseArgs(argv) {
  const o = { node: [], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    if (a === '--node' || a.startsWith('--node=')) o.node = val().split(',').filter(Boolean).map((s) => s.replace(/^v/, ''));
    else if (a === '--keep') o.keep = true;
    else if (a === '-h' || a === '--help') printUsage(__filename);
    else throw new Error(`unknown argument ${a} (see --help)`);
  }
  return o;
}

function run(cmd, args, opts = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  r.secs = (Date.now() - t0) / 1000;
  return r;
}

function must(cmd, args, opts = {}) {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${(r.stderr || '') + (r.stdout || '')}`.trim());
  return r;
}

/** A user's environment: nothing from this repository's npm config, no ptprof or prebuild overrides. */
function userEnv(userconfig, binDir) {
  const env = { ...process.env, npm_config_userconfig: userconfig, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  for (const k of Object.keys(env)) {
    if (/^npm_(config_(?!userconfig|update_notifier|fund|audit)|package_|lifecycle_)/i.test(k) || k.startsWith('PTPROF_') || k === 'PREBUILDS_ONLY' || k === 'NODE_OPTIONS' || k === 'INIT_CWD') delete env[k];
  }
  if (binDir) env.PATH = `${binDir}${path.delimiter}${env.PATH || ''}`;
  return env;
}

function packAll(dest, env) {
  const tarballs = [];
  for (const name of fs.readdirSync(path.join(ROOT, 'packages')).sort()) {
    const dir = path.join(ROOT, 'packages', name);
    if (!fs.existsSync(path.join(dir, 'package.json'))) continue;
    if (!fs.existsSync(path.join(dir, 'dist'))) throw new Error(`packages/${name}/dist is missing: run "npm run build:ts" (npx tsc -b) first`);
    const r = must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], { cwd: dir, env });
    const info = JSON.parse(r.stdout)[0];
    tarballs.push(path.join(dest, info.filename));
    console.log(`  packed ${info.name}@${info.version}: ${info.filename}, ${info.entryCount} files, ${(info.size / 1024).toFixed(0)} KiB`);
    if (info.name === '@ptprof/timers-native') {
      const prebuilds = info.files.map((f) => f.path).filter((p) => p.startsWith('prebuilds/') && p.endsWith('.node'));
      console.log(`    ${prebuilds.length} prebuilds: ${prebuilds.map((p) => p.replace(/^prebuilds\//, '')).join(', ')}`);
      const want = prebuild.expandTargets().length;
      if (prebuilds.length < want) throw new Error(`@ptprof/timers-native packs ${prebuilds.length} prebuilds, TARGETS has ${want}`);
    }
  }
  return tarballs;
}

/** Runs the example under ptprof with the Node at binDir (or the running one) and checks the profile. */
function profileExample(app, env, label) {
  const out = path.join(app, `out-${label.replace(/[^\w.-]/g, '_')}`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out);
  const v = must('node', ['-p', 'process.version'], { cwd: app, env }).stdout.trim();
  const r = run('npx', ['--no-install', 'ptprof', '-o', path.join(out, 'cpu.pb.gz'), '--', 'node', 'workers.js'], { cwd: app, env: { ...env, HOG_CALLS: '6' }, timeout: 180000 });
  const problems = [];
  if (r.status !== 0) problems.push(`npx ptprof exited ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-5).join(' | ')}`);
  // ptprof writes one profile of the run at -o (with --split, a file per Node process).
  const files = fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.endsWith('.pb.gz')) : [];
  let detail = '';
  if (!files.length) problems.push('no profile written');
  else {
    const pw = require(require.resolve('@ptprof/pprof-writer', { paths: [app] }));
    const prof = pw.decodePprof(fs.readFileSync(path.join(out, files[0])));
    const top = pw.topFunctions(prof);
    const cum = (fn) => top.filter((t) => t.name === fn).reduce((a, t) => a + t.cum, 0);
    const threads = pw.threadTotals(prof);
    const named = (re) => threads.filter((t) => re.test(t.threadName || ''));
    for (const fn of ['mainHog', 'workerHog']) if (!(cum(fn) > 0)) problems.push(`${fn} is not in the profile`);
    if (named(/^main$/).length !== 1) problems.push(`thread "main": ${named(/^main$/).length}`);
    if (named(/^worker /).length !== 2) problems.push(`threads "worker N": ${named(/^worker /).length}`);
    const total = threads.reduce((a, t) => a + t.cpuNanos, 0);
    detail = `${files.length} file(s), ${(total / 1e6).toFixed(0)} ms of CPU on ${threads.length} threads, mainHog ${(cum('mainHog') / 1e6).toFixed(0)} ms, workerHog ${(cum('workerHog') / 1e6).toFixed(0)} ms`;
    const go = ['go', '/usr/lib/go/bin/go'].find((g) => run('sh', ['-c', `command -v ${g}`]).status === 0);
    if (go) {
      const g = run(go, ['tool', 'pprof', '-top', path.join(out, files[0])], { env: { ...process.env, HOME: process.env.HOME || os.tmpdir() }, timeout: 120000 });
      if (g.status !== 0 || !/mainHog/.test(g.stdout)) problems.push(`go tool pprof -top: exit ${g.status}, ${/mainHog/.test(g.stdout || '') ? '' : 'no mainHog'} ${(g.stderr || '').trim().split('\n').pop()}`);
      else detail += ', go tool pprof -top reads it';
    }
    // The page: @ptprof/view's scripts, style and template must be in its tarball.
    const page = path.join(out, 'page.html');
    const v = run('npx', ['--no-install', 'ptprof', 'view', path.join(out, files[0]), '-o', page], { cwd: app, env, timeout: 120000 });
    if (v.status !== 0) problems.push(`ptprof view exited ${v.status ?? v.signal}: ${(v.stderr || '').trim().split('\n').pop()}`);
    else {
      const html = fs.readFileSync(page, 'utf8');
      const missing = [['the page script', /function buildTree\(/], ['the style', /#flame-wrap \{/], ['the data', /"workerHog"/]].filter(([, re]) => !re.test(html));
      if (missing.length) problems.push(`ptprof view's page lacks ${missing.map(([w]) => w).join(', ')}`);
      else detail += `, ptprof view writes a ${(html.length / 1024).toFixed(0)} KiB page`;
    }
  }
  // Source maps: the bundle's spin named by src/spin.ts, and the facts say a map was used.
  const spinFile = path.join(out, 'spin.pb.gz');
  const sm = run('npx', ['--no-install', 'ptprof', '-q', '-o', spinFile, '--', 'node', path.join('dist', 'spin.js')], { cwd: app, env, timeout: 180000 });
  if (sm.status !== 0) problems.push(`npx ptprof -- node dist/spin.js exited ${sm.status ?? sm.signal}: ${(sm.stderr || '').trim().split('\n').pop()}`);
  else {
    const pw = require(require.resolve('@ptprof/pprof-writer', { paths: [app] }));
    const prof = pw.decodePprof(fs.readFileSync(spinFile));
    const facts = pw.parseFacts(prof.comment.map((i) => pw.stringAt(prof, i)));
    const fn = prof.function.find((f) => pw.stringAt(prof, f.name) === 'spin');
    const where = fn ? `${pw.stringAt(prof, fn.filename)}:${pw.toNumber(fn.startLine)}` : 'absent';
    if (where !== `src/spin.ts:${SPIN_LINE}` || !(facts['source_maps.mapped_frames'] > 0)) {
      problems.push(`source maps: spin at ${where}, not src/spin.ts:${SPIN_LINE}; ${Object.entries(facts).filter(([k]) => k.startsWith('source_maps.')).map(([k, x]) => `${k}=${x}`).join(' ') || 'no source_maps facts'}`);
    } else detail += `, the bundle's spin is src/spin.ts:${SPIN_LINE} (${facts['source_maps.mapped_frames']} frames mapped)`;
  }
  // The addon came from a prebuild: nothing was compiled, no install script ran.
  const native = path.join(app, 'node_modules', '@ptprof', 'timers-native');
  if (fs.existsSync(path.join(native, 'build'))) problems.push('node_modules/@ptprof/timers-native/build exists: the addon was compiled');
  const which = run('node', ['-p', `require(${JSON.stringify(require.resolve('node-gyp-build', { paths: [native] }))}).resolve(${JSON.stringify(native)})`], { cwd: app, env });
  const loaded = path.relative(native, (which.stdout || '').trim());
  if (!/^prebuilds\/linux-/.test(loaded)) problems.push(`node-gyp-build resolves ${loaded || which.stderr.trim()}`);
  return { label, version: v, ok: problems.length === 0, problems, detail: `${detail}; addon ${loaded}`, secs: r.secs };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-packaging-'));
  const userconfig = path.join(work, 'npmrc');
  fs.writeFileSync(userconfig, '');
  const env = userEnv(userconfig);
  const results = [];
  try {
    console.log(`# npm pack (${work})`);
    const tarballs = packAll(work, env);

    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'ptprof-packaging-test', version: '1.0.0', private: true }, null, 2));
    fs.copyFileSync(EXAMPLE, path.join(app, 'workers.js'));
    fs.mkdirSync(path.join(app, 'src'));
    fs.writeFileSync(path.join(app, 'src', 'spin.ts'), SPIN_TS);
    require('esbuild').buildSync({ entryPoints: [path.join(app, 'src', 'spin.ts')], bundle: true, platform: 'node', sourcemap: true,
      outfile: path.join(app, 'dist', 'spin.js'), logLevel: 'silent' });
    console.log('# npm install <tarballs> --ignore-scripts (an empty project, an empty npm user config)');
    const inst = must('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs], { cwd: app, env });
    console.log(`  ${inst.stdout.trim().split('\n').filter(Boolean).pop()} (${inst.secs.toFixed(1)} s)`);

    const nodes = [{ label: `this Node (${process.version})`, binDir: null }];
    const all = [...new Set(prebuild.expandTargets().filter((t) => t.arch === os.arch()).map((t) => t.node))];
    const want = opts.node.includes('all') ? all : opts.node;
    for (const n of want) {
      const v = all.find((x) => x === n || x.split('.')[0] === n);
      if (!v) throw new Error(`Node ${n} has no prebuild target (${all.join(', ')})`);
      if (`v${v}` === process.version) continue;
      nodes.push({ label: `Node ${v}`, binDir: path.join(prebuild.fetchNodeDist(os.arch(), v), 'bin') });
    }
    for (const n of nodes) {
      console.log(`# npx ptprof -- node workers.js, ${n.label}`);
      const r = profileExample(app, n.binDir ? userEnv(userconfig, n.binDir) : env, n.label);
      console.log(`  ${r.ok ? 'pass' : 'FAIL'} (${r.version}, ${r.secs.toFixed(1)} s): ${r.detail}`);
      for (const p of r.problems) console.log(`    ${p}`);
      results.push(r);
    }
  } finally {
    if (opts.keep) console.log(`\nkept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`\npackaging test done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`\n${passed} passed, ${results.length - passed} failed`);
  process.exit(passed === results.length ? 0 : 1);
}

try {
  main();
} catch (e) {
  console.error(`test-packaging: ${e.message}`);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}
