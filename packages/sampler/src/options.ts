// The sampler's options as plain data: names, ranges, defaults. The one source of these limits:
// the Sampler checks its options against this table, and the CLI checks its command line and its
// environment variables against it before it runs anything. This module imports nothing at run
// time (types only; in particular not the native addon): `require('@ptprof/sampler/options')` is
// safe anywhere.
import type { Binding } from '@ptprof/timers-native';
import type { Rng } from './lifecycle';

/** 'all': a timer on every OS thread; 'js': timers on registered JS threads only (Go's behaviour). */
export type ThreadsMode = 'all' | 'js';
export const THREADS_MODES: readonly ThreadsMode[] = ['all', 'js'];
export const DEFAULT_THREADS: ThreadsMode = 'all';

export interface IntOption {
  min: number;
  max: number;
  default: number;
  /** What the number counts, for messages: "frames per stack". */
  unit: string;
  /** The value must also be a power of two. */
  powerOfTwo?: boolean;
}

/**
 * The integer options of `new Sampler(options)`. ringBytes' default is the addon's own (a ring of
 * 256 KiB per thread); the sampler passes ringBytes to the addon only when it is given.
 */
export const INT_OPTIONS = {
  hz: { min: 1, max: 10000, default: 100, unit: 'samples per second of CPU time' },
  framesLimit: { min: 1, max: 512, default: 128, unit: 'JS frames kept per sample' },
  ringBytes: { min: 4096, max: 64 * 1024 * 1024, default: 256 * 1024, unit: 'bytes per thread', powerOfTwo: true },
  // The default is collectIntervalFor(hz): 20 here is its floor.
  collectIntervalMs: { min: 0, max: 1000, default: 20, unit: 'milliseconds; 0: off' },
  // 250: each drain costs ~200 µs before its first record (a cold path, ten times a second at 100):
  // one busy thread at 100 Hz spent 0.69% of its CPU in ticks and drains at 100 ms, 0.52% at 250
  // (issue 14). The collector keeps the rings from filling meanwhile, and the 10 ms poll still arms
  // a new busy thread at once.
  drainIntervalMs: { min: 10, max: 10000, default: 250, unit: 'milliseconds' },
  backlogBytes: { min: 65536, max: 1024 * 1024 * 1024, default: 16 * 1024 * 1024, unit: 'bytes per thread held while the JS thread is busy' },
  timerSignal: { min: 1, max: 30, default: 6, unit: 'the timers signal SIGRTMIN + this' },
} as const satisfies Record<string, IntOption>;

export type IntOptionName = keyof typeof INT_OPTIONS;

/**
 * How often the collector empties the rings by default: 10000 / hz ms, within 20..100 (100 at the
 * default 100 Hz, 20 from 500 Hz up). A thread takes at most ~2 records per period (its own
 * timer's, and setitimer's, which may all land on it), so a pass finds at most ~20 of a thread:
 * under a tenth of a ring of the deepest stacks (256 KiB, ~1.1 KiB each). Each pass is a wake-up,
 * ~33 µs of the collector's CPU here whatever it finds (most of it the context switch: perf), so
 * the fixed 20 ms it was spent 1.65 ms a second at 100 Hz; 0.48 at 100 ms (issue 14). The
 * collector also runs the SIGPROF guard on each pass: at most 100 ms to notice another handler.
 */
export function collectIntervalFor(hz: number): number {
  return Math.min(100, Math.max(INT_OPTIONS.collectIntervalMs.default, Math.round(10_000 / hz)));
}

/**
 * What is wrong with `value` for option `name`, as the end of a sentence ("an integer from 1 to
 * 512 (JS frames kept per sample)"), or undefined when it is valid.
 */
export function optionProblem(name: IntOptionName, value: unknown): string | undefined {
  const o: IntOption = INT_OPTIONS[name];
  const range = `${o.powerOfTwo ? 'a power of two' : 'an integer'} from ${o.min} to ${o.max} (${o.unit})`;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < o.min || value > o.max) return range;
  if (o.powerOfTwo && (value & (value - 1)) !== 0) return range;
  return undefined;
}

