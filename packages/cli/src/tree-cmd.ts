// The end of a run in tree mode (the default; --split is the other): the parts every process
// handed over become one profile at -o, labelled by process, and the summary gives the CPU of each
// process, then the top functions of the whole tree. What this returns is what the agents'
// reports would say (the one file written, the processes that failed or vanished), so that the
// CLI reports losses and writes the --html page the same way in both modes.
import * as fs from 'node:fs';
import {
  formatTop, printable, sampleTotal, toPprof, topFunctions, treeRootFrames, type Facts, type MergeResult, type Profile,
} from '@ptprof/pprof-writer';
import type { RunCommand } from './args';
import type { AgentReport } from './config';
import { cpuLine, describeProfile, displayPath, formatSeconds, formatThreads, inliningLine, ownLine, readReports, type RunReports } from './summary';
import { sourceMapSummary } from './sourcemaps';
import type { TreeCollector, TreeProcess } from './tree';
import { VERSION } from './version';
import { processCpuNs } from './cpu-clock';
import { writeProfileSync } from './write-profile';

/** Whether process `pid` is still running (not gone, not a zombie its parent has not reaped). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Processes listed one by one in the summary; the rest in one line. */
const SHOWN_PROCESSES = 5;

function say(lines: readonly string[]): void {
  if (lines.length) process.stderr.write(lines.map((l) => `ptprof: ${l}\n`).join(''));
}

/** An agent's report for one process, from its parts (the summary's describeProfile reads these). */
function reportOf(p: TreeProcess, file: string, format: RunCommand['format']): AgentReport {
  return {
    pid: p.pid, ppid: p.ppid, root: p.root, file, format, command: p.command, state: 'written', ...(p.end ? { end: p.end } : {}),
    durationNanos: p.durationNanos, profiledNanos: p.profiledNanos, osCpuNanos: p.osCpuNanos, samples: p.samples,
    threads: [...p.threads.values()].map((t) => ({ name: t.name, js: t.js, cpuNanos: t.cpuNanos })), facts: p.facts,
    ...(typeof p.facts.hz === 'number' ? { hz: p.facts.hz } : {}), ...(p.facts.mode === 'js' || p.facts.mode === 'all' ? { mode: p.facts.mode } : {}),
  };
}

/** `1.21s / 1.22s = 0.992  pid 4242  node test/a.test.js`. */
function processLine(p: TreeProcess): string {
  const ratio = p.osCpuNanos > 0 ? ` = ${(p.profiledNanos / p.osCpuNanos).toFixed(3)}` : '';
  const lost = p.final ? '' : ' (ended without its final part)';
  return `${formatSeconds(p.profiledNanos)} / ${formatSeconds(p.osCpuNanos)}${ratio}  pid ${p.pid}  ${printable(p.name, 100)}${lost}`;
}

/** The summary of a tree of several processes: the whole, then each process (the busiest first). */
function describeTree(file: string, merged: MergeResult, procs: readonly TreeProcess[], files: readonly string[], cliNanos: number): string[] {
  const facts = merged.profile.facts ?? {};
  const profiled = procs.reduce((a, p) => a + p.profiledNanos, 0);
  const samples = procs.reduce((a, p) => a + p.samples, 0);
  const lines = [`wrote ${displayPath(file)}: ${procs.length} Node processes in one profile (labels pid and process on every sample)`];
  if (files.length > 1) lines.push(`  and ${files.filter((f) => f !== file).map((f) => displayPath(f)).join(', ')}`);
  const osCpuNanos = typeof facts.process_cpu_nanos === 'number' ? facts.process_cpu_nanos : undefined;
  const cpu = cpuLine({ profiledNanos: profiled, osCpuNanos, samples, durationNanos: merged.profile.durationNanos ?? 0, facts: facts as Facts }, 'the processes');
  if (cpu) lines.push(`  ${cpu}`);
  const own = ownLine(facts as Facts, osCpuNanos, cliNanos, procs.length);
  if (own) lines.push(`  ${own}`);
  lines.push('  CPU by process (profiled / OS count):');
  const busiest = [...procs].sort((a, b) => b.profiledNanos - a.profiledNanos);
  for (const p of busiest.slice(0, SHOWN_PROCESSES)) {
    lines.push(`    ${processLine(p)}`);
    lines.push(`      threads: ${formatThreads(reportOf(p, file, 'pprof').threads!, 6)}`);
  }
  const rest = busiest.slice(SHOWN_PROCESSES);
  if (rest.length) {
    const sum = (f: (p: TreeProcess) => number): string => formatSeconds(rest.reduce((a, p) => a + f(p), 0));
    lines.push(`    and ${rest.length} more: ${sum((p) => p.profiledNanos)} / ${sum((p) => p.osCpuNanos)}`);
  }
  for (const l of sourceMapSummary(facts as Facts)) lines.push(`  ${printable(l, 1000)}`);
  const inlined = inliningLine(facts as Facts);
  if (inlined) lines.push(`  ${inlined}`);
  return lines;
}

