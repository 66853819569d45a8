// The sampler's profile model, and its builder: memory grows with unique stacks, not samples.
// Structurally it is what @ptprof/pprof-writer takes (ProfileInput), but neither package imports
// the other.
import type { ThreadsMode } from './options';
import { inliningFacts } from './inlining';

export interface Frame {
  name: string;
  file?: string;
  /**
   * 1-based. The line the frame was executing when known (optimized code, inlined frames), else the
   * function's first line (V8's code events).
   */
  line?: number;
  column?: number;
  /**
   * The function's first line and column, when `line`/`column` are the executing position (as in
   * pprof-writer's FrameInput, which @ptprof/sourcemaps maps).
   */
  startLine?: number;
  startColumn?: number;
  /** V8 inlined this function into the next frame (its caller): both ran at one machine address. */
  inlined?: boolean;
}

export interface ProfileSample {
  /** Leaf first: frames[0] is where the CPU was. */
  frames: Frame[];
  /** Signals kept for this stack on this thread. */
  count: number;
  /**
   * CPU time they stand for: a timer's sample (1 + si_overrun) x its timer's period; a setitimer
   * sample the CPU its receiving thread burned since that thread's previous sample.
   */
  cpuNanos: number;
  /** thread_kind: 'js' for a thread with a JS isolate (main thread, workers), 'native' for the others. */
  labels: { thread_id: number; thread_name: string; thread_kind: 'js' | 'native' };
}

export interface ThreadSummary {
  tid: number;
  name: string;
  /** The thread had a JS isolate (main thread or a worker). */
  js: boolean;
  count: number;
  cpuNanos: number;
}

export interface ProfileStats {
  /** Records drained from the rings (every SIGPROF from our timers while recording). */
  records: number;
  /** Records kept by validSIGPROF. */
  kept: number;
  /** Records dropped by validSIGPROF, by source: a thread keeps one source only. */
  filtered: { setitimer: number; timer_create: number };
  /** Records lost because a ring was full (counted by the signal handler). */
  dropped: { ring: number; shared: number };
  /**
   * setitimer records on a thread that had burned no CPU since its last credited one: the kernel
   * delivered the process-wide signal to a thread other than the one that burned the CPU.
   */
  misdelivered: number;
  /** Failures of the drain loop (each also ends that drain; the first is printed on stderr). */
  errors: number;
  /** SIGPROFs from other senders (SI_TKILL, SI_USER...), passed to their owner. */
  foreign: number;
  /** Timer signals that arrived after recording stopped. */
  late: number;
  /**
   * SIGPROF (setitimer's signal; the per-thread timers use a real-time signal of their own):
   * times setitimer went off because another handler owned SIGPROF (V8's CPU profiler, the
   * program's own SIGPROF listener), and times ours went back once SIGPROF was free again.
   * While it is off, only threads with a timer of their own are sampled.
   */
  sigprof: { suspensions: number; reinstalls: number };
  /** JIT code events the native log did not take (it was past its bound; see timers-native). */
  codeDrops: number;
  /** Code maps held: one per live isolate (an exited worker's is freed once its samples are read). */
  codeMaps: number;
  /** Why the native collector thread could not start ('' when it runs). */
  collectorError: string;
  /** JS frames that no code event covered. */
  unresolvedFrames: number;
  /**
   * CPU of the samples taken in ptprof's own JavaScript (a drain, symbolizing, the agent), put
   * under the one `(ptprof)` root frame (stacks.ts, ownCode), and how many samples.
   */
  self: { nanos: number; samples: number };
  jsFrames: number;
  /** JIT code events replayed during this profile, and the moves among them. */
  codeEvents: number;
  codeMoves: number;
  /**
   * Functions V8 inlined into optimized code (see inlining.ts): frames in optimized code, inlined
   * frames added, optimized frames left with their outer function alone; and the inlining tables
   * of optimized code read (tables), not read because V8's heap was not as expected (failures),
   * not read at all (skipped: expansion off, reason in `off`), and read but refused (rejected);
   * and what reading them cost (readNs).
   */
  inlining: {
    optimized: number;
    inlined: number;
    unexpanded: number;
    /** Of those, leaf pcs in code V8 optimized before ptprof turned its detailed positions on
     *  (before ptprof loaded): the code's table places calls, not a leaf pc. */
    early: number;
    tables: number;
    failures: number;
    skipped: number;
    rejected: number;
    /** CPU time the addon spent reading the tables (on the threads V8 made the code on), ns. */
    readNs: number;
    off: string;
  };
  /** Distinct (thread, stack) rows: what the profile's memory grows with. */
  uniqueStacks: number;
  /** The CPU of the `(unsampled)` rows, summed, ns. */
  unsampledNanos: number;
  /**
   * CPU the samples stood for beyond what their threads burned, not offset by a later window
   * (Sampler: unsampledRows), ns: the profile's total is the OS's count plus this. For a profile of
   * a whole run it is >= 0; a window's is the change over that window, negative when it offset an
   * excess carried from the window before.
   */
  oversampledNanos: number;
  /**
   * The CPU of ptprof's own native threads (`ptprof-collect`, `ptprof-control`) in the interval,
   * by their clocks, ns: ptprof's, not the program's (their rows are in the profile, on them).
   */
  ptprofThreadsNanos: number;
  /**
   * Time the addon's signal handler took in the interval, ns (its entry to its exit; the kernel's
   * delivery of the signal is not in it): ptprof's, though the samples charge it to the stacks the
   * signals interrupted, as they do all of a thread's CPU.
   */
  handlerNanos: number;
}

