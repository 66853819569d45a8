#!/usr/bin/env node
'use strict';
// Runs each package's compiled tests (dist/test/**/*.test.js), one mocha process per file: the
// SIGPROF handler, the timers and setitimer are process-wide, so one file must not see another's.
// Ends with the line CI reads: "N passed, N failed" (skipped tests are reported, never counted as passed).
//
//   node scripts/test.js [package-folder ...] [--grep PATTERN]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const order = ['sigprof-filter', 'timers-native', 'sampler', 'pprof-writer', 'sourcemaps', 'view', 'cli'];
const args = process.argv.slice(2);
const grepAt = args.indexOf('--grep');
const grep = grepAt >= 0 ? args.splice(grepAt, 2)[1] : undefined;
const only = args.length ? args : order;

function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const mocha = require.resolve('mocha/bin/mocha.js');
const reporter = path.join(__dirname, 'mocha-reporter.js');
const statsFile = path.join(os.tmpdir(), `ptprof-test-stats-${process.pid}.json`);
let passed = 0, failed = 0, skipped = 0;
const broken = [];

for (const pkg of only) {
  const dir = path.join(root, 'packages', pkg);
  const files = testFiles(path.join(dir, 'dist', 'test'));
  if (files.length === 0) {
    console.log(`\n# ${pkg}: no compiled tests (run "npm run build:ts")`);
    failed += 1;
    broken.push(`${pkg}: no tests`);
    continue;
  }
  for (const file of files) {
    console.log(`\n# ${pkg}/${path.relative(dir, file)}`);
    fs.rmSync(statsFile, { force: true });
    const margs = [mocha, '--reporter', reporter, '--timeout', '180000', file];
    if (grep) margs.push('--grep', grep);
    const r = spawnSync(process.execPath, margs, {
      cwd: dir, stdio: 'inherit', env: { ...process.env, PTPROF_TEST_STATS: statsFile },
    });
    let stats;
    try { stats = JSON.parse(fs.readFileSync(statsFile, 'utf8')); } catch { stats = undefined; }
    if (!stats) {
      // The process died before mocha finished (a crash is a failure, e.g. a fatal signal).
      failed += 1;
      broken.push(`${pkg}/${path.basename(file)}: exited ${r.status ?? r.signal} before finishing`);
      continue;
    }
    passed += stats.passes; failed += stats.failures; skipped += stats.pending;
    if (stats.failures > 0) {
      broken.push(`${pkg}/${path.basename(file)}: ${stats.failures} failed`);
      for (const f of stats.failed || []) broken.push(`  - ${f}`);
    }
    else if (r.status !== 0) { failed += 1; broken.push(`${pkg}/${path.basename(file)}: exit ${r.status ?? r.signal}`); }
  }
}
fs.rmSync(statsFile, { force: true });
if (broken.length) console.log('\nFailures:\n  ' + broken.join('\n  '));
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
