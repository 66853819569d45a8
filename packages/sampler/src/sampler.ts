// The sampler: per-thread CPU timers on every thread (or only JS threads), setitimer for the
// rest, drained on an unref'd timer, filtered with validSIGPROF, weighted by 1 + si_overrun,
// symbolized and aggregated.
import { isMainThread } from 'node:worker_threads';
import { SI_KERNEL, SI_TIMER, classify, validSIGPROF } from '@ptprof/sigprof-filter';
import {
  binding as nativeBinding,
  eventCount,
  FLAG_JS,
  FLAG_KNOWN,
  FLAG_TIMER_VALID,
  INTS_PER_RECORD,
  NUMS_PER_RECORD,
  RI,
  RN,
  type Binding,
  type DrainCounters,
  type RawDrain,
} from '@ptprof/timers-native';
import { TimerLifecycle, periodForHz } from './lifecycle';
import { ProfileBuilder, countFacts, emptyStats, type Frame, type Profile, type ProfileFacts, type ProfileSample, type ProfileStats } from './profile';
import { PSEUDO, Symbolizer } from './symbolizer';
import { listTids, threadComm } from './threads';
import { inliningOff, inliningStats } from './inlining';
import { DEFAULT_THREADS, INT_OPTIONS, checkOption, collectIntervalFor, checkThreadsMode, type SamplerOptions, type ThreadsMode } from './options';
import { OwnCode, jsStack, keepTable, samplerOwnCode, threadStack, type PendingRecord } from './stacks';
import { registerCurrentThread } from './thread';

export type { SamplerOptions, ThreadsMode } from './options';
export { keepTable, packageSources, samplerOwnCode } from './stacks';
export { jsThreadName, registerCurrentThread } from './thread';


let running: Sampler | undefined;
const POLL_MS = 10;
/**
 * While no signal arrives, a drain is skipped unless this long has passed since the last one.
 * Every signal ptprof takes comes from a CPU clock: none since the last drain means the rings
 * hold nothing new, and an idle program (a server between requests) is spared a drain, a thread
 * scan and their ~350 µs every 100 ms (issue 14: 5.3 ms of CPU a second on an idle server's main
 * thread). What still waits for a drain then (code events, threads that exited) waits a second.
 */
const IDLE_DRAIN_MS = 1000;
/** The longest a drain goes without listing /proc/self/task (refreshThreads). */
const FULL_SCAN_MS = 500;
/**
 * How long a drain's records and code events may wait, as the addon handed them over, before
 * they are symbolized and added to the profile; and how many records at most. A drain's reading
 * of the rings and its thread scan cannot wait (the rings and the timers need them); the rest can.
 * Most of a fresh process's work is once-only: the code a new isolate lists (a worker's is ~4,800
 * events, replayed at ~1 µs each in code that runs too few times to be optimized), Node's ELF
 * symbols, the first frames' names. Done in the first drain, it was 15 of a 1 s program's 17 ms
 * under `(ptprof)` (issue 14, bench:parts). Held, a program that ends within HOLD_MS does it
 * once, at stop, after its timers are disarmed: the whole run pays the same, the program's
 * profile does not show it. A longer program does it every HOLD_MS, at the pace of the CLI's
 * hand-off (its parts every 2 s, whose window() takes what is held), and a busy one sooner.
 */
const HOLD_MS = 2000;
const HOLD_RECORDS = 20_000;
const HOLD_EVENTS = 50_000;

export class Sampler {
  readonly native: Binding;
  readonly mode: ThreadsMode;
  private readonly drainIntervalMs: number;
  private readonly useTimers: boolean;
  private readonly overrunWeights: boolean;
  private readonly inlinedFrames: boolean;
  private readonly ownCode: OwnCode;
  private readonly lifecycle: TimerLifecycle;
  private readonly symbolizer: Symbolizer;
  private builder = new ProfileBuilder();
  private stats: ProfileStats = emptyStats();
  private readonly names = new Map<number, { name: string; js: boolean }>();
  /** Whether a tid is one of the addon's own threads (isOwnThread). */
  private readonly ownThreads = new Map<number, boolean>();
  private readonly claimed = new Set<number>();
  private pending: PendingRecord[] = [];
  /** Drains not yet ingested (HOLD_MS), with the period their records were taken at. */
  private held: { raw: RawDrain; periodNs: number }[] = [];
  private heldRecords = 0;
  private heldEvents = 0;
  /** When the oldest held drain was taken (monotonic ns). */
  private heldSince = 0;
  /** Per thread: its CPU clock when its last setitimer sample was credited (or at start). */
  private readonly itimerCpu = new Map<number, number>();
  private readonly cpuCredit: boolean;
  /** Each thread's unsampled remainder is put in the profile (options.unsampled). */
  private readonly unsampled: boolean;
  /** Per thread alive when the current window began: its CPU clock then (threads born later: 0). */
  private threadCpu0 = new Map<number, number>();
  /**
   * Per thread: CPU its samples stood for beyond what it burned, not yet offset (a negative
   * remainder, carried into its next window's; see unsampledRows).
   */
  private readonly overCarry = new Map<number, number>();
  /** The (unsampled) rows of the window that stop() or window() closed. */
  private closedUnsampled: Unsampled | undefined;
  private hz: number;
  private periodNs: number;
  private timer: NodeJS.Timeout | undefined;
  /** The delay `timer` was made with. */
  private timerMs = -1;
  private readonly onTick = (): void => this.tick();
  /**
   * When /proc/self/task was last listed (monotonic ns), and whether a record came from a thread
   * with no slot since (the shared ring: a thread the sampler has not claimed is burning CPU).
   */
  private lastScanMono = 0;
  private unknownSeen = false;
  private lastDrainMono = 0;
  /** signalCount() when the current window began. */
  private windowSignals = -1;
  /** signalCount() when the last drain began: unchanged since, the process is idle. */
  private drainSignals = -1;
  /** How long the next tick waits while the process is idle (0: it is not). */
  private idleTickMs = 0;
  private lastSignals = 0;
  private events0 = { all: 0, moves: 0 };
  private inlining0 = { optimized: 0, inlined: 0, unexpanded: 0, early: 0, rejected: 0 };
  private startWall = 0n;
  private startMono = 0;
  private cpu0 = 0;
  private cpu1: number | undefined;
  private stopMono: number | undefined;
  private counters0: DrainCounters | undefined;
  private lastCounters: DrainCounters | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private unwatch: (() => void) | undefined;
  /** Calls of the sampler's own code in progress (see busy). */
  private inside = 0;
  /** Records that reached the sampler, and those of them validSIGPROF dropped (the handler drops most before). */
  private filteredHere = { records: 0, setitimer: 0, timer_create: 0 };

