// Command-line parsing for `ptprof`: pure (no file system, no process state except execPath).
// Values echoed in a message go through printable(): a message stays one line.
import { DEFAULT_MAX_READ_BYTES, printable } from '@ptprof/pprof-writer';
import { DEFAULT_HZ, MAX_HZ, MIN_HZ, formatList, isFormat, parseIntStrict, type Format, type ThreadsMode } from './config';
import { LONG_RUN_HELP, checkLongRun, readLongRunOption, type LongRunOptions } from './long-args';

/** A mistake in the command line: one line for stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface RunCommand {
  kind: 'run';
  hz: number;
  /** As given (relative to the cwd), or undefined for the default name. */
  output?: string;
  threads: ThreadsMode;
  format: Format;
  quiet: boolean;
  /** The command and its arguments (for the shorthand: process.execPath, the script, its args). */
  command: string[];
  /** `ptprof app.js ...` rather than `ptprof -- node app.js ...`. */
  shorthand: boolean;
  /** --html: write the page of `ptprof view` next to the profile after the run. */
  html?: true;
  /** false with --no-source-maps: frames are written as they ran. */
  sourceMaps?: false;
  /** --signal, --listen: profiles on demand (long-args.ts). */
  longRun?: LongRunOptions;
  /** --split: each Node process writes its own file (by default the run writes one profile of the whole tree). */
  split?: true;
}

/** How a command that reads profiles reads them (ptprof top, view, convert): readProfileFile's options. */
export interface ReadLimits {
  /** Cap on the bytes read, and decompressed, in MiB. */
  maxMb: number;
  /** Read a file that is not a regular file (a pipe, a device). */
  allowSpecial: boolean;
}

export interface TopCommand extends ReadLimits {
  kind: 'top';
  file: string;
  n?: number;
}

/** `ptprof top`'s default cap, in MiB. */
export const DEFAULT_MAX_MB = DEFAULT_MAX_READ_BYTES / (1024 * 1024);

export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'top-help' } | RunCommand | TopCommand;

export const USAGE = `Usage: ptprof [options] -- <command> [args...]
       ptprof [options] <script.js> [args...]      (short for: -- node <script.js> [args...])
       ptprof top [-n N] [--max-mb N] [--allow-special] <file>
       ptprof view [--open] [-o OUT.html] [--max-mb N] [--allow-special] <file>...
       ptprof convert --format html|speedscope|cpuprofile|folded [-o OUT] [--max-mb N] [--allow-special] <file>
       ptprof merge [-o OUT] [--max-mb N] [--allow-special] <file> <file>...

A true per-thread CPU profiler for Node.js on Linux. Runs the command with an agent preloaded
(NODE_OPTIONS=--require), so that every Node process, worker thread and child Node process it
starts is profiled; the run writes one profile of the whole process tree, each sample labelled
with its process (pid, and a short command line) and its thread.

Options (before the command):
  --hz N             samples per second of each thread's CPU time, ${MIN_HZ}..${MAX_HZ} (default ${DEFAULT_HZ})
  -o, --output FILE  where the profile is written (default ptprof.<pid>.pb.gz in the current
                     directory; DIR/ for the default name in DIR); a name ending in .folded,
                     .speedscope.json or .cpuprofile chooses that format
  --split            a file per Node process instead: the first writes FILE, the ones it starts
                     insert their pid before the extension: out.pb.gz -> out.<pid>.pb.gz
  --threads all|js   all: every OS thread (JS threads, libuv pool, V8 helpers; default)
                     js: only the JS threads (main and workers)
  --format pprof|folded|speedscope|cpuprofile
                     pprof: gzipped protobuf for go tool pprof (default); folded: folded stacks
                     for flame graph tools (values in CPU nanoseconds; default name ptprof.<pid>.folded);
                     speedscope: speedscope's JSON, a profile per thread; cpuprofile: Chrome's
                     .cpuprofile, one per JS thread (DevTools, VS Code)
  --html             after the run, also write the profile as one HTML page (ptprof view) next to it
  --no-source-maps   write frames as they ran: no original names, files and lines from the
                     scripts' source maps (by default each JS frame whose script has a map is
                     named by it, in every format: TypeScript builds, bundles, tsx)
${LONG_RUN_HELP}  -q, --quiet        print no summary
  -h, --help         print this help
  --version          print the version

ptprof prints only on stderr; the program's stdout and stderr are left as they are.
Exit code: the command's, or 128 + N when it died by signal N; 2 for a usage error; 73 when the
command succeeded but a profile could not be written (ptprof says why).

Examples:
  ptprof -- node server.js --port 8080
  ptprof --hz 1000 -o cpu.pb.gz app.js
  ptprof -- npm start
  ptprof --html -- node app.js
  ptprof top cpu.pb.gz -n 20
  ptprof view cpu.pb.gz --open
  ptprof merge a.pb.gz b.pb.gz -o ab.pb.gz
  go tool pprof -http=:8080 cpu.pb.gz
  go tool pprof -tagfocus pid=12345 -top cpu.pb.gz      (one process of the tree)
`;

