// The command's side of profiles on demand (--signal, --listen): the address checked before the
// program starts, the variables that tell the agents, and the window signal passed to every Node
// process of the run. The agents do the recording (agent/windows.ts, agent/endpoint.ts).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { printable, writeFileAtomicSync } from '@ptprof/pprof-writer';
import { UsageError } from './args';
import { ENV, WINDOW_STATE_FILE, formatAddress, processStartTime, type ListenAddress, type WindowSignal, type WindowState } from './config';
import type { LongRunOptions } from './long-args';
import { PUSH_ENV } from './push-config';
import { readReports } from './summary';

const ADDRESS_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name cannot be resolved now',
};

/**
 * Throws UsageError unless `at` can be listened on now: checked by listening there and closing at
 * once, before the program starts (the agent listens there as soon as it loads).
 */
export async function checkListen(at: ListenAddress): Promise<void> {
  if (at.port === 0) return; // any free port: the agent prints the one it gets
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? 'error';
      reject(new UsageError(`cannot listen on ${printable(formatAddress(at))}: ${ADDRESS_ERRORS[code] ?? printable(e.message)} (${code}); choose another --listen`));
    });
    server.listen({ host: at.host, port: at.port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * The agents' variables for these options (the environment was cleared of ptprof's own before).
 * The push settings come from the options only: a PTPROF_PUSH_URL left in the environment does
 * not make this run push (its tuning variables pass, as the sampler's do).
 */
export function longRunEnv(env: NodeJS.ProcessEnv, opts: LongRunOptions | undefined): void {
  for (const k of [PUSH_ENV.url, PUSH_ENV.app, PUSH_ENV.every, PUSH_ENV.tags, PUSH_ENV.token, PUSH_ENV.tenant]) delete env[k];
  if (opts?.signal) env[ENV.signal] = opts.signal;
  if (opts?.listen) env[ENV.listen] = formatAddress(opts.listen);
  const p = opts?.push;
  if (p) {
    env[PUSH_ENV.url] = p.url;
    env[PUSH_ENV.app] = p.app;
    if (p.every) env[PUSH_ENV.every] = p.every;
    if (p.tags.length) env[PUSH_ENV.tags] = p.tags.join(',');
    if (p.token) env[PUSH_ENV.token] = p.token;
    if (p.tenant) env[PUSH_ENV.tenant] = p.tenant;
  }
}

/**
 * --signal: each `sig` sent to ptprof starts window n + 1 or ends window n, in every Node process
 * of the run. The state is written first (a process starting now reads it and joins), then each
 * process that has started and not ended is signalled, only if its pid still names the process
 * that started (its start time), never a pid the kernel has given to another process since.
 * Returns the function that stops forwarding.
 */
export function forwardWindows(sig: WindowSignal, reportDir: string, say: (line: string) => void): () => void {
  let state: WindowState = { n: 0, open: false };
  const onSignal = (): void => {
    state = state.open ? { n: state.n, open: false } : { n: state.n + 1, open: true };
    try {
      writeFileAtomicSync(path.join(reportDir, WINDOW_STATE_FILE), JSON.stringify(state), 0o600);
    } catch (e) {
      say(`cannot record window ${state.n} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${sig} ignored`);
      return;
    }
    let n = 0;
    for (const s of readReports(reportDir).unfinished) {
      if (s.startTime === undefined || processStartTime(s.pid) !== s.startTime) continue;
      try {
        process.kill(s.pid, sig);
        n++;
      } catch {
        /* gone meanwhile */
      }
    }
    say(state.open
      ? `${sig}: window ${state.n} started in ${n} Node process${n === 1 ? '' : 'es'}; send ${sig} to ptprof (pid ${process.pid}) again to end it`
      : `${sig}: window ${state.n} ended in ${n} Node process${n === 1 ? '' : 'es'}; each writes its profile`);
  };
  process.on(sig, onSignal);
  return () => process.removeListener(sig, onSignal);
}


/** Kept for the summary: the window state file is the CLI's, not a report. */
export function windowStateExists(reportDir: string): boolean {
  return fs.existsSync(path.join(reportDir, WINDOW_STATE_FILE));
}