  constructor(opts: SamplerOptions = {}) {
    this.hz = checkOption('hz', opts.hz ?? INT_OPTIONS.hz.default);
    this.periodNs = periodForHz(this.hz);
    this.mode = checkThreadsMode(opts.threads ?? DEFAULT_THREADS);
    this.drainIntervalMs = checkOption('drainIntervalMs', opts.drainIntervalMs ?? INT_OPTIONS.drainIntervalMs.default);
    const framesLimit = checkOption('framesLimit', opts.framesLimit ?? INT_OPTIONS.framesLimit.default);
    if (opts.ringBytes !== undefined) checkOption('ringBytes', opts.ringBytes);
    this.useTimers = opts._timers ?? true;
    this.overrunWeights = opts._overrunWeights ?? true;
    this.inlinedFrames = opts.inlinedFrames ?? true;
    this.ownCode = new OwnCode([...samplerOwnCode(), ...(opts.ownCode ?? [])]);
    this.cpuCredit = this.useTimers && this.overrunWeights;
    // Not in the benchmarks' comparison modes: they stand for other profilers, which have no such row.
    this.unsampled = (opts.unsampled ?? true) && this.cpuCredit;
    this.native = opts._backend ?? nativeBinding;
    const collectIntervalMs = checkOption('collectIntervalMs', opts.collectIntervalMs ?? collectIntervalFor(this.hz));
    const backlogBytes = checkOption('backlogBytes', opts.backlogBytes ?? INT_OPTIONS.backlogBytes.default);
    this.native.configure({
      framesLimit, collectIntervalMs, backlogBytes, keepTable: keepTable(),
      ...(opts.ringBytes !== undefined ? { ringBytes: opts.ringBytes } : {}),
      // Only before the first handler install of the process; after it, the native layer keeps
      // the signal it has (and says why it cannot change).
      ...(opts.timerSignal !== undefined ? { timerSignal: checkOption('timerSignal', opts.timerSignal) } : {}),
    });
    this.lifecycle = new TimerLifecycle(this.native, opts._rng ?? Math.random);
    this.symbolizer = sharedSymbolizer(this.native);
  }

