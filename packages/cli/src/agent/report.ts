// How the agent speaks: under the CLI, through the private report directory (the CLI says what
// went wrong, once); used alone, on stderr. Nothing here may throw into the program.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENV, type AgentReport, type AgentStart } from '../config';

export function message(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/^ptprof: /, '').split('\n')[0];
  return String(err);
}

/** 'ENOSPC: no space left on device' from Node's 'ENOSPC: no space left on device, open ...'. */
export function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.message === 'string' && e.message.startsWith(`${e.code}: `)) {
    return e.message.split(', ')[0];
  }
  return message(err);
}

/** One line on stderr, written synchronously (it may run in an 'exit' listener). */
export function warn(text: string): void {
  try {
    fs.writeSync(2, `ptprof: ${text}\n`);
  } catch {
    /* stderr is gone: nothing more to do */
  }
}

/**
 * Leaves a report for the CLI through pprof-writer's atomic write: a temporary file with a random
 * name opened exclusively (a symlink planted in a shared directory is never followed), then
 * renamed over `<pid>.json` (a symlink there is replaced). False when it could not.
 */
export function writeReport(dir: string, report: AgentReport): boolean {
  try {
    const { writeFileAtomicSync } = require('@ptprof/pprof-writer/atomic') as typeof import('@ptprof/pprof-writer/atomic');
    writeFileAtomicSync(path.join(dir, `${report.pid}.json`), JSON.stringify(report), 0o600);
    return true;
  } catch (err) {
    // The CLI is gone (its directory with it): nobody is waiting for the report.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`could not write the run report: ${message(err)}`);
    return false;
  }
}

/**
 * The `<pid>.start` mark, written when profiling starts: created exclusively (O_EXCL never follows
 * a symlink), in one write. Cheaper than the atomic write, which this early would load more code.
 */
export function writeStart(dir: string, start: AgentStart): string | undefined {
  const file = path.join(dir, `${start.pid}.start`);
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(start));
    } finally {
      fs.closeSync(fd);
    }
    return file;
  } catch {
    return undefined; // the summary then knows this process only from its final report
  }
}

/** Reports (or, used alone, warns once per process tree) that this process is not profiling. */
export function notProfiling(err: unknown, reportDir: string | undefined, start: AgentStart): void {
  const why = reason(err);
  if (reportDir && writeReport(reportDir, { ...start, format: 'pprof', state: 'failed', error: `not profiling: ${why}` })) return;
  if (process.env[ENV.warned]) return;
  process.env[ENV.warned] = '1'; // the processes it starts inherit the mark and stay quiet
  warn(`not profiling process ${process.pid} (nor, quietly, the Node processes it starts): ${why}`);
}
