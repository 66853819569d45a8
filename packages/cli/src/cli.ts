// `ptprof`: validates the command line, runs the command with the agent preloaded through
// NODE_OPTIONS, forwards signals, exits as the command did, and summarises what was written.
// Loads no native code (the agent does, in the profiled processes): it runs anywhere Node does,
// so that it can say clearly where it does not.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { printable, ProfileReadError, tempPathFor } from '@ptprof/pprof-writer';
import { UsageError, USAGE, TOP_USAGE, isNodeCommand, nodeScript, type Command, type RunCommand, type TopCommand } from './args';
import { defaultOutput, ENV, formatCommand, isOnDemand, nodeOptionsWithAgent, readAgentConfig, SIGNALS, withPid } from './config';
import { describeProfile, displayPath, formatSeconds, pushLine, formatTopTable, readFailure, readReports, topOfFile, topReport, type RunReports, type WrittenProfile } from './summary';
import { VERSION } from './version';
import { processCpuNs } from './cpu-clock';
import { checkListen, forwardWindows, longRunEnv } from './long-run';
import { CONVERT_USAGE, parseCommandLine, VIEW_USAGE, type ViewOrConvert } from './view-args';
import { readHandoffMs, TREE_ENV } from './part';
import { TreeCollector } from './tree';
import { finishTree } from './tree-cmd';
import { MERGE_USAGE, parseMerge, runMerge, type MergeCommand } from './merge-cmd';

/**
 * `ptprof view` and `convert` (and --html), with @ptprof/view: loaded only for them, not for every
 * run (issue 14: eleven modules the ptprof command loaded and did not use).
 */
function viewCmd(): typeof import('./view-cmd') {
  return require('./view-cmd') as typeof import('./view-cmd');
}

/** The agent preloaded into every Node process of the run. */
export const AGENT_PATH = path.join(__dirname, 'agent.js');

export const EXIT_USAGE = 2;
/**
 * The command ended well but a profile is missing: an agent could not write its file (ENOSPC,
 * EPERM...) or could not profile, or no Node process wrote one. (sysexits' EX_CANTCREAT.) When
 * the command itself failed, its status wins.
 */
export const EXIT_NO_PROFILE = 73;
/** After this many signals the command is killed with SIGKILL (a program that never returns to its event loop). */
const SIGNALS_BEFORE_KILL = 3;
/** The largest pid Linux hands out (PID_MAX_LIMIT on 64-bit): the longest name a descendant writes. */
const MAX_PID = 4194304;
/** The sticky bit (S_ISVTX): in such a directory only a file's owner (or the directory's) may rename over it. */
const STICKY = 0o1000;

function err(line: string): void {
  process.stderr.write(`ptprof: ${line}\n`);
}

function errnoText(e: unknown): string {
  const x = e as NodeJS.ErrnoException;
  return x && x.code ? x.code : String((e as Error)?.message ?? e);
}


/**
 * Throws UsageError unless `output` can be written: its directory exists and is writable, it is
 * not a directory, it is not another user's file in a sticky directory (the rename would fail
 * with EPERM after the run), and the longest temporary name any process of the run will use
 * there can be created (ENAMETOOLONG, EROFS... found before the run, not after it).
 */
export function checkOutput(output: string): void {
  const dir = path.dirname(output);
  const shown = printable(output);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`cannot write ${shown}: the directory ${printable(dir)} does not exist (create it, or choose another -o)`);
    throw new UsageError(`cannot write ${shown}: the directory ${printable(dir)} cannot be read (${errnoText(e)}); choose another -o`);
  }
  if (!st.isDirectory()) throw new UsageError(`cannot write ${shown}: ${printable(dir)} is not a directory; choose another -o`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw new UsageError(`cannot write ${shown}: the directory ${printable(dir)} is not writable (${errnoText(e)}); choose another -o`);
  }
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(output);
  } catch {
    /* does not exist yet: fine */
  }
  if (existing?.isDirectory()) throw new UsageError(`cannot write ${shown}: it is a directory; give a file name with -o (or write inside it: -o ${shown}/)`);
  const euid = process.geteuid?.() ?? 0;
  if (existing && (st.mode & STICKY) !== 0 && euid !== 0 && existing.uid !== euid && st.uid !== euid) {
    throw new UsageError(`cannot write ${shown}: it belongs to another user (uid ${existing.uid}) in the sticky directory ${printable(dir)}, `
      + 'where only its owner may replace it; remove it or choose another -o');
  }
  // The longest name of the run: a descendant's (its pid inserted) through the writer's temporary name.
  const probe = tempPathFor(withPid(output, MAX_PID), MAX_PID);
  try {
    fs.closeSync(fs.openSync(probe, 'wx', 0o600));
    fs.rmSync(probe, { force: true });
  } catch (e) {
    const code = errnoText(e);
    if (code === 'ENAMETOOLONG') {
      const extra = Buffer.byteLength(path.basename(probe)) - Buffer.byteLength(path.basename(output));
      throw new UsageError(`cannot write ${shown}: the name is too long: each process writes through a temporary name up to ${extra} bytes `
        + `longer (${Buffer.byteLength(path.basename(probe))} bytes here), over the file system's limit (ENAMETOOLONG); choose a shorter -o`);
    }
    throw new UsageError(`cannot write ${shown}: a file cannot be created in ${printable(dir)} (${code}); choose another -o`);
  }
}

