// The decision the Go runtime makes for every SIGPROF on Linux (validSIGPROF in runtime/os_linux.go,
// commit 8cfd8c3 "runtime: profile with per-thread timers on Linux", Go issue 35057), as a pure
// function with no dependencies.
//
// A profiler that uses both signal sources at once needs it. Each thread it knows gets its own
// POSIX timer (timer_create on the thread's CPU clock, delivered to that thread), because the
// process-wide setitimer(ITIMER_PROF) under-reports CPU burned by several threads in parallel. But
// setitimer stays on too, for the threads that have no timer of their own. A thread that has both
// receives SIGPROF from both, and counting both would count its CPU twice; the kernel's si_code
// tells the two apart, and this filter keeps exactly one source per thread.
//
// It decides; it does not read signals. The caller takes si_code from the siginfo_t and says what
// it knows about the thread the signal was delivered to.

// si_code values (include/uapi/asm-generic/siginfo.h). si_code is a signed 32-bit int.

/** si_code of a SIGPROF sent by the kernel for setitimer(ITIMER_PROF), the process-wide timer. */
export const SI_KERNEL = 0x80;
/** si_code of a signal sent by a POSIX timer's expiry (timer_create), here the per-thread timer. */
export const SI_TIMER = -2;
/** si_code of a signal sent by tkill(2)/tgkill(2) (e.g. pthread_kill, `kill -s` on one thread). */
export const SI_TKILL = -6;
/** si_code of a signal sent by kill(2) (e.g. `kill -PROF <pid>`), and by raise(3) on old libcs. */
export const SI_USER = 0;
/** si_code of a signal sent by sigqueue(3). */
export const SI_QUEUE = -1;

/** Where a signal came from, by its si_code. 'other' is any code not named here. */
export type SignalSource = 'setitimer' | 'timer_create' | 'tkill' | 'user' | 'queue' | 'other';

/** One SIGPROF delivery, as the filter needs to see it. Other fields are allowed and ignored. */
export interface SignalEvent {
  /** The delivery's si_code, a signed 32-bit integer (e.g. SI_KERNEL, SI_TIMER). */
  code: number;
  /**
   * Whether the receiving thread has profiler state (for Go: an M; for a profiler: a slot in its
   * thread table). Without it the filter cannot know whether the thread has a timer of its own.
   */
  known: boolean;
  /**
   * Whether the receiving thread's own timer is armed (Go: mp.profileTimerValid). Only read when
   * `known` is true, but always required, so that a record missing it is caught, not guessed.
   */
  timerValid: boolean;
}

/** Kept and dropped deliveries, in all and per source, as counted by countSIGPROF. */
export interface SIGPROFCounts {
  kept: number;
  dropped: number;
  bySource: Record<SignalSource, { kept: number; dropped: number }>;
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

function show(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'bigint') return `bigint ${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function checkCode(code: unknown, where: string): number {
  if (typeof code !== 'number' || !Number.isInteger(code)) {
    throw new TypeError(`${where}code must be an integer (the signal's si_code), got ${show(code)}`);
  }
  if (code < INT32_MIN || code > INT32_MAX) {
    // Most likely si_code read as unsigned: 0xfffffffe is SI_TIMER (-2). Rejected rather than
    // passed as a foreign code, which would keep a timer's signal unfiltered and count it twice.
    const hint = code > INT32_MAX && code <= 0xffffffff ? ` (read as unsigned? as int32 it is ${code | 0})` : '';
    throw new RangeError(`${where}code must be a signed 32-bit integer (the signal's si_code), got ${code}${hint}`);
  }
  return code;
}