export interface Profile {
  samples: ProfileSample[];
  /** The period at stop, in CPU ns (1e9 / hz). cpuNanos of samples are exact whatever the rate was. */
  periodNanos: number;
  hz: number;
  mode: ThreadsMode;
  /** Wall clock at start, ns since the epoch. */
  startTimeNanos: bigint;
  durationNanos: number;
  /**
   * The OS's count of the process's CPU (CLOCK_PROCESS_CPUTIME_ID) from start to the moment
   * recording stopped: what the profile's total is to be compared with. Work the profiler does
   * after that (naming native frames, writing) is in neither.
   */
  processCpuNanos: number;
  threads: ThreadSummary[];
  stats: ProfileStats;
  /**
   * Named facts about how the profile was made (hz, mode, records, kept, filtered.*, dropped.*,
   * process_cpu_nanos...): @ptprof/pprof-writer writes them as the profile's first comments.
   */
  facts: ProfileFacts;
  /** Free-form comments (none from the sampler; a caller may add its own). */
  comments: string[];
}

export type ProfileFacts = Record<string, string | number | boolean>;

export function emptyStats(): ProfileStats {
  return {
    records: 0,
    kept: 0,
    filtered: { setitimer: 0, timer_create: 0 },
    dropped: { ring: 0, shared: 0 },
    misdelivered: 0,
    errors: 0,
    foreign: 0,
    late: 0,
    sigprof: { suspensions: 0, reinstalls: 0 },
    codeDrops: 0,
    codeMaps: 0,
    collectorError: '',
    unresolvedFrames: 0,
    self: { nanos: 0, samples: 0 },
    jsFrames: 0,
    codeEvents: 0,
    codeMoves: 0,
    inlining: { optimized: 0, inlined: 0, unexpanded: 0, early: 0, tables: 0, failures: 0, skipped: 0, rejected: 0, readNs: 0, off: '' },
    uniqueStacks: 0,
    unsampledNanos: 0,
    oversampledNanos: 0,
    ptprofThreadsNanos: 0,
    handlerNanos: 0,
  };
}

/**
 * The facts that count something over a profile's interval, from its stats (written as the
 * profile's comments; summed when consecutive windows are merged).
 */
