// @ptprof/timers-native: the kernel's CPU timers and a SIGPROF recorder, as thin bindings.
// See ../README.md. The binding is loaded with node-gyp-build: a prebuild for this Node ABI from
// prebuilds/, or a local build in build/Release.
import * as fs from 'node:fs';
import * as path from 'node:path';

if (process.platform !== 'linux') {
  throw new Error(
    `@ptprof/timers-native supports Linux only (per-thread CPU-clock timers and SIGEV_THREAD_ID are ` +
      `Linux features); this platform is ${process.platform}.`,
  );
}

/** Record flags (mirrors PtprofRecordFlag in src/binding.cc). */
export const FLAG_KNOWN = 1;
export const FLAG_TIMER_VALID = 2;
export const FLAG_JS = 4;
export const FLAG_TRUNCATED = 8;

/** v8::StateTag values as reported in records' vmState (-1: no stack walk). LOGGING from Node 24
 *  (V8 13.6), IDLE_EXTERNAL from Node 26 (V8 14.6); src/compat.h checks the numbers. */
export const VM_STATES = ['JS', 'GC', 'PARSER', 'BYTECODE_COMPILER', 'COMPILER', 'OTHER', 'EXTERNAL', 'ATOMICS_WAIT', 'IDLE', 'LOGGING', 'IDLE_EXTERNAL'] as const;

/** v8::JitCodeEvent::EventType / CodeType values in drained code events. */
export const CODE_ADDED = 0;
export const CODE_MOVED = 1;
export const CODE_REMOVED = 2;
export const CODE_TYPE_BYTE_CODE = 0;
export const CODE_TYPE_JIT = 1;
export const CODE_TYPE_WASM = 2;

/** Columns of drained arrays. */
export const INTS_PER_RECORD = 8; // tid, code, overrun, flags, vmState, nframes, isolateId, 0
export const NUMS_PER_RECORD = 6; // timeNs, codeSeq, pc, externalCallback, threadCpuNs, timerTag
export const NUMS_PER_EVENT = 7; // seq, type, codeType, isolateId, start, len, newStart

export interface DrainCounters {
  /** Every SIGPROF the handler saw since load. */
  signals: number;
  /** Signals with another si_code (SI_TKILL, SI_USER, SI_QUEUE), passed to the previous handler. */
  foreign: number;
  /** Timer signals that arrived while recording was off. */
  disabled: number;
  /** Records dropped because a thread's ring was full (cumulative). */
  ringDrops: number;
  /** Records dropped because the shared ring of threads without a slot was full (cumulative). */
  sharedDrops: number;
}

export interface RawDrain {
  count: number;
  ints: Int32Array;
  nums: Float64Array;
  frames: Float64Array;
  events: Float64Array;
  names: string[];
  /** The known threads whose rings were read (including ones that exited since the last drain). */
  threads: { tid: number; isolateId: number; js: boolean; name: string }[];
  counters: DrainCounters;
}

export type HandlerOwner = 'ptprof' | 'default' | 'ignore' | 'other';