function checkFlag(value: unknown, name: string, what: string, where: string): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${where}${name} must be a boolean (${what}), got ${show(value)}`);
  }
  return value;
}

function decide(event: unknown, where: string): boolean {
  if (typeof event !== 'object' || event === null) {
    throw new TypeError(`${where}expected an object { code, known, timerValid }, got ${show(event)}`);
  }
  const e = event as Record<string, unknown>;
  const code = checkCode(e.code, where);
  const known = checkFlag(e.known, 'known', 'whether the thread has profiler state', where);
  const timerValid = checkFlag(e.timerValid, 'timerValid', "whether the thread's own timer is armed", where);

  const setitimer = code === SI_KERNEL;
  const timerCreate = code === SI_TIMER;

  if (!(setitimer || timerCreate)) {
    // The signal doesn't come from a timer the profiler arms (kill, tgkill, sigqueue, another
    // library's timer). There's no reason to count it as a sample of ours, but no reason to
    // drop it either: it is not ours to judge.
    return true;
  }

  if (!known) {
    // With no state for this thread we can't tell whether it has an active timer of its own. It
    // may have been profiled earlier and still have one (its state gone, or not yet found), or it
    // may never have had one. setitimer reaches every thread, known or not, so keeping only
    // setitimer's signals here counts such a thread once either way, never twice.
    return setitimer;
  }

  if (timerValid) {
    // The thread has its own per-thread timer: keep its signals (they are in proportion to this
    // thread's CPU time, which setitimer under-reports when threads run in parallel; Go issue
    // 35057) and drop setitimer's, which would count the same CPU a second time.
    return timerCreate;
  }

  // A known thread without an armed timer (creating it failed, or it is being turned off: the
  // valid flag is cleared before timer_delete, so a late expiry lands here and is dropped). The
  // only source that speaks for it is setitimer.
  return setitimer;
}

/**
 * Whether the profiler should count this SIGPROF delivery as a sample (Go's validSIGPROF).
 *
 * - a code other than SI_KERNEL or SI_TIMER: true (not a profiling timer's signal; not ours to filter)
 * - an unknown thread: only setitimer's signals (SI_KERNEL)
 * - a known thread with an armed timer: only its timer's signals (SI_TIMER)
 * - a known thread without one: only setitimer's signals (SI_KERNEL)
 *
 * @throws TypeError when `code` is not an integer or `known`/`timerValid` are not booleans;
 *   RangeError when `code` is outside the signed 32-bit range.
 */
export function validSIGPROF(event: SignalEvent): boolean {
  return decide(event, 'validSIGPROF: ');
}

/** Names the source of a signal by its si_code. */
export function classify(code: number): SignalSource {
  switch (checkCode(code, 'classify: ')) {
    case SI_KERNEL: return 'setitimer';
    case SI_TIMER: return 'timer_create';
    case SI_TKILL: return 'tkill';
    case SI_USER: return 'user';
    case SI_QUEUE: return 'queue';
    default: return 'other';
  }
}

/**
 * Yields, lazily and in order, the records of a stream that validSIGPROF keeps. Records are
 * yielded as given (same objects, extra fields intact). A malformed record throws when reached,
 * naming its index.
 */
export function* filterSIGPROF<T extends SignalEvent>(records: Iterable<T>): Generator<T, void, undefined> {
  let i = 0;
  for (const record of records) {
    if (decide(record, `filterSIGPROF: record ${i}: `)) yield record;
    i++;
  }
}

/** Counts the records validSIGPROF keeps and drops, in all and per source. */
export function countSIGPROF(records: Iterable<SignalEvent>): SIGPROFCounts {
  const bySource: SIGPROFCounts['bySource'] = {
    setitimer: { kept: 0, dropped: 0 },
    timer_create: { kept: 0, dropped: 0 },
    tkill: { kept: 0, dropped: 0 },
    user: { kept: 0, dropped: 0 },
    queue: { kept: 0, dropped: 0 },
    other: { kept: 0, dropped: 0 },
  };
  let kept = 0;
  let dropped = 0;
  let i = 0;
  for (const record of records) {
    const keep = decide(record, `countSIGPROF: record ${i}: `);
    const source = classify(record.code);
    if (keep) { kept++; bySource[source].kept++; } else { dropped++; bySource[source].dropped++; }
    i++;
  }
  return { kept, dropped, bySource };
}
