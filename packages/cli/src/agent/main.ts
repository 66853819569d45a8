// The agent on a main thread: what it records and writes, and when. By default the whole run,
// written when the process ends however it ends (exit, process.exit, an uncaught exception, a stop
// signal, even while its JavaScript never yields). On demand instead (--signal, --listen): timers
// off until a window is asked for, each window written or served as its own profile.
import type { FileIdentity } from '@ptprof/pprof-writer';
import type { Profile, ProfileFacts, SamplerOptions } from '@ptprof/sampler';
import { isOnDemand, withWindow, type AgentConfig, type AgentReport, type AgentStart } from '../config';
import type { Endpoint, ProfileSource } from './endpoint';
import { labelled, writeOut, type ReportNumbers, type Written } from './output';
import { processRecorder, type Recorder, type Recording } from './recorder';
import type { Pusher } from './push';
import { reason, warn, writeReport } from './report';
import { watchStopSignals, type StopSignals } from './stop';
import { SignalWindows } from './windows';
import { agentOwnCode } from '../own-code';
import { Handoff } from '../handoff';
import { VERSION } from '../version';

let cpuClock: (() => number) | undefined;

/**
 * This thread's CPU clock in ns (0 before the sampler is loaded). Looked up once, at the agent's
 * start when it records the whole run: a `require` at the process's end resolves the package's
 * exports again, in interpreted code, before the timers are disarmed (issue 14: it was the
 * largest part of a 1 s program's `(ptprof)` once the drains held their work).
 */
function threadCpu(): number {
  if (!cpuClock) {
    try {
      cpuClock = (require('@ptprof/sampler') as typeof import('@ptprof/sampler')).threadCpuNs;
    } catch {
      return 0;
    }
  }
  return cpuClock();
}

export function samplerOptions(cfg: AgentConfig): SamplerOptions {
  return {
    hz: cfg.hz,
    threads: cfg.threads,
    ...(cfg.ringBytes !== undefined ? { ringBytes: cfg.ringBytes } : {}),
    ...(cfg.framesLimit !== undefined ? { framesLimit: cfg.framesLimit } : {}),
    ...(cfg.collectIntervalMs !== undefined ? { collectIntervalMs: cfg.collectIntervalMs } : {}),
    ownCode: agentOwnCode(),
  };
}

/** The numbers of several windows, for the summary: counts summed, threads by name. */
function sumNumbers(all: readonly ReportNumbers[]): ReportNumbers {
  const last = all[all.length - 1];
  const sum = (k: 'durationNanos' | 'profiledNanos' | 'osCpuNanos' | 'samples'): number => all.reduce((s, n) => s + (n[k] ?? 0), 0);
  const threads = new Map<string, { name: string; js: boolean; cpuNanos: number }>();
  for (const n of all) {
    for (const t of n.threads ?? []) {
      const key = `${t.js}\u0000${t.name}`;
      const had = threads.get(key);
      threads.set(key, had ? { ...had, cpuNanos: had.cpuNanos + t.cpuNanos } : { ...t });
    }
  }
  return {
    ...last, durationNanos: sum('durationNanos'), profiledNanos: sum('profiledNanos'), osCpuNanos: sum('osCpuNanos'), samples: sum('samples'),
    threads: [...threads.values()].sort((a, b) => b.cpuNanos - a.cpuNanos),
  };
}