  get rate(): number {
    return this.hz;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /**
   * No signal has arrived since the current window began: no thread burned a period of CPU, and
   * a window cut now would hold no sample. A caller that hands windows on at a fixed pace (the
   * CLI's agent, every second) skips it and cuts a longer one later (issue 14: an idle program).
   */
  get quietSinceWindow(): boolean {
    return this.state === 'running' && this.native.signalCount() === this.windowSignals;
  }

  /**
   * Whether the sampler's own code is running now (a drain, a window, stop): what a caller
   * reached at an interrupt check (the agent's stop signals) asks before it touches the sampler.
   */
  get busy(): boolean {
    return this.inside > 0;
  }

  private guarded<T>(fn: () => T): T {
    this.inside++;
    try {
      return fn();
    } finally {
      this.inside--;
    }
  }

  /** Threads holding a timer right now (tid -> timer id). */
  get armedThreads(): ReadonlyMap<number, number> {
    return this.lifecycle.timers;
  }

  start(): this {
    if (this.state !== 'new') throw new Error('ptprof: this sampler was already started; create a new Sampler');
    if (running) throw new Error('ptprof: a sampler is already running in this process; stop it before starting another');
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the process's one running sampler (runningSampler())
    running = this;
    const n = this.native;
    n.installHandler();
    registerCurrentThread(n);
    this.symbolizer.refreshRemaps();
    // Whatever the rings hold predates this profile; code events are kept (the code is still there).
    const first = n.drain();
    this.noteDrain(first);
    this.ingest(first, true);
    this.unknownSeen = false;
    this.counters0 = this.lastCounters;
    this.events0 = { all: this.symbolizer.codeEvents, moves: this.symbolizer.codeMoves };
    this.inlining0 = { ...this.symbolizer.inlining };
    this.startWall = BigInt(Date.now()) * 1_000_000n;
    this.startMono = n.monotonicNs();
    this.windowSignals = n.signalCount();
    const begin = this.readCpuClocks(this.cpuCredit || this.unsampled);
    this.cpu0 = begin.process;
    this.threadCpu0 = begin.threads;
    // Threads born later start from zero CPU.
    if (this.cpuCredit) for (const [tid, ns] of begin.threads) this.itimerCpu.set(tid, ns);
    this.watchSigprofListeners();
    const rec = n.setEnabled(true);
    if (!rec.collector) {
      this.stats.collectorError = rec.collectorError || 'not started';
      process.stderr.write(`ptprof: the collector thread could not start (${this.stats.collectorError}); `
        + 'samples are collected by the JS thread alone, and a busy main thread may drop some (counted)\n');
    }
    this.applyPeriod();
    this.state = 'running';
    this.lastDrainMono = this.startMono;
    this.schedule(POLL_MS);
    return this;
  }

  // The rings are drained every drainIntervalMs on an unref'd timer (never keeping the program
  // alive). While the process is busy, a 10 ms poll also asks one cheap question: is a thread
  // with no timer of its own burning CPU (its setitimer records wait in the shared ring)? Then
  // drain now and arm it, rather than up to drainIntervalMs later: the libuv pool starts its
  // threads on first use, and until they have timers only setitimer, attenuated above the
  // kernel's HZ, sees them. An idle process is woken only every drainIntervalMs.
  private schedule(ms: number): void {
    // A busy process ticks a hundred times a second: the same Timeout is re-armed (refresh(), which
    // also re-arms one that has fired) rather than a new one made each time.
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.onTick, ms);
    this.timer.unref();
    this.timerMs = ms;
  }

  private tick(): void {
    if (this.state !== 'running') return;
    try {
      this.guarded(() => this.tickUnsafe());
    } catch (err) {
      // Runs inside someone else's program: a failure here must never become their uncaught
      // exception. It is counted and reported in the profile, once on stderr.
      this.stats.errors++;
      if (this.stats.errors === 1) process.stderr.write(`ptprof: sampling error (profile may be incomplete): ${(err as Error)?.message ?? err}\n`);
      this.schedule(this.drainIntervalMs);
    }
  }

  /**
   * SIGPROF serves setitimer only (the timers have a real-time signal of their own), and only
   * while no one else wants it: V8's CPU profiler (the inspector's Profiler.start, --cpu-prof) and
   * the program's own `process.on('SIGPROF')` install their handlers over ours and may put SIG_DFL
   * back, whose action kills. The native guard re-checks it (also from its collector thread, so a
   * busy JS thread does not delay it): setitimer is armed exactly while the handler is ours.
   * A listener the program adds is seen here before Node installs its handler: SIGPROF is then
   * the program's until its last listener goes.
   */
  private watchSigprofListeners(): void {
    if (!isMainThread) return;
    const n = this.native;
    const added = (event: string | symbol): void => {
      if (event === 'SIGPROF') n.yieldSigprof(true);
    };
    const removed = (event: string | symbol): void => {
      if (event === 'SIGPROF' && process.listenerCount('SIGPROF') === 0) n.yieldSigprof(false);
    };
    process.on('newListener', added);
    process.on('removeListener', removed);
    n.yieldSigprof(process.listenerCount('SIGPROF') > 0);
    this.unwatch = () => {
      process.removeListener('newListener', added);
      process.removeListener('removeListener', removed);
    };
  }

  private tickUnsafe(): void {
    // The collector thread re-checks SIGPROF on every pass; without it, the ticks do.
    if (this.stats.collectorError) this.native.guardSigprof();
    const now = this.native.monotonicNs();
    const signals = this.native.signalCount();
    const active = signals !== this.lastSignals;
    this.lastSignals = signals;
    const idleMs = Math.max(IDLE_DRAIN_MS, this.drainIntervalMs);
    const interval = signals === this.drainSignals ? idleMs : this.drainIntervalMs;
    const due = now - this.lastDrainMono >= interval * 1e6 - POLL_MS * 5e5;
    if (due || (this.mode === 'all' && this.useTimers && this.native.sharedPending() > 0)) this.drainNow(true);
    // Idle (no signal since the last tick): each tick waits twice as long as the one before, up
    // to IDLE_DRAIN_MS, so that an idle program is woken once a second rather than ten times (a
    // wake-up of the event loop alone costs ~165 µs of CPU here). The first signal ends it, at
    // the next tick: a thread born meanwhile waits that long for its timer, covered by setitimer
    // until then (its CPU credited from its own clock, its stacks sampled less often).
    if (active) this.idleTickMs = 0;
    else this.idleTickMs = this.idleTickMs === 0 ? this.drainIntervalMs : Math.min(2 * this.idleTickMs, idleMs);
    this.schedule(active ? POLL_MS : this.idleTickMs);
  }

  /** Changes the rate while running: drains first, then re-arms every timer (new random first expiry). */
  setRate(hz: number): void {
    checkOption('hz', hz);
    if (this.state !== 'running') throw new Error('ptprof: setRate needs a running sampler');
    this.drain();
    this.hz = hz;
    this.periodNs = periodForHz(hz);
    this.applyPeriod();
  }

