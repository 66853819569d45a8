// Issue 19, cases 5-7: the environment and the paths a careless or hostile user gives. Bad tuning
// values are usage errors before the run (the agent alone warns once and runs unprofiled);
// PTPROF_ADDON_PATH loads only an absolute .node file, and says so; -o - and -o dir/; an agent
// already preloaded into ptprof itself; a report directory shared with a neighbour.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AGENT_PATH } from '../src/cli';
import {
  NATIVE, assertNoRawControl, assertOneLine, cleanEnv, fixture, listDir, ptprof, readProfile, rmDir, tmpDir, tmpDirWithOkJs,
} from './helpers';

describe('bad tuning values', function () {
  let dir: string;
  beforeEach(() => { dir = tmpDirWithOkJs('tuning'); });
  afterEach(() => rmDir(dir));

  const cases: [string, string, RegExp][] = [
    ['PTPROF_RING_BYTES', 'abc', /^ptprof: PTPROF_RING_BYTES=abc is not a power of two from 4096 to 67108864 \(bytes per thread\); fix or unset it$/],
    ['PTPROF_FRAMES', '0', /^ptprof: PTPROF_FRAMES=0 is not an integer from 1 to 512 \(JS frames kept per sample\); fix or unset it$/],
    ['PTPROF_COLLECT_MS', '-1', /^ptprof: PTPROF_COLLECT_MS=-1 is not an integer from 0 to 1000 \(milliseconds; 0: off\); fix or unset it$/],
    ['PTPROF_HZ', 'abc', /^ptprof: PTPROF_HZ=abc is not an integer from 1 to 10000 \(samples per second of CPU time\); fix or unset it$/],
  ];
  for (const [name, value, message] of cases) {
    it(`${name}=${value} under the CLI: a usage error, one line, exit 2, nothing run`, () => {
      const r = ptprof(['ok.js'], { cwd: dir, env: cleanEnv({ [name]: value }) });
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, message);
      assertNoRawControl(r);
      assert.deepEqual(listDir(dir), ['ok.js']);
    });
  }

  it('the agent alone (no CLI) never breaks the program: one warning for the whole process tree, the program runs', () => {
    const app = path.join(dir, 'tree.js');
    fs.writeFileSync(app, `const { spawnSync } = require('child_process');
      spawnSync(process.execPath, ['-e', "console.log('child ran')"], { stdio: 'inherit' });
      console.log('parent ran');`);
    const r = spawnSync(process.execPath, ['--require', AGENT_PATH, app], {
      cwd: dir, env: cleanEnv({ PTPROF_FRAMES: '0' }), encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'child ran\nparent ran\n');
    assertOneLine(r.stderr, /^ptprof: not profiling process \d+ \(nor, quietly, the Node processes it starts\): PTPROF_FRAMES=0 is not an integer from 1 to 512/);
    assertNoRawControl(r);
    assert.deepEqual(listDir(dir), ['ok.js', 'tree.js'], 'no profile');
  });
});

/** The environment of these tests: PREBUILDS_ONLY (set by test-node-versions) wins over PTPROF_ADDON_PATH. */
function addonEnv(value: string): NodeJS.ProcessEnv {
  const env = cleanEnv({ PTPROF_ADDON_PATH: value });
  delete env.PREBUILDS_ONLY;
  return env;
}

describe('PTPROF_ADDON_PATH', function () {
  let dir: string;
  beforeEach(() => { dir = tmpDir('addon'); });
  afterEach(() => rmDir(dir));

  for (const [what, value] of [['a relative path', 'evil.node'], ['JavaScript', 'evil.js']] as const) {
    it(`${what} is refused, never loaded: the program runs unprofiled, ptprof says why and exits 73`, () => {
      // Planted where a relative path would have found it: it would leave a mark if it ran.
      const evil = path.join(dir, value);
      fs.writeFileSync(evil, "require('fs').writeFileSync(__dirname + '/pwned', 'x');");
      const addon = value === 'evil.js' ? evil : value;
      const r = ptprof(['-q', '-o', 'out.pb.gz', fixture('burn.js'), 'normal', '20'], { cwd: dir, env: addonEnv(addon) });
      assert.equal(r.status, 73, r.stderr);
      assert.equal(r.stdout, 'done true\n');
      assertOneLine(r.stderr, /^ptprof: no profile from pid \d+ \(.*burn\.js normal 20\): not profiling: PTPROF_ADDON_PATH=".*evil\.(node|js)" is not the absolute path of a \.node file that exists/);
      assert.deepEqual(listDir(dir), [value], 'nothing loaded, no profile');
    });
  }

  it("an absolute path to a build of the addon is loaded, and each process says so on stderr", () => {
    const build = (require('node-gyp-build') as { path(dir: string): string }).path(NATIVE);
    const r = ptprof(['-q', '-o', 'out.pb.gz', fixture('burn.js'), 'normal', '50'], { cwd: dir, env: addonEnv(build) });
    assert.equal(r.status, 0, r.stderr);
    assertOneLine(r.stderr, new RegExp(`^ptprof: process \\d+: loaded a replacement addon \\(PTPROF_ADDON_PATH=${build.replace(/[.+]/g, '\\$&')}\\)$`));
    assert.ok(readProfile(path.join(dir, 'out.pb.gz')).sample.length > 0);
  });
});

