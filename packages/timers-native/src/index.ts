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

/**
 * The layout of drain()'s arrays: the one definition is src/layout.h; these names mirror it, and
 * the binding's own `layout` is checked against them when the binary loads (below).
 */
export const RECORD_INTS = ['tid', 'code', 'overrun', 'flags', 'vmState', 'nframes', 'isolateId', 'signo'] as const;
export const RECORD_NUMS = ['timeNs', 'codeSeq', 'pc', 'externalCallback', 'threadCpuNs', 'timerTag'] as const;
export const EVENT_NUMS = ['seq', 'type', 'codeType', 'isolateId', 'start', 'len', 'newStart', 'inlineAt', 'nameEnd'] as const;
/**
 * The inlining tables of optimized code in drain()'s `inline` array (src/inline.cc): at an event's
 * `inlineAt` a header, then `entries` rows of INLINE_ENTRY (the source position table in pc order),
 * `sites` rows of INLINE_SITE (one per inlining id) and `functions` rows of INLINE_FUNCTION. Lines
 * and columns are 1-based (0: unknown); a site or caller of -1 is the code's own function.
 */
export const INLINE_HEADER = ['entries', 'sites', 'functions', 'outer', 'detailed'] as const;
export const INLINE_ENTRY = ['pcOffset', 'line', 'column', 'site'] as const;
export const INLINE_SITE = ['line', 'column', 'caller', 'function'] as const;
export const INLINE_FUNCTION = ['bytecode'] as const;

type Columns<T extends readonly string[]> = { readonly [K in T[number]]: number };
function columns<T extends readonly string[]>(names: T): Columns<T> {
  return Object.freeze(Object.fromEntries(names.map((n, i) => [n, i]))) as Columns<T>;
}
/** Column of each field in a record's row of `ints` (e.g. `raw.ints[i * INTS_PER_RECORD + RI.tid]`). */
export const RI = columns(RECORD_INTS);
/** Column of each field in a record's row of `nums`. */
export const RN = columns(RECORD_NUMS);
/** Column of each field in an event's row of `events`. */
export const EV = columns(EVENT_NUMS);
/** Columns of an inlining table's header and rows (see INLINE_HEADER). */
export const IH = columns(INLINE_HEADER);
export const IE = columns(INLINE_ENTRY);
export const IS = columns(INLINE_SITE);
export const IF = columns(INLINE_FUNCTION);
export const INTS_PER_RECORD = RECORD_INTS.length;
export const NUMS_PER_RECORD = RECORD_NUMS.length;
export const NUMS_PER_EVENT = EVENT_NUMS.length;

/** Record flags. */
export const FLAG_KNOWN = 1;
export const FLAG_TIMER_VALID = 2;
export const FLAG_JS = 4;
export const FLAG_TRUNCATED = 8;
const FLAGS = { known: FLAG_KNOWN, timerValid: FLAG_TIMER_VALID, js: FLAG_JS, truncated: FLAG_TRUNCATED };

/** v8::StateTag values as reported in records' vmState (-1: no stack walk). LOGGING from Node 24
 *  (V8 13.6), IDLE_EXTERNAL from Node 26 (V8 14.6); src/compat.h checks the numbers. */
export const VM_STATES = ['JS', 'GC', 'PARSER', 'BYTECODE_COMPILER', 'COMPILER', 'OTHER', 'EXTERNAL', 'ATOMICS_WAIT', 'IDLE', 'LOGGING', 'IDLE_EXTERNAL'] as const;

/** v8::JitCodeEvent::EventType values in drained code events, and two of the addon's own. */
export const CODE_ADDED = 0;
export const CODE_MOVED = 1;
export const CODE_REMOVED = 2;
/** The isolate's code map starts again: the CODE_ADDED events that follow (same seq) are all of it. */
export const CODE_RESET = 100;
/** The isolate is gone: its map may be freed once every record before this seq is resolved. */
export const CODE_RETIRE = 101;
/** The isolate's events are not logged from here (the log was past its bound): its map is stale until a CODE_RESET. */
export const CODE_DROP = 102;
/**
 * Around V8's listing of the code that exists when an isolate's events start (the first time, and
 * after each CODE_RESET). V8 lists code objects before bytecode, so a table there names functions
 * whose BYTE_CODE events come later in the listing; no GC runs within it.
 */