/** `value` when it is valid for option `name`; throws a RangeError naming the option and its range. */
export function checkOption(name: IntOptionName, value: unknown): number {
  const problem = optionProblem(name, value);
  if (problem !== undefined) throw new RangeError(`ptprof: ${name} must be ${problem}; got ${JSON.stringify(value)}`);
  return value as number;
}

/** `value` when it is a threads mode; throws a RangeError otherwise. */
export function checkThreadsMode(value: unknown): ThreadsMode {
  if (!THREADS_MODES.includes(value as ThreadsMode)) {
    throw new RangeError(`ptprof: threads must be 'all' or 'js'; got ${JSON.stringify(value)}`);
  }
  return value as ThreadsMode;
}

/** Parses a strictly decimal integer (no sign, no spaces, no exponent); NaN otherwise. */
export function parseIntStrict(s: string): number {
  return /^[0-9]+$/.test(s) ? Number(s) : NaN;
}

/** The ranges and defaults of these options are in ./options.ts (INT_OPTIONS). */
export interface SamplerOptions {
  /** Samples per second of each thread's CPU time, 1..10000. Default 100. */
  hz?: number;
  /** 'all' (default): a timer on every OS thread; 'js': only registered JS threads (Go's behaviour). */
  threads?: ThreadsMode;
  /** How often the rings are drained, in ms (10..10000). Default 250. */
  drainIntervalMs?: number;
  /** Frames kept per JS stack, 1..512. Default 128. */
  framesLimit?: number;
  /** Ring size per thread in bytes (power of two). Default 256 KiB. */
  ringBytes?: number;
  /**
   * How often a native thread moves the rings' records into unbounded backlogs, in ms (0..1000,
   * default 20). Rings are emptied even while the JS thread that drains them is busy; 0 leaves it
   * to the drain alone (a full ring drops, and counts).
   */
  collectIntervalMs?: number;
  /**
   * The most each thread's records may take while its JS thread is too busy to drain them (the
   * native collector holds them meanwhile), in bytes; beyond it records are dropped and counted.
   * 64 KiB..1 GiB, default 16 MiB.
   */
  backlogBytes?: number;
  /**
   * The per-thread timers signal SIGRTMIN + timerSignal (1..30, default 6, or the next free one):
   * a real-time signal of ptprof's own, so that V8's CPU profiler and the program's SIGPROF
   * listeners, which own SIGPROF while they run, cannot take the timers' signals or kill with
   * them. Takes effect for the first sampler of the process only.
   */
  timerSignal?: number;
  /**
   * Frames for the functions V8 inlined into optimized code (default true): each sample's stack
   * shows them, innermost first, at the line they were executing. false keeps one frame per code
   * object, as V8's code events name it (the inlined functions' CPU is then their caller's).
   */
  inlinedFrames?: boolean;
  /**
   * Directories whose JavaScript is the profiler's own: a sample taken in it keeps its frames from
   * the leaf up to the outermost such frame, under one `(ptprof)` root instead of the program's
   * callers (a drain runs from a timer of the program's event loop), and is counted in the
   * `ptprof_nanos` fact. The sampler's own package, timers-native and sigprof-filter always are;
   * a tool built on the sampler adds its own (the CLI adds its packages).
   */
  ownCode?: readonly string[];
  /**
   * One `(unsampled)` row per thread (default true): the CPU its clock counted in the profile's
   * window that its samples do not stand for (the CPU after its last sample, a new thread's before
   * its timer, dropped records), so that the profile's total is the OS's count of the process's CPU.
   * No row is negative: a thread whose samples stood for more than it burned (its first period
   * began before the window) carries the excess into its next window, and at stop it is taken off
   * the thread's rows. false leaves all of this out (the `unsampled_nanos` fact is 0).
   */
  unsampled?: boolean;
  /**
   * Hidden comparison modes for the benchmarks, not for use: `_timers: false` samples with
   * setitimer only (Go before 1.18); `_overrunWeights: false` counts each signal as one period
   * (Go 1.18's per-thread timers, attenuated at rates above the kernel's HZ).
   */
  _timers?: boolean;
  _overrunWeights?: boolean;
  /** For tests: the backend and random source. */
  _backend?: Binding;
  _rng?: Rng;
}
