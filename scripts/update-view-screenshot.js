#!/usr/bin/env node
'use strict';
// The README's picture of `ptprof view` (docs/view.png), made by the browser test: it profiles
// examples/workers.js with `ptprof --html`, opens the page in headless Chromium, hovers over
// mainHog and takes the screenshot; this script runs that test and copies the screenshot.
//
//   npm run screenshot:view        (needs Chromium: apt-get install chromium)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-screenshot-'));
try {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'test.js'), 'view', '--grep', 'a real profile of examples/workers.js'], {
    cwd: ROOT, stdio: 'inherit', env: { ...process.env, PTPROF_ARTIFACTS: artifacts },
  });
  const shot = path.join(artifacts, 'view-workers.png');
  if (r.status !== 0 || !fs.existsSync(shot)) {
    console.error('update-view-screenshot: the browser test failed or made no screenshot (is Chromium installed?)');
    process.exit(1);
  }
  fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  fs.copyFileSync(shot, path.join(ROOT, 'docs', 'view.png'));
  console.log(`docs/view.png updated (${fs.statSync(shot).size} bytes)`);
} finally {
  fs.rmSync(artifacts, { recursive: true, force: true });
}
