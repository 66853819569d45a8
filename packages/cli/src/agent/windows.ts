// Windows on demand (--signal SIGUSR2, PTPROF_SIGNAL): the program runs with timers off; each
// signal starts a window or ends it, and an ended window is written at once as its own profile,
// numbered (ptprof.<pid>.1.pb.gz, .2, ...). Under the CLI the CLI keeps the windows' state in its
// report directory (WINDOW_STATE_FILE) and signals every Node process of the run: each reads the
// state rather than toggling its own, so window n is the same stretch of time in every process,
// and a process started during a window joins it. Used alone, the agent toggles for itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Profile } from '@ptprof/sampler';
import { WINDOW_STATE_FILE, type WindowSignal, type WindowState } from '../config';
import type { Recorder, Recording } from './recorder';
import { message, warn } from './report';

export interface WindowHooks {
  /** Writes window n (it may throw: the reason is reported, the next window goes on). */
  write(profile: Profile, n: number, end: string): void;
}

/** The CLI's state, or undefined (the agent alone, or a state it cannot read). */
function readState(file: string): WindowState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<WindowState>;
    if (typeof s.n === 'number' && Number.isSafeInteger(s.n) && s.n >= 0 && typeof s.open === 'boolean') return { n: s.n, open: s.open };
  } catch {
    /* not there yet: no window has started */
  }
  return undefined;
}

export class SignalWindows {
  private current: { n: number; rec: Recording } | undefined;
  private last = 0;
  private readonly stateFile: string | undefined;
  private readonly listener = (): void => this.onSignal();

  constructor(
    private readonly signal: WindowSignal,
    private readonly recorder: Recorder,
    private readonly hooks: WindowHooks,
    reportDir: string | undefined,
  ) {
    this.stateFile = reportDir ? path.join(reportDir, WINDOW_STATE_FILE) : undefined;
  }

  start(): this {
    process.on(this.signal, this.listener);
    // Started during a window of the run: join it.
    this.apply(this.stateFile ? readState(this.stateFile) : undefined);
    return this;
  }

  get openWindow(): number | undefined {
    return this.current?.n;
  }

  private onSignal(): void {
    try {
      if (this.stateFile) {
        this.apply(readState(this.stateFile));
      } else if (this.current) {
        this.end(this.signal);
      } else {
        this.begin(this.last + 1);
      }
    } catch (err) {
      warn(`on ${this.signal}: ${message(err)}`);
    }
  }

  private apply(state: WindowState | undefined): void {
    if (!state) return;
    if (this.current && (!state.open || state.n !== this.current.n)) this.end(this.signal);
    if (state.open && !this.current && state.n > this.last) this.begin(state.n);
  }

  private begin(n: number): void {
    this.current = { n, rec: this.recorder.begin(`window ${n} (${this.signal})`) };
    this.last = n;
  }

  /** Ends the open window, if any, and writes it. */
  end(end: string): void {
    const w = this.current;
    if (!w) return;
    this.current = undefined;
    this.hooks.write(w.rec.close(), w.n, end);
  }

  cancel(): void {
    process.removeListener(this.signal, this.listener);
    this.current?.rec.cancel();
    this.current = undefined;
  }
}
