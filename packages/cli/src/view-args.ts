// Command-line parsing for `ptprof view` and `ptprof convert` (pure, like args.ts, which parses
// the rest and is what parseCommandLine falls back to).
import { printable } from '@ptprof/pprof-writer';
import { LIMITS_HELP, defaultLimits, parseArgs, readLimitOption, UsageError, type Command, type ReadLimits } from './args';
import { formatList } from './config';

export const CONVERT_FORMATS = ['html', 'speedscope', 'cpuprofile', 'folded'] as const;
export type ConvertFormat = (typeof CONVERT_FORMATS)[number];

export interface ViewCommand extends ReadLimits {
  kind: 'view';
  files: string[];
  output?: string;
  open: boolean;
}

export interface ConvertCommand extends ReadLimits {
  kind: 'convert';
  file: string;
  format: ConvertFormat;
  output?: string;
}

export type ViewOrConvert = ViewCommand | ConvertCommand | { kind: 'view-help' } | { kind: 'convert-help' };

export const VIEW_USAGE = `Usage: ptprof view [--open] [-o OUT.html] [--max-mb N] [--allow-special] <file>...

Writes one self-contained HTML page of the profile(s) (pprof, ours or another profiler's, or
folded stacks) and prints its path: a flame graph of every thread or the ones you pick, search,
a table of functions, the profile's facts. It needs nothing else: no network, no Go, no server.
Several files (the profiles of one run, a file per process) make one page with each process.
  -o, --output FILE  where to write the page (default: next to the first file, .html)
  --open             also open it in the default browser (xdg-open)
${LIMITS_HELP}`;

export const CONVERT_USAGE = `Usage: ptprof convert --format html|speedscope|cpuprofile|folded [-o OUT] [--max-mb N] [--allow-special] <file>

Writes the profile (pprof or folded stacks) in another format and prints the files' paths:
  html        the page of ptprof view
  speedscope  speedscope's JSON, a profile per thread (https://www.speedscope.app)
  cpuprofile  Chrome's .cpuprofile, one per JS thread (Chrome DevTools, VS Code); out.cpuprofile
              is the main thread's, out.worker-1.cpuprofile worker 1's, ...
  folded      folded stacks, a [thread] root frame on each line
  -o, --output FILE  the (first) file to write (default: next to the input, with the format's extension)
${LIMITS_HELP}`;

/** The value of `-o x`, `-ox`, `--output x`, `--output=x` at args[i]; undefined when args[i] is not -o. */
function outputOption(args: readonly string[], i: number, usage: string): { value: string; next: number } | undefined {
  const a = args[i]!;
  let value: string | undefined;
  let next = i + 1;
  if (a === '-o' || a === '--output') {
    value = args[i + 1];
    next = i + 2;
    if (value === undefined) throw new UsageError(`${a} needs a file name (${usage})`);
  } else if (a.startsWith('--output=')) {
    value = a.slice('--output='.length);
  } else if (/^-o./.test(a)) {
    value = a.slice(2);
  } else {
    return undefined;
  }
  if (value === '') throw new UsageError(`-o needs a file name (${usage})`);
  return { value, next };
}

/**
 * The loop both commands share: -h/--help, -o/--output, --max-mb, --allow-special; every other
 * argument goes to `other`, which returns the index of the next one.
 */
export function scan(args: readonly string[], usage: string, other: (a: string, i: number) => number): { help: boolean; output?: string; limits: ReadLimits } {
  let output: string | undefined;
  const limits = defaultLimits();
  for (let i = 0; i < args.length; ) {
    const a = args[i]!;
    if (a === '-h' || a === '--help') return { help: true, limits };
    const o = outputOption(args, i, usage);
    if (o) {
      output = o.value;
      i = o.next;
    } else {
      i = readLimitOption(args, i, limits) ?? other(a, i);
    }
  }
  return { help: false, ...(output !== undefined ? { output } : {}), limits };
}

function parseView(args: readonly string[]): ViewOrConvert {
  const usage = 'usage: ptprof view [--open] [-o OUT.html] [--max-mb N] [--allow-special] <file>...';
  const files: string[] = [];
  let open = false;
  const { help, output, limits } = scan(args, usage, (a, i) => {
    if (a === '--open') open = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${printable(a)}' for ptprof view (${usage})`);
    else files.push(a);
    return i + 1;
  });
  if (help) return { kind: 'view-help' };
  if (files.length === 0) throw new UsageError(`ptprof view needs a profile file (${usage})`);
  return { kind: 'view', files, ...(output !== undefined ? { output } : {}), open, ...limits };
}

function parseConvert(args: readonly string[]): ViewOrConvert {
  const usage = `usage: ptprof convert --format ${CONVERT_FORMATS.join('|')} [-o OUT] [--max-mb N] [--allow-special] <file>`;
  let file: string | undefined;
  let format: ConvertFormat | undefined;
  const { help, output, limits } = scan(args, usage, (a, i) => {
    if (a === '--format' || a.startsWith('--format=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[i + 1];
      if (v === undefined) throw new UsageError(`--format needs a value (${usage})`);
      if (!(CONVERT_FORMATS as readonly string[]).includes(v)) {
        throw new UsageError(`ptprof convert --format must be ${formatList(CONVERT_FORMATS)}; got '${printable(v)}'`);
      }
      format = v as ConvertFormat;
      return i + (a.includes('=') ? 1 : 2);
    }
    if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${printable(a)}' for ptprof convert (${usage})`);
    if (file !== undefined) throw new UsageError(`ptprof convert takes one file; got '${printable(file)}' and '${printable(a)}'`);
    file = a;
    return i + 1;
  });
  if (help) return { kind: 'convert-help' };
  if (file === undefined) throw new UsageError(`ptprof convert needs a profile file (${usage})`);
  if (format === undefined) throw new UsageError(`ptprof convert needs --format (${usage})`);
  return { kind: 'convert', file, format, ...(output !== undefined ? { output } : {}), ...limits };
}

/** Parses the arguments after `ptprof`: `view` and `convert` here, everything else by parseArgs. */
export function parseCommandLine(argv: readonly string[], execPath: string = process.execPath): Command | ViewOrConvert {
  if (argv[0] === 'view') return parseView(argv.slice(1));
  if (argv[0] === 'convert') return parseConvert(argv.slice(1));
  return parseArgs(argv, execPath);
}
