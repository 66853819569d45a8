// Reading pprof profiles back: decoding, `top` tables and per-thread totals. Works on any pprof
// profile that has a 'samples' and/or 'cpu' sample type, not only on the ones this package writes.
import * as zlib from 'node:zlib';
import { Profile } from 'pprof-format';
import { printable } from './text';

type Numeric = number | bigint;

/** pprof-format decodes varints longer than 4 bytes as bigint; int64 fields may be negative. */
export function toNumber(v: Numeric | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === 'bigint') return Number(BigInt.asIntN(64, v));
  return v;
}

export interface DecodeOptions {
  /**
   * Refuse to decompress more than this many bytes (a ProfileReadError 'too-large'): a small
   * gzip can expand a thousandfold. Default: no limit.
   */
  maxBytes?: number;
}

/** Why a profile could not be read, for a message: see readProfileFile. */
export type ProfileReadErrorCode = 'not-regular' | 'too-large' | 'bad-gzip' | 'not-profile' | 'invalid' | 'changed';

/** A profile that cannot be read; `code` says why, the message says it for people. */
export class ProfileReadError extends Error {
  override readonly name = 'ProfileReadError';
  constructor(readonly code: ProfileReadErrorCode, message: string) {
    super(message);
  }
}

/** Whether these bytes are gzipped. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Whether these bytes are a pprof profile (gzipped or not) rather than text: folded stacks are
 * printable text, a protobuf starts with a field tag (0x0a: sample_type).
 */
export function isPprofBytes(buf: Uint8Array): boolean {
  return isGzip(buf) || (buf.length > 0 && buf[0] === 0x0a);
}

/** gunzip with a cap on the output; errors as ProfileReadError ('too-large', 'bad-gzip'). */
export function gunzipBounded(buf: Uint8Array, maxBytes = Infinity): Buffer {
  try {
    return zlib.gunzipSync(buf, Number.isFinite(maxBytes) ? { maxOutputLength: Math.max(1, maxBytes) } : {});
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ProfileReadError('too-large', `decompresses to more than ${maxBytes} bytes`);
    }
    // Z_BUF_ERROR: the stream ends early; Z_DATA_ERROR: bad bytes or checksum.
    throw new ProfileReadError('bad-gzip', `is a truncated or corrupt gzip (${code ?? (e as Error).message})`);
  }
}

/** Decodes pprof bytes, gunzipping them first when they are gzipped. */
export function decodePprof(buf: Uint8Array, options: DecodeOptions = {}): Profile {
  const max = options.maxBytes ?? Infinity;
  const bytes = isGzip(buf) ? gunzipBounded(buf, max) : buf;
  if (bytes.length > max) throw new ProfileReadError('too-large', `is larger than ${max} bytes`);
  return Profile.decode(bytes);
}

/** The string at `index` of the profile's string table ('' when out of range). */
export function stringAt(profile: Profile, index: Numeric): string {
  return profile.stringTable.strings[toNumber(index)] ?? '';
}

export type SampleTypeName = 'cpu' | 'samples';

/** Index of the sample type named `type` (e.g. 'cpu'), or throws. */
export function sampleTypeIndex(profile: Profile, type: SampleTypeName | string): number {
  const i = profile.sampleType.findIndex((t) => stringAt(profile, t.type) === type);
  if (i < 0) {
    const have = profile.sampleType.map((t) => stringAt(profile, t.type)).join(', ');
    throw new Error(`pprof-writer: profile has no sample type '${type}' (it has: ${have || 'none'})`);
  }
  return i;
}

/** Sum of one sample type over all samples. */
export function sampleTotal(profile: Profile, type: SampleTypeName = 'cpu'): number {
  const i = sampleTypeIndex(profile, type);
  let total = 0;
  for (const s of profile.sample) total += toNumber(s.value[i]);
  return total;
}

export interface TopRow {
  name: string;
  file: string;
  /** Value where this function was the leaf. */
  flat: number;
  flatPct: number;
  /** Value of every sample with this function anywhere on its stack (counted once per sample). */
  cum: number;
  cumPct: number;
}

export interface TopOptions {
  /** How many rows; default all. */
  n?: number;
  /** Which value to rank by; default 'cpu'. */
  sampleType?: SampleTypeName;
}

/**
 * Functions ranked by flat value (then cum, then name), grouped by (name, file). Percentages are of
 * the total of the sample type over all samples (stackless samples included).
 */
