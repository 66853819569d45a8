// Reading profiles back for people: the summary printed after a run, and `ptprof top`. Everything
// printed that comes from a profile or a report (names, comments, command lines, paths) goes
// through printable(): a crafted name cannot drive the terminal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DEFAULT_MAX_READ_BYTES,
  formatBytes,
  formatTop,
  formatValue,
  numberFact,
  parseFacts,
  printable,
  ProfileReadError,
  readProcesses,
  readProfileFile,
  sampleTotal,
  stringAt,
  stringFact,
  threadTotals,
  toNumber,
  topFunctions,
  topOfFolded,
  type Facts,
  type MergedProcess,
  type Profile,
  type TopRow,
} from '@ptprof/pprof-writer';
import { isFormat, type AgentReport, type AgentStart, type Format } from './config';
import { sourceMapSummary } from './sourcemaps';

/** What the summary knows of one profile written during the run: its agent's report. */
export interface WrittenProfile {
  file: string;
  format: Format;
  report: AgentReport;
}

/** What the agents of a run reported in the private report directory. */
export interface RunReports {
  /** Profiles written. */
  written: WrittenProfile[];
  /** Processes that could not write (or start) their profile; error says why. */
  failed: AgentReport[];
  /** Processes that started profiling and never reported: killed (SIGKILL) or crashed. */
  vanished: AgentStart[];
  /** On demand: processes that recorded nothing (no window was asked for while they ran). */
  idle: AgentReport[];
  /** Processes that have not reported their end (still running, or gone without a word). */
  unfinished: AgentStart[];
}

/** Reports are small JSON files; anything larger is not one. */
const MAX_REPORT_BYTES = 4 * 1024 * 1024;

function readSmallFile(file: string): string | undefined {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > MAX_REPORT_BYTES) return undefined;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function asStart(x: unknown): AgentStart | undefined {
  const r = x as Partial<AgentStart> | null;
  if (!r || !isInt(r.pid) || !isInt(r.ppid) || typeof r.root !== 'boolean' || !isStr(r.file) || !isStr(r.command)) return undefined;
  if (r.startTime !== undefined && !isInt(r.startTime)) return undefined;
  return r as AgentStart;
}