export const CODE_LISTING = 103;
export const CODE_LISTED = 104;
export const CODE_TYPE_BYTE_CODE = 0;
export const CODE_TYPE_JIT = 1;
export const CODE_TYPE_WASM = 2;

export interface DrainCounters {
  /** Every SIGPROF the handler saw since load. */
  signals: number;
  /**
   * Time spent in the signal handler since load, ns (CLOCK_MONOTONIC at its entry and exit; it never
   * blocks, so this is the CPU it took from the threads it interrupted). The kernel's delivery of
   * each signal is not in it.
   */
  handlerNs: number;
  /** Signals with another si_code (SI_TKILL, SI_USER, SI_QUEUE), passed to the previous handler. */
  foreign: number;
  /** Timer signals that arrived while recording was off. */
  disabled: number;
  /** Records dropped because a thread's ring was full (cumulative). */
  ringDrops: number;
  /** Records dropped because the shared ring of threads without a slot was full (cumulative). */
  sharedDrops: number;
  /** Code events not logged because the log was past its bound (cumulative; see CODE_DROP). */
  codeDrops: number;
  /** Signals the handler dropped by configure({ keepTable }), without a record (cumulative). */
  filteredSetitimer: number;
  filteredTimer: number;
  /** Times setitimer went off because another handler owned SIGPROF (cumulative). */
  itimerSuspensions: number;
  /** Times ours went back on SIGPROF once it was free again (cumulative). */
  sigprofReinstalls: number;
  /** errno of the collector thread's creation, 0 when it runs (rings then emptied by drain() alone). */
  collectorError: number;
  /** Optimized code objects whose inlining table was read (cumulative; src/inline.cc). */
  inlineTables: number;
  /** Optimized code objects whose inlining could not be read: V8's heap was not as expected (cumulative). */
  inlineFailures: number;
  /** Optimized code objects not read: expansion is off (inlineStatus) or the code came on another thread (cumulative). */
  inlineSkipped: number;
  /** CPU time spent reading the tables, ns (cumulative): what reading them costs the program. */
  inlineNs: number;
}

export interface SignalInfo {
  /** The real-time signal the per-thread timers deliver (0 until the handler is installed). */
  timerSignal: number;
  /** e.g. 'SIGRTMIN+6'. */
  timerSignalName: string;
  /** Who owns SIGPROF now. */
  sigprof: HandlerOwner;
  /** Whether setitimer(ITIMER_PROF) is armed now (only while SIGPROF is ours). */
  itimerArmed: boolean;
  /** The period asked for with setitimer(), ns (0: off). */
  itimerPeriodNs: number;
  itimerSuspensions: number;
  /** Times ours went back on SIGPROF after someone else's handler left (SIG_DFL found). */
  sigprofReinstalls: number;
  /** The program owns SIGPROF (yieldSigprof(true)). */
  sigprofYielded: boolean;
}

export interface ElfFunctions {
  segments: { offset: number; vaddr: number; filesz: number }[];
  values: Float64Array;
  sizes: Float64Array;
  /** Offsets of the names in the string table. */
  names: Uint32Array;
  strtabOffset: number;
  strtabSize: number;
  /** The string table itself, mapped read-only from the file (absent where it cannot be). */
  strtab?: Buffer;
}

export interface Layout {
  recordInts: string[];
  recordNums: string[];
  eventNums: string[];
  inlineHeader: string[];
  inlineEntry: string[];
  inlineSite: string[];
  inlineFunction: string[];
  flags: Record<string, number>;
  eventTypes: { reset: number; retire: number; drop: number; listing: number; listed: number };
}

export interface RawDrain {
  count: number;
  ints: Int32Array;
  nums: Float64Array;
  frames: Float64Array;
  events: Float64Array;
  /** The inlining tables of optimized code events (INLINE_HEADER). */
  inline: Float64Array;
  /**
   * The code events' names, UTF-8, one after another: an event's ends at its `nameEnd` and starts
   * where the event before's ends (`eventNames` decodes them).
   */
  nameText: Uint8Array;
  /** The known threads whose rings were read (including ones that exited since the last drain). */
  threads: { tid: number; isolateId: number; js: boolean; name: string; registerCpuNs: number }[];
  counters: DrainCounters;
}

export type HandlerOwner = 'ptprof' | 'default' | 'ignore' | 'other';

