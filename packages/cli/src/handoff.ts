// The agent's side of the hand-off (part.ts): every few seconds the process's profile since the
// previous part (the sampler's window()) goes to the CLI as a part, and at its end the last one,
// with the frames named through their source maps. The process then holds one window's rows at a
// time, and the frames it has sent (one object per function, which the sampler holds anyway).
//
// Source maps are applied once, when the process ends, in the process (the only place Node's maps
// of code transpiled in memory exist, and where the frames' columns are known): the final part
// carries the mapped frames by id and the CLI renames the frames of every earlier part. Mapping
// each window instead would read and parse every map again every few seconds (230 ms for a 2 MB
// bundle map, measured in bench/sourcemaps.js); a process killed by SIGKILL keeps its frames as
// they ran, and the profile says so (its `complete=false`).
import * as path from 'node:path';
import type { Facts, FrameInput } from '@ptprof/pprof-writer';
import type { Profile } from '@ptprof/sampler';
import { every, partName, PART_VERSION, type Part, type PartProcess } from './part';
import { withSourceMaps } from './sourcemaps';

type Writer = typeof import('@ptprof/pprof-writer/atomic');

/** What a failed hand-off says: the first error's reason, and how many windows failed. */
export interface HandoffErrors {
  count: number;
  first?: unknown;
}

/**
 * Where the parts come from: a Sampler (window(), then stop()), or the agent's whole-run recording
 * (its take(), then close()), which shares the process's one sampler with windows, pushes and the API.
 */
export interface PartSource {
  window(): Profile;
  stop(): Profile;
  /** Nothing was sampled since the last window: the part may wait (an idle process is not woken to write it). */
  quiet?(): boolean;
}

export class Handoff {
  /** Frame object -> id: the symbolizer hands out one object per function. */
  private readonly ids = new Map<object, number>();
  /** The frames sent, by id, for the source-map pass at the end. */
  private readonly frames: FrameInput[] = [];
  private seq = 0;
  private readonly nonce = Date.now().toString(36);
  /** Parts that could not be written yet (a full disk): written first next time, in order. */
  private readonly unsent: { name: string; data: string }[] = [];
  private stopTimer = (): void => {};
  readonly errors: HandoffErrors = { count: 0 };

  /** `writer`: pprof-writer's atomic write alone (its index loads pprof-format, zlib and the merge), loaded at the first part, not at start-up where the profile would see it. */
  constructor(
    private readonly sampler: PartSource,
    private readonly dir: string,
    private readonly who: PartProcess,
    private writer?: Writer,
  ) {}

  /** Hands a window over every `ms` (an unref'd timer: it never keeps the process alive). */
  start(ms: number): this {
    this.stopTimer = every(ms, () => this.window());
    return this;
  }

  stop(): void {
    this.stopTimer();
  }

  /** Hands the window since the previous part over; never throws (a failure is counted, the part kept for next time). */
  window(): void {
    // An idle process hands nothing over until it has something (its next part covers the wait);
    // the first part is handed over whatever it holds, so that the CLI knows the process.
    if (this.seq > 0 && this.sampler.quiet?.()) return;
    try {
      this.queue(this.part(this.sampler.window(), false));
      this.flush();
    } catch (err) {
      this.errors.count++;
      this.errors.first ??= err;
    }
  }

  /**
   * Stops sampling and hands the last part over: the last window, how the process ended, the
   * frames named through their source maps, and `facts`; then late()'s, called just before the
   * part is queued (what the work above cost). Throws when it could not be written.
   */
  final(end: string, sourceMaps: boolean, facts: Facts, late?: () => Facts): Part {
    this.stop();
    const profile = this.sampler.stop();
    const part = this.part(profile, true);
    part.end = end;
    // Every frame this process has handed over, named through the scripts' maps once.
    const frames = this.frames;
    const mapped = withSourceMaps({ samples: frames.map((f) => ({ frames: [f] })), facts: {} as Facts }, sourceMaps);
    const renamed: [number, FrameInput][] = [];
    mapped.samples.forEach((s, id) => {
      if (s.frames[0] !== frames[id]) renamed.push([id, s.frames[0]!]);
    });
    if (renamed.length > 0) part.mapped = renamed;
    part.facts = { ...part.facts, ...facts, ...mapped.facts,
      ...(this.errors.count > 0 ? { handoff_errors: this.errors.count } : {}) };
    // Last: facts that count the work above (ptprof's own CPU at the process's end).
    if (late) part.facts = { ...part.facts, ...late() };
    this.queue(part);
    this.flush();
    return part;
  }

  private part(p: Profile, final: boolean): Part {
    const firstNew = this.frames.length;
    const threads: Part['threads'] = [];
    const threadIndex = new Map<string, number>();
    const rows: number[] = [];
    for (const s of p.samples) {
      const l = s.labels;
      const key = `${l.thread_id}\u0000${l.thread_name}\u0000${l.thread_kind}`;
      let t = threadIndex.get(key);
      if (t === undefined) {
        t = threads.length;
        threads.push([l.thread_id, l.thread_name, l.thread_kind === 'js']);
        threadIndex.set(key, t);
      }
      rows.push(t, s.count, s.cpuNanos, s.frames.length);
      for (const f of s.frames) {
        let id = this.ids.get(f);
        if (id === undefined) {
          id = this.frames.length;
          this.ids.set(f, id);
          this.frames.push(f);
        }
        rows.push(id);
      }
    }
    return {
      v: PART_VERSION, ...this.who, seq: this.seq++, final, start: String(p.startTimeNanos), duration: p.durationNanos,
      frames: this.frames.slice(firstNew), threads, rows, facts: p.facts,
    };
  }

  private queue(part: Part): void {
    this.unsent.push({ name: partName(part.pid, this.nonce, part.seq), data: JSON.stringify(part) });
  }

  /** Writes the parts not written yet, in order; throws at the first that cannot be (it stays queued). */
  private flush(): void {
    while (this.unsent.length > 0) {
      const p = this.unsent[0]!;
      this.writer ??= require('@ptprof/pprof-writer/atomic') as Writer;
      this.writer.writeFileAtomicSync(path.join(this.dir, p.name), p.data, 0o600);
      this.unsent.shift();
    }
  }
}