export function countFacts(st: ProfileStats): ProfileFacts {
  return {
    records: st.records,
    kept: st.kept,
    'filtered.setitimer': st.filtered.setitimer,
    'filtered.timer_create': st.filtered.timer_create,
    'dropped.ring': st.dropped.ring,
    'dropped.shared': st.dropped.shared,
    foreign: st.foreign,
    late: st.late,
    misdelivered: st.misdelivered,
    errors: st.errors,
    unresolved_js_frames: st.unresolvedFrames,
    ptprof_nanos: st.self.nanos,
    unsampled_nanos: st.unsampledNanos,
    oversampled_nanos: Math.round(st.oversampledNanos),
    ptprof_threads_nanos: Math.round(st.ptprofThreadsNanos),
    ptprof_handler_nanos: Math.round(st.handlerNanos),
    js_frames: st.jsFrames,
    setitimer_suspended: st.sigprof.suspensions,
    sigprof_reinstalled: st.sigprof.reinstalls,
    code_events_dropped: st.codeDrops,
    // Inlined functions (inlining.ts): what could not be expanded is said, never guessed.
    ...inliningFacts(st.inlining),
    ...(st.collectorError ? { collector_error: st.collectorError } : {}),
  };
}

/** Stats of two consecutive intervals: counts summed; what is a state (code maps held, the collector's error) is the later one's. */
function addStats(a: ProfileStats, b: ProfileStats): ProfileStats {
  const sum = (x: Record<string, unknown>, y: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(x)) {
      const u = x[k];
      const v = y[k];
      out[k] = typeof u === 'number' && typeof v === 'number' ? u + v
        : u && typeof u === 'object' && v && typeof v === 'object' ? sum(u as Record<string, unknown>, v as Record<string, unknown>)
          : v ?? u;
    }
    return out;
  };
  const st = sum(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>) as unknown as ProfileStats;
  st.codeMaps = b.codeMaps;
  st.collectorError = b.collectorError || a.collectorError;
  return st;
}

function stackKey(tid: number, frames: readonly Frame[]): string {
  let key = String(tid);
  for (const f of frames) {
    key += `\u0000${f.name}\u0001${f.file ?? ''}\u0001${f.line ?? ''}\u0001${f.column ?? ''}\u0001${f.startLine ?? ''}${f.inlined ? '\u0001i' : ''}`;
  }
  return key;
}

/**
 * Two consecutive windows of one process's recording (Sampler.window(), then the next window or
 * stop()) as one profile: what one profile of both intervals would hold. Rows of the same thread
 * and stack are summed, threads by tid (named as the later window names them).
 */
export function mergeProfiles(first: Profile, next: Profile): Profile {
  const names = new Map<number, ThreadSummary>();
  for (const t of first.threads) names.set(t.tid, { ...t });
  for (const t of next.threads) {
    const had = names.get(t.tid);
    names.set(t.tid, had ? { ...t, js: had.js || t.js, count: had.count + t.count, cpuNanos: had.cpuNanos + t.cpuNanos } : { ...t });
  }
  const rows = new Map<string, ProfileSample>();
  for (const s of [...first.samples, ...next.samples]) {
    const key = stackKey(s.labels.thread_id, s.frames);
    const row = rows.get(key);
    if (row) {
      row.count += s.count;
      row.cpuNanos += s.cpuNanos;
    } else {
      const t = names.get(s.labels.thread_id);
      rows.set(key, { ...s, labels: { ...s.labels, ...(t ? { thread_name: t.name } : {}) } });
    }
  }
  const threads = [...names.values()].filter((t) => t.count > 0).sort((a, b) => b.cpuNanos - a.cpuNanos);
  const stats = addStats(first.stats, next.stats);
  stats.uniqueStacks = rows.size;
  const processCpuNanos = first.processCpuNanos + next.processCpuNanos;
  return {
    samples: [...rows.values()],
    periodNanos: next.periodNanos,
    hz: next.hz,
    mode: next.mode,
    startTimeNanos: first.startTimeNanos,
    durationNanos: first.durationNanos + next.durationNanos,
    processCpuNanos,
    threads,
    stats,
    facts: { ...first.facts, ...next.facts, ...countFacts(stats), threads: threads.length, process_cpu_nanos: processCpuNanos },
    comments: [...new Set([...first.comments, ...next.comments])],
  };
}

