// The agent: preloaded with NODE_OPTIONS=--require into every Node process (and every worker
// thread) that the profiled program starts. In a worker it only makes the thread known to the
// sampler; on a main thread it starts a Sampler and writes the profile however the process ends.
// It must never break the program: every error is caught. Under the CLI it reports through the
// private report directory (the CLI says what went wrong, once); used alone, it warns on stderr.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { Sampler } from '@ptprof/sampler';
import { Handoff } from './handoff';
import { readTreeConfig } from './part';
import { shortCommand } from './process-name';
import { ENV, SIGNALS, formatCommand, readAgentConfig, withPid, type AgentConfig, type AgentReport, type AgentStart } from './config';
import { withSourceMaps } from './sourcemaps';
import { VERSION } from './version';
import { writeProfileSync } from './write-profile';

const LOADED = Symbol.for('ptprof.agent');

/** What the agent leaves on globalThis[Symbol.for('ptprof.agent')]: the CLI uses it to stand it down. */
export interface AgentHandle {
  version: string;
  /** Stops profiling this process without writing anything (the ptprof command itself). */
  cancel(): void;
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/^ptprof: /, '').split('\n')[0];
  return String(err);
}

/** 'ENOSPC: no space left on device' from Node's 'ENOSPC: no space left on device, open ...'. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.message === 'string' && e.message.startsWith(`${e.code}: `)) {
    return e.message.split(', ')[0];
  }
  return message(err);
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

/**
 * Leaves the final report for the CLI through pprof-writer's atomic write: a temporary file with
 * a random name opened exclusively (a symlink planted in a shared directory is never followed),
 * then renamed over `<pid>.json` (a symlink there is replaced). False when it could not.
 */
