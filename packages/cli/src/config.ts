// What the CLI and the agent share: the environment variables that carry the configuration, the
// output file names, NODE_OPTIONS quoting, the signals, and the agent's report. No native code:
// the CLI checks its arguments with this before it runs anything, and the agent loads it in every
// Node process the profiled program starts. Ranges and defaults come from the sampler's table.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INT_OPTIONS, THREADS_MODES, optionProblem, parseIntStrict, type IntOptionName, type ThreadsMode } from '@ptprof/sampler/options';
import { readPushConfig, type PushConfig } from './push-config';

export { parseIntStrict, type ThreadsMode };

/** Environment variables set by the CLI for the agent (and read by it). */
export const ENV = {
  /** Absolute path of the root process's profile; descendants insert their pid. */
  output: 'PTPROF_OUTPUT',
  /** Samples per second of each thread's CPU time, 1..10000. */
  hz: 'PTPROF_HZ',
  /** 'all' | 'js'. */
  threads: 'PTPROF_THREADS',
  /** One of FORMATS. */
  format: 'PTPROF_FORMAT',
  /** A private directory where each agent leaves a small JSON report for the CLI's summary. */
  reportDir: 'PTPROF_REPORT_DIR',
  /** Set by the first Node process that loads the agent (its pid): the ones after it are descendants. */
  rootPid: 'PTPROF_ROOT_PID',
  /** Set by an agent that warned about a bad configuration: the processes it starts do not repeat it. */
  warned: 'PTPROF_WARNED',
  /** '0': frames are written as they ran, without their source maps (--no-source-maps). */
  sourceMaps: 'PTPROF_SOURCE_MAPS',
  /** On demand (--signal): timers off until this signal; each one starts or ends a window. */
  signal: 'PTPROF_SIGNAL',
  /** HOST:PORT (--listen): the root process serves /debug/pprof/profile there. */
  listen: 'PTPROF_LISTEN',
} as const;

/**
 * Tuning variables, set by hand and passed through to every process (the CLI sets none), keyed
 * by the sampler option each one sets (ranges in @ptprof/sampler/options).
 */
export const TUNING_ENV = {
  ringBytes: 'PTPROF_RING_BYTES',
  framesLimit: 'PTPROF_FRAMES',
  collectIntervalMs: 'PTPROF_COLLECT_MS',
} as const satisfies Partial<Record<IntOptionName, string>>;

/**
 * The signals after which a profile is written: the CLI passes them on to the command (and
 * survives them); the agent writes the profile and lets the process die by the same signal.
 */
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The signals that may start and end windows (--signal). SIGUSR1 starts Node's inspector, the stop
 * signals already write the profile, and most others are sent by the system or the terminal for
 * their own reasons (SIGWINCH on a resize, SIGQUIT to the whole foreground group on Ctrl-\).
 */
export const WINDOW_SIGNALS = ['SIGUSR2'] as const;
export type WindowSignal = (typeof WINDOW_SIGNALS)[number];

/** 'SIGUSR2' from 'SIGUSR2', 'USR2', 'usr2' or '12'; undefined for anything else. */
export function windowSignal(text: string): WindowSignal | undefined {
  const t = text.trim().toUpperCase();
  for (const s of WINDOW_SIGNALS) {
    if (t === s || `SIG${t}` === s || t === String(os.constants.signals[s])) return s;
  }
  return undefined;
}

/** Where the endpoint listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * HOST:PORT, :PORT or PORT (the host defaults to loopback, 127.0.0.1), [IPv6]:PORT; port 0 for
 * any free port (the agent prints the one it got). Throws an Error with a one-line message.
 */