/** Throws UsageError when the script the command would run does not exist. */
export function checkScript(cmd: RunCommand, cwd: string): void {
  if (cmd.shorthand) {
    const script = cmd.command[1];
    if (!fs.existsSync(path.resolve(cwd, script))) {
      throw new UsageError(`script '${printable(script)}' not found in ${printable(cwd)} (to profile a command rather than a script, put it after '--': ptprof -- ${printable(script)} ...)`);
    }
    return;
  }
  if (!isNodeCommand(cmd.command[0])) return;
  const script = nodeScript(cmd.command.slice(1));
  if (script !== undefined && /\.(c|m)?js$/.test(script) && !fs.existsSync(path.resolve(cwd, script))) {
    throw new UsageError(`script '${printable(script)}' not found in ${printable(cwd)} (node would fail to run it; check the path)`);
  }
}

/**
 * Throws UsageError for a PTPROF_* variable the agents would refuse (PTPROF_FRAMES=0,
 * PTPROF_RING_BYTES=abc...): every process would run unprofiled, so nothing runs.
 */
export function checkEnvironment(env: NodeJS.ProcessEnv, cwd: string): void {
  try {
    readAgentConfig(env, process.pid, cwd);
    readHandoffMs(env);
  } catch (e) {
    throw new UsageError(`${printable((e as Error).message)}; fix or unset it`);
  }
}

/** The file the root process writes: -o as given, inside it when it ends with '/', or the default. */
export function resolveOutput(cmd: RunCommand, cwd: string, pid: number = process.pid): string {
  if (cmd.output === undefined) return path.resolve(cwd, defaultOutput(pid, cmd.format));
  if (cmd.output.endsWith('/')) return path.join(path.resolve(cwd, cmd.output), defaultOutput(pid, cmd.format));
  return path.resolve(cwd, cmd.output);
}

/**
 * The ptprof command must not profile itself: when NODE_OPTIONS already preloads the agent, it
 * runs in this process too (before any of ptprof's code). Stand it down: no file, no report.
 */
export function standDownAgent(): void {
  const handle = (globalThis as Record<symbol, unknown>)[Symbol.for('ptprof.agent')] as { cancel?: unknown } | undefined;
  if (handle && typeof handle.cancel === 'function') (handle.cancel as () => void)();
}

function signalNumber(sig: NodeJS.Signals): number {
  return os.constants.signals[sig] ?? 0;
}

