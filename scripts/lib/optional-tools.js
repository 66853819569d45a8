'use strict';
// Tests that need an optional tool (`go` for `go tool pprof`, `qemu-aarch64`, `chromium`) on a
// machine that lacks it: the test says what to install and is skipped, never counted as passed
// (`npm ci && npm test` must pass on a fresh machine; CI installs the tools, and there they run).
// Required at the top of a test helper module, this registers a root beforeEach that remembers
// the running test's context, so that a helper deep in a test can skip it.
const fs = require('node:fs');
const path = require('node:path');

// The test about to run (a root hook's `this` is the root suite's context; its currentTest is the
// test, whose own skip() marks it pending whether it is synchronous or async).
let current;
if (typeof beforeEach === 'function') {
  beforeEach(function () {
    current = this.currentTest;
  });
}

/** The path of an executable on PATH or at one of `fallbacks`, or undefined. */
function findTool(cmd, fallbacks = []) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return fallbacks.find((f) => fs.existsSync(f));
}

/** Skips the running test (or, given a hook's context `ctx`, its suite), printing why. */
function skipWithout(what, install, ctx) {
  const c = ctx || current;
  const line = `      skipped: ${what} is not installed (${install})`;
  console.log(line);
  if (!c || typeof c.skip !== 'function') throw new Error(`${line.trim()}, and no test is running to skip`);
  c.skip();
}

/** `go`, or the running test is skipped with what to install. */
function requireGo(ctx) {
  const go = findTool('go', ['/usr/lib/go/bin/go']);
  if (!go) skipWithout('go (for `go tool pprof`, the client these profiles are for)', 'apt-get install -y golang-go', ctx);
  return go;
}

module.exports = { findTool, skipWithout, requireGo };