/** The options of every command that reads profiles (top, view, convert), for their help. */
export const LIMITS_HELP = `  --max-mb N         read at most N MiB of each file, and decompress at most N MiB (default ${DEFAULT_MAX_MB})
  --allow-special    read a file that is not a regular file (a pipe, a device)
`;

export const TOP_USAGE = `Usage: ptprof top [-n N] [--max-mb N] [--allow-special] <file>

Prints the functions of a profile (pprof, or folded stacks) ranked by flat CPU, like
go tool pprof -top: flat (the function was running), cum (the function was on the stack).
  -n N               show the first N functions (default: all)
${LIMITS_HELP}`;

const HINT = 'see ptprof --help';

/** -o's value, unless it cannot name a file: '' or '-' (the program's stdout is its own, not the profile's). */
function checkedOutputName(option: string, value: string): string {
  if (value === '') throw new UsageError(`${option} needs a file name (${HINT})`);
  if (value === '-') {
    throw new UsageError(`${option} -: cannot write the profile to stdout (the program's stdout is its own); give a file name`);
  }
  return value;
}

function optionValue(args: readonly string[], i: number, name: string): { value: string; next: number } {
  const arg = args[i];
  const eq = arg.indexOf('=');
  if (arg.startsWith('--') && eq > 0) return { value: arg.slice(eq + 1), next: i + 1 };
  if (i + 1 >= args.length) throw new UsageError(`${name} needs a value (${HINT})`);
  return { value: args[i + 1], next: i + 2 };
}

function parseHz(text: string): number {
  const hz = parseIntStrict(text);
  if (!(hz >= MIN_HZ && hz <= MAX_HZ)) {
    throw new UsageError(`--hz must be an integer from ${MIN_HZ} to ${MAX_HZ} (samples per second of CPU time); got '${printable(text)}'`);
  }
  return hz;
}

export function defaultLimits(): ReadLimits {
  return { maxMb: DEFAULT_MAX_MB, allowSpecial: false };
}

/**
 * `--max-mb N` and `--allow-special` at args[i], into `limits`: the index of the next argument,
 * or undefined when args[i] is neither.
 */
export function readLimitOption(args: readonly string[], i: number, limits: ReadLimits): number | undefined {
  const a = args[i];
  if (a === '--max-mb' || a.startsWith('--max-mb=')) {
    const v = optionValue(args, i, '--max-mb');
    const mb = parseIntStrict(v.value);
    if (!(mb >= 1 && mb <= 4096)) throw new UsageError(`--max-mb must be an integer from 1 to 4096 (MiB); got '${printable(v.value)}'`);
    limits.maxMb = mb;
    return v.next;
  }
  if (a === '--allow-special') {
    limits.allowSpecial = true;
    return i + 1;
  }
  return undefined;
}