/** The environment of the command: the agent appended to NODE_OPTIONS, the configuration in PTPROF_*. */
export function childEnv(base: NodeJS.ProcessEnv, cfg: {
  output: string; hz: number; threads: string; format: string; reportDir?: string; sourceMaps?: boolean; tree?: boolean;
}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of Object.values(ENV)) delete env[k]; // a mark left by an outer run must not leak in
  delete env[TREE_ENV.tree];
  if (cfg.tree) env[TREE_ENV.tree] = '1'; // the processes hand their profile to this one (tree.ts)
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
  checkEnvironment(process.env, cwd);
  checkScript(cmd, cwd);
  const output = resolveOutput(cmd, cwd);
  checkOutput(output);
  if (cmd.longRun?.listen) await checkListen(cmd.longRun.listen);

  // The agents report here what they wrote or why they could not: private (0700, ours), so the
  // summary never has to trust a file found by name in the output directory.
  let reportDir: string;
  try {
    reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-run-'));
  } catch (e) {
    throw new UsageError(`cannot create a private directory in ${printable(os.tmpdir())} for the run's reports (${errnoText(e)}); set TMPDIR to a writable directory`);
  }
  // One profile for the process tree (the processes hand their parts over), unless --split, or on
  // demand (each window, request or push is one process's own).
  const tree = cmd.split || isOnDemand(cmd.longRun) ? undefined : new TreeCollector(reportDir);
  const env = childEnv(process.env, {
    output, hz: cmd.hz, threads: cmd.threads, format: cmd.format, reportDir, sourceMaps: cmd.sourceMaps !== false, tree: tree !== undefined,
  });
  longRunEnv(env, cmd.longRun);
  const t0 = process.hrtime.bigint();
  tree?.startPolling();

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
  for (const s of SIGNALS) process.on(s, onSignal);
  const stopForwarding = cmd.longRun?.signal ? forwardWindows(cmd.longRun.signal, reportDir, (l) => {
    if (!cmd.quiet) err(l);
  }) : undefined;

  const end = await new Promise<ChildEnd>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error: e }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  stopForwarding?.();
  const wallNs = Number(process.hrtime.bigint() - t0);

  let exitCode: number;
  if (end.error) {
    const code = end.error.code;
    exitCode = code === 'ENOENT' ? 127 : 126;
    err(`cannot run '${printable(cmd.command[0])}': ${code === 'ENOENT' ? 'command not found' : errnoText(end.error)}`);
  } else if (end.signal) {
    exitCode = 128 + signalNumber(end.signal);
  } else {
    exitCode = end.code ?? 1;
  }

  try {
    if (end.error) return exitCode;
    const onDemand = isOnDemand(cmd.longRun);
    const ended = tree ? finishTree(cmd, tree, output, reportDir, headerLine(cmd, wallNs, end, exitCode), { cmd: formatCommand(shownCommand(cmd)), end: endFact(end) }) : undefined;
    const reports = ended ? ended.reports : readReports(reportDir);
    // On demand, a run where no window was asked for lost nothing.
    let lost = reports.failed.length > 0 || (reports.written.length === 0 && !onDemand) || ended?.lost === true;
    if (!cmd.quiet && !tree) printSummary(cmd, reports, wallNs, end, exitCode);
    printLosses(reports, end, cmd.quiet, cmd.longRun);
    if (cmd.html && reports.written.length > 0 && !writePage(cmd, reports)) lost = true;
    // The command's failure wins; a command that ended well without its profiles (or the page
    // asked for) fails here.
    return exitCode === 0 && lost ? EXIT_NO_PROFILE : exitCode;
  } catch (e) {
    err(`could not summarise the run: ${(e as Error).message}`);
    return exitCode;
  } finally {
    tree?.stopPolling();
    fs.rmSync(reportDir, { recursive: true, force: true });
  }
}

/** The command as the summary shows it (the shorthand's node as `node`). */
function shownCommand(cmd: RunCommand): string[] {
  return cmd.shorthand ? ['node', ...cmd.command.slice(1)] : cmd.command;
}

/** How the command ended, as the agents' `end` fact says it: `exit(0)`, `SIGTERM`. */
function endFact(end: ChildEnd): string {
  return end.signal ?? `exit(${end.code ?? 1})`;
}

/** The summary's first line: `node app.js: exit code 0 after 1.83s`. */
function headerLine(cmd: RunCommand, wallNs: number, end: ChildEnd, exitCode: number): string {
  const how = end.signal ? `killed by ${end.signal} (exit code ${exitCode})` : `exit code ${exitCode}`;
  return `${printable(formatCommand(shownCommand(cmd)), 300)}: ${how} after ${(wallNs / 1e9).toFixed(2)}s`;
}

/**
 * --html: the page of the run's profiles (every process that reported one), next to the first.
 * Reads only the files the agents reported, as they wrote them. False when it could not.
 */
function writePage(cmd: RunCommand, reports: RunReports): boolean {
  try {
    const page = viewCmd().pageAfterRun(reports.written.map((w) => ({ file: w.file, ...(w.report.written ? { expect: w.report.written } : {}) })));
    if (!cmd.quiet) err(`wrote the page ${displayPath(page)}: open it in a browser (or: ptprof view ${displayPath(reports.written[0]!.file)} --open)`);
    return true;
  } catch (e) {
    err(`could not write the page: ${e instanceof UsageError ? e.message : printable(errnoText(e))}`);
    return false;
  }
}

/** What was lost and why: printed even with -q (a lost profile is never reported as success). */
function printLosses(reports: RunReports, end: ChildEnd, quiet: boolean, longRun: RunCommand['longRun']): void {
  const lines: string[] = [];
  for (const f of reports.failed) {
    const why = printable(f.error ?? '?');
    lines.push(f.file
      ? `could not write ${displayPath(f.file)} (pid ${f.pid}, ${printable(f.command, 300)}): ${why}`
      : `no profile from pid ${f.pid} (${printable(f.command, 300)}): ${why}`);
  }
  for (const v of reports.vanished) {
    // Not an error of ptprof's: the program (or someone) killed one of its processes.
    if (!quiet || reports.written.length === 0) {
      lines.push(`no profile from pid ${v.pid} (${printable(v.command, 300)}): it ended without writing one (killed by SIGKILL, or crashed)`);
    }
  }
  if (isOnDemand(longRun) && reports.written.length === 0 && reports.failed.length === 0 && reports.idle.length > 0) {
    // (Profiles served by --listen or pushed are not files: only --signal's windows would be.)
    if (!quiet && longRun?.signal !== undefined && !reports.idle.some((r) => r.pushed)) lines.push('no window was recorded (none was asked for while the program ran)');
  } else if (reports.written.length === 0 && reports.failed.length === 0 && reports.vanished.length === 0) {
    lines.push(end.signal === 'SIGKILL'
      ? 'no profile was written: the command was killed by SIGKILL'
      : 'no profile was written: the command started no Node.js process, or gave its Node processes an environment without NODE_OPTIONS');
  }
  if (lines.length) process.stderr.write(lines.map((l) => `ptprof: ${l}\n`).join(''));
}

