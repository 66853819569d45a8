// The process's CPU clock when the agent began to load: imported first by agent.ts, so that what
// loading and starting the agent costs (its modules, the addon, the sampler's start) is counted
// in the profile's ptprof_start_nanos fact, outside the profiled window (issue 14).
import { processCpuNs } from '../cpu-clock';

export const LOAD_CPU = process.cpuUsage();

/** The process's CPU since the agent began to load, in ns. */
export function cpuSinceLoadNs(): number {
  return processCpuNs(LOAD_CPU);
}
