// Write a whole file or nothing: write a temporary file in the target's directory, fsync it, then
// rename it over the target (rename within one file system is atomic). On any error the
// temporary file is removed and the error is rethrown; the target is never half-written.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The temporary name used next to `target`: `.<basename>.<pid>.<random>.tmp` (hidden, same dir). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const rand = crypto.randomBytes(6).toString('hex');
  return path.join(dir, `.${path.basename(target)}.${process.pid}.${rand}.tmp`);
}

export function writeFileAtomicSync(target: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* never created, or already gone */ }
    throw err;
  }
}

export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(target);
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.promises.rename(tmp, target);
  } catch (err) {
    if (fh !== undefined) {
      try { await fh.close(); } catch { /* already failing */ }
    }
    try { await fs.promises.unlink(tmp); } catch { /* never created, or already gone */ }
    throw err;
  }
}
