// The view's model of a profile: processes, threads, distinct frames and stacks with one value
// each. Built from pprof or folded stacks (read.ts); the page data, speedscope and .cpuprofile
// are all made from it, so they agree with each other.

/** The unit of the values, as pprof names it: 'nanoseconds', 'bytes', 'count', ... */
export type ValueUnit = string;

export interface ViewFrame {
  name: string;
  /** '' when unknown. */
  file: string;
  /** The function's line (1-based), 0 when unknown. */
  line: number;
}

/**
 * What a thread is: the main JS thread, a worker, libuv's pool, V8's helpers, or something else.
 * From ptprof's thread_kind label where the profile has it (JS or not), else from the thread's
 * name; for the threads Node 20 names all `node`, from their frames.
 */
export type ThreadKind = 'main' | 'worker' | 'pool' | 'v8' | 'other';

export interface ViewThread {
  /** Index into ViewProfile.processes. */
  process: number;
  name: string;
  tid?: number;
  kind: ThreadKind;
  /** Sum of its stacks' values. */
  total: number;
}

export interface ViewStack {
  thread: number;
  /** Indexes into ViewProfile.frames, root first. */
  frames: number[];
  value: number;
}

export interface ViewProcess {
  /** The file it was read from. */
  file: string;
  pid?: number;
  /** The profiled command line (ptprof's `cmd=` comment). */
  command?: string;
  /** Its short name in a merged profile (the `process` label: `node test/a.test.js`). */
  name?: string;
  /** Wall-clock duration of the profile, ns; 0 when unknown. */
  durationNanos: number;
  /** Samples per second of CPU (ptprof's rate, or 1e9 / period for a CPU period in ns). */
  hz?: number;
  /** ptprof's `mode=` comment ('all' or 'js'). */
  mode?: string;
  /** CPU the OS counted for the process while it was profiled (ptprof's os_cpu_nanos). */
  osCpuNanos?: number;
  /** Signals kept (the profile's 'samples' values), when it has them. */
  samples?: number;
  comments: string[];
  /** `type (unit)` of the value shown, e.g. 'cpu (nanoseconds)'. */
  sampleType: string;
}

export interface ViewProfile {
  unit: ValueUnit;
  /** The name of the value shown (pprof's sample type: 'cpu', 'samples', 'alloc_space', ...). */
  sampleType: string;
  processes: ViewProcess[];
  threads: ViewThread[];
  frames: ViewFrame[];
  stacks: ViewStack[];
}

// Native frames that are V8's own work (the compiler, the GC, builtins): what tells V8's helper
// threads from libuv's pool when both are named `node` (Node 20 names neither).
const V8_FRAME = /^(v8::|cppgc::|heap::base::|Builtins?[_:]|BytecodeHandler:)|\bv8::internal::/;

/**
 * The kind of a thread. `js` is ptprof's thread_kind label (true: 'js', false: 'native'), absent
 * in older and other producers' profiles: a JS thread is `main` or a worker; without the label,
 * `main` and `worker N` (ptprof's names for JS threads) are. libuv names its pool threads
 * `libuv-worker` (Node 22+), Node its V8 platform threads `node-V8Worker` (Node 24+). A thread
 * named `node` (Node 20 names every thread so) is V8's when most of its value is in V8's frames
 * (`v8share`), the pool's otherwise.
 */
export function threadKind(name: string, v8share?: number, js?: boolean): ThreadKind {
  if (js === true) return name === 'main' ? 'main' : 'worker';
  if (js === undefined && name === 'main') return 'main';
  if (js === undefined && /^worker \d+$/.test(name)) return 'worker';
  if (/^libuv/i.test(name)) return 'pool';
  if (/V8/.test(name)) return 'v8';
  if (name === 'node' && v8share !== undefined) return v8share > 0.5 ? 'v8' : 'pool';
  return 'other';
}

/** Interns frames, threads and stacks while a profile is read; `finish` gives the ViewProfile. */
export class ViewBuilder {
  readonly processes: ViewProcess[] = [];
  private readonly threads: ViewThread[] = [];
  private readonly threadIndex = new Map<string, number>();
  private readonly threadJs: (boolean | undefined)[] = [];
  private readonly frames: ViewFrame[] = [];
  private readonly frameIndex = new Map<string, number>();
  private readonly stacks: ViewStack[] = [];
  private unit: ValueUnit | undefined;
  private sampleType = '';

  /** Sets the unit of the values; every file read into one view must have the same. */
  setUnit(unit: ValueUnit, sampleType: string): void {
    if (this.unit !== undefined && this.unit !== unit) {
      throw new Error(`it holds ${unit} values, the files before it ${this.unit}: they cannot be shown together`);
    }
    this.unit = unit;
    if (!this.sampleType) this.sampleType = sampleType;
  }

  addProcess(p: ViewProcess): number {
    this.processes.push(p);
    return this.processes.length - 1;
  }

  /** The thread `name` (`tid`) of a process; `js`: its thread_kind label, when the profile has one. */
  thread(process: number, name: string, tid?: number, js?: boolean): number {
    const key = `${process}\u0000${tid ?? ''}\u0000${name}`;
    let i = this.threadIndex.get(key);
    if (i === undefined) {
      i = this.threads.length;
      const t: ViewThread = { process, name, kind: 'other', total: 0 };
      if (tid !== undefined) t.tid = tid;
      this.threads.push(t);
      this.threadJs.push(js);
      this.threadIndex.set(key, i);
    }
    return i;
  }

  frame(name: string, file: string, line: number): number {
    const key = `${line}\u0000${file}\u0000${name}`;
    let i = this.frameIndex.get(key);
    if (i === undefined) {
      i = this.frames.length;
      this.frames.push({ name, file, line });
      this.frameIndex.set(key, i);
    }
    return i;
  }

  /** Adds a stack (frames root first). Values that are not positive are left out: they draw nothing. */
  addStack(thread: number, frames: number[], value: number): void {
    if (!(value > 0)) return;
    this.stacks.push({ thread, frames, value });
  }

  finish(): ViewProfile {
    const v8 = new Float64Array(this.threads.length);
    for (const s of this.stacks) {
      const t = this.threads[s.thread]!;
      t.total += s.value;
      const leaf = s.frames[s.frames.length - 1];
      if (leaf !== undefined && V8_FRAME.test(this.frames[leaf]!.name)) v8[s.thread]! += s.value;
    }
    this.threads.forEach((t, i) => {
      t.kind = threadKind(t.name, t.total > 0 ? v8[i]! / t.total : undefined, this.threadJs[i]);
    });
    return {
      unit: this.unit ?? 'count',
      sampleType: this.sampleType || 'samples',
      processes: this.processes,
      threads: this.threads,
      frames: this.frames,
      stacks: this.stacks,
    };
  }
}

/** Whether a thread runs JS (what a .cpuprofile is made for). */
export function isJsThread(t: ViewThread): boolean {
  return t.kind === 'main' || t.kind === 'worker';
}
