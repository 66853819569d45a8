// `ptprof`: validates the command line, runs the command with the agent preloaded through
// NODE_OPTIONS, forwards signals, exits as the command did, and summarises what was written.
// Loads no native code (the agent does, in the profiled processes): it runs anywhere Node does,
// so that it can say clearly where it does not.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, UsageError, USAGE, TOP_USAGE, isNodeCommand, nodeScript, type Command, type RunCommand } from './args';
import { defaultOutput, ENV, formatCommand, nodeOptionsWithAgent } from './config';
import { describeProfile, displayPath, findWritten, formatTopTable, readReports, topOfFile, topReport, type WrittenProfile } from './summary';
import { VERSION } from './version';

/** The agent preloaded into every Node process of the run. */
export const AGENT_PATH = path.join(__dirname, 'agent.js');

export const EXIT_USAGE = 2;
/** The signals ptprof forwards to the command (and survives itself). */
export const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** After this many signals the command is killed with SIGKILL (a program that never returns to its event loop). */
const SIGNALS_BEFORE_KILL = 3;

function err(line: string): void {
  process.stderr.write(`ptprof: ${line}\n`);
}

function errnoText(e: unknown): string {
  const x = e as NodeJS.ErrnoException;
  return x && x.code ? x.code : String((e as Error)?.message ?? e);
}

/** Throws UsageError unless `output` can be written: its directory exists and is writable, and it is not a directory. */
export function checkOutput(output: string): void {
  const dir = path.dirname(output);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`cannot write ${output}: the directory ${dir} does not exist (create it, or choose another -o)`);
    throw new UsageError(`cannot write ${output}: the directory ${dir} cannot be read (${errnoText(e)}); choose another -o`);
  }
  if (!st.isDirectory()) throw new UsageError(`cannot write ${output}: ${dir} is not a directory; choose another -o`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw new UsageError(`cannot write ${output}: the directory ${dir} is not writable (${errnoText(e)}); choose another -o`);
  }
  try {
    if (fs.statSync(output).isDirectory()) throw new UsageError(`cannot write ${output}: it is a directory; give a file name with -o`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    /* does not exist yet: fine */
  }
}

/** Throws UsageError when the script the command would run does not exist. */
export function checkScript(cmd: RunCommand, cwd: string): void {
  if (cmd.shorthand) {
    const script = cmd.command[1];
    if (!fs.existsSync(path.resolve(cwd, script))) {
      throw new UsageError(`script '${script}' not found in ${cwd} (to profile a command rather than a script, put it after '--': ptprof -- ${script} ...)`);
    }
    return;
  }
  if (!isNodeCommand(cmd.command[0])) return;
  const script = nodeScript(cmd.command.slice(1));
  if (script !== undefined && /\.(c|m)?js$/.test(script) && !fs.existsSync(path.resolve(cwd, script))) {
    throw new UsageError(`script '${script}' not found in ${cwd} (node would fail to run it; check the path)`);
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return os.constants.signals[sig] ?? 0;
}

/** The environment of the command: the agent appended to NODE_OPTIONS, the configuration in PTPROF_*. */
export function childEnv(base: NodeJS.ProcessEnv, cfg: { output: string; hz: number; threads: string; format: string; reportDir?: string; sourceMaps?: boolean }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of Object.values(ENV)) delete env[k]; // a mark left by an outer run must not leak in
  env.NODE_OPTIONS = nodeOptionsWithAgent(base.NODE_OPTIONS, AGENT_PATH);
  env[ENV.output] = cfg.output;
  env[ENV.hz] = String(cfg.hz);
  env[ENV.threads] = cfg.threads;
  env[ENV.format] = cfg.format;
  if (cfg.reportDir) env[ENV.reportDir] = cfg.reportDir;
  if (cfg.sourceMaps === false) env[ENV.sourceMaps] = '0';
  return env;
}

interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: NodeJS.ErrnoException;
}

