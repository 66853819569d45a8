// Profiles into the view's model: pprof (ptprof's, Go's, any other) and folded stacks. Files are
// read with pprof-writer's readProfileFile (a cap on bytes and on gunzip, no pipes or devices
// unless asked, the decoded pprof checked) and folded stacks parsed by its parseFolded.
import * as path from 'node:path';
import {
  formatFacts, MERGE_LABELS, numberFact, parseFacts, parseFolded, parseProcessFrame, readProcesses, readProfileFile, sampleThread, stringAt,
  stringFact, toNumber, type Profile, type ProfileFile, type ReadProfileOptions,
} from '@ptprof/pprof-writer';
import { ViewBuilder, type ViewProcess, type ViewProfile } from './model';

/**
 * The sample type a viewer shows: the profile's default_sample_type when it names one of its
 * types, else the last (pprof's own rule: Go's CPU profiles are [samples, cpu], heap profiles end
 * with inuse_space).
 */
export function valueIndex(profile: Profile): number {
  const n = profile.sampleType.length;
  if (n === 0) throw new Error('the profile has no sample types');
  const def = toNumber(profile.defaultSampleType);
  if (def !== 0) {
    const name = stringAt(profile, def);
    const i = profile.sampleType.findIndex((t) => stringAt(profile, t.type) === name);
    if (i >= 0) return i;
  }
  return n - 1;
}

/**
 * What ptprof's facts (key=value comments, read by pprof-writer's parseFacts) say about the
 * process; nothing for other producers, whose comments are shown as they are.
 */
function ptprofFacts(comments: readonly string[], p: ViewProcess): void {
  const facts = parseFacts(comments);
  const known: Partial<ViewProcess> = {
    command: stringFact(facts, 'cmd'),
    pid: numberFact(facts, 'pid'),
    hz: numberFact(facts, 'hz'),
    mode: stringFact(facts, 'mode'),
    // The OS's count for the process over the profile (CLOCK_PROCESS_CPUTIME_ID).
    osCpuNanos: numberFact(facts, 'process_cpu_nanos'),
  };
  for (const [k, v] of Object.entries(known)) if (v !== undefined) Object.assign(p, { [k]: v });
}

/**
 * The processes of a merged profile (a process tree, or `ptprof merge`): its samples' `pid` and
 * `profile` labels say which process each is of, its facts (`proc.<i>.*`) what each process is.
 * Returns the process of each sample, or undefined for a profile of one process.
 */
function mergedProcesses(b: ViewBuilder, profile: Profile, base: ViewProcess, comments: readonly string[]): ((s: Profile['sample'][number]) => number) | undefined {
  const listed = readProcesses(parseFacts(comments));
  const labelOf = (s: Profile['sample'][number]): string | undefined => {
    let pid: number | undefined;
    let prof: string | undefined;
    for (const l of s.label) {
      const k = stringAt(profile, l.key);
      if (k === MERGE_LABELS.pid && toNumber(l.str) === 0) pid = toNumber(l.num);
      else if (k === MERGE_LABELS.profile) prof = stringAt(profile, l.str);
    }
    return pid === undefined && prof === undefined ? undefined : `${prof ?? ''}\u0000${pid ?? ''}`;
  };
  if (listed.length === 0 && !profile.sample.some((s) => labelOf(s) !== undefined)) return undefined;
  // The processes the facts list come first, in their order (the run's first process first).
  const own = comments.filter((c) => !/^proc\.\d+\./.test(c));
  const index = new Map<string, number>();
  const add = (key: string, p: Partial<ViewProcess>): number => {
    const i = b.addProcess({ ...base, comments: index.size === 0 ? own : [], ...p });
    index.set(key, i);
    return i;
  };
  for (const p of listed) {
    const f = p.facts;
    const shown: Partial<ViewProcess> = { comments: [...(index.size === 0 ? own : []), ...formatFacts(f)] };
    if (p.pid !== undefined) shown.pid = p.pid;
    const command = stringFact(f, 'cmd') ?? p.name;
    if (command !== undefined) shown.command = command;
    if (p.name !== undefined) shown.name = p.name;
    const hz = numberFact(f, 'hz');
    if (hz !== undefined) shown.hz = hz;
    const os = numberFact(f, 'process_cpu_nanos');
    shown.osCpuNanos = os;
    add(`${p.profile ?? ''}\u0000${p.pid ?? ''}`, shown);
  }
  const si = profile.sampleType.findIndex((t) => stringAt(profile, t.type) === 'samples');
  const samples = new Map<number, number>();
  return (s) => {
    const key = labelOf(s) ?? '\u0000';
    let i = index.get(key);
    if (i === undefined) {
      const pid = key.split('\u0000')[1];
      i = add(key, { ...(pid ? { pid: Number(pid) } : {}), osCpuNanos: undefined });
    }
    if (si >= 0) {
      samples.set(i, (samples.get(i) ?? 0) + toNumber(s.value[si]));
      b.processes[i]!.samples = samples.get(i);
    }
    return i;
  };
}