  private applyPeriod(): void {
    const n = this.native;
    if (this.useTimers) {
      n.setSamplingPeriod(this.periodNs);
      this.lifecycle.setPeriod(this.periodNs);
      this.refreshThreads();
    }
    // setitimer stays on for the threads that have no timer of their own, as in Go.
    n.setitimer(this.periodNs);
  }

  /**
   * Arms timers for threads that appeared, disarms those that left. Listing /proc/self/task
   * (`full`) costs ~85 µs under a busy program's signals, on every drain (issue 14): it is done
   * when a record came from a thread with no slot (a thread nobody claimed is burning CPU: its
   * setitimer signals are in the shared ring, and the 10 ms poll drains them at once), when a timer
   * was found to have outlived its thread, and every FULL_SCAN_MS whatever happens. A new thread
   * that burns nothing needs no timer meanwhile; the native table says the rest.
   */
  private refreshThreads(full = true): void {
    const n = this.native;
    const known = n.threads();
    const knownJs = new Map<number, boolean>();
    for (const t of known) {
      knownJs.set(t.tid, t.js);
      if (t.name) {
        this.names.set(t.tid, { name: t.name, js: t.js });
        this.builder.nameThread(t.tid, t.name, true);
      }
    }
    // The native table is the truth about timers: a worker's cleanup hook deletes its timer when
    // it exits, and a worker that registers while we sample arms its own.
    const timers = n.timers();
    this.lifecycle.retain(new Set(timers.map((t) => t.id)));
    for (const t of timers) {
      if (t.intervalNs === 0 && t.valueNs === 0 && this.lifecycle.timers.get(t.tid) === t.id) {
        // The thread this timer counted has exited (the kernel detaches its CPU timers): its tid
        // may already be another thread's, and a "valid" timer that never fires would hide that
        // thread (its setitimer signals filtered) for its whole life. Forget both.
        this.lifecycle.disarm(t.tid);
        if (this.claimed.delete(t.tid) && !knownJs.get(t.tid)) {
          n.releaseThread(t.tid);
          knownJs.delete(t.tid);
        }
        full = true; // a thread exited: its tid may be a new thread's already
        continue;
      }
      this.lifecycle.adopt(t.tid, t.id);
    }
    if (this.mode === 'js') {
      for (const t of known) if (t.js) this.lifecycle.arm(t.tid);
      const live = new Set(known.filter((t) => t.js).map((t) => t.tid));
      this.lifecycle.reconcile(live);
      return;
    }
    if (!full) return;
    this.lastScanMono = n.monotonicNs();
    this.unknownSeen = false;
    const tids = listTids();
    const live = new Set(tids);
    for (const tid of tids) {
      if (!knownJs.has(tid)) {
        try {
          n.claimThread(tid);
          this.claimed.add(tid);
        } catch {
          continue; // no free slot: the thread stays unknown and setitimer covers it
        }
      }
      try {
        this.lifecycle.arm(tid);
      } catch {
        // The thread exited between the scan and timer_create (ESRCH/EINVAL): nothing to arm.
      }
    }
    this.lifecycle.reconcile(live);
    for (const tid of [...this.claimed]) {
      if (!live.has(tid)) {
        n.releaseThread(tid);
        this.claimed.delete(tid);
      }
    }
  }

  /**
   * Collects what the rings hold now, and adds it to the profile with all that the ticks' drains
   * held (HOLD_MS). The sampler's own ticks call drainNow(true) instead.
   */
  drain(): void {
    if (this.state !== 'running') return;
    this.guarded(() => this.drainNow(false));
  }

  /** `hold`: the records and events may wait (HOLD_MS); otherwise all that is held is ingested. */
  private drainNow(hold: boolean): void {
    const n = this.native;
    n.guardSigprof();
    this.drainSignals = n.signalCount();
    const raw = n.drain();
    const now = n.monotonicNs();
    this.lastDrainMono = now;
    this.take(raw, now);
    if (!hold || now - this.heldSince >= HOLD_MS * 1e6 || this.heldRecords >= HOLD_RECORDS || this.heldEvents >= HOLD_EVENTS) this.ingestHeld();
    if (this.useTimers) this.refreshThreads(this.unknownSeen || this.lastDrainMono - this.lastScanMono >= FULL_SCAN_MS * 1e6);
  }

  /**
   * What a drain says that cannot wait: its counters, its threads' names, a record from a thread
   * with no slot (refreshThreads), and the name of a thread seen for the first time, read while it
   * lives (a short-lived thread may be gone, its tid another's, when its records are ingested).
   */
  private noteDrain(raw: RawDrain): void {
    this.lastCounters = raw.counters;
    for (const t of raw.threads) {
      // A thread that registered while the sampler ran (a worker): its first setitimer signal
      // stands for its CPU since it registered, not since it was born. Its bootstrap, Node's
      // before ptprof's agent could run there, would otherwise all go to the stack that signal
      // caught: V8's listing of its code, under (ptprof) (issue 14: 12-20 ms samples there in 3 of
      // 24 runs of a 1 s program). It stays in the thread's (unsampled) row.
      if (this.cpuCredit && t.registerCpuNs > 0 && !this.itimerCpu.has(t.tid)) this.itimerCpu.set(t.tid, t.registerCpuNs);
      if (!t.name) continue;
      this.names.set(t.tid, { name: t.name, js: t.js });
      this.builder.nameThread(t.tid, t.name, true);
    }
    for (let i = 0; i < raw.count; i++) {
      const a = i * INTS_PER_RECORD;
      if ((raw.ints[a + RI.flags] & FLAG_KNOWN) === 0) this.unknownSeen = true;
      if (!this.names.has(raw.ints[a + RI.tid])) this.threadName(raw.ints[a + RI.tid]);
    }
  }