export interface Binding {
  /**
   * Installs the handler on the timers' real-time signal and, when SIGPROF is free (SIG_DFL or
   * SIG_IGN), on SIGPROF; returns who owned SIGPROF before ('other': another handler, left alone).
   */
  installHandler(): HandlerOwner;
  /** Who owns SIGPROF now (V8's CPU profiler and Node's SIGPROF listeners install their own). */
  currentHandler(): HandlerOwner;
  /** Re-checks SIGPROF now: ours again if free, setitimer armed exactly while it is ours. */
  guardSigprof(): void;
  /** The program takes SIGPROF (true; setitimer off, ours not put back) or has let it go (false). */
  yieldSigprof(yielded: boolean): void;
  signalInfo(): SignalInfo;
  /** The drain layout the binary was built with (src/layout.h). */
  readonly layout: Layout;
  /**
   * Makes the calling JS thread known (a slot with its isolate) and starts JIT code events.
   * `cpuNs`: the thread's CPU clock when the caller began (its registerCpuNs; default: now).
   */
  register(opts?: { codeEvents?: boolean; name?: string; cpuNs?: number }): { tid: number; isolateId: number; slot: number };
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
  /** setitimer(ITIMER_PROF) at this period (0: off), armed while SIGPROF is ours; first expiry = period. */
  setitimer(periodNs: number): void;
  getitimer(): { valueNs: number; intervalNs: number };
  gettid(): number;
  threadCpuNs(tid?: number): number;
  processCpuNs(): number;
  monotonicNs(): number;
  /** Recording on or off; the first start also starts the collector thread (or says why not). */
  setEnabled(on: boolean): { collector: boolean; collectorError: string };
  /** framesLimit 1..512; ringBytes (power of two, 4 KiB..64 MiB) for slots claimed later;
   *  collectIntervalMs 0..1000 (default 20): how often a native thread empties the rings, 0 for
   *  never; backlogBytes (64 KiB..1 GiB, default 16 MiB): the cap of each thread's backlog;
   *  timerSignal: the timers signal SIGRTMIN + timerSignal (default 6), before installHandler;
   *  keepTable: which signals get a record, bit (SI_TIMER ? 4 : 0) | (known ? 2 : 0) |
   *  (timerValid ? 1 : 0) set = keep (default 255: all); the others are only counted. */
  configure(opts: { framesLimit?: number; ringBytes?: number; collectIntervalMs?: number; backlogBytes?: number; timerSignal?: number; keepTable?: number }): void;
  /** C++ symbol names demangled (names that are not mangled come back unchanged). */
  demangle(names: string[]): string[];
  /**
   * The defined function symbols of an ELF file (.symtab, else .dynsym) with a size, sorted by
   * address, and its PT_LOAD segments; null when it is not a readable 64-bit little-endian ELF.
   */
  elfFunctions(path: string): ElfFunctions | null;
  /** Every known thread. */
  threads(): { tid: number; slot: number; isolateId: number; js: boolean; name: string; timerValid: boolean; registerCpuNs: number }[];
  /**
   * Every timer the addon holds in this process, whichever thread created it, with timer_gettime's
   * answer: 0/0 for a timer whose thread has exited (its tid may be another thread's by now).
   */
  timers(): { id: number; tid: number; valueNs: number; intervalNs: number }[];
  /** A process-wide mailbox: the period the sampler runs at (0: off), read by threads that register later. */
  setSamplingPeriod(periodNs: number): void;
  samplingPeriod(): number;
  /** Records waiting from threads without a slot (cheap: one atomic read). */
  sharedPending(): number;
  /** Signals the handler has seen since load (cheap: one atomic read). */
  signalCount(): number;
  drain(): RawDrain;
  /** Whether the inlined functions of optimized code are read (src/inline.cc), and why not. */
  inlineStatus(): { enabled: boolean; reason: string };
}

/**
 * The addon's signal control (src/control.cc), apart from Binding so that a fake sampler backend
 * need not have it.
 */
