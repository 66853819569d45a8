// The parts a profiled process hands to the ptprof command while it runs, so that a whole process
// tree makes one profile and a process killed by SIGKILL loses only its last window. Each part is
// one window of the process's profile (the sampler's window(): what it sampled since the previous
// part), written by the agent as `<pid>.<seq>.part` into the run's private report directory with
// pprof-writer's atomic write; the CLI reads the parts as they come, merges them and removes them.
//
// A part is JSON: frames are sent once per process and numbered (later parts name them by id), a
// row is a run of numbers. Measured against a pprof of the same window (bench/tree.js), it costs
// the profiled process less to write and the CLI less to read; and it is read with the checks
// below, not trusted: the directory is private, but what a process writes is its program's.
import type { Facts, FrameInput } from '@ptprof/pprof-writer';
import { parseIntStrict } from './config';

export const PART_VERSION = 1;

/** The variables that turn the hand-off on (set by the CLI unless --split) and tune it. */
export const TREE_ENV = {
  /** '1': hand the profile to the CLI in parts instead of writing a file (the default under the CLI). */
  tree: 'PTPROF_TREE',
  /** Milliseconds between parts (a tuning variable, passed through): what a SIGKILL can cost. */
  handoffMs: 'PTPROF_HANDOFF_MS',
} as const;

export const DEFAULT_HANDOFF_MS = 2000;
export const MIN_HANDOFF_MS = 100;
export const MAX_HANDOFF_MS = 600_000;

/** PTPROF_HANDOFF_MS, checked; the default when unset. Throws with a one-line message. */
export function readHandoffMs(env: NodeJS.ProcessEnv): number {
  const text = env[TREE_ENV.handoffMs];
  if (text === undefined || text === '') return DEFAULT_HANDOFF_MS;
  const ms = parseIntStrict(text);
  if (!(ms >= MIN_HANDOFF_MS && ms <= MAX_HANDOFF_MS)) {
    throw new Error(`${TREE_ENV.handoffMs}=${JSON.stringify(text).slice(1, -1)} is not an integer from ${MIN_HANDOFF_MS} to ${MAX_HANDOFF_MS} (ms between the parts a process hands to ptprof)`);
  }
  return ms;
}

/**
 * Whether this process hands its profile to the CLI in parts (PTPROF_TREE=1 with a report
 * directory), and how often; undefined when it writes its own file. Throws for a bad PTPROF_HANDOFF_MS.
 */
export function readTreeConfig(env: NodeJS.ProcessEnv, reportDir: string | undefined): { handoffMs: number } | undefined {
  const handoffMs = readHandoffMs(env);
  return env[TREE_ENV.tree] === '1' && reportDir ? { handoffMs } : undefined;
}

