// Pushing windows to Grafana Pyroscope (--push URL --app NAME, PTPROF_PUSH_URL...): the settings,
// read from the command line or the environment and checked here, before anything runs. Pure: no
// network. Secrets (a token, a password in the URL) are never part of a message.
import * as os from 'node:os';

/** The environment variables (the CLI sets them from its options; the agent alone reads them). */
export const PUSH_ENV = {
  url: 'PTPROF_PUSH_URL',
  app: 'PTPROF_APP',
  every: 'PTPROF_PUSH_EVERY',
  tags: 'PTPROF_TAGS',
  token: 'PTPROF_PUSH_TOKEN',
  tenant: 'PTPROF_PUSH_TENANT',
  /** Tuning: windows held while the server cannot take them (default 10). */
  queue: 'PTPROF_PUSH_QUEUE',
  /** Tuning: each request's timeout, ms (default 10000). */
  timeoutMs: 'PTPROF_PUSH_TIMEOUT_MS',
} as const;

export const DEFAULT_PUSH_EVERY_MS = 15_000;
export const DEFAULT_QUEUE_WINDOWS = 10;
/** The bytes the queue holds at most (whatever the window count). */
export const QUEUE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface PushConfig {
  /** The server's base URL, without credentials (the requests go to <url>/ingest). */
  url: string;
  app: string;
  everyMs: number;
  /** Labels given with --tag / PTPROF_TAGS, in order. */
  tags: [string, string][];
  /** Authorization: `Bearer <token>` or `Basic <base64(user:password)>` (from the URL). */
  authorization?: string;
  /** X-Scope-OrgID, for a multi-tenant server. */
  tenant?: string;
  queueWindows: number;
  timeoutMs: number;
}

/** A URL for messages: credentials and query removed. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

/** The base URL (credentials out, trailing slash off) and Basic authorization from it, if any. */
export function parsePushUrl(text: string, what: string): { url: string; basic?: string } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`${what} must be an http:// or https:// URL of a Pyroscope server (e.g. http://localhost:4040); got something that is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new Error(`${what} must be an http:// or https:// URL of a Pyroscope server; got a ${u.protocol.replace(/:$/, '')}: URL`);
  }
  if (!u.hostname) throw new Error(`${what} has no host`);
  if (u.search || u.hash) throw new Error(`${what} must have no query or fragment (the requests go to <URL>/ingest?...)`);
  let basic: string | undefined;
  if (u.username || u.password) {
    basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
    u.username = '';
    u.password = '';
  }
  return { url: u.toString().replace(/\/+$/, ''), ...(basic ? { basic } : {}) };
}

/** 15s, 1m, 500ms, 30 (seconds): 1 s to 1 h. */
export function parseEvery(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000) : NaN;
  if (!(ms >= 1000 && ms <= 3_600_000)) throw new Error(`${what} must be a duration from 1s to 1h (15s, 1m, 2500ms); got '${text.slice(0, 40)}'`);
  return Math.round(ms);
}

// Pyroscope's label names are Prometheus'; values must not break the name{k=v,...} syntax.
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VALUE = /^[^{},=\s\u0000-\u001f\u007f"]+$/;
const APP = /^[A-Za-z0-9_.\-]+$/;

/** k=v: a label for every window. */
export function parseTag(text: string, what: string): [string, string] {
  const eq = text.indexOf('=');
  const k = eq > 0 ? text.slice(0, eq) : '';
  const v = eq > 0 ? text.slice(eq + 1) : '';
  if (!KEY.test(k) || !VALUE.test(v)) {
    throw new Error(`${what} must be key=value (a key of letters, digits and _; a value without spaces, commas, braces or =); got '${text.slice(0, 80)}'`);
  }
  if (['service_name', 'hostname', 'pid', '__name__'].includes(k)) throw new Error(`${what}: ${k} is set by ptprof`);
  return [k, v];
}

export function checkApp(app: string, what: string): string {
  if (!APP.test(app)) throw new Error(`${what} must be an application name of letters, digits, '.', '_' and '-'; got '${app.slice(0, 80)}'`);
  return app;
}

function positiveInt(text: string, what: string, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) throw new Error(`${what} must be an integer from 1 to ${max}; got '${text.slice(0, 40)}'`);
  return n;
}

/**
 * The push settings from the environment, or undefined when PTPROF_PUSH_URL is unset. Throws an
 * Error with a one-line message for a bad value.
 */
export function readPushConfig(env: NodeJS.ProcessEnv): PushConfig | undefined {
  const urlText = env[PUSH_ENV.url] ?? '';
  if (urlText === '') return undefined;
  const { url, basic } = parsePushUrl(urlText, PUSH_ENV.url);
  const app = env[PUSH_ENV.app] ?? '';
  if (app === '') throw new Error(`${PUSH_ENV.url} needs ${PUSH_ENV.app} (the application name the windows are pushed under)`);
  const tags = (env[PUSH_ENV.tags] ?? '').split(',').filter((t) => t !== '').map((t) => parseTag(t, PUSH_ENV.tags));
  const token = env[PUSH_ENV.token] || undefined;
  const tenant = env[PUSH_ENV.tenant] || undefined;
  if (tenant !== undefined && !VALUE.test(tenant)) throw new Error(`${PUSH_ENV.tenant} must have no spaces or control characters`);
  return {
    url,
    app: checkApp(app, PUSH_ENV.app),
    everyMs: env[PUSH_ENV.every] ? parseEvery(env[PUSH_ENV.every]!, PUSH_ENV.every) : DEFAULT_PUSH_EVERY_MS,
    tags,
    ...(token ? { authorization: `Bearer ${token}` } : basic ? { authorization: `Basic ${basic}` } : {}),
    ...(tenant ? { tenant } : {}),
    queueWindows: env[PUSH_ENV.queue] ? positiveInt(env[PUSH_ENV.queue]!, PUSH_ENV.queue, 1000) : DEFAULT_QUEUE_WINDOWS,
    timeoutMs: env[PUSH_ENV.timeoutMs] ? positiveInt(env[PUSH_ENV.timeoutMs]!, PUSH_ENV.timeoutMs, 600_000) : DEFAULT_TIMEOUT_MS,
  };
}

/** A label value from something that may hold any character (a host name). */
function labelValue(text: string): string {
  const v = text.replace(/[{},=\s\u0000-\u001f\u007f"]/g, '_');
  return v === '' ? '_' : v;
}

/** Pyroscope's application name with labels: NAME{service_name=NAME,hostname=H,pid=P,k=v,...}. */
export function ingestName(cfg: PushConfig, pid: number, hostname: string = os.hostname()): string {
  const labels: [string, string][] = [['service_name', cfg.app], ['hostname', labelValue(hostname)], ['pid', String(pid)], ...cfg.tags];
  return `${cfg.app}{${labels.map(([k, v]) => `${k}=${v}`).join(',')}}`;
}