export function parseListen(text: string, what: string = '--listen'): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new Error(`${what} must be HOST:PORT, :PORT or PORT (port 0..65535; the host defaults to 127.0.0.1); got '${JSON.stringify(text).slice(1, -1)}'`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** The address as a URL's host part: [::1]:6060, 127.0.0.1:6060. */
export function formatAddress(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/**
 * When process `pid` started, in clock ticks since boot (/proc/<pid>/stat, field 22): with the pid
 * it names one process for the life of the system, so a signal is never sent to a pid the kernel
 * has given to another process since. Undefined when the process is gone.
 */
export function processStartTime(pid: number | 'self'): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = Number(fields[19]);
    return Number.isSafeInteger(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** The file of window N: its number before the extension (ptprof.123.pb.gz -> ptprof.123.2.pb.gz). */
export function withWindow(file: string, n: number): string {
  const { stem, ext } = splitExt(file);
  return `${stem}.${n}${ext}`;
}

/**
 * The state of the run's windows, kept by the CLI in its report directory (--signal): which
 * window is open, if any. Each agent reads it when the signal comes, and when it starts (a process
 * born during a window joins it), so that window N is the same stretch of time in every process.
 */
export const WINDOW_STATE_FILE = 'window.json';
export interface WindowState {
  /** The last window started (0: none yet). */
  n: number;
  /** Whether window n is open. */
  open: boolean;
}

/**
 * What each Node process writes: pprof (gzipped protobuf), folded stacks, speedscope's JSON (a
 * profile per thread), or Chrome's .cpuprofile (one file per JS thread).
 */
export const FORMATS = ['pprof', 'folded', 'speedscope', 'cpuprofile'] as const;
export type Format = (typeof FORMATS)[number];

export function isFormat(s: string): s is Format {
  return (FORMATS as readonly string[]).includes(s);
}

/** `'a', 'b' or 'c'`: the formats (or other choices), for messages. */
export function formatList(choices: readonly string[] = FORMATS): string {
  const q = choices.map((f) => `'${f}'`);
  return `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

const FORMAT_EXT: Record<Format, string> = { pprof: '.pb.gz', folded: '.folded', speedscope: '.speedscope.json', cpuprofile: '.cpuprofile' };

export const DEFAULT_HZ: number = INT_OPTIONS.hz.default;
export const MIN_HZ: number = INT_OPTIONS.hz.min;
export const MAX_HZ: number = INT_OPTIONS.hz.max;

/** The default output file of a run whose CLI process has pid `pid`, relative to the cwd. */
export function defaultOutput(pid: number, format: Format): string {
  return `ptprof.${pid}${FORMAT_EXT[format]}`;
}

/** Splits a file name into the part before the extension and the extension ('.pb.gz' and '.speedscope.json' count as one). */
export function splitExt(file: string): { stem: string; ext: string } {
  const base = path.basename(file);
  const dir = file.slice(0, file.length - base.length);
  const ext = ['.pb.gz', '.speedscope.json'].find((e) => base.endsWith(e) && base.length > e.length) ?? path.extname(base);
  return { stem: dir + base.slice(0, base.length - ext.length), ext };
}

/** The file a descendant process writes: its pid inserted before the extension (out.pb.gz -> out.123.pb.gz). */
export function withPid(file: string, pid: number): string {
  const { stem, ext } = splitExt(file);
  return `${stem}.${pid}${ext}`;
}

/**
 * A RegExp matching the base names of the files a run with output `file` writes: the file itself
 * and the descendants' (`stem.<pid>ext`). Group 1 is the pid ('' for the root's).
 */
export function outputPattern(file: string): RegExp {
  const { stem, ext } = splitExt(path.basename(file));
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(stem)}(?:\\.(\\d+))?${esc(ext)}$`);
}

/**
 * One NODE_OPTIONS word for `--require <file>`: quoted when it has a space, tab, quote or
 * backslash (Node splits NODE_OPTIONS on spaces and honours "double quotes" with \ escapes).
 */
export function quoteNodeOption(value: string): string {
  if (!/[\s"'\\]/.test(value)) return value;
  return '"' + value.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/** NODE_OPTIONS with `--require <agent>` appended to what was there. */
export function nodeOptionsWithAgent(existing: string | undefined, agentPath: string): string {
  const add = `--require ${quoteNodeOption(agentPath)}`;
  const before = (existing ?? '').trim();
  return before ? `${before} ${add}` : add;
}

export interface AgentConfig {
  output: string;
  hz: number;
  threads: ThreadsMode;
  format: Format;
  reportDir?: string;
  /** false (PTPROF_SOURCE_MAPS=0): frames are written as they ran, without their source maps. */
  sourceMaps?: false;
  ringBytes?: number;
  framesLimit?: number;
  collectIntervalMs?: number;
  /** On demand: timers off until this signal (PTPROF_SIGNAL). */
  signal?: WindowSignal;
  /** PTPROF_LISTEN: the root process serves /debug/pprof/profile here. */
  listen?: ListenAddress;
  /** PTPROF_PUSH_URL...: every window goes to Pyroscope (push-config.ts). */
  push?: PushConfig;
}

/**
 * On demand (--signal, --listen or --push, as the CLI's options or the agent's configuration):
 * no whole-run profile, recording only when asked, so a process that wrote nothing lost nothing,
 * and a process tree's processes keep their own files.
 */
export function isOnDemand(opts: { signal?: unknown; listen?: unknown; push?: unknown } | undefined): boolean {
  return opts?.signal !== undefined || opts?.listen !== undefined || opts?.push !== undefined;
}

/** A variable's value for a message: control characters escaped (JSON's way), no quotes. */
function shown(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** The value of an integer variable, checked against the sampler's option; undefined when unset or empty. */
function intFromEnv(env: NodeJS.ProcessEnv, name: string, option: IntOptionName): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const n = parseIntStrict(text);
  const problem = optionProblem(option, n);
  if (problem !== undefined) throw new Error(`${name}=${shown(text)} is not ${problem}`);
  return n;
}

/**
 * The agent's configuration from the environment. Without PTPROF_OUTPUT (the agent loaded by hand,
 * e.g. `node --require ptprof/agent app.js`) the defaults apply: `ptprof.<pid>.pb.gz` in the cwd.
 * Throws an Error with a one-line message for a value the CLI would have refused (the CLI calls it
 * before the run, for that reason).
 */
export function readAgentConfig(env: NodeJS.ProcessEnv, pid: number, cwd: string): AgentConfig {
  const hz = intFromEnv(env, ENV.hz, 'hz') ?? DEFAULT_HZ;
  const threads = env[ENV.threads] || 'all';
  if (!THREADS_MODES.includes(threads as ThreadsMode)) throw new Error(`${ENV.threads}=${shown(threads)} is not 'all' or 'js'`);
  const format = env[ENV.format] || 'pprof';
  if (!isFormat(format)) throw new Error(`${ENV.format}=${shown(format)} is not ${formatList()}`);
  const out = env[ENV.output];
  const output = path.resolve(cwd, out ? out : defaultOutput(pid, format));
  const reportDir = env[ENV.reportDir] || undefined;
  const sourceMapsText = env[ENV.sourceMaps] ?? '';
  if (sourceMapsText !== '' && sourceMapsText !== '0' && sourceMapsText !== '1') throw new Error(`${ENV.sourceMaps}=${shown(sourceMapsText)} is not 0 or 1`);
  const cfg: AgentConfig = {
    output, hz, threads: threads as ThreadsMode, format,
    ...(reportDir ? { reportDir } : {}),
    ...(sourceMapsText === '0' ? { sourceMaps: false as const } : {}),
  };
  const signalText = env[ENV.signal] ?? '';
  if (signalText !== '') {
    const sig = windowSignal(signalText);
    if (!sig) throw new Error(`${ENV.signal}=${shown(signalText)} is not ${formatList(WINDOW_SIGNALS)} (SIGUSR1 is Node's inspector; SIGINT, SIGTERM and SIGHUP end the program and write its profile)`);
    cfg.signal = sig;
  }
  const listenText = env[ENV.listen] ?? '';
  if (listenText !== '') cfg.listen = parseListen(listenText, ENV.listen);
  const push = readPushConfig(env);
  if (push) cfg.push = push;
  for (const [option, name] of Object.entries(TUNING_ENV) as [keyof typeof TUNING_ENV, string][]) {
    const v = intFromEnv(env, name, option);
    if (v !== undefined) cfg[option] = v;
  }
  return cfg;
}

/** What a written file is (pprof-writer's FileIdentity): the summary reads only that file. */
export interface WrittenIdentity {
  dev: number;
  ino: number;
  size: number;
}

/**
 * What each agent leaves in PTPROF_REPORT_DIR: `<pid>.start` when it starts profiling, then
 * `<pid>.json` once its profile is written or could not be (state and error say which). The CLI's
 * summary counts only the files its agents report, nothing found by name.
 */
export interface AgentReport {
  pid: number;
  ppid: number;
  root: boolean;
  file: string;
  format: Format;
  /** The command line: argv0, node options, script and arguments. */
  command: string;
  /**
   * 'written': the file is there; 'failed': no profile, error says why; 'none': on demand (--signal,
   * --listen), no window was asked for: nothing to write, and nothing lost.
   */
  state: 'written' | 'failed' | 'none';
  /** On demand: the windows written (their files are `files`, `file` the first). */
  windows?: number;
  /** --push: what was sent where (counts of windows, bytes sent). */
  pushed?: { to: string; windows: number; sent: number; bytes: number; retries: number; dropped: number; rejected: number; unsent: number };
  /** Why there is no profile: 'ENOSPC: no space left on device', or the configuration error. */
  error?: string;
  /** The file as written (device, inode, size), for the summary to check before it reads it. */
  written?: WrittenIdentity;
  /** How the process ended: 'exit(<code>)' or the signal's name. */
  end?: string;
  hz?: number;
  mode?: ThreadsMode;
  durationNanos?: number;
  /** CPU the profile accounts for. */
  profiledNanos?: number;
  /** The OS's count for the process (CLOCK_PROCESS_CPUTIME_ID: user + system, all threads) over the same interval. */
  osCpuNanos?: number;
  samples?: number;
  threads?: { name: string; js: boolean; cpuNanos: number }[];
  /** The facts written into the profile (the sampler's counters among them). */
  facts?: Record<string, string | number | boolean>;
  /** Every file written, when there are several (cpuprofile: one per JS thread; `file` is the first). */
  files?: string[];
}

/** The `<pid>.start` mark: what the summary says of a process that started and never reported. */
export interface AgentStart {
  pid: number;
  ppid: number;
  root: boolean;
  file: string;
  command: string;
  /** processStartTime(pid): the CLI signals this pid only while it is still this process. */
  startTime?: number;
}

/** A command line as one string, each word quoted when it needs it (for people to read). */
export function formatCommand(words: readonly string[]): string {
  return words.map((w) => (w === '' ? "''" : /[^\w@%+=:,./-]/.test(w) ? `'${w.replace(/'/g, `'\\''`)}'` : w)).join(' ');
}
