// One recording per process, shared by everyone who wants the profile of an interval: the whole
// run, a window asked for by signal, a /debug/pprof request, a push every N seconds, the API. The
// sampler runs while at least one of them is open and is stopped (timers deleted, setitimer off)
// when none is: an idle process pays for the loaded agent only. Whenever one opens or ends, the
// sampler's current window is cut (Sampler.window()) and handed to every recording open at that
// moment, which adds it to what it holds (mergeProfiles): each gets exactly its own interval, and
// consecutive takes of one recording are contiguous and add up to its whole life.
import type { Profile, Sampler, SamplerOptions } from '@ptprof/sampler';

type Sampling = typeof import('@ptprof/sampler');

/** A second rate asked for while the sampler runs at another one. */
export class RecorderBusyError extends Error {
  override readonly name = 'RecorderBusyError';
}

export class Recording {
  private held: Profile | undefined;
  private openNow = true;

  constructor(
    private readonly recorder: Recorder,
    readonly what: string,
  ) {}

  get isOpen(): boolean {
    return this.openNow;
  }

  /** @internal (the recorder's cut) */
  add(window: Profile): void {
    this.held = this.held ? this.recorder.sampling().mergeProfiles(this.held, window) : window;
  }

  /** @internal */
  drop(): Profile | undefined {
    const p = this.held;
    this.held = undefined;
    return p;
  }

  /** @internal */
  markClosed(): void {
    this.openNow = false;
  }

  /** The profile since this recording began or was last taken; it goes on. */
  take(): Profile {
    if (!this.openNow) throw new Error(`ptprof: the recording (${this.what}) has ended`);
    this.recorder.cut(false);
    return this.drop()!;
  }

  /** Ends the recording: its profile since it began or was last taken. */
  close(): Profile {
    if (!this.openNow) throw new Error(`ptprof: the recording (${this.what}) has ended`);
    this.recorder.end(this, true);
    return this.drop()!;
  }

  /** Ends the recording without a profile. */
  cancel(): void {
    if (this.openNow) this.recorder.end(this, false);
    this.held = undefined;
  }
}

export class Recorder {
  private sampler: Sampler | undefined;
  private readonly open = new Set<Recording>();
  private lib: Sampling | undefined;

  /** `options` is read each time the sampler starts. */
  constructor(private readonly options: () => SamplerOptions) {}

  /** @internal: @ptprof/sampler, loaded on first use (the agent's start-up stays light until then). */
  sampling(): Sampling {
    if (!this.lib) this.lib = require('@ptprof/sampler') as Sampling;
    return this.lib;
  }

  get running(): boolean {
    return this.sampler !== undefined;
  }

  /** The rate the sampler runs at, if it runs. */
  get rate(): number | undefined {
    return this.sampler?.rate;
  }

  /** No signal since the sampler's current window began (see Sampler.quietSinceWindow). */
  get quiet(): boolean {
    return this.sampler?.quietSinceWindow ?? false;
  }

  /** The sampler's own code is running now (see Sampler.busy). */
  get busy(): boolean {
    return this.sampler?.busy ?? false;
  }

  get recordings(): readonly Recording[] {
    return [...this.open];
  }

  /**
   * Opens a recording. With `hz`, the sampler must run at that rate: started at it, or already at
   * it (RecorderBusyError otherwise: the other recordings' rate is not changed under them).
   */
  begin(what: string, hz?: number): Recording {
    if (this.sampler && hz !== undefined && hz !== this.sampler.rate) {
      throw new RecorderBusyError(`the sampler runs at ${this.sampler.rate} Hz for another recording (${this.describe()}); ask for ${this.sampler.rate} Hz or try later`);
    }
    if (this.sampler) this.cut(false);
    else this.sampler = new (this.sampling().Sampler)({ ...this.options(), ...(hz !== undefined ? { hz } : {}) }).start();
    const r = new Recording(this, what);
    this.open.add(r);
    return r;
  }

  /** What is being recorded now, for messages. */
  describe(): string {
    return [...this.open].map((r) => r.what).join(', ');
  }

  /** @internal: hands the current window to every open recording; with `last`, the sampler stops. */
  cut(last: boolean): void {
    const s = this.sampler;
    if (!s) return;
    let window: Profile;
    if (last) {
      this.sampler = undefined;
      window = s.stop();
    } else {
      window = s.window();
    }
    for (const r of this.open) r.add(window);
  }

  /** @internal */
  end(r: Recording, withProfile: boolean): void {
    const last = this.open.size === 1 && this.open.has(r);
    if (withProfile || last) this.cut(last);
    this.open.delete(r);
    r.markClosed();
    if (!withProfile) r.drop();
  }

  /** Ends every recording without a profile, and the sampler with them. */
  cancelAll(): void {
    for (const r of [...this.open]) r.cancel();
    if (this.sampler) {
      const s = this.sampler;
      this.sampler = undefined;
      s.stop();
    }
  }
}

const KEY = Symbol.for('ptprof.recorder');

/**
 * The process's recorder, shared by the agent and the API (which may be two copies of this
 * package: the one the CLI preloads and the one the program requires).
 */
export function processRecorder(options: () => SamplerOptions): Recorder {
  const g = globalThis as Record<symbol, unknown>;
  let r = g[KEY] as Recorder | undefined;
  if (!r || typeof r.begin !== 'function') {
    r = new Recorder(options);
    g[KEY] = r;
  }
  return r;
}