export class MainAgent {
  private finished = false;
  private writing = 0;
  private recorder!: Recorder;
  private run: Recording | undefined;
  private windows: SignalWindows | undefined;
  private endpoint: Endpoint | undefined;
  private stops: StopSignals | undefined;
  private pusher: Pusher | undefined;
  /** The whole run handed to the CLI in parts (a process tree's one profile), instead of `run`. */
  private handoff: Handoff | undefined;
  private readonly written: Written[] = [];
  private readonly failures: string[] = [];
  private readonly onExit = (code: number): void => this.finish(`exit(${code})`);
  /** The process's CPU from the agent's first line to the profile's start (ptprof_start_nanos). */
  private startNanos = 0;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly who: AgentStart & { name: string },
    private readonly reportDir: string | undefined,
    private readonly tree?: { handoffMs: number },
  ) {}

  /** What loading and starting the agent cost, outside the profile's window: said in its facts. */
  startCost(nanos: number): void {
    this.startNanos = nanos;
  }

  /**
   * ptprof's own CPU outside the profiled window (issue 14): the agent's start, and its work at the
   * process's end from `exitCpu` (this thread's CPU clock when the end began) until now (the
   * profile stopped, its samples symbolized and named through source maps, before it is written).
   */
  private outsideFacts(exitCpu: number | undefined): ProfileFacts {
    const facts: ProfileFacts = { ptprof_start_nanos: Math.round(this.startNanos) };
    if (exitCpu !== undefined) facts.ptprof_exit_nanos = Math.max(0, threadCpu() - exitCpu);
    return facts;
  }

  /** No whole-run profile: recording only when asked (--signal, --listen), or pushed (--push). */
  get onDemand(): boolean {
    return isOnDemand(this.cfg);
  }

  /** Starts what the configuration asks for. Throws when it cannot profile at all. */
  start(): void {
    const cfg = this.cfg;
    this.recorder = processRecorder(() => samplerOptions(cfg));
    if (!this.onDemand) {
      const run = this.recorder.begin('the whole run');
      threadCpu(); // the clock looked up now, outside the profiled window
      if (this.tree && this.reportDir) {
        // Each part is the recording's take since the previous one; the last one closes it.
        const parts = { window: () => run.take(), stop: () => run.close(), quiet: () => this.recorder.quiet };
        this.handoff = new Handoff(parts, this.reportDir, this.who).start(this.tree.handoffMs);
      } else {
        this.run = run;
      }
    }
    this.stops = watchStopSignals({ finish: (end) => this.finish(end), busy: () => this.recorder.busy || this.writing > 0 });
    if (cfg.signal) {
      this.windows = new SignalWindows(cfg.signal, this.recorder, { write: (p, n, end) => this.writeWindow(p, n, end) }, this.reportDir).start();
    }
    // Only the first Node process of the run serves: the others would want the same port.
    if (cfg.listen && this.who.root) {
      // Loaded only here (and the pusher below): node:http, https, tls and crypto are not the
      // agent's to load into every program (issue 14: a fifth of the agent's start).
      const { serveProfiles } = require('./endpoint') as typeof import('./endpoint');
      this.endpoint = serveProfiles(cfg.listen, this.processSource(), (err) => warn(`process ${process.pid}: ${err.message}`));
      this.endpoint.address.then((a) => {
        const host = a.host.includes(':') ? `[${a.host}]` : a.host;
        warn(`process ${process.pid} serves http://${host}:${a.port}/debug/pprof/profile?seconds=30 (this process only)`);
      }, () => {});
    }
    if (cfg.push) {
      const { Pusher } = require('./push') as typeof import('./push');
      this.pusher = new Pusher(cfg.push, this.recorder, this.who, cfg.sourceMaps !== false).start();
    }
    process.on('exit', this.onExit);
  }

  /** The profile of `seconds` of this process, as the endpoint serves it (the seam for a process tree's). */
  private processSource(): ProfileSource {
    const covers = `process ${process.pid} only`;
    return ({ seconds, hz, signal }) => new Promise((resolve, reject) => {
      if (this.finished) {
        reject(new Error('the process is exiting'));
        return;
      }
      let rec: Recording;
      try {
        rec = this.recorder.begin(`a /debug/pprof/profile request for ${seconds} s`, hz);
      } catch (err) {
        reject(err);
        return;
      }
      const done = (): void => {
        signal.removeEventListener('abort', onAbort);
        try {
          this.writing++;
          const p = labelled(rec.close(), this.who, { covers, seconds }, this.cfg.sourceMaps !== false);
          const { encodePprofAsync } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
          encodePprofAsync(p).then((body) => resolve({ body, covers }), reject);
        } catch (err) {
          reject(err);
        } finally {
          this.writing--;
        }
      };
      const timer = setTimeout(done, seconds * 1000);
      timer.unref();
      const onAbort = (): void => {
        clearTimeout(timer);
        rec.cancel();
        reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private writeWindow(raw: Profile, n: number, end: string): void {
    const file = withWindow(this.who.file, n);
    this.writing++;
    try {
      const facts: ProfileFacts = { window: n, window_end: end };
      this.written.push(writeOut(file, labelled(raw, this.who, facts, this.cfg.sourceMaps !== false), this.cfg.format));
      // The windows so far, now: a process killed later still has them reported.
      if (this.reportDir) this.report(undefined);
    } catch (err) {
      this.failures.push(`window ${n}: ${reason(err)}`);
      if (!this.reportDir) warn(`could not write ${file}: ${reason(err)}`);
    } finally {
      this.writing--;
    }
  }

  private report(end: string | undefined): void {
    if (!this.reportDir) return;
    const base = { ...this.who, format: this.cfg.format, ...(end !== undefined ? { end } : {}), ...(this.pusher ? { pushed: this.pusher.summary } : {}) };
    const w = this.written;
    const files = w.flatMap((x) => x.files);
    let r: AgentReport;
    if (this.failures.length > 0) {
      r = { ...base, state: 'failed', error: this.failures[0], ...(files.length ? { files } : {}) };
    } else if (w.length === 0) {
      r = { ...base, state: this.onDemand ? 'none' : 'failed', ...(this.onDemand ? {} : { error: 'nothing was recorded' }) };
    } else {
      const numbers = sumNumbers(w.map((x) => x.numbers));
      r = {
        ...base, file: w[0].files[0], state: 'written', written: w[0].written as FileIdentity, ...numbers,
        ...(this.onDemand ? { windows: w.length } : {}), ...(files.length > 1 ? { files } : {}),
      };
    }
    writeReport(this.reportDir, r);
  }

  /** Writes everything this process owes, once, however it ends. */
  finish(end: string): void {
    if (this.finished) return;
    this.finished = true;
    // A stop signal during this write waits for it (no interrupt, no deadline).
    this.stops?.pause();
    this.writing++;
    const exitCpu = threadCpu();
    if (this.handoff) {
      // The last part to the CLI: what could not be handed over is reported like a file that could not be written.
      try {
        this.handoff.final(end, this.cfg.sourceMaps !== false, { ptprof: VERSION }, () => this.outsideFacts(exitCpu));
      } catch (err) {
        const why = `could not hand the profile over to ptprof: ${reason(err)}`;
        if (!this.reportDir || !writeReport(this.reportDir, { ...this.who, format: this.cfg.format, end, state: 'failed', error: why })) {
          warn(`process ${process.pid}: ${why}`);
        }
      } finally {
        this.writing--;
        this.recorder.cancelAll();
      }
      return;
    }
    try {
      if (this.run) {
        const run = this.run;
        this.run = undefined;
        try {
          const profile = labelled(run.close(), this.who, { end }, this.cfg.sourceMaps !== false);
          profile.facts = { ...profile.facts, ...this.outsideFacts(exitCpu) };
          this.written.push(writeOut(this.who.file, profile, this.cfg.format));
        } catch (err) {
          this.failures.push(reason(err));
          if (!this.reportDir) warn(`could not write the profile ${this.who.file}: ${reason(err)}`);
        }
      }
      this.windows?.end(end);
      this.windows?.cancel();
      const unsent = this.pusher?.flush();
      if (unsent) warn(`process ${process.pid}: ${unsent}`);
      this.endpoint?.close();
      this.recorder.cancelAll();
    } catch (err) {
      this.failures.push(reason(err));
      if (!this.reportDir) warn(`process ${process.pid}: ${reason(err)}`);
    } finally {
      this.writing--;
    }
    this.report(end);
  }

  /** Stops profiling this process without writing anything (the ptprof command itself). */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    process.removeListener('exit', this.onExit);
    this.stops?.cancel();
    this.handoff?.stop();
    this.windows?.cancel();
    this.endpoint?.close();
    this.pusher?.cancel();
    this.recorder?.cancelAll();
  }
}