  /** A drain taken at `now`: what cannot wait noted, the rest held for ingestHeld. */
  private take(raw: RawDrain, now: number): void {
    this.noteDrain(raw);
    const events = eventCount(raw);
    if (raw.count === 0 && events === 0) return;
    if (this.held.length === 0) this.heldSince = now;
    this.held.push({ raw, periodNs: this.periodNs });
    this.heldRecords += raw.count;
    this.heldEvents += events;
  }

  /** Symbolizes and adds every held drain, in the order they were taken. */
  private ingestHeld(): void {
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    this.heldRecords = 0;
    this.heldEvents = 0;
    for (const h of held) this.ingest(h.raw, false, h.periodNs);
  }

  stop(): Profile {
    if (this.state !== 'running') throw new Error('ptprof: stop() needs a running sampler');
    return this.guarded(() => this.stopNow());
  }

  private stopNow(): Profile {
    const n = this.native;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerMs = -1;
    n.setSamplingPeriod(0);
    n.setitimer(0);
    this.lifecycle.disarmAll();
    // Timers armed by workers that registered after the last refresh.
    for (const t of n.timers()) {
      n.setTimerValid(t.tid, false);
      try {
        n.timerDelete(t.id);
      } catch {
        /* deleted by its thread's cleanup hook meanwhile */
      }
    }
    for (const tid of this.claimed) n.releaseThread(tid);
    this.claimed.clear();
    this.unwatch?.();
    this.unwatch = undefined;
    n.setEnabled(false);
    const end = this.readCpuClocks(this.unsampled);
    this.cpu1 = end.process;
    this.stopMono = n.monotonicNs();
    this.take(n.drain(), this.stopMono);
    this.ingestHeld();
    this.flushPending();
    if (this.unsampled) this.closedUnsampled = this.unsampledRows(this.cpu1 - this.cpu0, end.threads, true, true);
    this.state = 'stopped';
    running = undefined;
    return this.profile();
  }

  /** Turns a raw drain into kept, weighted, symbolized samples (noteDrain has seen it). */
  private ingest(raw: RawDrain, discard: boolean, periodNs = this.periodNs): void {
    this.symbolizer.addEvents(raw);
    if (!discard) {
      let f = 0;
      for (let i = 0; i < raw.count; i++) {
        const a = i * INTS_PER_RECORD;
        const b = i * NUMS_PER_RECORD;
        const nf = raw.ints[a + RI.nframes];
        this.pending.push({
          tid: raw.ints[a + RI.tid],
          code: raw.ints[a + RI.code],
          overrun: raw.ints[a + RI.overrun],
          flags: raw.ints[a + RI.flags],
          vmState: raw.ints[a + RI.vmState],
          isolateId: raw.ints[a + RI.isolateId],
          codeSeq: raw.nums[b + RN.codeSeq],
          pc: raw.nums[b + RN.pc],
          ext: raw.nums[b + RN.externalCallback],
          threadCpuNs: raw.nums[b + RN.threadCpuNs],
          timerTag: raw.nums[b + RN.timerTag],
          frames: raw.frames.slice(f, f + nf),
          periodNs,
        });
        f += nf;
      }
    }
    // A record can only be resolved once every event before it has arrived.
    const ready: PendingRecord[] = [];
    const later: PendingRecord[] = [];
    for (const r of this.pending) (r.codeSeq <= this.symbolizer.maxSeq ? ready : later).push(r);
    this.pending = later;
    this.process(ready);
    if (discard) this.pending = [];
  }

  private flushPending(): void {
    const all = this.pending;
    this.pending = [];
    this.process(all);
  }

