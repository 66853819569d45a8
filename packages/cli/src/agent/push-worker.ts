// The uploads of windows to Pyroscope's POST /ingest, in a worker thread of the agent's: the main
// thread only cuts and encodes each window and posts it here, so no request, retry or timer of the
// push ever runs on the program's thread. Here: one request at a time, each with a timeout; a
// server that is down, slow or busy (timeout, 5xx, 408, 429) gets the window again after a capped
// exponential backoff with jitter (Retry-After when the server gives one); a refusal (other 4xx)
// is final; the queue is bounded (windows and bytes: the oldest waiting is dropped); each kind of
// failure is said once on stderr. The counts live in shared memory the main thread reads
// synchronously (for the next window's comments, and the summary). At the end the main thread
// posts the last window and waits: this worker finishes the request on the wire, sends what waits
// until the deadline, and says how many it sent. A window is sent once: never lost to a race
// between the two threads, never sent twice.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

/** A window to send: the full URL (<server>/ingest?name=...), headers, the gzipped pprof. */
export interface Upload {
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export type FailureKind = 'unreachable' | 'timeout' | 'throttled' | 'server_error' | 'rejected';
export const FAILURE_KINDS: readonly FailureKind[] = ['unreachable', 'timeout', 'throttled', 'server_error', 'rejected'];

/** The counters in shared memory (Float64Array), by index. */
export const COUNT = {
  sent: 0, bytes: 1, retries: 2, dropped: 3, rejected: 4, unsent: 5, flushed: 6,
  /** FAILURE_KINDS from here on. */
  failures: 7,
} as const;
export const COUNT_SLOTS = COUNT.failures + FAILURE_KINDS.length;

export interface WorkerConfig {
  pushUpload: true;
  counts: SharedArrayBuffer;
  /** Int32Array: [0] becomes 1 when the final flush is over. */
  done: SharedArrayBuffer;
  timeoutMs: number;
  queueWindows: number;
  queueBytes: number;
  /** For messages: the server without credentials, the process. */
  server: string;
  pid: number;
}

export type Message = { type: 'window'; upload: Upload } | { type: 'flush'; upload?: Upload; deadlineMs: number };

type Outcome = { ok: true } | { ok: false; kind: FailureKind; detail: string; retry: boolean; retryAfterMs?: number };

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** In the final flush, between two tries of a window the server was too busy for. */
const FLUSH_PAUSE_MS = 250;

/** multipart/form-data with one file part, `profile` (what Pyroscope's own Node client sends). */
export function multipart(profile: Uint8Array): { contentType: string; body: Buffer } {
  const boundary = `ptprof-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="profile"; filename="profile.pb.gz"\r\n`
    + 'Content-Type: application/octet-stream\r\n\r\n');
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([head, profile, Buffer.from(`\r\n--${boundary}--\r\n`)]) };
}

function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** One request; never rejects. */
function send(up: Upload, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const u = new URL(up.url);
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      method: 'POST', headers: { ...up.headers, 'Content-Length': String(up.body.length) }, agent: false,
    }, (res) => {
      const status = res.statusCode ?? 0;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 200) text += d;
      });
      res.on('end', () => {
        if (status >= 200 && status < 300) return finish({ ok: true });
        if (status === 429) {
          const after = retryAfterMs(res.headers['retry-after']);
          return finish({ ok: false, kind: 'throttled', detail: 'HTTP 429', retry: true, ...(after !== undefined ? { retryAfterMs: after } : {}) });
        }
        if (status >= 500 || status === 408) return finish({ ok: false, kind: 'server_error', detail: `HTTP ${status}`, retry: true });
        finish({ ok: false, kind: 'rejected', detail: `HTTP ${status}${text ? `: ${text.replace(/\s+/g, ' ').trim().slice(0, 120)}` : ''}`, retry: false });
      });
      res.on('error', () => finish({ ok: false, kind: 'unreachable', detail: 'the response broke off', retry: true }));
    });
    // A server that takes the connection and never answers must not hold the queue.
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, kind: 'timeout', detail: `no answer in ${timeoutMs} ms`, retry: true });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, kind: 'unreachable', detail: e.code ?? e.message, retry: true }));
    req.end(up.body);
  });
}

class Uploader {
  private readonly queue: Upload[] = [];
  private bytes = 0;
  private inflight: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;
  private final = false;
  private readonly told = new Set<string>();
  private readonly counts: Float64Array;

  constructor(private readonly cfg: WorkerConfig) {
    this.counts = new Float64Array(cfg.counts);
  }

