// The sampler's options as plain data: names, ranges, defaults. The one source of these limits:
// the Sampler checks its options against this table, and the CLI checks its command line and its
// environment variables against it before it runs anything. This module imports nothing (in
// particular not the native addon): `require('@ptprof/sampler/options')` is safe anywhere.

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
  collectIntervalMs: { min: 0, max: 1000, default: 20, unit: 'milliseconds; 0: off' },
  drainIntervalMs: { min: 10, max: 10000, default: 100, unit: 'milliseconds' },
  backlogBytes: { min: 65536, max: 1024 * 1024 * 1024, default: 16 * 1024 * 1024, unit: 'bytes per thread held while the JS thread is busy' },
  timerSignal: { min: 1, max: 30, default: 6, unit: 'the timers signal SIGRTMIN + this' },
} as const satisfies Record<string, IntOption>;

export type IntOptionName = keyof typeof INT_OPTIONS;

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
