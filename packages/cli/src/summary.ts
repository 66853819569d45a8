// Reading profiles back for people: the summary printed after a run, and `ptprof top`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  decodePprof,
  formatTop,
  formatValue,
  sampleTotal,
  stringAt,
  threadTotals,
  toNumber,
  topFunctions,
  type Profile,
  type TopRow,
  rankTopRows,
} from '@ptprof/pprof-writer';
import { outputPattern, type AgentReport, type Format } from './config';
import { sourceMapSummary } from './sourcemaps';

/** What the summary knows of one profile written during the run. */
export interface WrittenProfile {
  file: string;
  format: Format;
  /** From the agent's report, or rebuilt from the pprof file's comments; absent for a folded file without a report. */
  report?: Partial<AgentReport>;
}

/** Numbers in the profile's comments, e.g. `dropped.ring=0` -> { 'dropped.ring': 0 }. */
export function commentNumbers(comments: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of comments) {
    if (c.startsWith('cmd=')) continue;
    for (const m of c.matchAll(/([A-Za-z_][\w.]*)=(\d+)/g)) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Reads every agent report left in `dir` (a report being written right now is skipped). */
export function readReports(dir: string | undefined): AgentReport[] {
  if (!dir) return [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: AgentReport[] = [];
  for (const n of names) {
    if (!/^\d+\.json$/.test(n)) continue;
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as AgentReport);
    } catch {
      /* unreadable: the file itself may still be found by name */
    }
  }
  return out;
}

/** A pprof file's own account of itself (its comments are written by the agent). */
export function reportFromPprof(profile: Profile, file: string): Partial<AgentReport> {
  const comments = profile.comment.map((i) => stringAt(profile, i));
  const nums = commentNumbers(comments);
  const r: Partial<AgentReport> = { file, format: 'pprof', comments };
  if (nums.pid !== undefined) r.pid = nums.pid;
  if (nums.os_cpu_nanos !== undefined) r.osCpuNanos = nums.os_cpu_nanos;
  r.profiledNanos = sampleTotal(profile, 'cpu');
  r.samples = sampleTotal(profile, 'samples');
  r.durationNanos = toNumber(profile.durationNanos);
  const head = comments.find((c) => c.startsWith('ptprof '));
  if (head) r.root = / root\b/.test(head);
  const cmd = comments.find((c) => c.startsWith('cmd='));
  if (cmd) r.command = cmd.slice(4);
  const rate = comments.find((c) => /^rate=\d+Hz/.test(c));
  if (rate) r.hz = Number(/^rate=(\d+)/.exec(rate)![1]);
  const mode = comments.find((c) => c.startsWith('mode='));
  if (mode) r.mode = mode.startsWith('mode=js') ? 'js' : 'all';
  r.threads = threadTotals(profile).map((t) => ({
    name: t.threadName ?? '?',
    js: t.threadName === 'main' || /^worker \d+$/.test(t.threadName ?? ''),
    cpuNanos: t.cpuNanos,
  }));
  return r;
}

/**
 * The profiles written by this run: the agents' reports, plus any file in the output directory
 * whose name fits the output pattern and that was written since `sinceMs` (a process whose
 * environment lost PTPROF_REPORT_DIR still writes its file).
 */
export function findWritten(output: string, format: Format, reports: readonly AgentReport[], sinceMs: number): WrittenProfile[] {
  const byFile = new Map<string, WrittenProfile>();
  for (const r of reports) {
    if (fs.existsSync(r.file)) byFile.set(path.resolve(r.file), { file: path.resolve(r.file), format: r.format, report: r });
  }
  const dir = path.dirname(output);
  const re = outputPattern(output);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    /* the directory is gone */
  }
  for (const n of names) {
    if (!re.test(n)) continue;
    const file = path.join(dir, n);
    if (byFile.has(file)) continue;
    try {
      const st = fs.statSync(file);
      // File times come from the kernel's coarse clock, a tick behind Date.now(): allow for it.
      if (!st.isFile() || st.mtimeMs < sinceMs - 50) continue;
    } catch {
      continue;
    }
    const w: WrittenProfile = { file, format };
    if (format === 'pprof') {
      try {
        w.report = reportFromPprof(decodePprof(fs.readFileSync(file)), file);
      } catch {
        /* listed without details */
      }
    }
    byFile.set(file, w);
  }
  // The root process first, then by pid (start order, roughly).
  return [...byFile.values()].sort((a, b) => Number(b.report?.root ?? false) - Number(a.report?.root ?? false)
    || (a.report?.pid ?? Infinity) - (b.report?.pid ?? Infinity) || (a.file < b.file ? -1 : 1));
}

