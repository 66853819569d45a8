// Bad input: one clear line on stderr, exit code 2, nothing run and no file written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, cleanEnv, listDir, ptprof, rmDir, tmpDir } from './helpers';

describe('ptprof: bad input', function () {
  let dir: string;
  before(() => {
    dir = tmpDir('usage');
    // A program that would write a file if it ran: nothing may run.
    fs.writeFileSync(path.join(dir, 'ok.js'), "require('fs').writeFileSync('ran.txt', 'x');\n");
  });
  after(() => rmDir(dir));

  function bad(args: string[], message: RegExp, opts: { uid?: number; gid?: number } = {}): void {
    const before = listDir(dir);
    const r = ptprof(args, { cwd: dir, ...opts });
    assert.equal(r.status, 2, `exit code 2 for ${JSON.stringify(args)}; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '', 'nothing on stdout');
    const lines = r.stderr.split('\n');
    assert.equal(lines.length, 2, `one line on stderr: ${JSON.stringify(r.stderr)}`);
    assert.equal(lines[1], '');
    assert.match(lines[0], /^ptprof: /);
    assert.match(lines[0], message);
    assert.deepEqual(listDir(dir), before, 'no file written');
  }

  it('no command', () => bad([], /no command to profile \(usage: ptprof \[options\] -- node app\.js/));
  it("nothing after '--'", () => bad(['--hz', '200', '--'], /no command after '--'/));
  it('a script that does not exist (shorthand)', () => bad(['missing.js'], /script 'missing\.js' not found in .*put it after '--'/));
  it('the shorthand given a command instead of a script', () => bad(['node', 'ok.js'], /script 'node' not found .*ptprof -- node/));
  it('-- node script.js that does not exist', () => bad(['--', 'node', 'missing.js'], /script 'missing\.js' not found/));
  it('-- node with options, then a missing .mjs', () =>
    bad(['--', process.execPath, '--max-old-space-size=200', '--require', './ok.js', 'gone.mjs', 'arg'], /script 'gone\.mjs' not found/));
  it('an unknown option', () => bad(['--frobnicate', 'ok.js'], /unknown option '--frobnicate'.*--help/));
  it('--hz 0', () => bad(['--hz', '0', 'ok.js'], /--hz must be an integer from 1 to 10000 .*got '0'/));
  it('--hz abc', () => bad(['--hz', 'abc', 'ok.js'], /--hz must be an integer from 1 to 10000 .*got 'abc'/));
  it('--hz 10001', () => bad(['--hz=10001', 'ok.js'], /--hz must be an integer from 1 to 10000 .*got '10001'/));
  it('--hz without a value', () => bad(['--hz'], /--hz needs a value/));
  it('--threads foo', () => bad(['--threads', 'foo', 'ok.js'], /--threads must be 'all' .* or 'js' .*got 'foo'/));
  it('--format foo', () => bad(['--format', 'foo', 'ok.js'], /--format must be 'pprof', 'folded', 'speedscope' or 'cpuprofile'; got 'foo'/));
  it('--html with a format it cannot read back', () => bad(['--html', '--format', 'cpuprofile', 'ok.js'], /--html reads the profile back: use it with --format pprof or folded, not cpuprofile/));
  it('an output directory that does not exist', () =>
    bad(['-o', 'nodir/out.pb.gz', 'ok.js'], /cannot write .*nodir\/out\.pb\.gz: the directory .*nodir does not exist \(create it, or choose another -o\)/));
  it('an output that is a directory', () => {
    fs.mkdirSync(path.join(dir, 'adir'), { recursive: true });
    bad(['-o', 'adir', 'ok.js'], /cannot write .*adir: it is a directory/);
  });

  it('an output directory that cannot be written', () => {
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { recursive: true });
    if (process.getuid!() === 0) {
      // root writes anywhere: run ptprof as nobody, in a directory root owns.
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(ro, 0o755);
      bad(['-o', 'ro/out.pb.gz', 'ok.js'], /the directory .*ro is not writable \(EACCES\); choose another -o/, { uid: 65534, gid: 65534 });
    } else {
      fs.chmodSync(ro, 0o555);
      try {
        bad(['-o', 'ro/out.pb.gz', 'ok.js'], /the directory .*ro is not writable \(EACCES\); choose another -o/);
      } finally {
        fs.chmodSync(ro, 0o755);
      }
    }
  });

  it('a platform other than Linux', () => {
    const before = listDir(dir);
    const cli = path.join(path.dirname(BIN), 'cli.js');
    const code = `Object.defineProperty(process, 'platform', { value: 'darwin' });
      require(${JSON.stringify(cli)}).main(['ok.js']).then((c) => process.exit(c));`;
    const r = spawnSync(process.execPath, ['-e', code], { cwd: dir, env: cleanEnv(), encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'ptprof: profiling needs Linux (per-thread CPU timers); this is darwin. Run it on Linux, e.g. in a container\n');
    assert.deepEqual(listDir(dir), before);
  });

  it('ptprof top with a missing file, or no file', () => {
    bad(['top', 'nope.pb.gz'], /cannot read nope\.pb\.gz: no such file/);
    bad(['top'], /ptprof top needs a profile file/);
    bad(['top', 'ok.js', '-n', '0'], /-n must be a positive integer/);
  });

  it("the package's bin (a committed shim, executable) runs the CLI", () => {
    const shim = path.resolve(path.dirname(BIN), '..', '..', 'bin', 'ptprof.js');
    assert.ok((fs.statSync(shim).mode & 0o111) !== 0, 'bin/ptprof.js is executable');
    const r = spawnSync(shim, ['--version'], { cwd: dir, env: cleanEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ptprof \d+\.\d+\.\d+\n$/);
    assert.equal(fs.readFileSync(BIN, 'utf8').split('\n')[0], '#!/usr/bin/env node', 'the compiled bin.js keeps its shebang');
  });

  it('--help and --version print to stdout and exit 0', () => {
    const h = ptprof(['--help'], { cwd: dir });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^Usage: ptprof \[options\] -- <command> \[args\.\.\.\]/);
    assert.equal(h.stderr, '');
    const v = ptprof(['--version'], { cwd: dir });
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^ptprof \d+\.\d+\.\d+\n$/);
  });
});