  private process(records: PendingRecord[]): void {
    records.sort((x, y) => x.codeSeq - y.codeSeq);
    const sym = this.symbolizer;
    const st = this.stats;
    try {
      for (const r of records) {
        sym.replay(r.codeSeq);
        this.filteredHere.records++;
        const known = (r.flags & FLAG_KNOWN) !== 0;
        const timerValid = (r.flags & FLAG_TIMER_VALID) !== 0;
        if (!validSIGPROF({ code: r.code, known, timerValid })) {
          const src = classify(r.code);
          if (src === 'setitimer') this.filteredHere.setitimer++;
          else this.filteredHere.timer_create++;
          continue;
        }
        let cpuNanos: number;
        if (r.code === SI_TIMER) {
          // The timer's own period (its tag): a signal queued before a rate change counts old periods.
          cpuNanos = (this.overrunWeights ? 1 + r.overrun : 1) * (r.timerTag > 0 ? r.timerTag : r.periodNs);
          // The thread's CPU is accounted up to here: a setitimer sample later (its timer gone at
          // exit, say) stands only for what comes after.
          if (this.cpuCredit && r.threadCpuNs > (this.itimerCpu.get(r.tid) ?? 0)) this.itimerCpu.set(r.tid, r.threadCpuNs);
        } else if (r.code === SI_KERNEL && this.cpuCredit) {
          // setitimer's SIGPROF is process-directed: the kernel may deliver it to a thread that did
          // not burn the CPU it stands for, and it cannot say how many periods it missed. The
          // receiving thread's own CPU clock says what that thread burned since its last sample of
          // either kind: that, no more, is what this sample stands for. A thread is never credited more
          // than its own CPU, and one that keeps setitimer's signals (no timer yet, or 'js' mode)
          // is credited all of it.
          const last = this.itimerCpu.get(r.tid) ?? 0;
          cpuNanos = r.threadCpuNs - last;
          if (!(cpuNanos > 0)) {
            st.misdelivered++;
            continue;
          }
          this.itimerCpu.set(r.tid, r.threadCpuNs);
        } else {
          cpuNanos = r.periodNs;
        }
        st.kept++;
        const js = (r.flags & FLAG_JS) !== 0;
        const thread = this.threadName(r.tid);
        let frames = js ? this.jsFrames(r) : this.threadFrames(r, thread);
        if (js) {
          const own = this.ownCode.reroot(frames);
          if (own) {
            frames = own;
            st.self.nanos += cpuNanos;
            st.self.samples++;
          }
        }
        this.builder.add(r.tid, js, frames, 1, cpuNanos);
      }
      sym.replay(sym.maxSeq);
    } finally {
      sym.endBatch(); // the files opened to name native frames, closed
    }
  }

  private threadName(tid: number): string {
    const hit = this.names.get(tid);
    if (hit) return hit.name;
    const comm = threadComm(tid);
    const name = comm ?? `thread ${tid}`;
    this.names.set(tid, { name, js: false });
    if (comm) this.builder.nameThread(tid, comm, false);
    return name;
  }

  private jsFrames(r: PendingRecord): Frame[] {
    return jsStack(this.symbolizer, r, this.inlinedFrames, this.stats);
  }

  private threadFrames(r: PendingRecord, thread: string): Frame[] {
    return threadStack(this.symbolizer, r, thread);
  }

  /**
   * The profile of the current window, and the next window begins (the first window starts at
   * start()): samples, counts and the OS's CPU count are those of this stretch only, recording
   * goes on, and the windows of one run add up to what one profile of the whole run would hold
   * (a record whose code events have not arrived yet is read in the next window). For profiles
   * taken on demand, pushed every N seconds, or handed to a parent process while a program runs.
   */
  window(): Profile {
    if (this.state !== 'running') throw new Error('ptprof: window() needs a running sampler');
    return this.guarded(() => this.windowNow());
  }

  private windowNow(): Profile {
    const n = this.native;
    this.windowSignals = n.signalCount();
    this.drain();
    // Records that refer to code events logged during that drain wait for them (their seq is
    // newer than the events it took): a second drain brings those events, so that the CPU burned
    // before the boundary stays in this window.
    if (this.pending.length > 0) this.drain();
    const endMono = n.monotonicNs();
    const end = this.readCpuClocks(this.unsampled);
    this.stopMono = endMono;
    this.cpu1 = end.process;
    if (this.unsampled) this.closedUnsampled = this.unsampledRows(end.process - this.cpu0, end.threads, true);
    const p = this.profile();
    this.stopMono = undefined;
    this.cpu1 = undefined;
    this.closedUnsampled = undefined;
    this.startMono = endMono;
    this.cpu0 = end.process;
    this.threadCpu0 = end.threads;
    this.startWall = p.startTimeNanos + BigInt(p.durationNanos);
    this.counters0 = this.lastCounters;
    this.events0 = { all: this.symbolizer.codeEvents, moves: this.symbolizer.codeMoves };
    this.inlining0 = { ...this.symbolizer.inlining };
    const collectorError = this.stats.collectorError;
    this.stats = emptyStats();
    this.stats.collectorError = collectorError;
    this.filteredHere = { records: 0, setitimer: 0, timer_create: 0 };
    this.builder = this.builder.fresh();
    return p;
  }

