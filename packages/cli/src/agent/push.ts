// Continuous profiling: every everyMs, the process sends the window's profile to Grafana
// Pyroscope's POST /ingest (--push URL --app NAME, PTPROF_PUSH_URL...). The windows are takes of
// one recording: contiguous, never overlapping, adding up to the run. On the program's thread:
// the cut (Sampler.window()), the source maps and the encoding (its compression on libuv's pool);
// the uploads, their retries and the bounded queue are in a worker (push-worker.ts). What went
// wrong is counted in the comments of the windows that follow (push.*). At exit, and on a stop
// signal, the last window and those still waiting are sent within FLUSH_DEADLINE_MS.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Profile, ProfileFacts } from '@ptprof/sampler';
import { QUEUE_BYTES, ingestName, shownUrl, type PushConfig } from '../push-config';
import { labelled, type Who } from './output';
import { COUNT, COUNT_SLOTS, FAILURE_KINDS, multipart, type Message, type Upload, type WorkerConfig } from './push-worker';
import type { Recorder, Recording } from './recorder';

/** The final flush's deadline: the process is ending. */
export const FLUSH_DEADLINE_MS = 2000;

/** What the push did (the summary's line). */
export interface PushCounts {
  /** The server, without credentials. */
  to: string;
  windows: number;
  sent: number;
  bytes: number;
  retries: number;
  dropped: number;
  rejected: number;
  unsent: number;
}

export class Pusher {
  private rec: Recording | undefined;
  private timer: NodeJS.Timeout | undefined;
  private worker: Worker | undefined;
  private windows = 0;
  /** The last window's `until`: the next one's `from`. */
  private nextFrom: number | undefined;
  private encoding = 0;
  private readonly counts = new Float64Array(new SharedArrayBuffer(COUNT_SLOTS * 8));
  private readonly done = new SharedArrayBuffer(4);

  constructor(
    private readonly cfg: PushConfig,
    private readonly recorder: Recorder,
    private readonly who: Who,
    private readonly sourceMaps: boolean,
  ) {}

  start(): this {
    const wc: WorkerConfig = {
      pushUpload: true, counts: this.counts.buffer as SharedArrayBuffer, done: this.done, timeoutMs: this.cfg.timeoutMs,
      queueWindows: this.cfg.queueWindows, queueBytes: QUEUE_BYTES, server: shownUrl(this.cfg.url), pid: process.pid,
    };
    this.worker = new Worker(path.join(__dirname, 'push-worker.js'), { workerData: wc });
    // Never what keeps the program alive.
    this.worker.unref();
    this.rec = this.recorder.begin(`pushing to ${shownUrl(this.cfg.url)}`);
    this.timer = setInterval(() => this.tick(), this.cfg.everyMs);
    this.timer.unref();
    return this;
  }

  get summary(): PushCounts {
    const c = this.counts;
    return {
      to: shownUrl(this.cfg.url), windows: this.windows, sent: c[COUNT.sent], bytes: c[COUNT.bytes], retries: c[COUNT.retries], dropped: c[COUNT.dropped],
      rejected: c[COUNT.rejected], unsent: c[COUNT.unsent] + this.encoding,
    };
  }

  /** The counts so far, as facts of the window being cut (what happened before it). */
  private facts(): ProfileFacts {
    const c = this.counts;
    const f: ProfileFacts = {
      'push.window': this.windows, 'push.sent': c[COUNT.sent], 'push.retries': c[COUNT.retries], 'push.dropped': c[COUNT.dropped],
      'push.rejected': c[COUNT.rejected],
    };
    FAILURE_KINDS.forEach((k, i) => {
      if (c[COUNT.failures + i] > 0) f[`push.failed.${k}`] = c[COUNT.failures + i];
    });
    return f;
  }

  /** Cuts the window (the last one: `last`), with its request's URL. */
  private cut(last: boolean): { profile: Profile; url: string } {
    const raw = last ? this.rec!.close() : this.rec!.take();
    this.windows++;
    const profile = labelled(raw, this.who, this.facts(), this.sourceMaps);
    // Whole seconds, as the API takes them: each window's until is the next one's from. A window
    // that starts and ends within one second still gets a second (until = from + 1), so the next
    // one starts there, not at the floor of its own start: taken from its start, a window that
    // ended at 12.98 s (12..13) and the next, from 12.98 s (12..), overlapped. That happened when
    // a window's cut took longer than the last's, as when the sampler symbolizes what it held.
    const start = Math.floor(Number(raw.startTimeNanos / 1_000_000_000n));
    const from = this.nextFrom !== undefined && this.nextFrom > start ? this.nextFrom : start;
    const end = Math.floor(Number((raw.startTimeNanos + BigInt(Math.round(raw.durationNanos))) / 1_000_000_000n));
    const until = Math.max(end, from + 1);
    this.nextFrom = until;
    const q = new URLSearchParams({
      name: ingestName(this.cfg, process.pid), from: String(from), until: String(until),
      format: 'pprof', spyName: 'ptprof', sampleRate: String(raw.hz),
    });
    return { profile, url: `${this.cfg.url}/ingest?${q}` };
  }

  private upload(url: string, pprof: Uint8Array): Upload {
    const { contentType, body } = multipart(pprof);
    const headers: Record<string, string> = { 'Content-Type': contentType, 'User-Agent': 'ptprof' };
    if (this.cfg.authorization) headers.Authorization = this.cfg.authorization;
    if (this.cfg.tenant) headers['X-Scope-OrgID'] = this.cfg.tenant;
    return { url, headers, body };
  }

  /** Copied, not transferred: a small Buffer's memory is Node's shared pool. */
  private post(m: Message): void {
    this.worker!.postMessage(m);
  }

  private tick(): void {
    if (!this.rec?.isOpen) return;
    const w = this.cut(false);
    const { encodePprofAsync } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
    this.encoding++;
    encodePprofAsync(w.profile).then((pprof) => {
      this.encoding--;
      if (this.rec?.isOpen) this.post({ type: 'window', upload: this.upload(w.url, pprof) });
      else this.counts[COUNT.unsent]++;
    }, () => {
      this.encoding--;
      this.counts[COUNT.unsent]++;
    });
  }

  /**
   * The process ends: the last window, and every window still waiting, are sent within deadlineMs
   * by the worker, which this thread waits for (its own event loop will not run again).
   * Synchronous; never throws. Returns a line to say when windows could not be sent.
   */
  flush(deadlineMs: number = FLUSH_DEADLINE_MS): string | undefined {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.worker || !this.rec) return undefined;
    let last: Upload | undefined;
    try {
      if (this.rec.isOpen) {
        const w = this.cut(true);
        const { encodePprof } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
        last = this.upload(w.url, encodePprof(w.profile));
      }
    } catch {
      this.counts[COUNT.unsent]++;
    }
    const flag = new Int32Array(this.done);
    this.post({ type: 'flush', ...(last ? { upload: last } : {}), deadlineMs });
    // A little past the deadline the worker sends with: it may have a request on the wire to finish.
    Atomics.wait(flag, 0, 0, deadlineMs + 1000);
    const s = this.summary;
    if (s.unsent === 0) return undefined;
    return `${s.unsent} window${s.unsent === 1 ? '' : 's'} could not be pushed to ${shownUrl(this.cfg.url)} before the process ended`;
  }

  /** Stops without sending anything more. */
  cancel(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.rec?.cancel();
    void this.worker?.terminate();
  }
}