function writeReport(dir: string, report: AgentReport): boolean {
  try {
    const { writeFileAtomicSync } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
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
function writeStart(dir: string, start: AgentStart): string | undefined {
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

/** Reports (or, used alone, warns once per process tree) that this process is not profiled. */
function notProfiling(err: unknown, reportDir: string | undefined, start: AgentStart): void {
  const why = reason(err);
  if (reportDir && writeReport(reportDir, { ...start, format: 'pprof', state: 'failed', error: `not profiling: ${why}` })) return;
  if (process.env[ENV.warned]) return;
  process.env[ENV.warned] = '1'; // the processes it starts inherit the mark and stay quiet
  warn(`not profiling process ${process.pid} (nor, quietly, the Node processes it starts): ${why}`);
}

function startWorker(): void {
  const { registerCurrentThread } = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
  registerCurrentThread();
}

function startMain(handle: { cancel: () => void }): void {
  // The first Node process to load the agent writes the plain name and marks its environment, so
  // that every Node process started below it (which inherits the mark) inserts its own pid.
  const mark = process.env[ENV.rootPid];
  const root = !mark || mark === String(process.pid);
  if (!mark) process.env[ENV.rootPid] = String(process.pid);
  const command = formatCommand([process.argv0, ...process.execArgv, ...process.argv.slice(1)]);
  const reportDir = process.env[ENV.reportDir] || undefined;
  const who = { pid: process.pid, ppid: process.ppid, root, command };

  let cfg: AgentConfig;
  let file: string;
  let sampler: Sampler;
  let tree: ReturnType<typeof readTreeConfig>;
  try {
    cfg = readAgentConfig(process.env, process.pid, process.cwd());
    tree = readTreeConfig(process.env, reportDir);
    // Under the CLI (unless --split) the process hands its profile over in parts and writes no file.
    file = tree ? '' : root ? cfg.output : withPid(cfg.output, process.pid);
  } catch (err) {
    notProfiling(err, reportDir, { ...who, file: '' });
    return;
  }
  const startMark = reportDir ? writeStart(reportDir, { ...who, file }) : undefined;
  try {
    const sampling = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
    if (sampling.replacementAddon) warn(`process ${process.pid}: loaded a replacement addon (PTPROF_ADDON_PATH=${sampling.replacementAddon})`);
    sampler = new sampling.Sampler({
      hz: cfg.hz,
      threads: cfg.threads,
      ...(cfg.ringBytes !== undefined ? { ringBytes: cfg.ringBytes } : {}),
      ...(cfg.framesLimit !== undefined ? { framesLimit: cfg.framesLimit } : {}),
      ...(cfg.collectIntervalMs !== undefined ? { collectIntervalMs: cfg.collectIntervalMs } : {}),
    }).start();
    // (The sampler's drain timer never throws into the program: it counts and reports its errors.)
  } catch (err) {
    notProfiling(err, reportDir, { ...who, file });
    return;
  }
  const name = shortCommand(process.argv0, process.execArgv, process.argv, process.cwd());
  const handoff = tree ? new Handoff(sampler, reportDir!, { ...who, name }).start(tree.handoffMs) : undefined;

  let finished = false;
  const finish = (end: string): void => {
    if (finished) return; // never write twice
    finished = true;
    const base = { ...who, file, format: cfg.format, end };
    if (handoff) {
      handOver(handoff, end, cfg, reportDir!, base);
      return;
    }
    try {
      // Named through the scripts' source maps once, here, before any writer runs: every format
      // gets the same frames (and the source_maps facts say what was and was not mapped).
      const profile = withSourceMaps(sampler.stop(), cfg.sourceMaps !== false);
      let profiledNanos = 0;
      let samples = 0;
      for (const s of profile.samples) {
        profiledNanos += s.cpuNanos;
        samples += s.count;
      }
      // Who wrote it and how the process ended, then the sampler's own facts; the command line
      // last (it is long). Written as the profile's comments by pprof-writer (facts.ts).
      profile.facts = {
        ptprof: VERSION, pid: process.pid, ppid: process.ppid, process: root ? 'root' : 'descendant', end,
        ...profile.facts, process_name: name, cmd: command,
      };
      const { files, written } = writeProfileSync(file, profile, cfg.format);
      if (reportDir) {
        writeReport(reportDir, {
          ...base,
          state: 'written',
          written,
          hz: profile.hz,
          mode: profile.mode,
          durationNanos: profile.durationNanos,
          profiledNanos,
          // The OS's count for the process from start to stop (CLOCK_PROCESS_CPUTIME_ID).
          osCpuNanos: profile.processCpuNanos,
          samples,
          threads: profile.threads.map((t) => ({ name: t.name, js: t.js, cpuNanos: t.cpuNanos })),
          facts: profile.facts,
          ...(files.length > 1 ? { files } : {}),
        });
      }
    } catch (err) {
      // Under the CLI the report carries the reason and the CLI prints it (and fails); alone, warn.
      if (!reportDir || !writeReport(reportDir, { ...base, state: 'failed', error: reason(err) })) {
        warn(`could not write the profile ${file}: ${reason(err)}`);
      }
    }
  };

  const onExit = (code: number): void => finish(`exit(${code})`);
  process.on('exit', onExit);
  const listeners: [NodeJS.Signals, () => void][] = [];
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
    listeners.push([sig, onSignal]);
  }

  handle.cancel = () => {
    if (finished) return;
    finished = true;
    process.removeListener('exit', onExit);
    for (const [sig, fn] of listeners) process.removeListener(sig, fn);
    handoff?.stop();
    try {
      sampler.stop();
    } catch {
      /* not running */
    }
    if (startMark) fs.rmSync(startMark, { force: true });
  };
}

/** The last part to the CLI (tree mode); what could not be handed over is reported like a file that could not be written. */
function handOver(handoff: Handoff, end: string, cfg: AgentConfig, reportDir: string, base: Omit<AgentReport, 'state'>): void {
  try {
    handoff.final(end, cfg.sourceMaps !== false, { ptprof: VERSION });
  } catch (err) {
    const why = `could not hand the profile over to ptprof: ${reason(err)}`;
    if (!writeReport(reportDir, { ...base, state: 'failed', error: why })) warn(`process ${process.pid}: ${why}`);
  }
}

const g = globalThis as Record<symbol, unknown>;
if (!g[LOADED]) {
  const handle: AgentHandle = { version: VERSION, cancel: () => {} };
  g[LOADED] = handle;
  try {
    if (isMainThread) startMain(handle);
    else startWorker();
  } catch (err) {
    warn(`not profiling ${isMainThread ? `process ${process.pid}` : 'this worker'}: ${message(err)}`);
  }
}