/** Runs `fn` every `ms` on an unref'd timer (it never keeps the process alive); returns what stops it. */
export function every(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The part file of process `pid`, number `seq`: `<pid>.<nonce>.<seq>.part`. The nonce (the
 * process's start, base 36) tells apart two processes the kernel gave one pid during the run.
 */
export function partName(pid: number, nonce: string, seq: number): string {
  return `${pid}.${nonce}.${seq}.part`;
}
export const PART_NAME = /^(\d+)\.([0-9a-z]+)\.(\d+)\.part$/;

/** Who handed the part. */
export interface PartProcess {
  pid: number;
  ppid: number;
  /** The first Node process of the run. */
  root: boolean;
  /** The full command line (argv0, node options, script, arguments). */
  command: string;
  /** The short one, the `process` label (process-name.ts). */
  name: string;
}

export interface Part extends PartProcess {
  v: typeof PART_VERSION;
  /** 0, 1, 2...: the CLI merges a process's parts in this order. */
  seq: number;
  /** The last part: the process ended (how: `end`) and the profile is complete. */
  final: boolean;
  end?: string;
  /** The window's wall-clock start, ns since the epoch (decimal: it is beyond 2^53). */
  start: string;
  /** The window's wall-clock length, ns. */
  duration: number;
  /** Frames first seen in this part; they get the ids that follow the previous parts'. */
  frames: FrameInput[];
  /** The thread of each row: [tid, name, runs JS]. */
  threads: [number, string, boolean][];
  /** The rows, flat: thread index, count, CPU ns, depth, then `depth` frame ids (leaf first); and again. */
  rows: number[];
  /** The window's facts (the sampler's counters and its OS CPU count; in the final part also the source maps' and ptprof's). */
  facts: Facts;
  /** In the final part: frames named through their source maps, by id (mapped once, when the process ends). */
  mapped?: [number, FrameInput][];
}

/** A part is a window's worth; anything this large is not one. */
export const MAX_PART_BYTES = 256 * 1024 * 1024;

class PartError extends Error {}

function bad(what: string): never {
  throw new PartError(`malformed part: ${what}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const FACT_KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;

function checkFrame(f: unknown, where: string): FrameInput {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) bad(`${where} is not a frame`);
  const x = f as Record<string, unknown>;
  if (typeof x.name !== 'string') bad(`${where} has no name`);
  for (const k of ['file', 'systemName'] as const) if (x[k] !== undefined && typeof x[k] !== 'string') bad(`${where}.${k} is not a string`);
  for (const k of ['line', 'column', 'startLine', 'startColumn'] as const) if (x[k] !== undefined && !isInt(x[k])) bad(`${where}.${k} is not a line number`);
  if (x.inlined !== undefined && typeof x.inlined !== 'boolean') bad(`${where}.inlined is not a boolean`);
  return x as unknown as FrameInput;
}

/**
 * The part in `text`, checked: every field of the right type, every row's thread and frames
 * within what the process has sent (`knownFrames` before this part). Throws an Error saying what is wrong.
 */
export function decodePart(text: string, knownFrames: number): Part {
  let x: Record<string, unknown>;
  try {
    x = JSON.parse(text) as Record<string, unknown>;
  } catch {
    bad('not JSON');
  }
  if (typeof x !== 'object' || x === null) bad('not an object');
  if (x.v !== PART_VERSION) bad(`version ${String(x.v)}, not ${PART_VERSION}`);
  for (const k of ['pid', 'ppid', 'seq', 'duration'] as const) if (!isInt(x[k])) bad(`${k} is not an integer`);
  for (const k of ['command', 'name', 'start'] as const) if (typeof x[k] !== 'string') bad(`${k} is not a string`);
  if (!/^\d{1,20}$/.test(x.start as string)) bad('start is not a time');
  if (typeof x.root !== 'boolean' || typeof x.final !== 'boolean') bad('root or final is not a boolean');
  if (x.end !== undefined && typeof x.end !== 'string') bad('end is not a string');
  if (!Array.isArray(x.frames)) bad('frames is not an array');
  (x.frames as unknown[]).forEach((f, i) => checkFrame(f, `frame ${knownFrames + i}`));
  const nFrames = knownFrames + (x.frames as unknown[]).length;
  if (!Array.isArray(x.threads)) bad('threads is not an array');
  for (const t of x.threads as unknown[]) {
    if (!Array.isArray(t) || !isInt(t[0]) || typeof t[1] !== 'string' || typeof t[2] !== 'boolean') bad('a thread is not [tid, name, js]');
  }
  const nThreads = (x.threads as unknown[]).length;
  if (!Array.isArray(x.rows)) bad('rows is not an array');
  const rows = x.rows as unknown[];
  for (let i = 0; i < rows.length; ) {
    const [t, count, cpu, depth] = [rows[i], rows[i + 1], rows[i + 2], rows[i + 3]];
    if (!isInt(t) || t >= nThreads) bad(`row at ${i}: no such thread`);
    if (!isInt(count)) bad(`row at ${i}: the count is not an integer`);
    if (typeof cpu !== 'number' || !Number.isFinite(cpu) || cpu < 0 || cpu > Number.MAX_SAFE_INTEGER) bad(`row at ${i}: the CPU is not a number of ns`);
    if (!isInt(depth) || i + 4 + depth > rows.length) bad(`row at ${i}: its depth runs past the rows`);
    for (let j = i + 4; j < i + 4 + depth; j++) {
      const id = rows[j];
      if (!isInt(id) || id >= nFrames) bad(`row at ${i}: frame ${String(id)} was never sent`);
    }
    i += 4 + depth;
  }
  if (typeof x.facts !== 'object' || x.facts === null || Array.isArray(x.facts)) bad('facts is not an object');
  const facts = x.facts as Record<string, unknown>;
  for (const [k, v] of Object.entries(facts)) {
    if (!FACT_KEY.test(k)) bad(`the fact name ${JSON.stringify(k)}`);
    // JSON writes a NaN or an infinite number as null: that fact is not known, the rest of the part is.
    if (v === null) delete facts[k];
    else if (!((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean')) bad(`the fact ${k}`);
  }
  if (x.mapped !== undefined) {
    if (!Array.isArray(x.mapped)) bad('mapped is not an array');
    for (const m of x.mapped as unknown[]) {
      if (!Array.isArray(m) || !isInt(m[0]) || m[0] >= nFrames) bad('a mapped frame names no frame');
      checkFrame(m[1], `mapped frame ${m[0]}`);
    }
  }
  return x as unknown as Part;
}
