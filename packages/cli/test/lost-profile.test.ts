// Issue 19, case 1: a profile that cannot be written is never reported as success. What can be
// checked before the run is (the temporary name's length, another user's file in a sticky
// directory): one line, exit 2, nothing run. What fails after the run (ENOSPC, EPERM, a process
// that could not profile, one killed by SIGKILL) is said with its real reason, and ptprof exits
// 73 unless the program failed, whose status wins.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  NOBODY, assertNoRawControl, assertOneLine, fixture, isRoot, listDir, ptprof, ptprofAsync, readProfile, rmDir, stickyDirAsRoot,
  tmpDir, tmpDirWithOkJs,
} from './helpers';

describe('lost profiles: found before the run', function () {
  let dir: string;
  beforeEach(() => {
    dir = tmpDirWithOkJs('lost');
  });
  afterEach(() => rmDir(dir));

  it('a name whose temporary name would pass 255 bytes: exit 2, one line, nothing run or left', () => {
    // 230 bytes fit a file name (255) but not `.<name>.<pid>.<12 hex>.tmp` for a descendant.
    const name = `${'p'.repeat(224)}.pb.gz`;
    assert.equal(Buffer.byteLength(name), 230);
    const r = ptprof(['-o', name, 'ok.js'], { cwd: dir });
    assert.equal(r.status, 2, r.stderr);
    assertOneLine(r.stderr, /cannot write .*p{224}\.pb\.gz: the name is too long: each process writes through a temporary name up to 34 bytes longer \(264 bytes here\), over the file system's limit \(ENAMETOOLONG\); choose a shorter -o$/);
    assertNoRawControl(r);
    assert.deepEqual(listDir(dir), ['ok.js'], 'nothing ran, no probe left behind');
  });

  it("another user's file in a sticky directory (the rename would fail with EPERM): exit 2, one line", function () {
    const sticky = stickyDirAsRoot(this, dir, 'to own a file that the user running ptprof (nobody) does not');
    const theirs = path.join(sticky, 'out.pb.gz');
    fs.writeFileSync(theirs, 'not yours');
    const r = ptprof(['-o', 'shared/out.pb.gz', 'ok.js'], { cwd: dir, ...NOBODY });
    assert.equal(r.status, 2, r.stderr);
    assertOneLine(r.stderr, /cannot write .*shared\/out\.pb\.gz: it belongs to another user \(uid 0\) in the sticky directory .*shared, where only its owner may replace it; remove it or choose another -o$/);
    assertNoRawControl(r);
    assert.equal(fs.readFileSync(theirs, 'utf8'), 'not yours');
    assert.deepEqual(listDir(dir), ['ok.js', 'shared']);
    assert.deepEqual(listDir(sticky), ['out.pb.gz']);
  });
});

describe('lost profiles: found after the run', function () {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('lostafter');
  });
  afterEach(() => rmDir(dir));

  it('EPERM: a file planted during the run by another user in a sticky directory: exit 73 with the reason', async function () {
    const sticky = stickyDirAsRoot(this, dir, 'to plant a file as a second user while ptprof runs as nobody');
    // The program waits for 'go' (written by the test once it has planted the file).
    const app = path.join(dir, 'wait.js');
    fs.writeFileSync(app, `const fs = require('fs');
      console.log('ready');
      const t = Date.now();
      while (!fs.existsSync(${JSON.stringify(path.join(sticky, 'go'))}) && Date.now() - t < 20000) {}
      console.log('done');`);
    const planted = path.join(sticky, 'out.pb.gz');
    const r = await ptprofAsync(['-o', 'shared/out.pb.gz', app], {
      cwd: dir, ...NOBODY,
      onStdout: (out) => {
        if (out.includes('ready') && !fs.existsSync(planted)) {
          fs.writeFileSync(planted, 'planted by root');
          fs.writeFileSync(path.join(sticky, 'go'), '');
        }
      },
    });
    assert.equal(r.status, 73, r.stderr);
    assert.equal(r.stdout, 'ready\ndone\n');
    assert.match(r.stderr, /^ptprof: could not write shared\/out\.pb\.gz \(pid \d+, .*wait\.js\): EPERM: operation not permitted$/m);
    assert.doesNotMatch(r.stderr, /^ptprof: wrote /m);
    assertNoRawControl(r);
    assert.equal(fs.readFileSync(planted, 'utf8'), 'planted by root');
    assert.deepEqual(listDir(sticky), ['go', 'out.pb.gz'], 'no temporary file left');
  });

  it('ENOSPC: a full file system keeps the old file; exit 73, the reason on one line with -q', function () {
    if (!isRoot()) {
      console.log('      skipped: needs root, to mount a small tmpfs');
      this.skip();
    }
    const mnt = path.join(dir, 'full');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      console.log(`      skipped: cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()})`);
      this.skip();
    }
    try {
      fs.writeFileSync(path.join(mnt, 'out.pb.gz'), 'old');
      // Fill it: what is left cannot hold a profile (the empty probe file still fits).
      const fd = fs.openSync(path.join(mnt, 'filler'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(4096));
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
      const r = ptprof(['-q', '-o', path.join(mnt, 'out.pb.gz'), fixture('burn.js'), 'normal', '100'], { cwd: dir });
      assert.equal(r.status, 73, r.stderr);
      assert.equal(r.stdout, 'done true\n');
      assertOneLine(r.stderr, /^ptprof: could not write .*full\/out\.pb\.gz \(pid \d+, .*burn\.js normal 100\): ENOSPC: no space left on device$/);
      assertNoRawControl(r);
      assert.equal(fs.readFileSync(path.join(mnt, 'out.pb.gz'), 'utf8'), 'old', 'the old file is kept');
      assert.deepEqual(listDir(mnt), ['filler', 'out.pb.gz'], 'no temporary file left');
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it("the program's failure wins: it exits 3 and its profile cannot be written: exit 3, the reason said", () => {
    // The output directory is removed while the program runs: ENOENT at write time.
    const out = path.join(dir, 'gone');
    fs.mkdirSync(out);
    const app = path.join(dir, 'rm.js');
    fs.writeFileSync(app, `require('fs').rmSync(${JSON.stringify(out)}, { recursive: true }); process.exit(3);`);
    const r = ptprof(['-q', '-o', 'gone/out.pb.gz', app], { cwd: dir });
    assert.equal(r.status, 3, r.stderr);
    assertOneLine(r.stderr, /^ptprof: could not write gone\/out\.pb\.gz \(pid \d+, .*rm\.js\): ENOENT: no such file or directory$/);
    assertNoRawControl(r);
    assert.deepEqual(listDir(dir), ['rm.js']);
  });

  it('a process that could not profile (a bad value in its own environment): exit 73, the reason', () => {
    const app = path.join(dir, 'spawn.js');
    fs.writeFileSync(app, `const { spawnSync } = require('child_process');
      const r = spawnSync(process.execPath, ['-e', '1'], { env: { ...process.env, PTPROF_FRAMES: '0' }, stdio: 'inherit' });
      console.log('child', r.status);`);
    const r = ptprof(['-o', 'out.pb.gz', app], { cwd: dir });
    assert.equal(r.status, 73, r.stderr);
    assert.equal(r.stdout, 'child 0\n');
    assert.match(r.stderr, /^ptprof: wrote out\.pb\.gz \(pid \d+, .*spawn\.js\)$/m);
    assert.match(r.stderr, /^ptprof: no profile from pid \d+ \(.*node -e 1\): not profiling: PTPROF_FRAMES=0 is not an integer from 1 to 512 \(JS frames kept per sample\)$/m);
    assertNoRawControl(r);
    assert.equal(listDir(dir).filter((f) => f.endsWith('.pb.gz')).length, 1);
  });

  it('killed by SIGKILL: the signal wins (137), and the lost profile is said', () => {
    const app = path.join(dir, 'kill.js');
    fs.writeFileSync(app, "process.kill(process.pid, 'SIGKILL');");
    const r = ptprof(['-q', '-o', 'out.pb.gz', app], { cwd: dir });
    assert.equal(r.status, 137, r.stderr);
    assertOneLine(r.stderr, /^ptprof: no profile from pid \d+ \(.*kill\.js\): it ended without writing one \(killed by SIGKILL, or crashed\)$/);
    assertNoRawControl(r);
    assert.deepEqual(listDir(dir), ['kill.js']);
  });

  it('no Node process at all: exit 73, and why', () => {
    const r = ptprof(['-q', '--', 'sh', '-c', 'exit 0'], { cwd: dir });
    assert.equal(r.status, 73, r.stderr);
    assertOneLine(r.stderr, /^ptprof: no profile was written: the command started no Node\.js process, or gave its Node processes an environment without NODE_OPTIONS$/);
    assert.deepEqual(listDir(dir), []);
  });

  it('a profile written is still success: exit 0, the file valid', () => {
    const r = ptprof(['-q', '-o', 'out.pb.gz', fixture('burn.js'), 'normal', '50'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(readProfile(path.join(dir, 'out.pb.gz')).sample.length > 0);
  });
});
