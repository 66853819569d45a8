export { Sampler, registerCurrentThread, runningSampler, jsThreadName, packageSources, samplerOwnCode } from './sampler';
export type { SamplerOptions } from './sampler';
export { INT_OPTIONS, THREADS_MODES, DEFAULT_THREADS, optionProblem, checkOption, checkThreadsMode, collectIntervalFor } from './options';
export type { ThreadsMode, IntOption, IntOptionName } from './options';
export type { Frame, Profile, ProfileFacts, ProfileSample, ProfileStats, ThreadSummary } from './profile';
export { ProfileBuilder, mergeProfiles, countFacts } from './profile';
export { startSignalControl, SignalControl } from './control';
export type { ControlHandler, ControlInfo } from './control';
export { TimerLifecycle, armThreadTimer, firstExpiryNs, periodForHz } from './lifecycle';
export type { TimerBackend, Rng } from './lifecycle';
export { CodeMap, parseCodeName } from './codemap';
export type { FunctionInfo } from './codemap';
export { Symbolizer, PSEUDO } from './symbolizer';
export { listTids, threadComm } from './threads';
/** The addon build loaded from PTPROF_ADDON_PATH (a development variable), or undefined. */
export { replacementAddon } from '@ptprof/timers-native';

import { binding } from '@ptprof/timers-native';
/**
 * The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), in ns: what a tool embedding the sampler
 * spends on its own work outside the profile's window (the CLI's agent at a process's end).
 */
export function threadCpuNs(): number {
  return binding.threadCpuNs();
}

import { Sampler, type SamplerOptions } from './sampler';
import type { Profile } from './profile';

/** Starts sampling this process; returns the sampler (call .stop() for the profile). */
export function start(opts: SamplerOptions = {}): Sampler {
  return new Sampler(opts).start();
}

/** Samples while fn runs (it may be async) and returns fn's result with the profile. */
export async function profile<T>(fn: () => T | Promise<T>, opts: SamplerOptions = {}): Promise<{ result: T; profile: Profile }> {
  const s = start(opts);
  try {
    const result = await fn();
    return { result, profile: s.stop() };
  } catch (err) {
    if (s.isRunning) s.stop();
    throw err;
  }
}