export function topFunctions(profile: Profile, options: TopOptions = {}): TopRow[] {
  const n = options.n ?? Infinity;
  if (typeof n !== 'number' || Number.isNaN(n) || n < 0) throw new TypeError('pprof-writer: options.n must be a number >= 0');
  const vi = sampleTypeIndex(profile, options.sampleType ?? 'cpu');

  // Groups are numbered, and every map below is keyed by number: this runs once per frame of every
  // sample (the CLI's summary reads a whole tree's profile), and building a string per frame was
  // most of its time.
  const groupKeys: string[] = [];
  const groupOf = new Map<string, number>();
  const group = (key: string): number => {
    let g = groupOf.get(key);
    if (g === undefined) {
      g = groupKeys.push(key) - 1;
      groupOf.set(key, g);
    }
    return g;
  };
  const fnGroup = new Map<number, number>(); // function id -> group
  for (const f of profile.function) fnGroup.set(toNumber(f.id), group(JSON.stringify([stringAt(profile, f.name), stringAt(profile, f.filename)])));
  const unknown = (): number => group(JSON.stringify(['?', '']));
  const locGroups = new Map<number, number[]>(); // location id -> groups, leaf (innermost) first
  for (const loc of profile.location) {
    const groups = loc.line.map((l) => fnGroup.get(toNumber(l.functionId)) ?? unknown());
    if (groups.length === 0) groups.push(group(JSON.stringify([`0x${toNumber(loc.address).toString(16)}`, ''])));
    locGroups.set(toNumber(loc.id), groups);
  }

  const flatBy: number[] = [];
  const cumBy: number[] = [];
  const seenIn: number[] = []; // group -> the last sample (1-based) that counted it in cum
  let total = 0;
  // Plain loops: this code runs once per process, mostly before V8 optimizes it.
  const samples = profile.sample;
  for (let si = 0; si < samples.length; si++) {
    const s = samples[si]!;
    const v = toNumber(s.value[vi]);
    total += v;
    const ids = s.locationId;
    for (let depth = 0; depth < ids.length; depth++) {
      const groups = locGroups.get(toNumber(ids[depth]!)) ?? [unknown()];
      for (let j = 0; j < groups.length; j++) {
        const g = groups[j]!;
        if (depth === 0 && j === 0) flatBy[g] = (flatBy[g] ?? 0) + v;
        if (seenIn[g] !== si + 1) {
          seenIn[g] = si + 1;
          cumBy[g] = (cumBy[g] ?? 0) + v;
        }
      }
    }
  }
  const flat = new Map<string, number>();
  const cum = new Map<string, number>();
  groupKeys.forEach((k, g) => {
    if (flatBy[g] !== undefined) flat.set(k, flatBy[g]!);
    if (cumBy[g] !== undefined) cum.set(k, cumBy[g]!);
  });

  return rankTopRows(flat, cum, total, n);
}

/**
 * The rows of a `top` table from flat and cumulative values keyed by JSON.stringify([name, file]):
 * ranked by flat value, then cum, then name, then file; the first n. Shared by topFunctions and by
 * readers of other formats (the CLI's folded stacks).
 */