export interface ControlBinding {
  /**
   * Stop signals that reach a JS thread even when it never returns to its event loop (src/control.cc).
   * The calling thread (the main thread) receives each signal taken below as callback(signo,
   * fromInterrupt): from its event loop, or, when the loop has not turned for graceMs, at an
   * interrupt check of the running JavaScript (the callback must then touch only its own state
   * and never return into the program, or return false at once to be called from the loop later).
   * It returns whether it handled the signal. Once per process.
   */
  controlStart(callback: (signo: number, fromInterrupt: boolean) => boolean): void;
  /**
   * Our handler on signo if its action is SIG_DFL, the default recorded before, or (isDefault)
   * whatever is there now, recorded as the default put back on release. An ignored signal stays
   * ignored. Whether ours is there now.
   */
  controlTake(signo: number, isDefault?: boolean): boolean;
  /** The signal's default action back (when ours is there). */
  controlRelease(signo: number): void;
  /** The default action back and the signal raised on this thread: returns (false) only if the process survived. */
  controlRaise(signo: number): boolean;
  /** How long a request waits for the event loop before an interrupt (0: never), and before the default action is taken (0: never). */
  controlArm(opts: { graceMs: number; deadlineMs: number }): void;
  controlInfo(): ControlInfo;
}

export interface ControlInfo {
  /** Signals our handler is on now. */
  taken: number[];
  requests: number;
  /** The last request whose callback was entered. */
  entered: number;
  /** Requests delivered at an interrupt (the event loop had not turned in graceMs). */
  interrupts: number;
  /** Requests whose callback was not entered by deadlineMs: the process ended by the signal without it. */
  giveUps: number;
  graceMs: number;
  deadlineMs: number;
}

 
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
export const binding: Binding & ControlBinding = replacementAddon ? require(replacementAddon) : load(path.join(__dirname, '..', '..'));
checkLayout(binding.layout);

/** Throws when the binary's drain layout is not the one this file reads (a stale or foreign build). */
export function checkLayout(layout: Layout | undefined): void {
  const same = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
    Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
  const ok = layout !== undefined && same(layout.recordInts, RECORD_INTS) && same(layout.recordNums, RECORD_NUMS)
    && same(layout.eventNums, EVENT_NUMS) && same(layout.inlineHeader, INLINE_HEADER) && same(layout.inlineEntry, INLINE_ENTRY)
    && same(layout.inlineSite, INLINE_SITE) && same(layout.inlineFunction, INLINE_FUNCTION) && Object.entries(FLAGS).every(([k, v]) => layout.flags?.[k] === v)
    && layout.eventTypes?.reset === CODE_RESET && layout.eventTypes?.retire === CODE_RETIRE && layout.eventTypes?.drop === CODE_DROP
    && layout.eventTypes?.listing === CODE_LISTING && layout.eventTypes?.listed === CODE_LISTED;
  if (!ok) {
    throw new Error('@ptprof/timers-native: the addon binary was built from another version of src/layout.h than this '
      + `JavaScript reads (binary: ${JSON.stringify(layout ?? null)}); rebuild it (npm rebuild @ptprof/timers-native) `
      + 'or reinstall the package');
  }
}

/** One record, decoded (for tests and tools; the sampler reads the arrays directly). */
export interface SignalRecord {
  tid: number;
  code: number;
  overrun: number;
  /** The signal: the timers' real-time signal (SI_TIMER) or SIGPROF (setitimer's SI_KERNEL). */
  signo: number;
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
  /** Optimized code: what it inlined (undefined when its table could not be read, or other code). */
  inline?: InlineTable;
}

/** One optimized code object's inlining table, as src/inline.cc copied it out of V8's heap. */
export interface InlineTable {
  /** The source position table in pc order, INLINE_ENTRY.length numbers per entry (IE columns). */
  entries: Int32Array;
  /** Per inlining id, INLINE_SITE.length numbers (IS columns). */
  sites: Int32Array;
  /** Per inlined function, the address of its first bytecode (0: unknown). */
  functions: number[];
  /** The first bytecode of the code's own function (0: unknown). */
  outer: number;
  /** Positions at every instruction (true), or at calls only (code optimized before ptprof registered). */
  detailed: boolean;
}

