// Validation and normalisation of ProfileInput, and merging of identical rows. Shared by the pprof
// and the folded writers so that both accept and reject exactly the same input.
import { formatFacts } from './facts';
import type { ProfileInput } from './types';

export const ANONYMOUS = '(anonymous)';
/**
 * The one frame given to a sample that has none: `go tool pprof` counts stackless samples in
 * totals but leaves them out of -raw, -tags and -traces, so every sample gets a location.
 */
export const NO_STACK_FRAME = '(no stack)';
const NO_STACK = Object.freeze({ name: NO_STACK_FRAME });

export interface NormFrame {
  name: string;
  file: string; // '' = unknown
  line: number; // 0 = unknown
  column: number; // 0 = unknown
  startLine: number; // 0 = unknown
  systemName: string; // = name unless given
  inlined: boolean; // shares a location with the next frame (its caller)
}

export type NormLabel = [key: string, value: string | number];

export interface NormRow {
  frameIds: number[]; // indexes into NormProfile.frames, leaf first
  frames: NormFrame[];
  count: number;
  cpuNanos: number; // may be fractional until written
  labels: NormLabel[]; // sorted by key
}

export interface NormProfile {
  rows: NormRow[]; // merged, in order of first appearance
  frames: NormFrame[]; // distinct frames (name, file, line, column), in order of first appearance
  periodNanos: number; // whole ns, >= 1
  startTimeNanos: bigint; // 0n = unknown
  durationNanos: number; // whole ns, 0 = unknown
  comments: string[];
  mappingFile: string;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function fail(field: string, want: string, got: unknown): never {
  throw new TypeError(`pprof-writer: ${field} must be ${want}, got ${describe(got)}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonNegInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(field, 'a non-negative integer', v);
  }
  return v;
}

function nonNegFinite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    fail(field, 'a finite number >= 0', v);
  }
  return v;
}

function optString(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(field, 'a string', v);
  return v;
}

function optLineNumber(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  return nonNegInt(v, field);
}

/** Validates `input` (throwing a TypeError that names the offending field) and merges identical rows. */
export function normalize(input: ProfileInput): NormProfile {
  if (!isRecord(input)) fail('input', 'an object', input);
  const inp = input as unknown as Record<string, unknown>;

  const p = inp.periodNanos;
  if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > Number.MAX_SAFE_INTEGER) {
    fail('periodNanos', 'a finite number > 0', p);
  }
  const periodNanos = Math.max(1, Math.round(p));

  let startTimeNanos = 0n;
  const st = inp.startTimeNanos;
  if (st !== undefined && st !== null) {
    if (typeof st === 'bigint') {
      if (st < 0n || st >= 2n ** 63n) fail('startTimeNanos', 'a bigint in [0, 2^63)', st);
      startTimeNanos = st;
    } else if (typeof st === 'number' && Number.isFinite(st) && st >= 0 && st < 2 ** 63) {
      startTimeNanos = BigInt(Math.round(st));
    } else {
      fail('startTimeNanos', 'a finite number >= 0 or a bigint', st);
    }
  }

  let durationNanos = 0;
  if (inp.durationNanos !== undefined && inp.durationNanos !== null) {
    durationNanos = Math.round(nonNegFinite(inp.durationNanos, 'durationNanos'));
  }

  const comments: string[] = [];
  if (inp.facts !== undefined && inp.facts !== null) {
    if (!isRecord(inp.facts)) fail('facts', 'an object', inp.facts);
    comments.push(...formatFacts(inp.facts as Record<string, string | number | boolean>));
  }
  if (inp.comments !== undefined && inp.comments !== null) {
    if (!Array.isArray(inp.comments)) fail('comments', 'an array of strings', inp.comments);
    inp.comments.forEach((c, i) => {
      if (typeof c !== 'string') fail(`comments[${i}]`, 'a string', c);
      comments.push(c);
    });
  }

  let mappingFile = process.execPath;
  if (inp.mappingFile !== undefined && inp.mappingFile !== null) {
    if (typeof inp.mappingFile !== 'string') fail('mappingFile', 'a string', inp.mappingFile);
    mappingFile = inp.mappingFile;
  }

  if (!Array.isArray(inp.samples)) fail('samples', 'an array', inp.samples);

  // Distinct frames, in order of first appearance; a frame's index in this table is its identity.
  // Keys are length-prefixed so that no name or file can make two different frames collide.
  const frameTable: NormFrame[] = [];
  const frameIndex = new Map<string, number>();
  const byObject = new Map<object, number>(); // producers usually share frame objects: validate each once
  // Field names are built only on failure: this runs once per frame of every row.
  const intern = (f: unknown, i: number, j: number): number => {
    if (!isRecord(f)) fail(`samples[${i}].frames[${j}]`, 'an object', f);
    const known = byObject.get(f);
    if (known !== undefined) return known;
    const fat = `samples[${i}].frames[${j}]`;
    if (typeof f.name !== 'string') fail(`${fat}.name`, 'a string', f.name);
    const name = f.name === '' ? ANONYMOUS : f.name;
    const file = optString(f.file, `${fat}.file`);
    const line = optLineNumber(f.line, `${fat}.line`);
    const column = optLineNumber(f.column, `${fat}.column`);
    const startLine = f.startLine === undefined ? line : optLineNumber(f.startLine, `${fat}.startLine`);
    optLineNumber(f.startColumn, `${fat}.startColumn`); // checked; pprof has no place for it
    const systemName = f.systemName === undefined || f.systemName === '' ? name : optString(f.systemName, `${fat}.systemName`);
    if (f.inlined !== undefined && typeof f.inlined !== 'boolean') fail(`${fat}.inlined`, 'a boolean', f.inlined);
    const inlined = f.inlined === true;
    const key = `${line}:${column}:${startLine}:${inlined ? 1 : 0}:${file.length}:${file}${systemName.length}:${systemName}${name}`;
    let idx = frameIndex.get(key);
    if (idx === undefined) {
      idx = frameTable.length;
      frameTable.push({ name, file, line, column, startLine, systemName, inlined });
      frameIndex.set(key, idx);
    }
    byObject.set(f, idx);
    return idx;
  };

  // Distinct label sets, validated once per labels object (producers often share them).
  const labelSets: NormLabel[][] = [[]];
  const labelSetIndex = new Map<string, number>([['', 0]]);
  const labelsByObject = new Map<object, number>();
  const internLabels = (l: unknown, i: number): number => {
    if (l === undefined || l === null) return 0;
    if (!isRecord(l)) fail(`samples[${i}].labels`, 'an object', l);
    const known = labelsByObject.get(l);
    if (known !== undefined) return known;
    const labels: NormLabel[] = [];
    for (const [k, v] of Object.entries(l)) {
      if (k === '') fail(`samples[${i}].labels`, 'keyed by non-empty strings', k);
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v)) fail(`samples[${i}].labels[${JSON.stringify(k)}]`, 'a string or an integer', v);
      } else if (typeof v !== 'string') {
        fail(`samples[${i}].labels[${JSON.stringify(k)}]`, 'a string or an integer', v);
      }
      // pprof cannot tell a string label "" from the number 0 (go tool pprof reads it as num 0).
      if (v !== '') labels.push([k, v]);
    }
    labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    // Typed and length-prefixed: the number 1 and the string '1' differ, no value can collide.
    let key = '';
    for (const [k, v] of labels) {
      const text = String(v);
      key += `${k.length}:${k}${typeof v === 'number' ? 'n' : 's'}${text.length}:${text}`;
    }
    let idx = labelSetIndex.get(key);
    if (idx === undefined) {
      idx = labelSets.length;
      labelSets.push(labels);
      labelSetIndex.set(key, idx);
    }
    labelsByObject.set(l, idx);
    return idx;
  };

  // Rows are merged by a compact key: the label set and the frame ids, each number written as one
  // UTF-16 unit (below 0xFFFF) or 0xFFFF and two units; self-delimiting, so keys cannot collide.
  const code = (v: number): string =>
    v < 0xffff ? String.fromCharCode(v) : String.fromCharCode(0xffff, Math.floor(v / 0x10000), v % 0x10000);
  const byKey = new Map<string, NormRow>();
  const rows: NormRow[] = [];
  const samples = inp.samples as unknown[];
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    if (!isRecord(s)) fail(`samples[${i}]`, 'an object', s);
    const fs = s.frames;
    if (!Array.isArray(fs)) fail(`samples[${i}].frames`, 'an array', fs);
    const ids: number[] = new Array(fs.length);
    for (let j = 0; j < fs.length; j++) ids[j] = intern(fs[j], i, j);
    if (ids.length === 0) ids.push(intern(NO_STACK, i, 0));
    const c = s.count;
    const count = typeof c === 'number' && Number.isSafeInteger(c) && c >= 0 ? c : nonNegInt(c, `samples[${i}].count`);
    const n = s.cpuNanos;
    const cpuNanos = typeof n === 'number' && n >= 0 && n <= Number.MAX_SAFE_INTEGER
      ? n : nonNegFinite(n, `samples[${i}].cpuNanos`);
    const labelSet = internLabels(s.labels, i);

    let key = code(labelSet);
    for (const id of ids) key += code(id);
    const seen = byKey.get(key);
    if (seen) {
      seen.count += count;
      seen.cpuNanos += cpuNanos;
      if (!Number.isSafeInteger(seen.count)) fail(`samples[${i}].count`, 'summable without overflow', count);
    } else {
      const row: NormRow = { frameIds: ids, frames: ids.map((id) => frameTable[id]!), count, cpuNanos, labels: labelSets[labelSet]! };
      byKey.set(key, row);
      rows.push(row);
    }
  }

  return { rows, frames: frameTable, periodNanos, startTimeNanos, durationNanos, comments, mappingFile };
}
