// Per-thread timer lifecycle, after the Go runtime's setThreadCPUProfiler (runtime/os_linux.go,
// Go issue 35057), kept in TypeScript over the native primitives so that it can be tested against
// a fake backend.
//
// - Each thread's timer counts that thread's own CPU clock and signals that thread.
// - The first expiry is uniform in (0, period]: 1 + rand(period) ns. A thread that lives for a
//   tenth of a period then has a one-in-ten chance of one sample rather than none, so short-lived
//   threads are represented in expectation. A timer whose first expiry were the full period would
//   never fire on them.
// - The "valid" flag the signal handler reads is set after timer_settime and cleared before
//   timer_delete: a signal on a thread whose flag is clear is filtered as coming from a timer that
//   is not (or no longer) the thread's source, and setitimer's signals are kept for it instead.

/** The native calls the lifecycle needs (a subset of @ptprof/timers-native's binding). */
export interface TimerBackend {
  timerCreate(tid: number, exclusive?: boolean, tag?: number): number;
  timerSettime(id: number, firstNs: number, periodNs: number): void;
  timerDelete(id: number): void;
  setTimerValid(tid: number, valid: boolean): boolean;
}

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** First expiry, uniform over the integers 1..periodNs: Go's `1 + cheaprandn(period)`. */
export function firstExpiryNs(periodNs: number, rng: Rng): number {
  const r = rng();
  const n = 1 + Math.floor(r * periodNs);
  return n > periodNs ? periodNs : n;
}

/** Sampling period in ns for a rate in Hz (1..10000). */
export function periodForHz(hz: number): number {
  return Math.round(1e9 / hz);
}

/**
 * Creates and arms a timer for tid. Returns its id, or undefined when `exclusive` and the thread
 * already has one (someone else armed it first). The timer is tagged with its period: each of its
 * signals carries the period its si_overrun counts, whatever the rate is when it is read.
 */
export function armThreadTimer(
  backend: TimerBackend,
  tid: number,
  periodNs: number,
  rng: Rng,
  exclusive: boolean,
): number | undefined {
  const id = backend.timerCreate(tid, exclusive, periodNs);
  if (id < 0) return undefined;
  try {
    backend.timerSettime(id, firstExpiryNs(periodNs, rng), periodNs);
  } catch (err) {
    backend.timerDelete(id);
    throw err;
  }
  backend.setTimerValid(tid, true);
  return id;
}

export class TimerLifecycle {
  /** tid -> timer id */
  readonly timers = new Map<number, number>();
  periodNs = 0;

  constructor(
    private readonly backend: TimerBackend,
    private readonly rng: Rng = Math.random,
  ) {}

  /** Arms tid's timer at the current period unless it has one. Returns false if it already had one. */
  arm(tid: number): boolean {
    if (this.periodNs <= 0) throw new Error('TimerLifecycle.arm: no period set (call setPeriod first)');
    if (this.timers.has(tid)) return false;
    const id = armThreadTimer(this.backend, tid, this.periodNs, this.rng, true);
    if (id === undefined) return false;
    this.timers.set(tid, id);
    return true;
  }

  /** Forgets timers that no longer exist (a worker's cleanup hook deleted its own at exit). */
  retain(ids: ReadonlySet<number>): void {
    for (const [tid, id] of [...this.timers]) if (!ids.has(id)) this.timers.delete(tid);
  }

  /** Takes over a timer that the thread armed itself (a worker registering during sampling). */
  adopt(tid: number, id: number): void {
    if (!this.timers.has(tid)) this.timers.set(tid, id);
  }

  /** Clears the valid flag, then deletes the timer (in that order: Go's setThreadCPUProfiler). */
  disarm(tid: number): void {
    const id = this.timers.get(tid);
    if (id === undefined) return;
    this.timers.delete(tid);
    this.backend.setTimerValid(tid, false);
    try {
      this.backend.timerDelete(id);
    } catch {
      // The thread's environment cleanup hook deleted it already (a worker that exited).
    }
  }

  disarmAll(): void {
    for (const tid of [...this.timers.keys()]) this.disarm(tid);
  }

  /**
   * New period for every timer: each is deleted and created again (as Go does), with a new random
   * first expiry and the new period as its tag, so signals of the old timer still queued are
   * weighed at the old period.
   */
  setPeriod(periodNs: number): void {
    if (!(periodNs > 0) || !Number.isInteger(periodNs)) throw new RangeError(`period must be a positive integer of ns, got ${periodNs}`);
    const changed = this.periodNs !== periodNs;
    this.periodNs = periodNs;
    if (!changed) return;
    for (const tid of [...this.timers.keys()]) {
      this.disarm(tid);
      try {
        this.arm(tid);
      } catch {
        // The thread exited meanwhile.
      }
    }
  }

  /** Disarms the timers of threads that no longer exist. Returns the tids removed. */
  reconcile(live: ReadonlySet<number>): number[] {
    const gone: number[] = [];
    for (const tid of [...this.timers.keys()]) {
      if (!live.has(tid)) {
        this.disarm(tid);
        gone.push(tid);
      }
    }
    return gone;
  }
}