describe('output paths and preloads', function () {
  let dir: string;
  beforeEach(() => { dir = tmpDirWithOkJs('paths'); });
  afterEach(() => rmDir(dir));

  it('-o - (stdout) is refused: one line, exit 2, no file named -', () => {
    for (const args of [['-o', '-', 'ok.js'], ['-o-', 'ok.js'], ['--output=-', 'ok.js']]) {
      const r = ptprof(args, { cwd: dir });
      assert.equal(r.status, 2, r.stderr);
      assertOneLine(r.stderr, /-: cannot write the profile to stdout \(the program's stdout is its own\); give a file name$/);
      assert.deepEqual(listDir(dir), ['ok.js']);
    }
  });

  it('-o dir/ writes the default name inside dir; -o missing/ is refused', () => {
    fs.mkdirSync(path.join(dir, 'profiles'));
    const r = ptprof(['-q', '-o', 'profiles/', fixture('burn.js'), 'normal', '20'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(listDir(path.join(dir, 'profiles')), [`ptprof.${r.pid}.pb.gz`]);
    assert.deepEqual(listDir(dir), ['ok.js', 'profiles'], 'no file named profiles');
    const bad = ptprof(['-o', 'missing/', 'ok.js'], { cwd: dir });
    assert.equal(bad.status, 2);
    assertOneLine(bad.stderr, /the directory .*missing does not exist \(create it, or choose another -o\)$/);
    assert.deepEqual(listDir(dir), ['ok.js', 'profiles']);
  });

  it('NODE_OPTIONS already preloading the agent: ptprof does not profile itself, no stray file', () => {
    const r = ptprof(['-o', 'out.pb.gz', fixture('burn.js'), 'normal', '30'], {
      cwd: dir, env: cleanEnv({ NODE_OPTIONS: `--require ${AGENT_PATH}` }),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(listDir(dir), ['ok.js', 'out.pb.gz'], 'no ptprof.<pid>.pb.gz of the ptprof process');
    assert.equal((r.stderr.match(/^ptprof: wrote /gm) ?? []).length, 1, r.stderr);
    assertNoRawControl(r);
  });

  it('PTPROF_REPORT_DIR set by hand to a shared directory: a planted symlink is not followed', () => {
    const shared = path.join(dir, 'shared');
    fs.mkdirSync(shared);
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    // The neighbour guesses the pid (here the program plants the links itself, for its own pid)
    // and links the names the agent writes its report through to the victim. (The agent's
    // `<pid>.start` mark, written before the program runs, is created with O_EXCL, which never
    // follows a link.)
    const app = path.join(dir, 'app.js');
    fs.writeFileSync(app, `const fs = require('fs'), path = require('path');
      for (const n of [process.pid + '.json', process.pid + '.json.tmp'])
        fs.symlinkSync(${JSON.stringify(victim)}, path.join(${JSON.stringify(shared)}, n));
      console.log('planted');`);
    const r = spawnSync(process.execPath, ['--require', AGENT_PATH, app], {
      cwd: dir, env: cleanEnv({ PTPROF_REPORT_DIR: shared, PTPROF_OUTPUT: path.join(dir, 'out.pb.gz') }), encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'planted\n');
    assert.equal(r.stderr, '');
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious', 'the victim is untouched');
    const report = fs.readdirSync(shared).find((n) => /^\d+\.json$/.test(n))!;
    assert.ok(fs.lstatSync(path.join(shared, report)).isFile(), 'the report replaced the link: a regular file');
    assert.equal(JSON.parse(fs.readFileSync(path.join(shared, report), 'utf8')).state, 'written');
    assert.ok(fs.existsSync(path.join(dir, 'out.pb.gz')));
  });
});
