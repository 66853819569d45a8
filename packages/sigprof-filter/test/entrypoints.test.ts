import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// Compiled to dist/test/, so the package root is two levels up.
const root = path.resolve(__dirname, '..', '..');
const esmEntry = path.join(root, 'esm', 'index.mjs');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function runModule(source: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `node exited ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

// Decides the four interesting cases in a child process and prints the answers with the export names.
const probe = (from: string): string => `
  import * as m from ${JSON.stringify(from)};
  const { validSIGPROF, classify, filterSIGPROF, countSIGPROF, SI_KERNEL, SI_TIMER } = m;
  const recs = [
    { code: SI_TIMER, known: true, timerValid: true },
    { code: SI_KERNEL, known: true, timerValid: true },
    { code: SI_KERNEL, known: false, timerValid: false },
    { code: SI_TIMER, known: false, timerValid: false },
  ];
  let typeError = false;
  try { validSIGPROF({ code: 'x', known: true, timerValid: true }); } catch (e) { typeError = e instanceof TypeError; }
  console.log(JSON.stringify({
    keys: Object.keys(m).sort(),
    answers: recs.map((r) => validSIGPROF(r)),
    names: [SI_KERNEL, SI_TIMER, -6, 0, -1, 7].map(classify),
    filtered: [...filterSIGPROF(recs)].length,
    kept: countSIGPROF(recs).kept,
    typeError,
  }));
`;

const expected = {
  answers: [true, false, true, false],
  names: ['setitimer', 'timer_create', 'tkill', 'user', 'queue', 'other'],
  filtered: 2,
  kept: 2,
  typeError: true,
};

describe('entry points', () => {
  // The built CommonJS module, loaded by path: what `main` and the `require` condition point to.
  const cjs = require(path.join(root, 'dist', 'src', 'index.js'));
  const cjsKeys = Object.keys(cjs).sort();

  it('the CommonJS build exports the whole API', () => {
    assert.deepEqual(cjsKeys, [
      'SI_KERNEL', 'SI_QUEUE', 'SI_TIMER', 'SI_TKILL', 'SI_USER',
      'classify', 'countSIGPROF', 'filterSIGPROF', 'validSIGPROF',
    ]);
  });

  it('require("@ptprof/sigprof-filter") resolves through `exports` to the CommonJS build', () => {
    assert.equal(require.resolve('@ptprof/sigprof-filter'), path.join(root, 'dist', 'src', 'index.js'));
    const viaName = require('@ptprof/sigprof-filter');
    assert.equal(viaName, cjs);
    assert.equal(viaName.validSIGPROF({ code: -2, known: true, timerValid: true }), true);
    assert.equal(viaName.validSIGPROF({ code: 0x80, known: true, timerValid: true }), false);
  });

  it('esm/index.mjs, imported by absolute path, has the same named exports and answers', () => {
    const out = JSON.parse(runModule(probe(esmEntry)));
    assert.deepEqual(out, { keys: cjsKeys, ...expected });
  });

  it('import "@ptprof/sigprof-filter" resolves through `exports` to esm/index.mjs', () => {
    const out = JSON.parse(runModule(probe('@ptprof/sigprof-filter')));
    assert.deepEqual(out, { keys: cjsKeys, ...expected });
    const resolved = runModule(`console.log(import.meta.resolve('@ptprof/sigprof-filter'))`).trim();
    assert.equal(resolved, `file://${esmEntry}`);
  });

  it('ESM and CommonJS share one implementation (the same function objects)', () => {
    const out = runModule(`
      import { createRequire } from 'node:module';
      import * as m from ${JSON.stringify(esmEntry)};
      const cjs = createRequire(import.meta.url)(${JSON.stringify(path.join(root, 'dist', 'src', 'index.js'))});
      console.log(Object.keys(cjs).every((k) => m[k] === cjs[k]));
    `);
    assert.equal(out.trim(), 'true');
  });

  it('package.json declares import/require/types conditions for files that exist and are published', () => {
    const dot = pkg.exports['.'];
    assert.deepEqual(Object.keys(dot), ['import', 'require']);
    assert.deepEqual(Object.keys(dot.import), ['types', 'default'], '"types" must come first');
    assert.deepEqual(Object.keys(dot.require), ['types', 'default'], '"types" must come first');
    for (const file of [dot.import.types, dot.import.default, dot.require.types, dot.require.default, pkg.main, pkg.types]) {
      assert.ok(fs.existsSync(path.join(root, file)), `${file} does not exist`);
      assert.ok(pkg.files.some((f: string) => path.normalize(file).startsWith(f + path.sep)), `${file} is not in "files"`);
    }
    assert.equal(pkg.dependencies, undefined, 'must have zero runtime dependencies');
  });

  it('the README example runs and prints what the README says', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const example = /## Example[^\n]*\n+```js\n([\s\S]*?)```\n+prints\n+```text\n([\s\S]*?)```/.exec(readme);
    assert.ok(example, 'README has no "## Example" js block followed by its output');
    assert.equal(runModule(example[1]), example[2]);
  });
});