/** A path as people want to read it: relative to the cwd when it is below it. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
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
  const shown = groups.slice(0, max).map((g) => `${g.name}${g.n > 1 ? ` x${g.n}` : ''} ${formatSeconds(g.cpu)}`);
  const rest = groups.slice(max);
  if (rest.length) shown.push(`${rest.length} more ${formatSeconds(rest.reduce((s, g) => s + g.cpu, 0))}`);
  return shown.join(', ');
}

/** The lines about one written profile (without the `ptprof: ` prefix). */
export function describeProfile(w: WrittenProfile, cwd: string = process.cwd()): string[] {
  const r = w.report ?? {};
  const who = [r.pid !== undefined ? `pid ${r.pid}` : '', r.command ?? ''].filter(Boolean).join(', ');
  const lines = [`wrote ${displayPath(w.file, cwd)}${who ? ` (${who})` : ''}`];
  if (r.profiledNanos !== undefined) {
    let cpu = `  CPU ${formatSeconds(r.profiledNanos)} profiled`;
    if (r.osCpuNanos !== undefined && r.osCpuNanos > 0) {
      cpu += ` / ${formatSeconds(r.osCpuNanos)} used by the process (OS count) = ${(r.profiledNanos / r.osCpuNanos).toFixed(3)}`;
    }
    const facts: string[] = [];
    if (r.hz !== undefined) facts.push(`${r.hz} Hz`);
    if (r.mode !== undefined) facts.push(`threads=${r.mode}`);
    if (r.samples !== undefined) facts.push(`${r.samples} samples`);
    const nums = commentNumbers(r.comments ?? []);
    if (nums['dropped.ring'] !== undefined) {
      const dropped = nums['dropped.ring'] + (nums['dropped.shared'] ?? 0);
      facts.push(`${dropped} dropped`);
    }
    if (nums['filtered.setitimer'] !== undefined) {
      const filtered = nums['filtered.setitimer'] + (nums['filtered.timer_create'] ?? 0);
      facts.push(`${filtered} filtered`);
    }
    if (r.durationNanos !== undefined) facts.push(`${formatSeconds(r.durationNanos)} wall`);
    lines.push(cpu + (facts.length ? `; ${facts.join(', ')}` : ''));
  }
  if (r.threads && r.threads.length) lines.push(`  threads: ${formatThreads(r.threads)}`);
  for (const l of sourceMapSummary(r.comments ?? [])) lines.push(`  ${l}`);
  if (r.mode === 'js') lines.push('  (threads=js: only JS threads have timers of their own; the others are seen through setitimer alone)');
  return lines;
}

export interface TopTable {
  rows: TopRow[];
  total: number;
  unit: 'nanoseconds' | 'count';
}

/** A frame of a folded line: `name (file:line)`, `name (file)` or `name`, percent-escaped. */
function parseFoldedFrame(text: string): { name: string; file: string } {
  const dec = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const m = /^(.*?) \((.*?)(?::\d+)?\)$/.exec(text);
  if (m && m[1] !== '') return { name: dec(m[1]), file: dec(m[2]) };
  return { name: dec(text), file: '' };
}

