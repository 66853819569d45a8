// The agent: preloaded with NODE_OPTIONS=--require into every Node process (and every worker
// thread) that the profiled program starts. In a worker it only makes the thread known to the
// sampler; on a main thread it starts a Sampler and writes the profile however the process ends.
// It must never break the program: every error is caught and reported on one stderr line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { Sampler } from '@ptprof/sampler';
import { ENV, formatCommand, readAgentConfig, withPid, type AgentConfig, type AgentReport } from './config';
import { withSourceMaps } from './sourcemaps';
import { VERSION } from './version';

/** The signals after which the agent writes the profile and lets the process die by the same signal. */
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const LOADED = Symbol.for('ptprof.agent');

function message(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/^ptprof: /, '').split('\n')[0];
  return String(err);
}

/** One line on stderr, written synchronously (it may run in an 'exit' listener). */
function warn(text: string): void {
  try {
    fs.writeSync(2, `ptprof: ${text}\n`);
  } catch {
    /* stderr is gone: nothing more to do */
  }
}

/**
 * Listeners that signal-exit (v3 and v4, used by execa, nyc, ink...) put on each signal: it kills
 * the process only when its listeners are the only ones, so the agent's own listener must not make
 * it believe the program handles the signal, and the agent must not believe it either.
 */
function signalExitListeners(): number {
  let n = 0;
  const v4 = (globalThis as Record<symbol, unknown>)[Symbol.for('signal-exit emitter')] as { count?: unknown } | undefined;
  if (v4 && typeof v4.count === 'number') n += v4.count;
  const v3 = (process as unknown as { __signal_exit_emitter__?: { count?: unknown } }).__signal_exit_emitter__;
  if (v3 && typeof v3.count === 'number') n += v3.count;
  return n;
}

function startWorker(): void {
  const { registerCurrentThread } = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
  registerCurrentThread();
}

function startMain(): void {
  const cfg: AgentConfig = readAgentConfig(process.env, process.pid, process.cwd());
  // The first Node process to load the agent writes the plain name and marks its environment, so
  // that every Node process started below it (which inherits the mark) inserts its own pid.
  const mark = process.env[ENV.rootPid];
  const root = !mark || mark === String(process.pid);
  if (!mark) process.env[ENV.rootPid] = String(process.pid);
  const file = root ? cfg.output : withPid(cfg.output, process.pid);
  const command = formatCommand([process.argv0, ...process.execArgv, ...process.argv.slice(1)]);

  const { Sampler: SamplerClass } = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
  const sampler: Sampler = new SamplerClass({
    hz: cfg.hz,
    threads: cfg.threads,
    ...(cfg.ringBytes !== undefined ? { ringBytes: cfg.ringBytes } : {}),
    ...(cfg.framesLimit !== undefined ? { framesLimit: cfg.framesLimit } : {}),
    ...(cfg.collectIntervalMs !== undefined ? { collectIntervalMs: cfg.collectIntervalMs } : {}),
  }).start();
  // (The sampler's drain timer never throws into the program: it counts and reports its errors.)

  let finished = false;
  const finish = (end: string): void => {
    if (finished) return; // never write twice
    finished = true;
    try {
      const profile = withSourceMaps(sampler.stop(), cfg.sourceMaps !== false);
      // The OS's count for the process from start to stop (CLOCK_PROCESS_CPUTIME_ID).
      const osCpuNanos = profile.processCpuNanos;
      let profiledNanos = 0;
      let samples = 0;
      for (const s of profile.samples) {
        profiledNanos += s.cpuNanos;
        samples += s.count;
      }
      profile.comments.push(
        `ptprof ${VERSION} pid=${process.pid} ppid=${process.ppid} ${root ? 'root' : 'descendant'} end=${end}`,
        `os_cpu_nanos=${osCpuNanos} profiled_cpu_nanos=${Math.round(profiledNanos)} (os: CLOCK_PROCESS_CPUTIME_ID while sampling)`,
        `cmd=${command}`,
      );
      if (cfg.format === 'folded') {
        const { writeFoldedFileSync } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
        writeFoldedFileSync(file, profile, { value: 'cpu', rootLabel: 'thread_name' });
      } else {
        const { writePprofFileSync } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
        writePprofFileSync(file, profile);
      }
      if (cfg.reportDir) {
        const report: AgentReport = {
          pid: process.pid,
          ppid: process.ppid,
          root,
          file,
          format: cfg.format,
          command,
          end,
          hz: profile.hz,
          mode: profile.mode,
          durationNanos: profile.durationNanos,
          profiledNanos,
          osCpuNanos,
          samples,
          threads: profile.threads.map((t) => ({ name: t.name, js: t.js, cpuNanos: t.cpuNanos })),
          comments: profile.comments,
        };
        writeReport(cfg.reportDir, report);
      }
    } catch (err) {
      warn(`could not write the profile ${file}: ${message(err)}`);
    }
  };

  process.on('exit', (code) => finish(`exit(${code})`));

  for (const sig of SIGNALS) {
    const onSignal = (): void => {
      try {
        // The program listens to this signal itself: it decides what happens ('exit' writes).
        if (process.listenerCount(sig) - 1 > signalExitListeners()) return;
        finish(sig);
        process.removeListener(sig, onSignal);
        // With no listener left, Node restores the default action: the process dies by the same
        // signal. (When signal-exit's listeners remain, they now see themselves alone and kill.)
        process.kill(process.pid, sig);
      } catch (err) {
        warn(`on ${sig}: ${message(err)}`);
      }
    };
    process.on(sig, onSignal);
  }
}

/** Leaves the report for the CLI (temporary file + rename: the CLI never reads half of one). */
function writeReport(dir: string, report: AgentReport): void {
  const target = path.join(dir, `${report.pid}.json`);
  const tmp = `${target}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(report));
    fs.renameSync(tmp, target);
  } catch (err) {
    // The CLI is gone (its directory with it): the profile is written, the report is not needed.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`could not write the run report: ${message(err)}`);
  }
}

const g = globalThis as Record<symbol, unknown>;
if (!g[LOADED]) {
  g[LOADED] = true;
  try {
    if (isMainThread) startMain();
    else startWorker();
  } catch (err) {
    warn(`not profiling ${isMainThread ? `process ${process.pid}` : 'this worker'}: ${message(err)}`);
  }
}
