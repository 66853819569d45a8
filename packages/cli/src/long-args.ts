// The options for long-running programs: profiles on demand (--signal, --listen) and pushed to
// Grafana Pyroscope (--push and its company). Parsed here, apart
// from args.ts, so that each stays small; pure (no file system, no network). A bad value throws an
// Error with a one-line message (args.ts makes it a UsageError).
import { printable } from '@ptprof/pprof-writer';
import { WINDOW_SIGNALS, formatList, parseListen, windowSignal, type ListenAddress, type WindowSignal } from './config';
import { checkApp, parseEvery, parsePushUrl, parseTag } from './push-config';

/** --push and its options, as given (checked; the agents read them from their environment). */
export interface PushOptions {
  url: string;
  app?: string;
  every?: string;
  tags: string[];
  token?: string;
  tenant?: string;
}

export interface LongRunOptions {
  /** --signal: timers off until this signal; each one starts or ends a window. */
  signal?: WindowSignal;
  /** --listen: the root process serves /debug/pprof/profile here. */
  listen?: ListenAddress;
  /** --push: every window of every Node process goes to Pyroscope. */
  push?: PushOptions;
}

export const LONG_RUN_HELP = `  --signal SIGUSR2   on demand: the program starts with timers off; each SIGUSR2 sent to ptprof
                     starts a window in every Node process under it, or ends it and writes it
                     (ptprof.<pid>.1.pb.gz, .2, ...); no whole-run profile
  --listen [HOST:]PORT
                     serve GET /debug/pprof/profile?seconds=N (as Go's net/http/pprof) from the
                     first Node process, on 127.0.0.1 unless HOST is given; on demand, as --signal
  --push URL         push every window of every Node process to Grafana Pyroscope (POST URL/ingest);
                     no local profile. With --app NAME (required), --push-every 15s (1s..1h),
                     --tag k=v (a label, repeatable), --push-token T (bearer; or user:password@ in
                     the URL), --push-tenant ID (X-Scope-OrgID)
`;

function value(args: readonly string[], i: number, name: string): { value: string; next: number } {
  const arg = args[i];
  const eq = arg.indexOf('=');
  if (arg.startsWith('--') && eq > 0) return { value: arg.slice(eq + 1), next: i + 1 };
  if (i + 1 >= args.length) throw new Error(`${name} needs a value (see ptprof --help)`);
  return { value: args[i + 1], next: i + 2 };
}

/**
 * The long-running option at args[i], into `into`: the index of the next argument, or undefined
 * when args[i] is none of them. Throws UsageError for a bad value.
 */
export function readLongRunOption(args: readonly string[], i: number, into: LongRunOptions): number | undefined {
  const name = args[i].split('=')[0];
  if (name === '--signal') {
    const v = value(args, i, name);
    const sig = windowSignal(v.value);
    if (!sig) {
      throw new Error(`--signal must be ${formatList(WINDOW_SIGNALS)}; got '${printable(v.value)}' (SIGUSR1 is Node's inspector; SIGINT, SIGTERM and SIGHUP end the program and write its profile)`);
    }
    into.signal = sig;
    return v.next;
  }
  if (name === '--listen') {
    const v = value(args, i, name);
    into.listen = parseListen(v.value);
    return v.next;
  }
  const push = (): PushOptions => (into.push ??= { url: '', tags: [] });
  switch (name) {
    case '--push': {
      const v = value(args, i, name);
      parsePushUrl(v.value, '--push');
      push().url = v.value;
      return v.next;
    }
    case '--app': {
      const v = value(args, i, name);
      push().app = checkApp(v.value, '--app');
      return v.next;
    }
    case '--push-every': {
      const v = value(args, i, name);
      parseEvery(v.value, '--push-every');
      push().every = v.value;
      return v.next;
    }
    case '--tag': {
      const v = value(args, i, name);
      parseTag(v.value, '--tag');
      push().tags.push(v.value);
      return v.next;
    }
    case '--push-token':
    case '--push-tenant': {
      const v = value(args, i, name);
      if (v.value === '' || /[\s\u0000-\u001f\u007f]/.test(v.value)) throw new Error(`${name} must be a non-empty value without spaces or control characters`);
      if (name === '--push-token') push().token = v.value;
      else push().tenant = v.value;
      return v.next;
    }
  }
  return undefined;
}

/** What only the whole set can say (after the last option): --push needs --app; its options need --push. */
export function checkLongRun(opts: LongRunOptions): void {
  const p = opts.push;
  if (!p) return;
  if (p.url === '') throw new Error('--app, --push-every, --tag, --push-token and --push-tenant go with --push URL (the Pyroscope server)');
  if (!p.app) throw new Error('--push needs --app NAME: the application name the windows are pushed under');
}