/**
 * The `top` table of folded stacks (`a;b;c 123` lines). A first frame written `[thread]` is a
 * thread root (the writer's rootLabel), not a function. Values are taken as CPU nanoseconds when
 * every value is at least 1000 (what ptprof writes), as sample counts otherwise.
 */
export function topOfFolded(text: string, n = Infinity): TopTable {
  const flat = new Map<string, number>();
  const cum = new Map<string, number>();
  let total = 0;
  let min = Infinity;
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^(.*) (\d+(?:\.\d+)?)$/.exec(line);
    if (!m) throw new Error(`not a folded-stacks line: ${JSON.stringify(line.slice(0, 80))}`);
    lines++;
    const v = Number(m[2]);
    total += v;
    if (v > 0) min = Math.min(min, v);
    let frames = m[1].split(';');
    if (frames.length > 1 && /^\[.*\]$/.test(frames[0])) frames = frames.slice(1);
    const keys = frames.map((f) => JSON.stringify(((p) => [p.name, p.file])(parseFoldedFrame(f))));
    const leaf = keys[keys.length - 1];
    flat.set(leaf, (flat.get(leaf) ?? 0) + v);
    for (const k of new Set(keys)) cum.set(k, (cum.get(k) ?? 0) + v);
  }
  if (lines === 0) throw new Error('no folded stacks in it');
  return { rows: rankTopRows(flat, cum, total, n), total, unit: min >= 1000 ? 'nanoseconds' : 'count' };
}

/** Whether these bytes are a pprof profile (gzipped or not) rather than text. */
function looksLikePprof(buf: Buffer): boolean {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
  // Folded stacks are printable text; a protobuf starts with a field tag (0x0a: sample_type).
  return buf.length > 0 && buf[0] === 0x0a;
}

/** The top table of a profile file, pprof or folded. Throws with a readable message. */
export function topOfFile(file: string, n = Infinity): TopTable & { profile?: Profile } {
  const buf = fs.readFileSync(file);
  if (looksLikePprof(buf)) {
    const profile = decodePprof(buf);
    const hasCpu = profile.sampleType.some((t) => stringAt(profile, t.type) === 'cpu');
    const type = hasCpu ? 'cpu' : 'samples';
    return {
      rows: topFunctions(profile, { n, sampleType: type }),
      total: sampleTotal(profile, type),
      unit: hasCpu ? 'nanoseconds' : 'count',
      profile,
    };
  }
  return topOfFolded(buf.toString('utf8'), n);
}

export function formatTopTable(t: TopTable): string {
  return formatTop(t.rows, t.total, { unit: t.unit });
}

/** `ptprof top FILE`: a header like go tool pprof's, then the table. */
export function topReport(file: string, n = Infinity): string {
  const t = topOfFile(file, n);
  const out: string[] = [`File: ${file}`];
  if (t.profile) {
    const p = t.profile;
    for (const i of p.comment) out.push(stringAt(p, i));
    const dur = toNumber(p.durationNanos);
    out.push(`Type: ${t.unit === 'nanoseconds' ? 'cpu' : 'samples'}`);
    out.push(`${dur > 0 ? `Duration: ${formatSeconds(dur)}, ` : ''}Total ${t.unit === 'nanoseconds' ? 'CPU' : 'samples'} = ${formatValue(t.total, t.unit)}`);
    const threads = threadTotals(p);
    if (threads.length > 1 || (threads.length === 1 && threads[0].threadName !== undefined)) {
      const js = threads.map((x) => ({
        name: x.threadName ?? '?',
        js: x.threadName === 'main' || /^worker \d+$/.test(x.threadName ?? ''),
        cpuNanos: t.unit === 'nanoseconds' ? x.cpuNanos : x.samples,
      }));
      if (t.unit === 'nanoseconds') out.push(`Threads: ${formatThreads(js, 12)}`);
    }
  } else {
    out.push(`Type: folded stacks (${t.unit === 'nanoseconds' ? 'CPU nanoseconds' : 'sample counts'})`);
  }
  return out.join('\n') + '\n' + formatTopTable(t);
}
