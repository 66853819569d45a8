// The process's CPU clock as process.cpuUsage() reads it (user + system, every thread), in ns:
// what the agent's start and the ptprof command's own process cost (issue 14).

/** The process's CPU in ns since `since` (an earlier process.cpuUsage()), or since it began. */
export function processCpuNs(since?: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) * 1000;
}