/** Adds one pprof profile (one process, or each process of a merged one) to the builder. */
export function addPprof(b: ViewBuilder, profile: Profile, file: string): void {
  const vi = valueIndex(profile);
  const st = profile.sampleType[vi]!;
  const type = stringAt(profile, st.type);
  const unit = stringAt(profile, st.unit) || 'count';
  b.setUnit(unit, type);
  const comments = profile.comment.map((i) => stringAt(profile, i));
  const proc: ViewProcess = { file, durationNanos: toNumber(profile.durationNanos), comments, sampleType: `${type} (${unit})` };
  ptprofFacts(comments, proc);
  const periodType = profile.periodType ? stringAt(profile, profile.periodType.unit) : '';
  const period = toNumber(profile.period);
  if (proc.hz === undefined && periodType === 'nanoseconds' && period > 0) proc.hz = Math.round(1e9 / period);
  const processOf = mergedProcesses(b, profile, proc, comments);
  let pi = -1;
  if (!processOf) {
    const si = profile.sampleType.findIndex((t) => stringAt(profile, t.type) === 'samples');
    if (si >= 0) proc.samples = profile.sample.reduce((a, s) => a + toNumber(s.value[si]), 0);
    pi = b.addProcess(proc);
  }

  // A function is shown as (name, file, start line): the line a location executes is left out, so
  // that the calls of a function from different lines are one frame, as in pprof's flame graph.
  const fnFrame = new Map<string, number>();
  for (const f of profile.function) {
    fnFrame.set(String(toNumber(f.id)), b.frame(stringAt(profile, f.name) || '(anonymous)', stringAt(profile, f.filename), toNumber(f.startLine)));
  }
  const mappingFile = new Map<string, string>();
  for (const m of profile.mapping) mappingFile.set(String(toNumber(m.id)), stringAt(profile, m.filename));
  // Location id -> frames leaf first (inlined functions first, the function they were inlined into last).
  const locFrames = new Map<string, number[]>();
  for (const loc of profile.location) {
    const ids = loc.line.map((l) => fnFrame.get(String(toNumber(l.functionId))) ?? b.frame('?', '', 0));
    if (ids.length === 0) {
      ids.push(b.frame(`0x${toNumber(loc.address).toString(16)}`, mappingFile.get(String(toNumber(loc.mappingId))) ?? '', 0));
    }
    locFrames.set(String(toNumber(loc.id)), ids);
  }

  const threadOf = new Map<string, number>();
  for (const s of profile.sample) {
    const value = toNumber(s.value[vi]);
    const p = processOf ? processOf(s) : pi;
    if (!(value > 0)) continue; // nothing to draw (and no thread made for it)
    const { threadId: tid, threadName: name, threadKind } = sampleThread(profile, s);
    // ptprof says whether the thread ran JS ('js') or not ('native'); other values are not ours.
    const js = threadKind === 'js' ? true : threadKind === 'native' ? false : undefined;
    const key = `${p}\u0000${tid ?? ''}\u0000${name ?? ''}`;
    let t = threadOf.get(key);
    if (t === undefined) {
      t = b.thread(p, name ?? (tid !== undefined ? `thread ${tid}` : 'all samples'), tid, js);
      threadOf.set(key, t);
    }
    const frames: number[] = [];
    for (let d = s.locationId.length - 1; d >= 0; d--) {
      const ids = locFrames.get(String(toNumber(s.locationId[d]!))) ?? [b.frame('?', '', 0)];
      for (let j = ids.length - 1; j >= 0; j--) frames.push(ids[j]!);
    }
    b.addStack(t, frames, value);
  }
}