function parseTop(args: readonly string[]): Command {
  const usage = 'usage: ptprof top [-n N] [--max-mb N] [--allow-special] <file>';
  let file: string | undefined;
  let n: number | undefined;
  const limits = defaultLimits();
  for (let i = 0; i < args.length; ) {
    const a = args[i];
    if (a === '-h' || a === '--help') return { kind: 'top-help' };
    if (a === '-n' || a === '--nodecount' || a.startsWith('--nodecount=') || /^-n\d+$/.test(a)) {
      let text: string;
      if (/^-n\d+$/.test(a)) {
        text = a.slice(2);
        i++;
      } else {
        const v = optionValue(args, i, a.split('=')[0]);
        text = v.value;
        i = v.next;
      }
      n = parseIntStrict(text);
      if (!(n >= 1)) throw new UsageError(`-n must be a positive integer (how many functions to show); got '${printable(text)}'`);
      continue;
    }
    const next = readLimitOption(args, i, limits);
    if (next !== undefined) {
      i = next;
      continue;
    }
    if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${printable(a)}' for ptprof top (${usage})`);
    if (file !== undefined) throw new UsageError(`ptprof top takes one file; got '${printable(file)}' and '${printable(a)}'`);
    file = a;
    i++;
  }
  if (file === undefined) throw new UsageError(`ptprof top needs a profile file (${usage})`);
  return { kind: 'top', file, ...(n === undefined ? {} : { n }), ...limits };
}

/**
 * Parses the arguments after `ptprof`. Throws UsageError for a mistake. The script of the
 * shorthand and the output directory are checked later (they need the file system).
 */
export function parseArgs(argv: readonly string[], execPath: string = process.execPath): Command {
  if (argv[0] === 'top') return parseTop(argv.slice(1));
  let hz = DEFAULT_HZ;
  let output: string | undefined;
  let threads: ThreadsMode = 'all';
  let format: Format | undefined;
  let split = false;
  let quiet = false;
  let html = false;
  let i = 0;
  let command: string[] | undefined;
  let shorthand = false;
  let sourceMaps = true;
  const longRun: LongRunOptions = {};
  while (i < argv.length) {
    const a = argv[i];
    if (a === '--') {
      command = argv.slice(i + 1);
      if (command.length === 0) throw new UsageError(`no command after '--' (usage: ptprof [options] -- node app.js; ${HINT})`);
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      command = [execPath, ...argv.slice(i)];
      shorthand = true;
      break;
    }
    const name = a.startsWith('--') ? a.split('=')[0] : a;
    switch (name) {
      case '-h':
      case '--help':
        return { kind: 'help' };
      case '--version':
        return { kind: 'version' };
      case '-q':
      case '--quiet':
        if (a.includes('=')) throw new UsageError(`${name} takes no value (${HINT})`);
        quiet = true;
        i++;
        continue;
      case '--html':
        if (a.includes('=')) throw new UsageError(`${name} takes no value (${HINT})`);
        html = true;
        i++;
        continue;
      case '--split':
      case '--no-source-maps':
        if (a.includes('=')) throw new UsageError(`${name} takes no value (${HINT})`);
        if (name === '--split') split = true;
        else sourceMaps = false;
        i++;
        continue;
      case '--hz': {
        const v = optionValue(argv, i, '--hz');
        hz = parseHz(v.value);
        i = v.next;
        continue;
      }
      case '-o':
      case '--output': {
        const v = optionValue(argv, i, name);
        output = checkedOutputName(name, v.value);
        i = v.next;
        continue;
      }
      case '--threads': {
        const v = optionValue(argv, i, '--threads');
        if (v.value !== 'all' && v.value !== 'js') {
          throw new UsageError(`--threads must be 'all' (every OS thread) or 'js' (only JS threads); got '${printable(v.value)}'`);
        }
        threads = v.value;
        i = v.next;
        continue;
      }
      case '--format': {
        const v = optionValue(argv, i, '--format');
        if (!isFormat(v.value)) throw new UsageError(`--format must be ${formatList()}; got '${printable(v.value)}'`);
        format = v.value;
        i = v.next;
        continue;
      }
      default: {
        const next = longRunOption(argv, i, longRun);
        if (next !== undefined) {
          i = next;
          continue;
        }
        if (/^-o./.test(a)) {
          output = checkedOutputName('-o', a.slice(2));
          i++;
          continue;
        }
        throw new UsageError(`unknown option '${printable(a)}' (ptprof's options go before the command, which follows '--'; ${HINT})`);
      }
    }
  }
  if (!command) throw new UsageError(`no command to profile (usage: ptprof [options] -- node app.js, or ptprof app.js; ${HINT})`);
  longRunCheck(longRun);
  format ??= formatOfOutput(output) ?? 'pprof';
  if (html && format !== 'pprof' && format !== 'folded') {
    throw new UsageError(`--html reads the profile back: use it with --format pprof or folded, not ${format} (or run ptprof convert later)`);
  }
  return {
    kind: 'run', hz, ...(output !== undefined ? { output } : {}), threads, format, quiet, command, shorthand, ...(html ? { html: true as const } : {}),
    ...(sourceMaps ? {} : { sourceMaps: false as const }), ...(split ? { split: true as const } : {}),
    ...(Object.keys(longRun).length ? { longRun } : {}),
  };
}

