// Making a JS thread known to ptprof: the main thread when a sampler starts, a worker from its
// preload (@ptprof/sampler/register, which the CLI's agent loads in every worker). Apart from the
// sampler on purpose: a worker loads this and the timer lifecycle alone, not the symbolizer, the
// ELF reader, the profile builder and the filter it never uses (the whole sampler was ~12 ms of a
// fresh worker's CPU, in the profiled program's time; issue 14).
import { isMainThread, threadId } from 'node:worker_threads';
import { binding as nativeBinding, type Binding } from '@ptprof/timers-native';
import { TimerLifecycle, type Rng } from './lifecycle';

/** The name of the calling JS thread: 'main' or 'worker <threadId>'. */
export function jsThreadName(): string {
  return isMainThread ? 'main' : `worker ${threadId}`;
}

/**
 * Makes the calling JS thread known to the sampler (main thread or worker): a slot with its
 * isolate, JIT code events, and, when a sampler is running in this process, its own timer at once
 * (first expiry uniform in (0, period], so short-lived workers are represented in expectation).
 * `sinceCpuNs`: the thread's CPU clock when the caller began its work here (read before loading
 * this module, as `@ptprof/sampler/register` does): the sampler counts the thread's CPU from there
 * (registerCpuNs). What it burned before is Node's (a worker's bootstrap), left to its (unsampled) row.
 */
export function registerCurrentThread(n: Binding = nativeBinding, rng: Rng = Math.random, sinceCpuNs?: number): { tid: number; armed: boolean } {
  // The handler goes in as early as possible (at preload, for the CLI). V8's CPU profiler (the
  // inspector's Profiler.start) saves the SIGPROF handler it finds and puts it back when it
  // stops: if that were SIG_DFL, the next timer signal would kill the process.
  n.installHandler();
  const r = n.register({ name: jsThreadName(), ...(sinceCpuNs !== undefined ? { cpuNs: sinceCpuNs } : {}) });
  const period = n.samplingPeriod();
  let armed = false;
  if (period > 0) {
    const lc = new TimerLifecycle(n, rng);
    lc.periodNs = period;
    armed = lc.arm(r.tid);
  }
  return { tid: r.tid, armed };
}