  /** The profile so far (also valid while running). */
  profile(): Profile {
    if (this.held.length > 0) this.guarded(() => this.ingestHeld());
    const c = this.lastCounters;
    const c0 = this.counters0;
    const st = this.stats;
    if (c && c0) {
      st.dropped.ring = c.ringDrops - c0.ringDrops;
      st.dropped.shared = c.sharedDrops - c0.sharedDrops;
      st.foreign = c.foreign - c0.foreign;
      st.late = c.disabled - c0.disabled;
      st.codeDrops = c.codeDrops - c0.codeDrops;
      // Signals the handler filtered without a record (keepTable), beside those filtered here.
      st.filtered.setitimer = this.filteredHere.setitimer + c.filteredSetitimer - c0.filteredSetitimer;
      st.filtered.timer_create = this.filteredHere.timer_create + c.filteredTimer - c0.filteredTimer;
      st.records = this.filteredHere.records + (c.filteredSetitimer - c0.filteredSetitimer) + (c.filteredTimer - c0.filteredTimer);
      st.sigprof.suspensions = c.itimerSuspensions - c0.itimerSuspensions;
      st.sigprof.reinstalls = c.sigprofReinstalls - c0.sigprofReinstalls;
      // (An addon older than the counter has none: 0, not NaN.)
      st.handlerNanos = (c.handlerNs ?? 0) - (c0.handlerNs ?? 0);
    }
    st.inlining = inliningStats(this.symbolizer.inlining, this.inlining0, c, c0, this.inlinedFrames ? inliningOff(this.native) : 'switched off (inlinedFrames: false)');
    st.codeEvents = this.symbolizer.codeEvents - this.events0.all;
    st.codeMoves = this.symbolizer.codeMoves - this.events0.moves;
    st.codeMaps = this.symbolizer.isolateCount;
    st.uniqueStacks = this.builder.uniqueStacks;
    const durationNanos = Math.max(0, Math.round((this.stopMono ?? this.native.monotonicNs()) - this.startMono));
    const now = this.cpu1 === undefined ? this.readCpuClocks(this.unsampled) : undefined;
    const processCpuNanos = Math.max(0, Math.round((this.cpu1 ?? now!.process) - this.cpu0));
    const threads = this.builder.threadSummaries();
    // While running: the rows as a window cut now would have them, the carry left as it is.
    const un = !this.unsampled ? { rows: [], oversampled: 0, ownThreads: 0 }
      : this.closedUnsampled ?? this.unsampledRows(now!.process - this.cpu0, now!.threads, false);
    const unsampled = un.rows;
    st.unsampledNanos = unsampled.reduce((a, r) => a + r.cpuNanos, 0);
    st.oversampledNanos = un.oversampled;
    st.ptprofThreadsNanos = un.ownThreads;
    // Named facts, written into the pprof's comments by @ptprof/pprof-writer (facts.ts) and read
    // back with its parseFacts: no one parses these from free text.
    const counts = countFacts(st);
    const facts: ProfileFacts = {
      hz: this.hz,
      period_nanos: this.periodNs,
      mode: this.mode,
      ...(this.useTimers ? {} : { timers: false }),
      ...(this.overrunWeights ? {} : { overrun_weights: false }),
      ...counts,
      threads: threads.length,
      process_cpu_nanos: processCpuNanos,
      timer_signal: this.native.signalInfo().timerSignalName,
    };
    return {
      samples: unsampled.length > 0 ? [...this.builder.samples(), ...unsampled] : this.builder.samples(),
      periodNanos: this.periodNs,
      hz: this.hz,
      mode: this.mode,
      startTimeNanos: this.startWall,
      durationNanos,
      processCpuNanos,
      threads,
      stats: structuredClone(st),
      facts,
      comments: [],
    };
  }

  /** Rows in the profile so far (what the ticks' drains hold is not in it yet: drain() adds it). */
  get uniqueStacks(): number {
    return this.builder.uniqueStacks;
  }

  /**
   * The process's CPU clock and, when `threads`, every thread's (/proc/self/task), threads first:
   * a thread's clock read a little before the process's leaves the difference to threads that are
   * gone (unsampledRows) at zero or a few µs, never below.
   */
  private readCpuClocks(threads: boolean): { process: number; threads: Map<number, number> } {
    const out = new Map<number, number>();
    if (threads) {
      for (const tid of listTids()) {
        try {
          out.set(tid, this.native.threadCpuNs(tid));
        } catch {
          /* exited meanwhile: its CPU is counted with the threads that are gone */
        }
      }
    }
    return { process: this.native.processCpuNs(), threads: out };
  }