/** checkLongRun, its errors as usage errors. */
function longRunCheck(opts: LongRunOptions): void {
  try {
    checkLongRun(opts);
  } catch (e) {
    throw new UsageError(printable((e as Error).message));
  }
}

/** readLongRunOption, its errors as usage errors. */
function longRunOption(argv: readonly string[], i: number, into: LongRunOptions): number | undefined {
  try {
    return readLongRunOption(argv, i, into);
  } catch (e) {
    throw new UsageError(printable((e as Error).message));
  }
}

/** The format an output name asks for when --format does not say: out.folded is folded stacks. */
export function formatOfOutput(output: string | undefined): Format | undefined {
  if (output === undefined) return undefined;
  if (output.endsWith('.folded')) return 'folded';
  if (output.endsWith('.speedscope.json')) return 'speedscope';
  if (output.endsWith('.cpuprofile')) return 'cpuprofile';
  return undefined;
}

// Node options whose value is the next argument (`--require x`): it is not the script.
const NODE_VALUE_OPTIONS = new Set([
  '-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions', '--input-type',
  '--title', '--env-file', '--env-file-if-exists', '--inspect-port', '--debug-port', '--redirect-warnings',
  '--diagnostic-dir', '--heapsnapshot-signal', '--heapsnapshot-near-heap-limit', '--report-dir',
  '--report-directory', '--report-filename', '--report-signal', '--max-http-header-size', '--stack-trace-limit',
  '--icu-data-dir', '--openssl-config', '--tls-cipher-list', '--tls-keylog', '--unhandled-rejections',
  '--disable-proto', '--dns-result-order', '--secure-heap', '--secure-heap-min', '--watch-path',
  '--test-reporter', '--test-reporter-destination', '--test-name-pattern', '--test-skip-pattern',
  '--test-concurrency', '--test-shard', '--test-timeout', '--experimental-policy', '--policy-integrity',
  '--cpu-prof-dir', '--cpu-prof-name', '--cpu-prof-interval', '--heap-prof-dir', '--heap-prof-name',
  '--heap-prof-interval', '--trace-event-categories', '--trace-event-file-pattern', '--use-largepages',
  '--experimental-specifier-resolution', '--es-module-specifier-resolution', '--snapshot-blob',
  '--experimental-sea-config', '--localstorage-file', '--run', '--experimental-config-file',
]);
// Node options after which no script file is run.
const NODE_NO_SCRIPT = new Set(['-e', '--eval', '-p', '--print', '-i', '--interactive', '-v', '--version', '-h', '--help',
  '--v8-options', '--run', '-']);

/** Whether `cmd` (the command's first word) is Node itself. */
export function isNodeCommand(cmd: string, execPath: string = process.execPath): boolean {
  const base = cmd.split('/').pop() ?? cmd;
  return cmd === execPath || base === 'node' || base === 'nodejs';
}

/** The script `node <args>` would run (its first non-option argument), or undefined for -e/-p/REPL. */
export function nodeScript(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return args[i + 1];
    if (NODE_NO_SCRIPT.has(a) || /^--(eval|print)=/.test(a) || /^-[a-zA-Z]*[ep]$/.test(a)) return undefined;
    if (!a.startsWith('-')) return a;
    if (a.startsWith('--') && a.includes('=')) continue;
    if (NODE_VALUE_OPTIONS.has(a)) i++;
  }
  return undefined;
}