async function run(cmd: RunCommand): Promise<number> {
  const cwd = process.cwd();
  const output = path.resolve(cwd, cmd.output ?? defaultOutput(process.pid, cmd.format));
  checkOutput(output);
  checkScript(cmd, cwd);

  let reportDir: string | undefined;
  try {
    reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-run-'));
  } catch {
    reportDir = undefined; // the summary then reads the files alone
  }
  const env = childEnv(process.env, { output, hz: cmd.hz, threads: cmd.threads, format: cmd.format, reportDir, sourceMaps: cmd.sourceMaps !== false });
  const startMs = Date.now();
  const t0 = process.hrtime.bigint();

  const child = spawn(cmd.command[0], cmd.command.slice(1), { stdio: 'inherit', env });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signals++;
    try {
      if (signals >= SIGNALS_BEFORE_KILL) {
        err(`${sig} again: killing the command with SIGKILL (no profile from the processes it kills)`);
        child.kill('SIGKILL');
      } else {
        if (signals === SIGNALS_BEFORE_KILL - 1 && !cmd.quiet) {
          err(`passed ${sig} on; still waiting for the command to end (it handles the signal, or is busy in a loop); one more to kill it`);
        }
        child.kill(sig);
      }
    } catch {
      /* the child is already gone */
    }
  };
  for (const s of FORWARDED) process.on(s, onSignal);

  const end = await new Promise<ChildEnd>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error: e }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  for (const s of FORWARDED) process.removeListener(s, onSignal);
  const wallNs = Number(process.hrtime.bigint() - t0);

  let exitCode: number;
  if (end.error) {
    const code = end.error.code;
    exitCode = code === 'ENOENT' ? 127 : 126;
    err(`cannot run '${cmd.command[0]}': ${code === 'ENOENT' ? 'command not found' : errnoText(end.error)}`);
  } else if (end.signal) {
    exitCode = 128 + signalNumber(end.signal);
  } else {
    exitCode = end.code ?? 1;
  }

  try {
    if (!cmd.quiet && !end.error) printSummary(cmd, output, reportDir, startMs, wallNs, end, exitCode);
  } catch (e) {
    err(`could not summarise the run: ${(e as Error).message}`);
  } finally {
    if (reportDir) fs.rmSync(reportDir, { recursive: true, force: true });
  }
  return exitCode;
}

function printSummary(cmd: RunCommand, output: string, reportDir: string | undefined, startMs: number, wallNs: number,
  end: ChildEnd, exitCode: number): void {
  const shown = cmd.shorthand ? ['node', ...cmd.command.slice(1)] : cmd.command;
  const how = end.signal ? `killed by ${end.signal} (exit code ${exitCode})` : `exit code ${exitCode}`;
  const lines: string[] = [`${formatCommand(shown)}: ${how} after ${(wallNs / 1e9).toFixed(2)}s`];
  const written: WrittenProfile[] = findWritten(output, cmd.format, readReports(reportDir), startMs);
  if (written.length === 0) {
    lines.push('no profile was written: the command started no Node.js process, its Node processes were given an');
    lines.push('environment without NODE_OPTIONS, or they were killed with SIGKILL');
  }
  for (const w of written) lines.push(...describeProfile(w));
  process.stderr.write(lines.map((l) => `ptprof: ${l}\n`).join(''));

  // The top functions of the busiest process (the root's, unless a child did the work, e.g. under npm).
  let busiest: WrittenProfile | undefined;
  for (const w of written) {
    if (!busiest || (w.report?.profiledNanos ?? 0) > (busiest.report?.profiledNanos ?? 0)) busiest = w;
  }
  if (!busiest) return;
  let table: string;
  try {
    const t = topOfFile(busiest.file, 10);
    if (t.rows.length === 0) return;
    table = formatTopTable(t);
  } catch (e) {
    err(`could not read ${busiest.file}: ${(e as Error).message}`);
    return;
  }
  const name = displayPath(busiest.file);
  const which = written.length > 1 ? ` (pid ${busiest.report?.pid ?? '?'}, the busiest process)` : '';
  const open = busiest.format === 'pprof'
    ? `go tool pprof -http=:8080 ${name}   (or: ptprof top ${name})`
    : `flamegraph.pl ${name} > flame.svg, or speedscope ${name}`;
  process.stderr.write(`ptprof: top 10 functions by flat CPU in ${name}${which}:\n${table}ptprof: open it with: ${open}\n`);
}

function top(cmd: { file: string; n?: number }): number {
  let text: string;
  try {
    text = topReport(cmd.file, cmd.n);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') err(`cannot read ${cmd.file}: no such file`);
    else if (code) err(`cannot read ${cmd.file}: ${code}`);
    else err(`${cmd.file} is not a pprof profile or folded stacks: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  process.stdout.write(text);
  return 0;
}

/**
 * Runs ptprof with these arguments (what follows `ptprof` on the command line) and resolves to the
 * exit code. Writes only to stderr, except --help, --version and `top`, which write to stdout.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let cmd: Command | undefined;
  let usage: UsageError | undefined;
  try {
    cmd = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    usage = e;
  }
  if (cmd?.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd?.kind === 'top-help') {
    process.stdout.write(TOP_USAGE);
    return 0;
  }
  if (cmd?.kind === 'version') {
    process.stdout.write(`ptprof ${VERSION}\n`);
    return 0;
  }
  if (cmd?.kind === 'top') return top(cmd);
  if (process.platform !== 'linux') {
    err(`profiling needs Linux (per-thread CPU timers); this is ${process.platform}. Run it on Linux, e.g. in a container`);
    return EXIT_USAGE;
  }
  try {
    if (usage) throw usage;
    return await run(cmd as RunCommand);
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message);
      return EXIT_USAGE;
    }
    throw e;
  }
}