export function rankTopRows(flat: ReadonlyMap<string, number>, cum: ReadonlyMap<string, number>, total: number, n = Infinity): TopRow[] {
  const pct = (x: number): number => (total === 0 ? 0 : (x / total) * 100);
  const rows: TopRow[] = [...cum.keys()].map((k) => {
    const [name, file] = JSON.parse(k) as [string, string];
    const f = flat.get(k) ?? 0;
    const c = cum.get(k) ?? 0;
    return { name, file, flat: f, flatPct: pct(f), cum: c, cumPct: pct(c) };
  });
  rows.sort((a, b) => b.flat - a.flat || b.cum - a.cum || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return rows.slice(0, n);
}

/** Formats a value of `unit`: nanoseconds auto-scaled like pprof (`1.50s`, `20ms`), counts as integers. */
export function formatValue(v: number, unit: 'nanoseconds' | 'count' = 'nanoseconds'): string {
  if (unit === 'count') return String(Math.round(v));
  const abs = Math.abs(v);
  const scales: [number, string][] = [[3600e9, 'hrs'], [60e9, 'mins'], [1e9, 's'], [1e6, 'ms'], [1e3, 'us']];
  let div = 1;
  let suffix = 'ns';
  for (const [d, s] of scales) {
    if (abs >= d) { div = d; suffix = s; break; }
  }
  const text = (v / div).toFixed(2).replace(/\.?0+$/, '');
  return text + suffix;
}

/** Longest function name (with its file) printed in a top table. */
export const MAX_NAME_CHARS = 500;

function formatPct(p: number): string {
  if (p >= 99.995 && p <= 100.005) return '100%';
  return p.toFixed(2) + '%';
}

export interface FormatTopOptions {
  /** Unit of the rows' values; default 'nanoseconds' (use 'count' for sampleType 'samples'). */
  unit?: 'nanoseconds' | 'count';
}

/**
 * A table like `go tool pprof -top`:
 *
 *     Showing nodes accounting for 1.50s, 75.00% of 2s total
 *           flat  flat%   sum%        cum   cum%
 *          1.50s 75.00% 75.00%         2s   100%  fib (/app/x.js)
 *
 * `total` is the total of the sample type (see sampleTotal); rows come from topFunctions.
 */
export function formatTop(rows: readonly TopRow[], total: number, options: FormatTopOptions = {}): string {
  const unit = options.unit ?? 'nanoseconds';
  const fv = (v: number): string => formatValue(v, unit);
  const pct = (x: number): number => (total === 0 ? 0 : (x / total) * 100);
  let shown = 0;
  for (const r of rows) shown += r.flat;
  const out: string[] = [];
  out.push(`Showing nodes accounting for ${fv(shown)}, ${formatPct(pct(shown))} of ${fv(total)} total`);
  out.push(`${'flat'.padStart(10)} ${'flat%'.padStart(6)} ${'sum%'.padStart(6)} ${'cum'.padStart(10)} ${'cum%'.padStart(6)}`);
  let sum = 0;
  for (const r of rows) {
    sum += r.flat;
    // Names come from the file: escaped (no terminal control sequences) and cut to a sane length.
    const name = printable(r.file ? `${r.name} (${r.file})` : r.name, MAX_NAME_CHARS);
    out.push(`${fv(r.flat).padStart(10)} ${formatPct(pct(r.flat)).padStart(6)} ${formatPct(pct(sum)).padStart(6)} `
      + `${fv(r.cum).padStart(10)} ${formatPct(pct(r.cum)).padStart(6)}  ${name}`);
  }
  return out.join('\n') + '\n';
}

/** Which thread a sample is of, from its labels; each field undefined when its label is absent. */
export interface SampleThread {
  /** The `thread_id` label (numeric, or a string label parsed as a number). */
  threadId?: number;
  /** The `thread_name` label. */
  threadName?: string;
  /** The `thread_kind` label ('js': the thread ran JS; 'native': it did not). */
  threadKind?: string;
}

/**
 * The thread labels of one sample: `thread_id`, `thread_name` and `thread_kind` (ptprof's), also
 * when written with a space (`thread id`, `thread name`), as some other profilers write them.
 */
export function sampleThread(profile: Profile, sample: Profile['sample'][number]): SampleThread {
  const out: SampleThread = {};
  for (const l of sample.label) {
    const k = stringAt(profile, l.key).replace(/ /g, '_');
    if (k === 'thread_id') {
      const id = toNumber(l.str) !== 0 ? Number(stringAt(profile, l.str)) : toNumber(l.num);
      if (Number.isFinite(id)) out.threadId = id;
      else delete out.threadId;
    } else if (k === 'thread_name') {
      out.threadName = toNumber(l.str) !== 0 ? stringAt(profile, l.str) : String(toNumber(l.num));
    } else if (k === 'thread_kind') {
      out.threadKind = stringAt(profile, l.str);
    }
  }
  return out;
}

export interface ThreadTotal extends SampleThread {
  samples: number;
  cpuNanos: number;
}

/**
 * Per-thread totals, grouped by the thread labels (sampleThread), sorted by CPU (then samples)
 * descending. Sample types that the profile lacks count as 0.
 */
export function threadTotals(profile: Profile): ThreadTotal[] {
  const find = (t: string): number => profile.sampleType.findIndex((st) => stringAt(profile, st.type) === t);
  const si = find('samples');
  const ci = find('cpu');
  const groups = new Map<string, ThreadTotal>();
  for (const s of profile.sample) {
    const { threadId, threadName, threadKind } = sampleThread(profile, s);
    const key = JSON.stringify([threadId ?? null, threadName ?? null, threadKind ?? null]);
    let g = groups.get(key);
    if (!g) {
      g = { samples: 0, cpuNanos: 0 };
      if (threadId !== undefined) g.threadId = threadId;
      if (threadName !== undefined) g.threadName = threadName;
      if (threadKind !== undefined) g.threadKind = threadKind;
      groups.set(key, g);
    }
    if (si >= 0) g.samples += toNumber(s.value[si]);
    if (ci >= 0) g.cpuNanos += toNumber(s.value[ci]);
  }
  return [...groups.values()].sort((a, b) => b.cpuNanos - a.cpuNanos || b.samples - a.samples
    || (a.threadId ?? -1) - (b.threadId ?? -1));
}