function printSummary(cmd: RunCommand, reports: RunReports, wallNs: number, end: ChildEnd, exitCode: number): void {
  const lines: string[] = [headerLine(cmd, wallNs, end, exitCode)];
  const written = reports.written;
  for (const w of written) lines.push(...describeProfile(w));
  if (written.length > 0) lines.push(`this command's own CPU: ${formatSeconds(processCpuNs())}`);
  for (const r of reports.idle) {
    const pushed = pushLine(r);
    if (pushed) lines.push(pushed);
  }
  process.stderr.write(lines.map((l) => `ptprof: ${l}\n`).join(''));

  // The top functions of the busiest process (the root's, unless a child did the work, e.g. under npm).
  let busiest: WrittenProfile | undefined;
  for (const w of written) {
    if (!busiest || (w.report.profiledNanos ?? 0) > (busiest.report.profiledNanos ?? 0)) busiest = w;
  }
  if (!busiest) return;
  const name = displayPath(busiest.file);
  if (busiest.format === 'speedscope' || busiest.format === 'cpuprofile') {
    const open = busiest.format === 'speedscope' ? 'https://www.speedscope.app (or: npx speedscope FILE)' : 'Chrome DevTools (Performance: Load profile) or VS Code';
    process.stderr.write(`ptprof: open ${name} in ${open}\n`);
    return;
  }
  let table: string;
  try {
    // Only the file the agent wrote: the same inode and size it reported, read with the usual caps.
    const t = topOfFile(busiest.file, 10, busiest.report.written ? { expect: busiest.report.written } : {});
    if (t.rows.length === 0) return;
    table = formatTopTable(t);
  } catch (e) {
    const why = e instanceof ProfileReadError ? `it ${e.message}` : errnoText(e);
    err(`no top table: ${name} cannot be read (${why})`);
    return;
  }
  const which = written.length > 1 ? ` (pid ${busiest.report.pid}, the busiest process)` : '';
  const open = busiest.format === 'pprof'
    ? `go tool pprof -http=:8080 ${name}   (or: ptprof view ${name} --open, ptprof top ${name})`
    : `flamegraph.pl ${name} > flame.svg, or speedscope ${name}`;
  process.stderr.write(`ptprof: top 10 functions by flat CPU in ${name}${which}:\n${table}ptprof: open it with: ${open}\n`);
}

function top(cmd: TopCommand): number {
  let text: string;
  try {
    text = topReport(cmd.file, cmd.n, { maxBytes: cmd.maxMb * 1024 * 1024, allowSpecial: cmd.allowSpecial });
  } catch (e) {
    err(readFailure(cmd.file, e));
    return EXIT_USAGE;
  }
  process.stdout.write(text);
  return 0;
}

/**
 * Runs ptprof with these arguments (what follows `ptprof` on the command line) and resolves to the
 * exit code. Writes only to stderr, except --help, --version, `top` (its table) and `view` and
 * `convert` (the paths they wrote), which write to stdout.
 */
export async function main(argv: readonly string[]): Promise<number> {
  standDownAgent();
  let cmd: Command | ViewOrConvert | MergeCommand | { kind: 'merge-help' } | undefined;
  let usage: UsageError | undefined;
  try {
    cmd = argv[0] === 'merge' ? parseMerge(argv.slice(1)) : parseCommandLine(argv);
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
  if (cmd?.kind === 'view-help' || cmd?.kind === 'convert-help' || cmd?.kind === 'merge-help') {
    process.stdout.write(cmd.kind === 'view-help' ? VIEW_USAGE : cmd.kind === 'merge-help' ? MERGE_USAGE : CONVERT_USAGE);
    return 0;
  }
  if (cmd?.kind === 'merge') {
    try {
      return runMerge(cmd, checkOutput);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      err(e.message);
      return EXIT_USAGE;
    }
  }
  if (cmd?.kind === 'view' || cmd?.kind === 'convert') {
    try {
      return cmd.kind === 'view' ? await viewCmd().runView(cmd, checkOutput, err) : viewCmd().runConvert(cmd, checkOutput);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      err(e.message);
      return EXIT_USAGE;
    }
  }
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
