// The README's example runs as written and prints what it says.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

describe('README example', function () {
  this.timeout(30_000);
  it('runs, and profiles the main thread and the worker', () => {
    const pkg = path.resolve(__dirname, '..', '..');
    const md = fs.readFileSync(path.join(pkg, 'README.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(md)?.[1];
    assert.ok(code, 'README has a js example');
    // Inside the package, so that require('@ptprof/sampler') resolves through the workspace.
    const file = path.join(pkg, `.readme-example-${process.pid}.js`);
    fs.writeFileSync(file, code);
    try {
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      const ratio = Number(/profiled CPU \/ OS CPU: ([\d.]+)/.exec(r.stdout)?.[1]);
      assert.ok(ratio > 0.8 && ratio < 1.1, r.stdout);
      assert.match(r.stdout, /^main\s+\d+ ms$/m);
      assert.match(r.stdout, /^worker 1\s+\d+ ms$/m);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