function asReport(x: unknown): AgentReport | undefined {
  const r = x as Partial<AgentReport> | null;
  if (!asStart(r) || typeof r!.format !== 'string' || !isFormat(r!.format)) return undefined;
  if (r!.state === 'failed') return isStr(r!.error) ? (r as AgentReport) : undefined;
  if (r!.windows !== undefined && !isInt(r!.windows)) return undefined;
  const pu = r!.pushed;
  if (pu !== undefined && !(pu && isStr(pu.to) && ['windows', 'sent', 'bytes', 'retries', 'dropped', 'rejected', 'unsent'].every((k) => isInt((pu as Record<string, unknown>)[k])))) return undefined;
  if (r!.state === 'none') return r as AgentReport;
  if (r!.state !== 'written') return undefined;
  const w = r!.written;
  if (!w || !isInt(w.dev) || !isInt(w.ino) || !isInt(w.size) || !path.isAbsolute(r!.file!)) return undefined;
  if (r!.threads !== undefined && !Array.isArray(r!.threads)) return undefined;
  if (r!.facts !== undefined && (typeof r!.facts !== 'object' || r!.facts === null)) return undefined;
  if (r!.files !== undefined && !(Array.isArray(r!.files) && r!.files.every((f) => isStr(f) && path.isAbsolute(f)))) return undefined;
  return r as AgentReport;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * What the agents reported in `dir` (the CLI's own private directory): the profiles written, the
 * processes that failed, and those that started and never reported. Nothing is found by name or
 * date in the output directory: a file someone else put there is not this run's.
 */
export function readReports(dir: string): RunReports {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    names = [];
  }
  const reports = new Map<number, AgentReport>();
  const starts: AgentStart[] = [];
  for (const n of names) {
    const m = /^(\d+)\.(json|start)$/.exec(n);
    if (!m) continue;
    const data = parseJson(readSmallFile(path.join(dir, n)));
    if (m[2] === 'json') {
      const r = asReport(data);
      if (r && r.pid === Number(m[1])) reports.set(r.pid, r);
    } else {
      const s = asStart(data);
      if (s && s.pid === Number(m[1])) starts.push(s);
    }
  }
  // The root process first, then by pid (start order, roughly).
  const order = <T extends { root: boolean; pid: number }>(a: T, b: T): number => Number(b.root) - Number(a.root) || a.pid - b.pid;
  const all = [...reports.values()].sort(order);
  return {
    written: all.filter((r) => r.state === 'written').map((r) => ({ file: r.file, format: r.format, report: r })),
    failed: all.filter((r) => r.state === 'failed'),
    vanished: starts.filter((s) => !reports.has(s.pid)).sort(order),
    idle: all.filter((r) => r.state === 'none'),
    unfinished: starts.filter((s) => reports.get(s.pid)?.end === undefined).sort(order),
  };
}

/** A path as people want to read it: relative to the cwd when it is below it; escaped. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return printable(rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file);
}

export function formatSeconds(ns: number): string {
  return formatValue(ns, 'nanoseconds');
}

/** `main 1.01s, worker 1 720ms, libuv-worker x4 80ms, ...`: JS threads one by one, the others grouped by name. */
export function formatThreads(threads: readonly { name: string; js: boolean; cpuNanos: number }[], max = 8): string {
  const groups: { name: string; n: number; cpu: number }[] = [];
  const byName = new Map<string, { name: string; n: number; cpu: number }>();
  for (const t of threads) {
    if (t.js) {
      groups.push({ name: t.name, n: 1, cpu: t.cpuNanos });
      continue;
    }
    let g = byName.get(t.name);
    if (!g) {
      g = { name: t.name, n: 0, cpu: 0 };
      byName.set(t.name, g);
      groups.push(g);
    }
    g.n++;
    g.cpu += t.cpuNanos;
  }
  groups.sort((a, b) => b.cpu - a.cpu);
  const shown = groups.slice(0, max).map((g) => `${printable(g.name, 80)}${g.n > 1 ? ` x${g.n}` : ''} ${formatSeconds(g.cpu)}`);
  const rest = groups.slice(max);
  if (rest.length) shown.push(`${rest.length} more ${formatSeconds(rest.reduce((s, g) => s + g.cpu, 0))}`);
  return shown.join(', ');
}

/** What a profile says of itself, from its agent's report or from the facts in its comments. */
export interface ProfileNumbers {
  profiledNanos?: number;
  osCpuNanos?: number;
  samples?: number;
  durationNanos?: number;
  facts: Facts;
}

/**
 * `CPU 2.41s profiled / 2.4s used by the process (OS count) = 1.004; 100 Hz, threads=all, 237 samples, ..., 40ms of the CPU (unsampled)`
 * (`who`: 'the processes' for a process tree).
 */
export function cpuLine(x: ProfileNumbers, who = 'the process'): string | undefined {
  if (x.profiledNanos === undefined) return undefined;
  let cpu = `CPU ${formatSeconds(x.profiledNanos)} profiled`;
  if (x.osCpuNanos !== undefined && x.osCpuNanos > 0) {
    cpu += ` / ${formatSeconds(x.osCpuNanos)} used by ${who} (OS count) = ${(x.profiledNanos / x.osCpuNanos).toFixed(3)}`;
  }
  const f = x.facts;
  const num = (k: string): number | undefined => numberFact(f, k);
  const facts: string[] = [];
  if (num('hz') !== undefined) facts.push(`${num('hz')} Hz`);
  const mode = stringFact(f, 'mode');
  if (mode !== undefined) facts.push(`threads=${printable(mode, 20)}`);
  if (x.samples !== undefined) facts.push(`${x.samples} samples`);
  if (num('dropped.ring') !== undefined) facts.push(`${num('dropped.ring')! + (num('dropped.shared') ?? 0)} dropped`);
  if (num('filtered.setitimer') !== undefined) facts.push(`${num('filtered.setitimer')! + (num('filtered.timer_create') ?? 0)} filtered`);
  if (x.durationNanos !== undefined) facts.push(`${formatSeconds(x.durationNanos)} wall`);
  // The threads' CPU their samples do not stand for, in the profile as (unsampled) rows (issue 14).
  const unsampled = num('unsampled_nanos');
  if (unsampled !== undefined && unsampled > 0) facts.push(`${formatSeconds(unsampled)} of the CPU (unsampled)`);
  return cpu + (facts.length ? `; ${facts.join(', ')}` : '');
}

/**
 * ptprof's own CPU, in and outside the profile (issue 14): `ptprof's own CPU: 0.41s = 5.0% of the
 * 8.2s used: 10ms sampled under (ptprof), 2ms on ptprof's threads, 7ms in the signal handler,
 * 109ms reading inlining tables, 83ms starting, 189ms ending the process; 0.21s in this command`.
 * In the window: the samples of ptprof's code (the (ptprof) root, ptprof_nanos), the addon's own
 * threads (ptprof-collect, ptprof-control: ptprof_threads_nanos, by their clocks), the signal
 * handler (ptprof_handler_nanos: its entry to its exit, in the program's stacks, on the threads it
 * interrupted) and the native reads of V8's inlining tables (inline.read_nanos, in the program's
 * stacks, where V8 reported the code); outside it, the agent's start and end
 * (ptprof_start_nanos, ptprof_exit_nanos) and the ptprof command's own process (`cliNanos`, when
 * known). The share is of all of these plus the processes' CPU in the window (`osCpuNanos`).
 */
export function ownLine(f: Facts, osCpuNanos: number | undefined, cliNanos?: number, processes = 1): string | undefined {
  const num = (k: string): number => numberFact(f, k) ?? 0;
  const parts: [number, string][] = [
    [num('ptprof_nanos'), 'sampled under (ptprof)'],
    [num('ptprof_threads_nanos'), 'on ptprof\'s threads'],
    [num('ptprof_handler_nanos'), 'in the signal handler'],
    [num('inline.read_nanos'), 'reading inlining tables'],
    [num('ptprof_start_nanos'), 'starting'],
    [num('ptprof_exit_nanos'), `ending the process${processes === 1 ? '' : `es (${processes})`}`],
  ];
  const outside = num('ptprof_start_nanos') + num('ptprof_exit_nanos') + (cliNanos ?? 0);
  const own = parts.reduce((a, [n]) => a + n, 0) + (cliNanos ?? 0);
  if (own <= 0) return undefined;
  const used = (osCpuNanos ?? 0) + outside;
  const share = used > 0 ? ` = ${((100 * own) / used).toFixed(1)}% of the ${formatSeconds(used)} used` : '';
  const inProcesses = parts.filter(([n]) => n > 0).map(([n, what]) => `${formatSeconds(n)} ${what}`).join(', ');
  const cli = cliNanos !== undefined ? `${inProcesses ? '; ' : ''}${formatSeconds(cliNanos)} in this command` : '';
  return `ptprof's own CPU: ${formatSeconds(own)}${share}: ${inProcesses}${cli}`;
}

/** `pushed 12 windows (48.2KiB) to http://host:4040: 3 retries, 0 dropped...`: what a process pushed (--push). */
export function pushLine(r: AgentReport): string | undefined {
  const p = r.pushed;
  if (!p) return undefined;
  const lost = [p.dropped && `${p.dropped} dropped (queue full)`, p.rejected && `${p.rejected} refused by the server`, p.unsent && `${p.unsent} not sent when the process ended`]
    .filter(Boolean);
  return `pid ${r.pid}: pushed ${p.sent} of ${p.windows} windows (${formatBytes(p.bytes)}) to ${printable(p.to, 200)}`
    + `${p.retries ? `, ${p.retries} retries` : ''}${lost.length ? `; lost: ${lost.join(', ')}` : ''}`;
}

/**
 * When inlined functions could not all be shown: `inlined functions: 12 of 4210 frames in optimized
 * code keep their outer function ...`, or why none are (`inline.off`). Nothing when all were.
 */
export function inliningLine(f: Facts): string | undefined {
  const off = stringFact(f, 'inline.off');
  if (off !== undefined) return `inlined functions not shown: ${printable(off, 200)}`;
  const unexpanded = numberFact(f, 'inline.unexpanded_frames');
  const optimized = numberFact(f, 'inline.optimized_frames');
  if (!unexpanded) return undefined;
  const early = numberFact(f, 'inline.early_frames');
  const before = early ? `, ${early} of them in code V8 optimized before ptprof loaded` : '';
  return `inlined functions: ${unexpanded} of ${optimized ?? '?'} frames in optimized code keep their outer function alone${before} `
    + '(see the inline.* facts in the profile\'s comments)';
}

/** The lines about one written profile (without the `ptprof: ` prefix). */
export function describeProfile(w: WrittenProfile, cwd: string = process.cwd(), cliNanos?: number): string[] {
  const r = w.report;
  const windows = r.windows !== undefined ? `, ${r.windows} window${r.windows === 1 ? '' : 's'}` : '';
  const lines = [`wrote ${displayPath(w.file, cwd)} (pid ${r.pid}, ${printable(r.command, 300)}${windows})`];
  if (r.files && r.files.length > 1) lines.push(`  and ${r.files.filter((f) => f !== w.file).map((f) => displayPath(f, cwd)).join(', ')}`);
  const cpu = cpuLine({ ...r, facts: r.facts ?? {} });
  if (cpu) lines.push(`  ${cpu}`);
  if (r.threads && r.threads.length) lines.push(`  threads: ${formatThreads(r.threads)}`);
  const own = ownLine(r.facts ?? {}, r.osCpuNanos, cliNanos);
  if (own) lines.push(`  ${own}`);
  for (const l of sourceMapSummary(r.facts ?? {})) lines.push(`  ${printable(l, 1000)}`);
  const pushed = pushLine(r);
  if (pushed) lines.push(`  ${pushed}`);
  const inlined = inliningLine(r.facts ?? {});
  if (inlined) lines.push(`  ${inlined}`);
  if (r.mode === 'js') lines.push('  (threads=js: only JS threads have timers of their own; the others are seen through setitimer alone)');
  return lines;
}

export interface TopTable {
  rows: TopRow[];
  total: number;
  unit: 'nanoseconds' | 'count';
}

export interface TopFileOptions {
  /** Cap on the bytes read and decompressed (default DEFAULT_MAX_READ_BYTES). */
  maxBytes?: number;
  /** Read a pipe or a device too. */
  allowSpecial?: boolean;
  /** Read only if it is still the file the agent wrote. */
  expect?: { dev: number; ino: number; size: number };
}

/** The top table of a profile file, pprof or folded. Throws with a readable message (ProfileReadError). */
export function topOfFile(file: string, n = Infinity, opts: TopFileOptions = {}): TopTable & { profile?: Profile } {
  const read = readProfileFile(file, { maxBytes: opts.maxBytes ?? DEFAULT_MAX_READ_BYTES, allowSpecial: opts.allowSpecial ?? false,
    ...(opts.expect ? { expect: opts.expect } : {}) });
  if (read.format === 'folded') return topOfFolded(read.text, n);
  const profile = read.profile;
  const hasCpu = profile.sampleType.some((t) => stringAt(profile, t.type) === 'cpu');
  const type = hasCpu ? 'cpu' : 'samples';
  return {
    rows: topFunctions(profile, { n, sampleType: type }),
    total: sampleTotal(profile, type),
    unit: hasCpu ? 'nanoseconds' : 'count',
    profile,
  };
}

/**
 * Why `file` could not be read as a profile, one line (ptprof top, view, convert): what
 * readProfileFile said, with the option that gets past a cap or a refusal.
 */
export function readFailure(file: string, e: unknown): string {
  const shown = printable(file);
  const code = (e as NodeJS.ErrnoException).code;
  if (e instanceof ProfileReadError) {
    const hint = e.code === 'too-large' ? ' (the cap: raise it with --max-mb N)'
      : e.code === 'not-regular' ? ' (pass --allow-special to read it anyway)' : '';
    return `cannot read ${shown}: it ${printable(e.message)}${hint}`;
  }
  if (code === 'ENOENT') return `cannot read ${shown}: no such file`;
  if (typeof code === 'string') return `cannot read ${shown}: ${code}`;
  return `cannot read ${shown}: ${printable((e as Error).message)}`;
}

export function formatTopTable(t: TopTable): string {
  return formatTop(t.rows, t.total, { unit: t.unit });
}

/** The comments `top` prints at most (go tool pprof prints them all; a crafted file may hold millions). */
export const MAX_COMMENTS = 40;
const MAX_COMMENT_CHARS = 300;

/** `pid 4242 node test/a.test.js 330ms, ...`: a merged profile's processes, the busiest first (at most 12, then the rest). */
function processList(procs: readonly MergedProcess[], max = 12): string {
  const cpu = (p: MergedProcess): number => numberFact(p.facts, 'profiled_nanos') ?? 0;
  const sorted = [...procs].sort((a, b) => cpu(b) - cpu(a));
  const shown = sorted.slice(0, max).map((p) => `pid ${p.pid ?? '?'} ${printable(p.name ?? '?', 80)} ${formatSeconds(cpu(p))}`);
  const rest = sorted.slice(max);
  if (rest.length) shown.push(`${rest.length} more ${formatSeconds(rest.reduce((a, p) => a + cpu(p), 0))}`);
  return shown.join(', ');
}

/** `ptprof top FILE`: a header like go tool pprof's, then the table. */
export function topReport(file: string, n = Infinity, opts: TopFileOptions = {}): string {
  const t = topOfFile(file, n, opts);
  const out: string[] = [`File: ${printable(file)}`];
  if (t.profile) {
    const p = t.profile;
    const comments = p.comment.map((i) => stringAt(p, i));
    for (const c of comments.slice(0, MAX_COMMENTS)) out.push(printable(c, MAX_COMMENT_CHARS));
    if (comments.length > MAX_COMMENTS) out.push(`(${comments.length - MAX_COMMENTS} more comments not shown)`);
    const dur = toNumber(p.durationNanos);
    out.push(`Type: ${t.unit === 'nanoseconds' ? 'cpu' : 'samples'}`);
    out.push(`${dur > 0 ? `Duration: ${formatSeconds(dur)}, ` : ''}Total ${t.unit === 'nanoseconds' ? 'CPU' : 'samples'} = ${formatValue(t.total, t.unit)}`);
    const facts = parseFacts(comments);
    if (t.unit === 'nanoseconds' && numberFact(facts, 'hz') !== undefined) {
      const samples = p.sampleType.some((x) => stringAt(p, x.type) === 'samples') ? sampleTotal(p, 'samples') : undefined;
      const procs = readProcesses(facts);
      const line = cpuLine({ profiledNanos: t.total, osCpuNanos: numberFact(facts, 'process_cpu_nanos'), samples, facts,
        ...(dur > 0 ? { durationNanos: dur } : {}) }, procs.length > 1 ? 'the processes' : 'the process');
      if (line) out.push(line);
      if (procs.length > 1) out.push(`Processes: ${processList(procs)}`);
    }
    const threads = threadTotals(p);
    if (t.unit === 'nanoseconds' && (threads.length > 1 || (threads.length === 1 && threads[0].threadName !== undefined))) {
      // thread_kind says which threads ran JS: they are listed one by one, the others grouped by name.
      out.push(`Threads: ${formatThreads(threads.map((x) => ({ name: x.threadName ?? '?', js: x.threadKind === 'js', cpuNanos: x.cpuNanos })), 12)}`);
    }
  } else {
    out.push(`Type: folded stacks (${t.unit === 'nanoseconds' ? 'CPU nanoseconds' : 'sample counts'})`);
  }
  return out.join('\n') + '\n' + formatTopTable(t);
}