/** The table at `at` in a drain's `inline` array (an event's inlineAt), or undefined for -1. */
export function readInlineTable(data: Float64Array, at: number): InlineTable | undefined {
  if (!(at >= 0)) return undefined;
  const ne = data[at + IH.entries];
  const ns = data[at + IH.sites];
  const nf = data[at + IH.functions];
  let o = at + INLINE_HEADER.length;
  const entries = Int32Array.from(data.subarray(o, o + ne * INLINE_ENTRY.length));
  o += ne * INLINE_ENTRY.length;
  const sites = Int32Array.from(data.subarray(o, o + ns * INLINE_SITE.length));
  o += ns * INLINE_SITE.length;
  const functions = Array.from(data.subarray(o, o + nf * INLINE_FUNCTION.length));
  return { entries, sites, functions, outer: data[at + IH.outer], detailed: data[at + IH.detailed] === 1 };
}

/** The number of code events in a drain. */
export function eventCount(raw: Pick<RawDrain, 'events'>): number {
  return raw.events.length / NUMS_PER_EVENT;
}

/** The names of a drain's code events, one per event (`''` unless CODE_ADDED). */
export function eventNames(raw: Pick<RawDrain, 'events' | 'nameText'>): string[] {
  const n = eventCount(raw);
  const out = new Array<string>(n);
  const text = Buffer.from(raw.nameText.buffer, raw.nameText.byteOffset, raw.nameText.byteLength);
  // Buffer's own utf8Slice, where it has one (every Node so far): toString's argument checks cost
  // as much as the decoding for names this short (tsc's run ends with ~20,000 events: 7.5 ms of
  // toString calls against 4.3 ms; issue 14). Each name is its own string, not a slice of one
  // text, which would keep a whole drain's names alive for as long as one of its code objects.
  const slice = (text as Buffer & { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = raw.events[i * NUMS_PER_EVENT + EV.nameEnd];
    out[i] = end > start ? (slice && end <= text.length ? slice.call(text, start, end) : text.toString('utf8', start, end)) : '';
    start = end;
  }
  return out;
}

/** Turns a raw drain into one object per record and per event. */
export function decodeDrain(raw: RawDrain): { records: SignalRecord[]; events: CodeEvent[]; counters: DrainCounters } {
  const records: SignalRecord[] = [];
  let f = 0;
  for (let i = 0; i < raw.count; i++) {
    const ri = raw.ints.subarray(i * INTS_PER_RECORD, (i + 1) * INTS_PER_RECORD);
    const rn = raw.nums.subarray(i * NUMS_PER_RECORD, (i + 1) * NUMS_PER_RECORD);
    const flags = ri[RI.flags];
    const n = ri[RI.nframes];
    records.push({
      tid: ri[RI.tid],
      code: ri[RI.code],
      overrun: ri[RI.overrun],
      signo: ri[RI.signo],
      flags,
      known: (flags & FLAG_KNOWN) !== 0,
      timerValid: (flags & FLAG_TIMER_VALID) !== 0,
      js: (flags & FLAG_JS) !== 0,
      truncated: (flags & FLAG_TRUNCATED) !== 0,
      vmState: ri[RI.vmState],
      isolateId: ri[RI.isolateId],
      timeNs: rn[RN.timeNs],
      codeSeq: rn[RN.codeSeq],
      pc: rn[RN.pc],
      externalCallback: rn[RN.externalCallback],
      threadCpuNs: rn[RN.threadCpuNs],
      timerTag: rn[RN.timerTag],
      frames: Array.from(raw.frames.subarray(f, f + n)),
    });
    f += n;
  }
  const events: CodeEvent[] = [];
  const names = eventNames(raw);
  for (let i = 0; i < names.length; i++) {
    const e = raw.events.subarray(i * NUMS_PER_EVENT, (i + 1) * NUMS_PER_EVENT);
    events.push({
      seq: e[EV.seq],
      type: e[EV.type],
      codeType: e[EV.codeType],
      isolateId: e[EV.isolateId],
      start: e[EV.start],
      len: e[EV.len],
      newStart: e[EV.newStart],
      name: names[i],
      inline: readInlineTable(raw.inline, e[EV.inlineAt]),
    });
  }
  return { records, events, counters: raw.counters };
}

/** keepTable's bit for a signal: (si_code === SI_TIMER) << 2 | known << 1 | timerValid. */
export function keepTableBit(timer: boolean, known: boolean, timerValid: boolean): number {
  return (timer ? 4 : 0) | (known ? 2 : 0) | (timerValid ? 1 : 0);
}

/** The CPU clock id of thread tid, as the kernel computes it: (~tid << 3) | 6. */
export function threadClockId(tid: number): number {
  return (~tid << 3) | 6;
}