  /**
   * Each thread's unsampled remainder in this window (issue 14): the CPU its clock counted minus
   * what its samples stand for, as one `(unsampled)` row on the thread, so that the profile adds up
   * to the OS's count of the process's CPU instead of silently losing the difference. It is:
   * - CPU after the thread's last sample that no expiry has reached yet, and an expiry the kernel
   *   had not acted on when the thread blocked or the profile stopped (a CPU-clock timer fires at
   *   a tick that finds its thread running: up to a tick of CPU per thread);
   * - CPU of a new thread before its timer was armed that no setitimer signal reached (a worker's
   *   bootstrap);
   * - records dropped (a full ring), counted in the facts;
   * - less the part of the first period before the window: a timer's first expiry is uniform in
   *   (0, period] (Go issue 35057) and the first sample of a window stands for the whole period
   *   it ends, so a thread's remainder can be negative, by less than a period. No row is negative
   *   (pprof's readers take none): a negative remainder is carried into the thread's next window,
   *   where the CPU after its last sample offsets it (the two are the same period, cut by the
   *   window's edge). What is left at stop (`final`) is taken off the thread's rows of the last
   *   window, the largest first: a helper thread sampled once, for a whole period, shows the CPU
   *   it burned. What cannot be taken there (a thread with no row in the last window) is the
   *   `oversampled_nanos` fact: the profile's total is the OS's count plus that fact.
   * Threads that exited in the window cannot be read any more: together their remainder is the
   * process's CPU less every live thread's and less their samples, one row on the thread when one
   * exited (else on an `exited threads` row, thread_id 0). A live thread's remainder more than
   * two periods below zero is not its first period (a dead thread's samples on a tid the kernel
   * gave to a new one, timers re-armed at rate changes): the part beyond joins that process-wide
   * rest, and a rest below zero is oversampled. Below 0.1 ms that difference is the
   * moments between reading the clocks, and no row is made. `commit` closes the window: the
   * carries move on.
   */
  private unsampledRows(processCpuNanos: number, ends: ReadonlyMap<number, number>, commit: boolean, final = false): Unsampled {
    const sampled = new Map<number, number>();
    for (const t of this.builder.threadSummaries()) sampled.set(t.tid, t.cpuNanos);
    const carry = commit ? this.overCarry : new Map(this.overCarry);
    const before = sumValues(carry);
    const rows: ProfileSample[] = [];
    const row = (tid: number, cpuNanos: number, name?: string): void => {
      const known = this.names.get(tid);
      const thread_name = name ?? known?.name ?? threadComm(tid) ?? `thread ${tid}`;
      rows.push({ frames: [PSEUDO.unsampled], count: 0, cpuNanos, labels: { thread_id: tid, thread_name, thread_kind: known?.js ? 'js' : 'native' } });
    };
    let live = 0;
    let ownThreads = 0;
    // Remainders no one thread can be given: left to the process-wide rest below.
    let pooled = 0;
    for (const [tid, end] of ends) {
      let base = this.threadCpu0.get(tid) ?? 0;
      if (end < base) base = 0; // the tid is another thread's now: it was born in this window
      const burned = end - base;
      live += burned;
      if (this.isOwnThread(tid, base === 0)) ownThreads += burned;
      const r = Math.round(burned - (sampled.get(tid) ?? 0) + (carry.get(tid) ?? 0));
      carry.delete(tid);
      if (r >= 1000) row(tid, r);
      else if (r < 0) {
        // One thread's first period is less than a period over, and a record drained a window
        // late adds one more. Beyond two periods it is something else: the samples of a thread
        // that exited and whose tid the kernel gave to a new one, or timers re-armed at rate
        // changes. That part joins the process-wide rest.
        const floor = -2 * this.periodNs;
        if (r < floor) pooled += r - floor;
        carry.set(tid, Math.max(r, floor));
      }
    }
    const gone = new Set<number>();
    for (const tid of [...this.threadCpu0.keys(), ...sampled.keys(), ...carry.keys()]) if (!ends.has(tid)) gone.add(tid);
    let rest = processCpuNanos - live + pooled;
    for (const tid of gone) {
      rest += (carry.get(tid) ?? 0) - (sampled.get(tid) ?? 0);
      carry.delete(tid);
    }
    rest = Math.round(rest);
    let lost = 0;
    if (rest >= 100_000 || (gone.size > 0 && rest >= 1000)) {
      if (gone.size === 1) row([...gone][0]!, rest);
      else row(0, rest, 'exited threads');
    } else if (rest < 0) {
      // Threads gone with more sampled than burned, or what joined the rest above: no later window
      // will offset it.
      lost = -rest;
      if (final && gone.size === 1) lost -= this.builder.shave([...gone][0]!, lost);
    }
    if (final) {
      // The end: nothing after it offsets what a thread's samples stood for beyond its CPU. Taken
      // off its rows in this window (the largest first), so that the thread's total is its CPU;
      // what it has no rows here for stays in oversampled_nanos.
      for (const [tid, c] of carry) {
        const left = c + this.builder.shave(tid, -c);
        if (left < 0) carry.set(tid, left);
        else carry.delete(tid);
      }
    }
    return { rows, oversampled: before - sumValues(carry) + lost, ownThreads: Math.round(ownThreads) };
  }

  /**
   * Whether tid is one of the addon's own threads (`ptprof-collect`, `ptprof-control`), by its name,
   * read once a thread (again when `fresh`: the tid may be a new thread's).
   */
  private isOwnThread(tid: number, fresh: boolean): boolean {
    let own = fresh ? undefined : this.ownThreads.get(tid);
    if (own === undefined) {
      const comm = this.names.get(tid)?.name ?? threadComm(tid) ?? '';
      own = OWN_THREADS.has(comm);
      if (this.ownThreads.size > 4096) this.ownThreads.clear();
      this.ownThreads.set(tid, own);
    }
    return own;
  }
}

/** The addon's threads (timers-native: drain.cc, control.cc). */
const OWN_THREADS = new Set(['ptprof-collect', 'ptprof-control']);

interface Unsampled {
  rows: ProfileSample[];
  /** CPU this window's samples stood for beyond what the threads burned (see unsampledRows). */
  oversampled: number;
  /** The CPU of ptprof's own threads in this window (ProfileStats.ptprofThreadsNanos). */
  ownThreads: number;
}

function sumValues(m: ReadonlyMap<number, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

let symbolizer: Symbolizer | undefined;
// Code events are consumed by whoever drains: one symbolizer per process keeps the code maps
// across samplers (stop, then start again).
function sharedSymbolizer(n: Binding): Symbolizer {
  if (!symbolizer || n !== nativeBinding) symbolizer = new Symbolizer(n);
  return symbolizer;
}

/** The sampler running in this process, if any. */
export function runningSampler(): Sampler | undefined {
  return running;
}