export class ProfileBuilder {
  private readonly stacks = new Map<string, { tid: number; frames: Frame[]; count: number; cpuNanos: number }>();
  private readonly frameIds = new Map<Frame, number>();
  private readonly threads = new Map<number, ThreadSummary>();
  private readonly named = new Set<number>();

  private frameId(f: Frame): number {
    let id = this.frameIds.get(f);
    if (id === undefined) {
      id = this.frameIds.size;
      this.frameIds.set(f, id);
    }
    return id;
  }

  protected thread(tid: number): ThreadSummary {
    let t = this.threads.get(tid);
    if (!t) {
      t = { tid, name: `thread ${tid}`, js: false, count: 0, cpuNanos: 0 };
      this.threads.set(tid, t);
    }
    return t;
  }

  /**
   * Names a thread. A name given at registration ('main', 'worker 3') wins over the kernel's comm
   * name, whenever each is learnt: a worker sampled as a plain thread before it registered keeps
   * one name for all its samples.
   */
  nameThread(tid: number, name: string, registered: boolean): void {
    if (this.named.has(tid) && !registered) return;
    const t = this.thread(tid);
    if (!registered && this.threads.get(tid)!.count > 0 && !t.name.startsWith('thread ')) return;
    t.name = name;
    if (registered) this.named.add(tid);
  }

  /**
   * Adds count signals worth cpuNanos on thread tid with this stack. Frames are compared by
   * identity: the symbolizer hands out one Frame object per function.
   */
  add(tid: number, js: boolean, frames: Frame[], count: number, cpuNanos: number): void {
    let key = String(tid);
    for (const f of frames) key += ',' + this.frameId(f);
    let s = this.stacks.get(key);
    if (!s) {
      s = { tid, frames, count: 0, cpuNanos: 0 };
      this.stacks.set(key, s);
    }
    s.count += count;
    s.cpuNanos += cpuNanos;
    const t = this.thread(tid);
    t.js = t.js || js;
    t.count += count;
    t.cpuNanos += cpuNanos;
  }

  get uniqueStacks(): number {
    return this.stacks.size;
  }

  /**
   * Takes up to `ns` of CPU off thread tid's rows, the largest first, each row kept above zero:
   * CPU its samples stood for beyond what the thread burned (Sampler, at stop). Returns what it took.
   */
  shave(tid: number, ns: number): number {
    const rows = [...this.stacks.values()].filter((s) => s.tid === tid).sort((a, b) => b.cpuNanos - a.cpuNanos);
    let taken = 0;
    for (const s of rows) {
      const take = Math.max(0, Math.min(ns - taken, s.cpuNanos - 1));
      s.cpuNanos -= take;
      taken += take;
      if (taken >= ns) break;
    }
    if (taken > 0) this.thread(tid).cpuNanos -= taken;
    return taken;
  }

  /** A builder with no samples that knows the same thread names (the next window of a profile). */
  fresh(): ProfileBuilder {
    const b = new ProfileBuilder();
    for (const [tid, t] of this.threads) {
      if (t.name.startsWith('thread ') && !this.named.has(tid)) continue;
      b.nameThread(tid, t.name, this.named.has(tid));
      b.thread(tid).js = t.js;
    }
    return b;
  }

  /**
   * The rows, merged by what the frames say: native frames are one object per address until they
   * are named, so two rows can become the same stack once they are.
   */
  samples(): ProfileSample[] {
    const merged = new Map<string, ProfileSample>();
    for (const s of this.stacks.values()) {
      const key = stackKey(s.tid, s.frames);
      const row = merged.get(key);
      if (row) {
        row.count += s.count;
        row.cpuNanos += s.cpuNanos;
      } else {
        const t = this.thread(s.tid);
        const labels = { thread_id: s.tid, thread_name: t.name, thread_kind: t.js ? 'js' as const : 'native' as const };
        merged.set(key, { frames: s.frames, count: s.count, cpuNanos: s.cpuNanos, labels });
      }
    }
    return [...merged.values()];
  }

  threadSummaries(): ThreadSummary[] {
    return [...this.threads.values()].filter((t) => t.count > 0).map((t) => ({ ...t })).sort((a, b) => b.cpuNanos - a.cpuNanos);
  }
}
