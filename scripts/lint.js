#!/usr/bin/env node
'use strict';
// npm run lint: typescript-eslint over every package's TypeScript, and clang-format over the
// addon's C++ (a dry run: it fails on the first file that is not formatted). The linters live in
// tools/lint with their own lock file (typescript-eslint needs TypeScript 5's JS API, the build
// uses TypeScript 7); they are installed there on first use.
//
//   node scripts/lint.js            check
//   node scripts/lint.js --fix      apply clang-format and eslint's fixes
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, 'tools', 'lint');
const fix = process.argv.includes('--fix');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (!fs.existsSync(path.join(TOOLS, 'node_modules', '.bin', 'eslint'))) {
  console.log('lint: installing the linters into tools/lint (npm ci)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (run(npm, ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: TOOLS }) !== 0) process.exit(1);
}

let failed = 0;
const native = path.join(ROOT, 'packages', 'timers-native');
const cxx = [];
for (const dir of ['src', path.join('test', 'native')]) {
  for (const f of fs.readdirSync(path.join(native, dir))) if (/\.(cc|h)$/.test(f)) cxx.push(path.join(native, dir, f));
}
const clang = path.join(TOOLS, 'node_modules', '.bin', 'clang-format');
const style = `--style=file:${path.join(native, '.clang-format')}`;
console.log(`lint: clang-format ${fix ? '-i' : '--dry-run -Werror'} (${cxx.length} files)`);
if (run(clang, [style, ...(fix ? ['-i'] : ['--dry-run', '-Werror']), ...cxx]) !== 0) failed++;

console.log('lint: eslint (typescript-eslint)');
const eslint = path.join(TOOLS, 'node_modules', '.bin', 'eslint');
if (run(eslint, ['--config', path.join(TOOLS, 'eslint.config.mjs'), '--max-warnings=0', ...(fix ? ['--fix'] : []), 'packages']) !== 0) failed++;

console.log(failed ? `lint: ${failed} of 2 checks failed` : 'lint: clean');
process.exit(failed ? 1 : 0);
