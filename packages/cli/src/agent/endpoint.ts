// A Go-compatible CPU profile endpoint (--listen, PTPROF_LISTEN): GET /debug/pprof/profile?seconds=N
// answers as Go's net/http/pprof does (it profiles for N seconds, 30 by default or when N is not a
// positive integer, and answers with a gzipped pprof as application/octet-stream; errors are
// text/plain with X-Go-Pprof: 1, which go tool pprof prints), so `go tool pprof URL` and the
// scrapers of continuous-profiling systems read it unchanged. An optional hz=H sets the rate. One
// recording at a time: a concurrent request gets 409. The server never keeps the program alive.
//
// The profile comes from a ProfileSource: this process's own recorder by default; a process
// tree's merged profile can be put in its place (the response says what it covers).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_HZ, MIN_HZ, formatAddress, parseIntStrict, type ListenAddress } from '../config';
import { RecorderBusyError } from './recorder';

export interface ProfileRequest {
  seconds: number;
  hz?: number;
  /** Aborted when the client goes away: stop recording. */
  signal: AbortSignal;
}

export interface ProfileAnswer {
  /** The gzipped pprof. */
  body: Buffer;
  /** What the profile covers, for the X-Ptprof-Covers header ("process 123 only"). */
  covers: string;
}

/**
 * Records for req.seconds and answers with the profile. Rejects with RecorderBusyError when it
 * cannot record now, with an AbortError when req.signal fires.
 */
export type ProfileSource = (req: ProfileRequest) => Promise<ProfileAnswer>;

const PROFILE_PATH = '/debug/pprof/profile';

function serveError(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Go-Pprof': '1', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${text}\n`);
}

export interface Endpoint {
  /** Where it listens, once it does. */
  readonly address: Promise<ListenAddress>;
  close(): void;
}

/**
 * Serves the endpoint at `at`. `onListening` gets the address (port 0: the one the system gave);
 * `onError` a failure to listen, once.
 */
export function serveProfiles(at: ListenAddress, source: ProfileSource, onError: (err: Error) => void): Endpoint {
  let busy = false;
  const server = http.createServer((req, res) => {
    // Nothing of the endpoint keeps the program alive: not the server, not a request in progress.
    req.socket.unref();
    void handle(req, res);
  });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== PROFILE_PATH) {
      serveError(res, 404, `ptprof serves CPU profiles only: GET ${PROFILE_PATH}?seconds=N[&hz=H]`);
      return;
    }
    if (req.method !== 'GET') {
      serveError(res, 405, `${PROFILE_PATH} takes GET`);
      return;
    }
    // As Go: seconds not a positive integer means 30.
    const sec = parseIntStrict(url.searchParams.get('seconds') ?? '');
    const seconds = sec > 0 ? sec : 30;
    let hz: number | undefined;
    const hzText = url.searchParams.get('hz');
    if (hzText !== null) {
      hz = parseIntStrict(hzText);
      if (!(hz >= MIN_HZ && hz <= MAX_HZ)) {
        serveError(res, 400, `hz must be an integer from ${MIN_HZ} to ${MAX_HZ} (samples per second of CPU time); got '${hzText.slice(0, 40)}'`);
        return;
      }
    }
    if (busy) {
      serveError(res, 409, 'Could not enable CPU profiling: a profile is already being recorded for another request; one at a time, try again when it is done');
      return;
    }
    busy = true;
    const aborted = new AbortController();
    const onClose = (): void => aborted.abort();
    res.on('close', onClose);
    try {
      const answer = await source({ seconds, ...(hz !== undefined ? { hz } : {}), signal: aborted.signal });
      if (aborted.signal.aborted) return;
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': 'attachment; filename="profile"',
        'X-Content-Type-Options': 'nosniff',
        'X-Ptprof-Covers': answer.covers,
        'Content-Length': answer.body.length,
      });
      res.end(answer.body);
    } catch (err) {
      if (aborted.signal.aborted) return;
      if (err instanceof RecorderBusyError) serveError(res, 409, `Could not enable CPU profiling: ${err.message}`);
      else serveError(res, 500, `Could not record the CPU profile: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      busy = false;
      res.removeListener('close', onClose);
    }
  };
  const address = new Promise<ListenAddress>((resolve) => {
    server.once('listening', () => {
      const a = server.address() as AddressInfo;
      resolve({ host: at.host, port: a.port });
    });
  });
  server.once('error', (err) => onError(new Error(`cannot listen on ${formatAddress(at)}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  server.listen({ host: at.host, port: at.port });
  server.unref();
  return {
    address,
    close: () => {
      server.close();
      server.closeAllConnections?.();
    },
  };
}
