// writePprofFile / writePprofFileSync: temp file in the same directory + rename; nothing half
// written, no temp file left behind on success or failure.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodePprof, encodePprof, writePprofFile, writePprofFileSync } from '../src';
import { handMadeProfile, randomProfile, rmDir, tmpDir } from './helpers';

// The real module object (not the import's read-only namespace), to inject failures and spies.
const realFs: any = require('node:fs');

describe('atomic write of pprof files', () => {
  let dir: string;
  beforeEach(() => { dir = tmpDir('atomic'); });
  afterEach(() => { rmDir(dir); });

  it('writePprofFile writes exactly encodePprof(input), and no temp file is left', async () => {
    const target = path.join(dir, 'cpu.pb.gz');
    await writePprofFile(target, handMadeProfile());
    assert.deepEqual(fs.readdirSync(dir), ['cpu.pb.gz']);
    // gzip output is deterministic for the same bytes (no mtime in zlib's header)
    assert.deepEqual(fs.readFileSync(target), encodePprof(handMadeProfile()));
  });

  it('writePprofFileSync writes exactly encodePprof(input), and no temp file is left', () => {
    const target = path.join(dir, 'cpu.pb.gz');
    writePprofFileSync(target, handMadeProfile());
    assert.deepEqual(fs.readdirSync(dir), ['cpu.pb.gz']);
    assert.deepEqual(fs.readFileSync(target), encodePprof(handMadeProfile()));
  });

  it('accepts a Profile built elsewhere (toPprof or decoded) as well as the input model', async () => {
    const target = path.join(dir, 'p.pb.gz');
    const p = decodePprof(encodePprof(handMadeProfile()));
    await writePprofFile(target, p);
    assert.deepEqual(decodePprof(fs.readFileSync(target)).sample.length, p.sample.length);
    writePprofFileSync(target, p);
    assert.deepEqual(decodePprof(fs.readFileSync(target)).sample.length, p.sample.length);
  });

  it('replaces an existing file', async () => {
    const target = path.join(dir, 'cpu.pb.gz');
    fs.writeFileSync(target, 'old content');
    await writePprofFile(target, handMadeProfile());
    assert.equal(decodePprof(fs.readFileSync(target)).sample.length, handMadeProfile().samples.length);
    assert.deepEqual(fs.readdirSync(dir), ['cpu.pb.gz']);
  });

  it('fails with ENOENT when the directory is missing, and creates nothing', async () => {
    const target = path.join(dir, 'no', 'such', 'dir', 'cpu.pb.gz');
    await assert.rejects(writePprofFile(target, handMadeProfile()), { code: 'ENOENT' });
    assert.throws(() => writePprofFileSync(target, handMadeProfile()), { code: 'ENOENT' });
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('removes its temp file when the rename fails (target is a directory)', async () => {
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    await assert.rejects(writePprofFile(target, handMadeProfile()), (e: NodeJS.ErrnoException) => typeof e.code === 'string');
    assert.throws(() => writePprofFileSync(target, handMadeProfile()), (e: NodeJS.ErrnoException) => typeof e.code === 'string');
    assert.deepEqual(fs.readdirSync(dir), ['taken']);
    assert.deepEqual(fs.readdirSync(target), ['keep']);
  });

  it('fails when the directory is not writable, leaving nothing behind', async function () {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions; use a path under a regular file instead (ENOTDIR).
      const file = path.join(dir, 'plain');
      fs.writeFileSync(file, '');
      await assert.rejects(writePprofFile(path.join(file, 'cpu.pb.gz'), handMadeProfile()), { code: 'ENOTDIR' });
      assert.deepEqual(fs.readdirSync(dir), ['plain']);
      return;
    }
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { mode: 0o555 });
    await assert.rejects(writePprofFile(path.join(ro, 'cpu.pb.gz'), handMadeProfile()), { code: 'EACCES' });
    assert.deepEqual(fs.readdirSync(ro), []);
  });

  it('renames a complete temp file from the same directory over the target', async () => {
    const target = path.join(dir, 'cpu.pb.gz');
    const expected = encodePprof(handMadeProfile());
    const seen: { from: string; to: string; bytes: Buffer; targetExisted: boolean }[] = [];
    const record = (from: string, to: string) => {
      seen.push({ from, to, bytes: fs.readFileSync(from), targetExisted: fs.existsSync(to) });
    };
    const origSync = fs.renameSync;
    const origAsync = fs.promises.rename;
    realFs.renameSync = (from: fs.PathLike, to: fs.PathLike) => { record(String(from), String(to)); origSync(from, to); };
    realFs.promises.rename = async (from: fs.PathLike, to: fs.PathLike) => { record(String(from), String(to)); await origAsync(from, to); };
    try {
      writePprofFileSync(target, handMadeProfile());
      fs.rmSync(target);
      await writePprofFile(target, handMadeProfile());
    } finally {
      realFs.renameSync = origSync;
      realFs.promises.rename = origAsync;
    }
    assert.equal(seen.length, 2);
    for (const s of seen) {
      assert.equal(s.to, target);
      assert.equal(path.dirname(s.from), dir, 'temp file in the target directory');
      assert.notEqual(s.from, target);
      assert.equal(s.targetExisted, false, 'the target appears only by the rename');
      assert.deepEqual(s.bytes, expected, 'the temp file is complete before the rename');
    }
  });

  it('removes the temp file and keeps the old target when writing fails midway', async () => {
    const target = path.join(dir, 'cpu.pb.gz');
    fs.writeFileSync(target, 'old');
    const eio = () => Object.assign(new Error('injected EIO'), { code: 'EIO' });
    const origFsync = fs.fsyncSync;
    realFs.fsyncSync = () => { throw eio(); };
    try {
      assert.throws(() => writePprofFileSync(target, handMadeProfile()), /injected EIO/);
    } finally {
      realFs.fsyncSync = origFsync;
    }
    const origRename = fs.promises.rename;
    realFs.promises.rename = async () => { throw eio(); };
    try {
      await assert.rejects(writePprofFile(target, handMadeProfile()), /injected EIO/);
    } finally {
      realFs.promises.rename = origRename;
    }
    assert.deepEqual(fs.readdirSync(dir), ['cpu.pb.gz']);
    assert.equal(fs.readFileSync(target, 'utf8'), 'old');
  });

  it('a reader never sees a partial file while many writers race on one target', async () => {
    const target = path.join(dir, 'race.pb.gz');
    const inputs = Array.from({ length: 12 }, (_, i) => randomProfile(i + 1, 200 + i * 50));
    const wanted = new Set(inputs.map((inp) => encodePprof(inp).toString('base64')));

    let stop = false;
    const reader = (async () => {
      while (!stop) {
        let bytes: Buffer | undefined;
        try { bytes = fs.readFileSync(target); } catch { /* not there yet */ }
        if (bytes) {

          assert.ok(wanted.has(bytes.toString('base64')), 'every read is one complete profile');
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(inputs.map((inp) => writePprofFile(target, inp)));
    stop = true;
    await reader;
    assert.ok(wanted.has(fs.readFileSync(target).toString('base64')));
    assert.deepEqual(fs.readdirSync(dir), ['race.pb.gz']);
  });
});
