// A local stand-in for Grafana Pyroscope's ingestion, for the push tests (no Pyroscope server can
// run here): POST /ingest as Pyroscope's HTTP API documents it (name, from, until, format,
// sampleRate, spyName in the query; the pprof as the raw body or as the `profile` part of
// multipart/form-data; gzipped or not), every body decoded with pprof-format. Loopback only. How
// it answers is the test's to say (an answer function: 200, 500, 429, slow, ...).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import { Profile } from 'pprof-format';

export interface Ingested {
  /** Arrival order. */
  seq: number;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: 'raw' | 'multipart';
  /** Bytes of the pprof as sent (gzipped). */
  bytes: number;
  profile: Profile;
  /** The status the receiver answered with. */
  status: number;
}

/** How to answer the n-th request (from 1): a status, and a delay before answering. */
export type Answer = (n: number, req: http.IncomingMessage) => { status: number; delayMs?: number; headers?: Record<string, string> };

export interface Receiver {
  url: string;
  port: number;
  /** Requests answered 2xx, decoded. */
  accepted: Ingested[];
  /** Every request that reached it, whatever the answer. */
  all: Ingested[];
  /** Requests it could not read (not the documented contract): what was wrong. */
  malformed: string[];
  close(): Promise<void>;
}

function multipartProfile(body: Buffer, contentType: string): Buffer | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return undefined;
  const sep = Buffer.from(`--${boundary}`);
  let at = body.indexOf(sep);
  while (at >= 0) {
    const next = body.indexOf(sep, at + sep.length);
    if (next < 0) break;
    const part = body.subarray(at + sep.length + 2, next - 2); // after CRLF, before CRLF
    const headEnd = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, headEnd).toString('latin1');
    if (/content-disposition:[^\r\n]*\bname="profile"/i.test(head)) return part.subarray(headEnd + 4);
    at = next;
  }
  return undefined;
}

/** Starts a receiver on 127.0.0.1 (a free port). */
export function startReceiver(answer: Answer = () => ({ status: 200 })): Promise<Receiver> {
  const accepted: Ingested[] = [];
  const all: Ingested[] = [];
  const malformed: string[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seq = ++n;
      const a = answer(seq, req);
      const reply = (): void => {
        if (res.destroyed) return;
        res.writeHead(a.status, a.headers ?? {});
        res.end(a.status < 300 ? '' : `status ${a.status}`);
      };
      try {
        const url = new URL(req.url ?? '/', 'http://x');
        if (req.method !== 'POST' || url.pathname !== '/ingest') throw new Error(`${req.method} ${url.pathname}`);
        const query = Object.fromEntries(url.searchParams);
        for (const k of ['name', 'from', 'until']) if (!query[k]) throw new Error(`no ${k}`);
        if (query.format !== 'pprof') throw new Error(`format=${query.format}`);
        const raw = Buffer.concat(chunks);
        const ct = String(req.headers['content-type'] ?? '');
        const isMultipart = ct.startsWith('multipart/form-data');
        const pprof = isMultipart ? multipartProfile(raw, ct) : raw;
        if (!pprof) throw new Error('multipart/form-data without a profile part');
        const profile = Profile.decode(pprof[0] === 0x1f ? zlib.gunzipSync(pprof) : pprof);
        const got: Ingested = { seq, query, headers: req.headers, body: isMultipart ? 'multipart' : 'raw', bytes: pprof.length, profile, status: a.status };
        all.push(got);
        if (a.status >= 200 && a.status < 300) accepted.push(got);
      } catch (e) {
        malformed.push((e as Error).message);
      }
      if (a.delayMs) setTimeout(reply, a.delayMs);
      else reply();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`, port, accepted, all, malformed,
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}
