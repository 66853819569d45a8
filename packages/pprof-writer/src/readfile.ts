// Reading a profile file that may come from anyone: a device or a pipe is refused unless asked
// for, no more than a given number of bytes is read or decompressed (a 200 KB gzip can hold
// gigabytes), and a decoded pprof is checked before anyone adds up its numbers (out-of-range
// string indices, missing locations, negative or unsafe values).
import * as fs from 'node:fs';
import type { Profile } from 'pprof-format';
import { ProfileReadError, decodePprof, isPprofBytes, toNumber } from './read';

/** The default cap of readProfileFile: 16 MiB of file, and of pprof once decompressed. */
export const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024;

export interface ReadProfileOptions {
  /** Refuse files (and decompressed pprof) larger than this; default DEFAULT_MAX_READ_BYTES. */
  maxBytes?: number;
  /** Read a file that is not a regular file (a pipe, a device); default false. */
  allowSpecial?: boolean;
  /**
   * Read the file only if it is still this one (what writePprofFileSync returned): checked on the
   * open file, so a file put in its place since it was written is never read ('changed').
   */
  expect?: { dev: number; ino: number; size: number };
}

export type ProfileFile =
  | { format: 'pprof'; profile: Profile }
  | { format: 'folded'; text: string };

/** '32 MiB' for 33554432, '1000 bytes' for 1000. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a pipe';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function readAll(fd: number, max: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, max + 1 - total));
    const n = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    total += n;
    if (total > max) throw new ProfileReadError('too-large', `is larger than ${formatBytes(max)}`);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Reads a pprof (gzipped or not) or folded-stacks file. Throws a ProfileReadError for a file that
 * is not a regular file (unless allowSpecial), too large, a truncated or corrupt gzip, not a
 * profile, or an invalid pprof; file system errors (ENOENT, EACCES) are thrown as they are.
 */
export function readProfileFile(file: string, options: ReadProfileOptions = {}): ProfileFile {
  const max = options.maxBytes ?? DEFAULT_MAX_READ_BYTES;
  if (!(max > 0)) throw new TypeError('pprof-writer: options.maxBytes must be a number > 0');
  // stat before open: opening a pipe for reading waits for a writer.
  const st = fs.statSync(file);
  if (st.isDirectory()) throw new ProfileReadError('not-profile', 'is a directory');
  if (!st.isFile() && !options.allowSpecial) throw new ProfileReadError('not-regular', `is ${kindOf(st)}, not a regular file`);
  // O_NONBLOCK: if the file was swapped for a pipe since the stat, open does not wait for a writer.
  const flags = fs.constants.O_RDONLY | (options.allowSpecial ? 0 : fs.constants.O_NONBLOCK);
  const fd = fs.openSync(file, flags);
  let buf: Buffer;
  try {
    const now = fs.fstatSync(fd);
    if (!now.isFile() && !options.allowSpecial) throw new ProfileReadError('not-regular', `is ${kindOf(now)}, not a regular file`);
    const ex = options.expect;
    if (ex && (now.dev !== ex.dev || now.ino !== ex.ino || now.size !== ex.size)) {
      throw new ProfileReadError('changed', 'is not the file that was written (it was replaced or changed since)');
    }
    if (now.isFile() && now.size > max) throw new ProfileReadError('too-large', `is larger than ${formatBytes(max)}`);
    buf = readAll(fd, max);
  } finally {
    fs.closeSync(fd);
  }
  if (isPprofBytes(buf)) {
    let profile: Profile;
    try {
      profile = decodePprof(buf, { maxBytes: max });
    } catch (e) {
      if (e instanceof ProfileReadError) {
        if (e.code === 'too-large') throw new ProfileReadError('too-large', `decompresses to more than ${formatBytes(max)}`);
        throw e;
      }
      throw new ProfileReadError('not-profile', `is not a pprof profile (${(e as Error).message})`);
    }
    validateProfile(profile);
    return { format: 'pprof', profile };
  }
  return { format: 'folded', text: buf.toString('utf8') };
}

function invalid(what: string): never {
  throw new ProfileReadError('invalid', `is not a valid pprof profile: ${what}`);
}

/**
 * Throws a ProfileReadError ('invalid') naming the first thing in `profile` that a reader cannot
 * add up or name honestly: a string index outside the string table, a sample whose values do not
 * match the sample types or are negative or beyond 2^53, a location or function that does not
 * exist, totals that overflow.
 */
export function validateProfile(profile: Profile): void {
  const nStrings = profile.stringTable.strings.length;
  const str = (v: number | bigint | undefined, where: string): void => {
    const i = toNumber(v);
    if (!(Number.isSafeInteger(i) && i >= 0 && i < nStrings)) invalid(`${where} is string ${i}, but the string table has ${nStrings}`);
  };
  const types = profile.sampleType.length;
  if (types === 0) invalid('no sample types');
  profile.sampleType.forEach((t, i) => {
    str(t.type, `sample type ${i}`);
    str(t.unit, `the unit of sample type ${i}`);
  });
  profile.comment.forEach((c, i) => str(c, `comment ${i}`));
  const functions = new Set<number>();
  profile.function.forEach((f, i) => {
    str(f.name, `the name of function ${i}`);
    str(f.systemName, `the system name of function ${i}`);
    str(f.filename, `the file name of function ${i}`);
    functions.add(toNumber(f.id));
  });
  const locations = new Set<number>();
  profile.location.forEach((l, i) => {
    for (const line of l.line) {
      if (!functions.has(toNumber(line.functionId))) invalid(`location ${i} names function ${toNumber(line.functionId)}, which does not exist`);
    }
    locations.add(toNumber(l.id));
  });
  const totals = new Array<number>(types).fill(0);
  profile.sample.forEach((s, i) => {
    if (s.value.length !== types) invalid(`sample ${i} has ${s.value.length} values for ${types} sample types`);
    s.value.forEach((v, j) => {
      const n = toNumber(v);
      if (!Number.isSafeInteger(n)) invalid(`sample ${i} has the value ${String(v)}, beyond 2^53`);
      if (n < 0) invalid(`sample ${i} has the negative value ${n} (diff profiles are not supported)`);
      totals[j] += n;
    });
    for (const id of s.locationId) {
      if (!locations.has(toNumber(id))) invalid(`sample ${i} names location ${toNumber(id)}, which does not exist`);
    }
    s.label.forEach((l, j) => {
      str(l.key, `label ${j} of sample ${i}`);
      str(l.str, `the value of label ${j} of sample ${i}`);
    });
  });
  totals.forEach((t, j) => {
    if (!Number.isSafeInteger(t)) invalid(`the total of sample type ${j} is beyond 2^53`);
  });
  const d = toNumber(profile.durationNanos);
  if (!(Number.isSafeInteger(d) && d >= 0)) invalid(`the duration ${d} is negative or beyond 2^53`);
}