/**
 * Adds folded stacks (one process) to the builder. A `[name]` root frame is the thread (ptprof
 * writes the thread's name there); values are CPU nanoseconds or sample counts (parseFolded).
 */
export function addFolded(b: ViewBuilder, text: string, file: string): void {
  const folded = parseFolded(text);
  b.setUnit(folded.unit, folded.unit === 'nanoseconds' ? 'cpu' : 'samples');
  const base: ViewProcess = { file, durationNanos: 0, comments: [], sampleType: folded.unit === 'nanoseconds' ? 'cpu (nanoseconds)' : 'samples (count)' };
  // A merged profile's folded stacks begin with the process (`[name (pid N)];[thread];...`).
  const processes = new Map<string, number>();
  const processOf = (roots: readonly string[] | undefined): number => {
    const key = roots && roots.length > 1 ? roots[0]! : '';
    let i = processes.get(key);
    if (i === undefined) {
      const p: { name?: string; pid?: number } = key === '' ? {} : parseProcessFrame(key);
      i = b.addProcess({ ...base, ...(p.pid !== undefined ? { pid: p.pid } : {}), ...(p.name !== undefined ? { command: p.name, name: p.name } : {}) });
      processes.set(key, i);
    }
    return i;
  };
  const threads = new Map<string, number>();
  for (const s of folded.stacks) {
    if (!(s.value > 0)) continue;
    const pi = processOf(s.roots);
    const name = s.root ?? 'all samples';
    let t = threads.get(`${pi}\u0000${name}`);
    if (t === undefined) {
      t = b.thread(pi, name);
      threads.set(`${pi}\u0000${name}`, t);
    }
    const frames: number[] = [];
    for (let j = s.frames.length - 1; j >= 0; j--) {
      const f = s.frames[j]!;
      frames.push(b.frame(f.name, f.file ?? '', f.line ?? 0));
    }
    b.addStack(t, frames, s.value);
  }
  if (processes.size === 0) processOf(undefined); // the file is a process, even with nothing to draw
}

/** Adds a profile as readProfileFile gave it (one process) to the builder. */
export function addProfileFile(b: ViewBuilder, read: ProfileFile, file: string): void {
  if (read.format === 'pprof') addPprof(b, read.profile, file);
  else addFolded(b, read.text, file);
}

/** A file to read into a view; `expect`: only if it is still the file that was written (readProfileFile's). */
export interface ProfileSource {
  file: string;
  expect?: ReadProfileOptions['expect'];
}

/** Why a file could not be read into a view: which file, and the error (a ProfileReadError, ENOENT...). */
export class ProfileFileError extends Error {
  override readonly name = 'ProfileFileError';
  constructor(readonly file: string, override readonly cause: unknown) {
    super(`${file}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * Reads profile files into one view: each file is one process (ptprof writes one file per Node
 * process of a run). `options` are readProfileFile's (maxBytes, allowSpecial) for every file.
 * Throws a ProfileFileError naming the file that could not be read or shown with the others.
 */
export function readProfiles(files: readonly (string | ProfileSource)[], options: Omit<ReadProfileOptions, 'expect'> = {}): ViewProfile {
  if (files.length === 0) throw new Error('no profile files given');
  const b = new ViewBuilder();
  for (const f of files) {
    const src = typeof f === 'string' ? { file: f } : f;
    try {
      addProfileFile(b, readProfileFile(src.file, { ...options, ...(src.expect ? { expect: src.expect } : {}) }), path.resolve(src.file));
    } catch (e) {
      throw new ProfileFileError(src.file, e);
    }
  }
  return b.finish();
}

/** The view of one decoded pprof profile (e.g. one just made with pprof-writer's toPprof). */
export function viewOfPprof(profile: Profile, file: string): ViewProfile {
  const b = new ViewBuilder();
  addPprof(b, profile, file);
  return b.finish();
}
