// Writing pprof files atomically: a temporary file in the same directory, then rename.
import type { Profile } from 'pprof-format';
import { writeFileAtomic, writeFileAtomicSync, type FileIdentity } from './atomic';
import { encodePprof, encodePprofAsync } from './pprof';
import type { ProfileInput } from './types';

/**
 * Writes the gzipped pprof of `input` to `path`. The bytes go to a temporary file next to `path`
 * that is renamed over it, so `path` is either absent/old or complete; on error the temporary
 * file is removed and the error is rethrown. The profile is built (and validated) before any file
 * is touched.
 */
export async function writePprofFile(path: string, input: ProfileInput | Profile): Promise<FileIdentity> {
  return writeFileAtomic(path, await encodePprofAsync(input));
}

/** Synchronous writePprofFile; returns the written file's identity (device, inode, size). */
export function writePprofFileSync(path: string, input: ProfileInput | Profile): FileIdentity {
  return writeFileAtomicSync(path, encodePprof(input));
}