  private add(i: number, n = 1): void {
    this.counts[i] += n;
  }

  /** Said once per kind; the counts go on in the windows' comments. */
  private tell(kind: string, line: string): void {
    if (this.told.has(kind)) return;
    this.told.add(kind);
    try {
      fs.writeSync(2, `ptprof: process ${this.cfg.pid}: ${line} (said once; what follows is counted in the windows' comments, push.*)\n`);
    } catch {
      /* stderr is gone */
    }
  }

  enqueue(up: Upload): void {
    // The oldest waiting goes first (never the one on the wire, which is not in the queue).
    while (this.queue.length > 0 && (this.queue.length >= this.cfg.queueWindows || this.bytes + up.body.length > this.cfg.queueBytes)) {
      this.bytes -= this.queue.shift()!.body.length;
      this.add(COUNT.dropped);
      this.tell('dropped', `windows waiting for ${this.cfg.server} exceed the queue (${this.cfg.queueWindows} windows, ${this.cfg.queueBytes >> 20} MiB): dropping the oldest`);
    }
    this.queue.push(up);
    this.bytes += up.body.length;
  }

  pump(): void {
    if (this.inflight || this.retry || this.queue.length === 0) return;
    const up = this.queue.shift()!;
    this.bytes -= up.body.length;
    this.inflight = send(up, this.cfg.timeoutMs).then((o) => {
      this.inflight = undefined;
      if (o.ok) {
        this.attempt = 0;
        this.add(COUNT.sent);
        this.add(COUNT.bytes, up.body.length);
      } else {
        this.add(COUNT.failures + FAILURE_KINDS.indexOf(o.kind));
        if (!o.retry) {
          this.add(COUNT.rejected);
          this.tell(o.kind, `${this.cfg.server}/ingest refused a window (${o.detail}); refused windows are not sent again`);
        } else if (this.final) {
          this.queue.unshift(up);
          this.bytes += up.body.length;
          return;
        } else {
          this.add(COUNT.retries);
          this.tell(o.kind, `cannot push to ${this.cfg.server}/ingest (${o.kind}: ${o.detail}); retrying with backoff`);
          this.queue.unshift(up);
          this.bytes += up.body.length;
          // Capped exponential backoff with jitter (0.5x to 1.5x), or what the server asked for.
          const wait = o.retryAfterMs ?? Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt++) * (0.5 + Math.random());
          this.retry = setTimeout(() => {
            this.retry = undefined;
            this.pump();
          }, Math.min(BACKOFF_MAX_MS, wait));
          return;
        }
      }
      this.pump();
    });
  }

  /**
   * The end: what is on the wire finishes, then what waits is sent in order until the deadline (a
   * window the server is too busy for is tried again after Retry-After or a short pause, while
   * the deadline allows).
   */
  async flush(last: Upload | undefined, deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    this.final = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    if (last) this.enqueue(last);
    if (this.inflight) await this.inflight;
    while (this.queue.length > 0 && Date.now() < end) {
      const up = this.queue[0];
      const o = await send(up, Math.max(1, Math.min(this.cfg.timeoutMs, end - Date.now())));
      if (o.ok || !o.retry) {
        this.queue.shift();
        if (o.ok) {
          this.add(COUNT.sent);
          this.add(COUNT.bytes, up.body.length);
          this.add(COUNT.flushed);
        } else {
          this.add(COUNT.failures + FAILURE_KINDS.indexOf(o.kind));
          this.add(COUNT.rejected);
        }
        continue;
      }
      this.add(COUNT.failures + FAILURE_KINDS.indexOf(o.kind));
      const pause = o.retryAfterMs ?? FLUSH_PAUSE_MS;
      if (Date.now() + pause >= end) break;
      await new Promise((r) => setTimeout(r, pause));
    }
    this.add(COUNT.unsent, this.queue.length);
    this.queue.length = 0;
  }
}

// In the worker: windows come as messages; the flush's end is told through shared memory, which
// the main thread waits on (its event loop does not run any more).
if (!isMainThread && (workerData as Partial<WorkerConfig> | undefined)?.pushUpload === true) {
  const cfg = workerData as WorkerConfig;
  const uploader = new Uploader(cfg);
  const done = new Int32Array(cfg.done);
  parentPort!.on('message', (m: Message) => {
    if (m.type === 'window') {
      uploader.enqueue(m.upload);
      uploader.pump();
      return;
    }
    void uploader.flush(m.upload, m.deadlineMs).then(() => {
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
    });
  });
}
