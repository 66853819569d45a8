// Write a whole file or nothing: write a temporary file in the target's directory, fsync it, then
// rename it over the target (rename within one file system is atomic). On any error the
// temporary file is removed and the error is rethrown; the target is never half-written.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The temporary name used next to `target`: `.<basename>.<pid>.<random>.tmp` (hidden, same dir).
 * It is longer than the target's name by 21 bytes plus the pid's digits: a caller that must know
 * in advance whether a name fits the file system can try this name with the largest pid.
 */
export function tempPathFor(target: string, pid: number = process.pid): string {
  const dir = path.dirname(target);
  const rand = crypto.randomBytes(6).toString('hex');
  return path.join(dir, `.${path.basename(target)}.${pid}.${rand}.tmp`);
}

/**
 * What was written, as the file system knows it (from the open file, before the rename): a
 * reader can check that the file at the target is still the one written, not one put there since.
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
}

function identity(st: fs.Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size };
}

export function writeFileAtomicSync(target: string, data: Uint8Array | string, mode = 0o644): FileIdentity {
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    const id = identity(fs.fstatSync(fd));
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
    return id;
  } catch (err) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* never created, or already gone */ }
    throw err;
  }
}

export async function writeFileAtomic(target: string, data: Uint8Array | string, mode = 0o644): Promise<FileIdentity> {
  const tmp = tempPathFor(target);
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(tmp, 'wx', mode);
    await fh.writeFile(data);
    await fh.sync();
    const id = identity(await fh.stat());
    await fh.close();
    fh = undefined;
    await fs.promises.rename(tmp, target);
    return id;
  } catch (err) {
    if (fh !== undefined) {
      try { await fh.close(); } catch { /* already failing */ }
    }
    try { await fs.promises.unlink(tmp); } catch { /* never created, or already gone */ }
    throw err;
  }
}
