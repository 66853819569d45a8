// What the CLI and the agent share: the environment variables that carry the configuration, the
// output file names, and NODE_OPTIONS quoting. No dependencies: the agent loads this in every
// Node process the profiled program starts.
import * as path from 'node:path';

/** Environment variables set by the CLI for the agent (and read by it). */
export const ENV = {
  /** Absolute path of the root process's profile; descendants insert their pid. */
  output: 'PTPROF_OUTPUT',
  /** Samples per second of each thread's CPU time, 1..10000. */
  hz: 'PTPROF_HZ',
  /** 'all' | 'js'. */
  threads: 'PTPROF_THREADS',
  /** 'pprof' | 'folded'. */
  format: 'PTPROF_FORMAT',
  /** A private directory where each agent leaves a small JSON report for the CLI's summary. */
  reportDir: 'PTPROF_REPORT_DIR',
  /** Set by the first Node process that loads the agent (its pid): the ones after it are descendants. */
  rootPid: 'PTPROF_ROOT_PID',
  /** '0': frames are written as they ran, without their source maps (--no-source-maps). */
  sourceMaps: 'PTPROF_SOURCE_MAPS',
} as const;

/** Tuning variables, set by hand and passed through to every process (the CLI sets none). */
export const TUNING_ENV = {
  /** Ring size per thread in bytes (a power of two, 4096..67108864). */
  ringBytes: 'PTPROF_RING_BYTES',
  /** JS frames kept per sample (1..512). */
  framesLimit: 'PTPROF_FRAMES',
  /** The native collector's interval in ms (0..1000; 0: off). */
  collectMs: 'PTPROF_COLLECT_MS',
} as const;

export type Format = 'pprof' | 'folded';
export type ThreadsMode = 'all' | 'js';

export const DEFAULT_HZ = 100;
export const MIN_HZ = 1;
export const MAX_HZ = 10000;

/** The default output file of a run whose CLI process has pid `pid`, relative to the cwd. */
export function defaultOutput(pid: number, format: Format): string {
  return format === 'folded' ? `ptprof.${pid}.folded` : `ptprof.${pid}.pb.gz`;
}

/** Splits a file name into the part before the extension and the extension ('.pb.gz' counts as one). */
export function splitExt(file: string): { stem: string; ext: string } {
  const base = path.basename(file);
  const dir = file.slice(0, file.length - base.length);
  let ext = '';
  if (base.endsWith('.pb.gz') && base.length > '.pb.gz'.length) ext = '.pb.gz';
  else ext = path.extname(base);
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
}

/** Parses a strictly decimal integer (no sign, no spaces, no exponent); NaN otherwise. */
export function parseIntStrict(s: string): number {
  return /^[0-9]+$/.test(s) ? Number(s) : NaN;
}

/**
 * The agent's configuration from the environment. Without PTPROF_OUTPUT (the agent loaded by hand,
 * e.g. `node --require ptprof/agent app.js`) the defaults apply: `ptprof.<pid>.pb.gz` in the cwd.
 * Throws an Error with a one-line message for a value the CLI would have refused.
 */
export function readAgentConfig(env: NodeJS.ProcessEnv, pid: number, cwd: string): AgentConfig {
  const hzText = env[ENV.hz];
  let hz = DEFAULT_HZ;
  if (hzText !== undefined && hzText !== '') {
    hz = parseIntStrict(hzText);
    if (!(hz >= MIN_HZ && hz <= MAX_HZ)) throw new Error(`${ENV.hz}=${hzText} is not an integer from ${MIN_HZ} to ${MAX_HZ}`);
  }
  const threads = env[ENV.threads] || 'all';
  if (threads !== 'all' && threads !== 'js') throw new Error(`${ENV.threads}=${threads} is not 'all' or 'js'`);
  const format = env[ENV.format] || 'pprof';
  if (format !== 'pprof' && format !== 'folded') throw new Error(`${ENV.format}=${format} is not 'pprof' or 'folded'`);
  const out = env[ENV.output];
  const output = path.resolve(cwd, out ? out : defaultOutput(pid, format));
  const reportDir = env[ENV.reportDir] || undefined;
  const sourceMapsText = env[ENV.sourceMaps] ?? '';
  if (sourceMapsText !== '' && sourceMapsText !== '0' && sourceMapsText !== '1') throw new Error(`${ENV.sourceMaps}=${sourceMapsText} is not 0 or 1`);
  const ringText = env[TUNING_ENV.ringBytes];
  let ringBytes: number | undefined;
  if (ringText) {
    ringBytes = parseIntStrict(ringText);
    if (!(ringBytes >= 4096 && ringBytes <= 67108864 && (ringBytes & (ringBytes - 1)) === 0))
      throw new Error(`${TUNING_ENV.ringBytes}=${ringText} is not a power of two from 4096 to 67108864`);
  }
  const framesText = env[TUNING_ENV.framesLimit];
  let framesLimit: number | undefined;
  if (framesText) {
    framesLimit = parseIntStrict(framesText);
    if (!(framesLimit >= 1 && framesLimit <= 512)) throw new Error(`${TUNING_ENV.framesLimit}=${framesText} is not an integer from 1 to 512`);
  }
  const collectText = env[TUNING_ENV.collectMs];
  let collectIntervalMs: number | undefined;
  if (collectText) {
    collectIntervalMs = parseIntStrict(collectText);
    if (!(collectIntervalMs >= 0 && collectIntervalMs <= 1000)) throw new Error(`${TUNING_ENV.collectMs}=${collectText} is not an integer from 0 to 1000`);
  }
  return {
    output, hz, threads, format,
    ...(sourceMapsText === '0' ? { sourceMaps: false as const } : {}),
    ...(collectIntervalMs !== undefined ? { collectIntervalMs } : {}),
    ...(reportDir ? { reportDir } : {}),
    ...(ringBytes !== undefined ? { ringBytes } : {}),
    ...(framesLimit !== undefined ? { framesLimit } : {}),
  };
}

/** What each agent leaves in PTPROF_REPORT_DIR/<pid>.json once its profile is written. */
export interface AgentReport {
  pid: number;
  ppid: number;
  root: boolean;
  file: string;
  format: Format;
  /** The command line: argv0, node options, script and arguments. */
  command: string;
  /** How the process ended: 'exit(<code>)' or the signal's name. */
  end: string;
  hz: number;
  mode: ThreadsMode;
  durationNanos: number;
  /** CPU the profile accounts for. */
  profiledNanos: number;
  /** process.cpuUsage() (user + system) over the same interval. */
  osCpuNanos: number;
  samples: number;
  threads: { name: string; js: boolean; cpuNanos: number }[];
  comments: string[];
}

/** A command line as one string, each word quoted when it needs it (for people to read). */
export function formatCommand(words: readonly string[]): string {
  return words.map((w) => (w === '' ? "''" : /[^\w@%+=:,./-]/.test(w) ? `'${w.replace(/'/g, `'\\''`)}'` : w)).join(' ');
}