/** The top table and where to open the file. */
function topLines(file: string, format: RunCommand['format'], profile: Profile, procs: readonly TreeProcess[]): string {
  const name = displayPath(file);
  const total = sampleTotal(profile, 'cpu');
  const rows = topFunctions(profile, { n: 10 });
  let out = '';
  if (rows.length > 0) {
    const which = procs.length > 1 ? ` (all ${procs.length} processes)` : '';
    out += `ptprof: top 10 functions by flat CPU in ${name}${which}:\n${formatTop(rows, total)}`;
  }
  if (format === 'speedscope' || format === 'cpuprofile') {
    const open = format === 'speedscope' ? 'https://www.speedscope.app (or: npx speedscope FILE)' : 'Chrome DevTools (Performance: Load profile) or VS Code';
    return `${out}ptprof: open ${name} in ${open}\n`;
  }
  const busiest = [...procs].sort((a, b) => b.profiledNanos - a.profiledNanos)[0];
  const one = procs.length > 1 && busiest ? `; one process: go tool pprof -tagfocus pid=${busiest.pid} -top ${name}` : '';
  const open = format === 'pprof'
    ? `go tool pprof -http=:8080 ${name}   (or: ptprof view ${name} --open, ptprof top ${name}${one})`
    : `flamegraph.pl ${name} > flame.svg, or speedscope ${name}`;
  return `${out}ptprof: open it with: ${open}\n`;
}

export interface TreeEnd {
  /** What the reports of split mode would say: the one file written, the processes that failed or vanished. */
  reports: RunReports;
  /** A profile was lost: the file could not be written, or a part could not be read. */
  lost: boolean;
}

/**
 * After the command ended: reads the last parts, writes the tree's profile at `output` in the
 * format asked for, and prints the summary (unless -q) and what was lost of each process.
 * `header` is the summary's first line (the command and how it ended).
 */
export function finishTree(cmd: RunCommand, tree: TreeCollector, output: string, reportDir: string, header: string, facts: Facts): TreeEnd {
  tree.stopPolling();
  tree.poll();
  const agents = readReports(reportDir);
  const procs = tree.processes().filter((p) => p.parts > 0);
  const handed = new Set(procs.map((p) => p.pid));
  const reports: RunReports = { written: [], failed: agents.failed, vanished: agents.vanished.filter((v) => !handed.has(v.pid)), idle: [], unfinished: [] };
  let lost = false;
  const losses: string[] = [];
  for (const p of tree.processes()) {
    if (p.error !== undefined) {
      lost = true;
      losses.push(`could not read what pid ${p.pid} (${printable(p.command, 300)}) handed over after its part ${p.parts}: ${printable(p.error)}`);
    }
  }
  if (procs.length === 0) {
    say(cmd.quiet ? [] : [header]);
    say(losses);
    return { reports, lost };
  }
  const merged = tree.profile({ ended: true, facts: { ptprof: VERSION, ...facts } });
  const root = procs[0]!;
  let out;
  // Built once: what a pprof file is encoded from is also what the summary's top table reads.
  let pprof: Profile | undefined;
  try {
    if (cmd.format === 'pprof') pprof = toPprof(merged.profile);
    out = writeProfileSync(output, merged.profile, cmd.format, { rootFrames: treeRootFrames }, pprof);
  } catch (e) {
    // Said as a process that could not write its file says it (the first process's pid and command).
    const x = e as NodeJS.ErrnoException;
    const why = typeof x.code === 'string' && x.message.startsWith(`${x.code}: `) ? x.message.split(', ')[0]! : x.message;
    reports.failed.push({ ...reportOf(root, output, cmd.format), state: 'failed', error: why });
    say([...(cmd.quiet ? [] : [header]), ...losses]);
    return { reports, lost: true };
  }
  reports.written.push({ file: output, format: cmd.format, report: { ...reportOf(root, output, cmd.format), written: out.written,
    ...(out.files.length > 1 ? { files: out.files } : {}) } });
  if (!cmd.quiet) {
    const lines = [header];
    // This command's CPU up to here: reading the parts, merging, writing the file.
    const cliNanos = processCpuNs();
    if (procs.length === 1) lines.push(...describeProfile(reports.written[0]!, process.cwd(), cliNanos));
    else lines.push(...describeTree(output, merged, procs, out.files, cliNanos));
    say(lines);
    process.stderr.write(topLines(output, cmd.format, pprof ?? toPprof(merged.profile), procs));
    for (const p of procs) {
      if (p.final) continue;
      // A process the command left running (a daemon) has not ended: it is not lost, only cut.
      const how = alive(p.pid) ? 'was still running when the command ended' : 'ended without its final part (killed by SIGKILL, or crashed)';
      losses.push(`pid ${p.pid} (${printable(p.command, 300)}) ${how}: the profile has it up to its last hand-off, its frames as they ran (not through source maps)`);
    }
  }
  say(losses);
  return { reports, lost };
}