export interface Binding {
  /** Installs the SIGPROF handler (SA_SIGINFO|SA_RESTART); returns who owned SIGPROF before. */
  installHandler(): HandlerOwner;
  /** Who owns SIGPROF now (the inspector's profiler replaces handlers while it runs). */
  currentHandler(): HandlerOwner;
  /** Makes the calling JS thread known (a slot with its isolate) and starts JIT code events. */
  register(opts?: { codeEvents?: boolean; name?: string }): { tid: number; isolateId: number; slot: number };
  unregister(): boolean;
  /** Makes another OS thread known, without a JS stack. */
  claimThread(tid: number): number;
  releaseThread(tid: number): boolean;
  /** The handler's view of "this thread's timer is valid" (Go's mp.profileTimerValid). */
  setTimerValid(tid: number, valid: boolean): boolean;
  /** A disarmed POSIX timer on tid's CPU clock, delivering SIGPROF to tid. Returns its id; with
   *  exclusive, -1 when a timer for tid already exists. Every SIGPROF of the timer carries tag
   *  (sigev_value) in its record's timerTag. */
  timerCreate(tid: number, exclusive?: boolean, tag?: number): number;
  timerSettime(id: number, firstNs: number, periodNs: number): void;
  timerDelete(id: number): void;
  timerGetoverrun(id: number): number;
  timerCount(): number;
  /** setitimer(ITIMER_PROF) with first expiry = period; 0 disables. */
  setitimer(periodNs: number): void;
  getitimer(): { valueNs: number; intervalNs: number };
  gettid(): number;
  threadCpuNs(tid?: number): number;
  processCpuNs(): number;
  monotonicNs(): number;
  setEnabled(on: boolean): void;
  /** framesLimit 1..512; ringBytes (power of two) for slots claimed later; collectIntervalMs
   *  0..1000 (default 20): how often a native thread empties the rings, 0 for never. */
  configure(opts: { framesLimit?: number; ringBytes?: number; collectIntervalMs?: number }): void;
  /** C++ symbol names demangled (names that are not mangled come back unchanged). */
  demangle(names: string[]): string[];
  /** Every known thread. */
  threads(): { tid: number; slot: number; isolateId: number; js: boolean; name: string; timerValid: boolean }[];
  /** Every timer the addon holds in this process, whichever thread created it. */
  timers(): { id: number; tid: number }[];
  /** A process-wide mailbox: the period the sampler runs at (0: off), read by threads that register later. */
  setSamplingPeriod(periodNs: number): void;
  samplingPeriod(): number;
  /** Records waiting from threads without a slot (cheap: one atomic read). */
  sharedPending(): number;
  /** SIGPROFs seen since load (cheap: one atomic read). */
  signalCount(): number;
  drain(): RawDrain;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load: (dir: string) => Binding = require('node-gyp-build');

/**
 * PTPROF_ADDON_PATH, a development variable: the absolute path of another build of this addon
 * (npm run test:asan runs the tests against a sanitizer build this way). Only a `.node` file that
 * exists is loaded (never JavaScript, never a path relative to whichever directory a process
 * runs in); anything else throws. PREBUILDS_ONLY=1 wins over it.
 */
export function replacementAddonPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.PTPROF_ADDON_PATH;
  if (!value || env.PREBUILDS_ONLY) return undefined;
  let ok = path.isAbsolute(value) && value.endsWith('.node');
  if (ok) {
    try {
      ok = fs.statSync(value).isFile();
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new Error(`PTPROF_ADDON_PATH=${JSON.stringify(value)} is not the absolute path of a .node file that exists `
      + '(a development build of @ptprof/timers-native); unset it to use the installed addon');
  }
  return value;
}

/** The replacement addon loaded from PTPROF_ADDON_PATH, or undefined for the installed one. */
export const replacementAddon: string | undefined = replacementAddonPath();
export const binding: Binding = replacementAddon ? require(replacementAddon) : load(path.join(__dirname, '..', '..'));

/** One record, decoded (for tests and tools; the sampler reads the arrays directly). */
export interface SignalRecord {
  tid: number;
  code: number;
  overrun: number;
  flags: number;
  known: boolean;
  timerValid: boolean;
  js: boolean;
  truncated: boolean;
  vmState: number;
  isolateId: number;
  timeNs: number;
  codeSeq: number;
  pc: number;
  externalCallback: number;
  /** The receiving thread's CPU clock at the signal, ns. */
  threadCpuNs: number;
  /** SI_TIMER: the tag its timer was created with (0 otherwise). */
  timerTag: number;
  frames: number[];
}

export interface CodeEvent {
  seq: number;
  type: number;
  codeType: number;
  isolateId: number;
  start: number;
  len: number;
  newStart: number;
  name: string;
}

/** Turns a raw drain into one object per record and per event. */
export function decodeDrain(raw: RawDrain): { records: SignalRecord[]; events: CodeEvent[]; counters: DrainCounters } {
  const records: SignalRecord[] = [];
  let f = 0;
  for (let i = 0; i < raw.count; i++) {
    const a = i * INTS_PER_RECORD;
    const b = i * NUMS_PER_RECORD;
    const flags = raw.ints[a + 3];
    const n = raw.ints[a + 5];
    records.push({
      tid: raw.ints[a],
      code: raw.ints[a + 1],
      overrun: raw.ints[a + 2],
      flags,
      known: (flags & FLAG_KNOWN) !== 0,
      timerValid: (flags & FLAG_TIMER_VALID) !== 0,
      js: (flags & FLAG_JS) !== 0,
      truncated: (flags & FLAG_TRUNCATED) !== 0,
      vmState: raw.ints[a + 4],
      isolateId: raw.ints[a + 6],
      timeNs: raw.nums[b],
      codeSeq: raw.nums[b + 1],
      pc: raw.nums[b + 2],
      externalCallback: raw.nums[b + 3],
      threadCpuNs: raw.nums[b + 4],
      timerTag: raw.nums[b + 5],
      frames: Array.from(raw.frames.subarray(f, f + n)),
    });
    f += n;
  }
  const events: CodeEvent[] = [];
  for (let i = 0; i < raw.names.length; i++) {
    const e = i * NUMS_PER_EVENT;
    events.push({
      seq: raw.events[e],
      type: raw.events[e + 1],
      codeType: raw.events[e + 2],
      isolateId: raw.events[e + 3],
      start: raw.events[e + 4],
      len: raw.events[e + 5],
      newStart: raw.events[e + 6],
      name: raw.names[i],
    });
  }
  return { records, events, counters: raw.counters };
}

/** The CPU clock id of thread tid, as the kernel computes it: (~tid << 3) | 6. */
export function threadClockId(tid: number): number {
  return (~tid << 3) | 6;
}
