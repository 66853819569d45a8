// Merging profiles into one: the processes of a run (a process tree), or runs from several
// machines. Each sample keeps its labels and gains its process's (`pid`, `process`), and, where
// two inputs could not be told apart otherwise (the same pid in both, or inputs without pids),
// the name of the input it came from (`profile`). The profile's facts list each process with its
// own numbers under `proc.<i>.*` (1-based, in input order), written and read back here:
//
//   processes=3 process_cpu_nanos=2450000000
//   proc.1.pid=4100 proc.1.name="npm test" proc.1.process_cpu_nanos=310000000 proc.1.profiled_nanos=300000000
//   proc.1.ratio=0.968 proc.1.end=exit(0) proc.1.cmd="node /usr/lib/node_modules/npm/bin/npm-cli.js test"
//
// The facts of a process are ptprof's (see the package README): `pid`, `ppid`, `cmd`,
// `process_name`, `end`, `complete`, `process_cpu_nanos` (the OS's CPU count for it). What else
// the inputs' facts mean is the caller's business: it says which ones add up (`sum`) and which
// are kept when every input agrees (`same`).
import type { Profile } from 'pprof-format';
import { numberFact, parseFactsLine, stringFact, type Facts, type FactValue } from './facts';
import type { FoldedProfile } from './folded';
import { ProfileReadError, stringAt, toNumber } from './read';
import type { FrameInput, ProfileInput, SampleInput } from './types';

/** The labels a merge adds to samples. */
export const MERGE_LABELS = { pid: 'pid', process: 'process', profile: 'profile' } as const;

/** What each sample's values are: CPU time (nanoseconds), or only sample counts. */
export type MergeValues = 'cpu' | 'samples';

export interface MergeInput {
  /** The input's name (a file name): the `profile` label when inputs would collide. Unique among the inputs. */
  name: string;
  profile: ProfileInput;
  /** Default 'cpu'. Inputs with CPU time and inputs with only counts cannot be merged. */
  values?: MergeValues;
}

/** One process of a merged profile, as its facts say. */
export interface MergedProcess {
  pid?: number;
  /** The `process` label of its samples: a short command line. */
  name?: string;
  /** The input it came from, when inputs collided. */
  profile?: string;
  /** Its own facts (`ppid`, `cmd`, `end`, `complete`, `process_cpu_nanos`, `profiled_nanos`, `ratio`, ...). */
  facts: Facts;
}

export interface MergeOptions {
  /** Facts of the result, written first (who merged, the command...). */
  facts?: Facts;
  /** Numeric facts of the inputs that add up (counters): the result has their sum. */
  sum?: readonly string[];
  /** Facts kept when every input that has them agrees (the rate, the mode). */
  same?: readonly string[];
  /**
   * Groups of facts by prefix (`source_maps.`), combined: numbers added, strings joined with '; '
   * (each once), booleans kept when every input agrees.
   */
  groups?: readonly string[];
}

export interface MergeResult {
  profile: ProfileInput;
  processes: MergedProcess[];
  /** Inputs could not be told apart by pid: every sample has a `profile` label. */
  collided: boolean;
}

const PROC = 'proc';
/** The facts of a process written under `proc.<i>.`, in this order (`cmd` last: it is long). */
const PROCESS_KEYS = ['pid', 'name', 'profile', 'ppid', 'root', 'end', 'complete', 'hz', 'process_cpu_nanos', 'profiled_nanos', 'unsampled_nanos', 'oversampled_nanos', 'ratio', 'cmd'] as const;

type Labels = Record<string, string | number>;

/** The processes listed in a merged profile's facts (empty for a profile that is not one). */
export function readProcesses(facts: Readonly<Facts>): MergedProcess[] {
  const n = numberFact(facts as Facts, 'processes');
  if (n === undefined || !Number.isSafeInteger(n) || n < 1) return [];
  const out: MergedProcess[] = [];
  // Bounded by the keys present (a crafted `processes=1e9` costs nothing).
  const byIndex = new Map<number, Facts>();
  for (const [k, v] of Object.entries(facts)) {
    const m = /^proc\.(\d+)\.([A-Za-z_][A-Za-z0-9_.]*)$/.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    if (i < 1 || i > n) continue;
    let f = byIndex.get(i);
    if (!f) byIndex.set(i, (f = Object.create(null) as Facts));
    f[m[2]!] = v;
  }
  for (const i of [...byIndex.keys()].sort((a, b) => a - b)) {
    const f = byIndex.get(i)!;
    const p: MergedProcess = { facts: f };
    const pid = numberFact(f, 'pid');
    if (pid !== undefined && Number.isSafeInteger(pid)) p.pid = pid;
    const name = stringFact(f, 'name');
    if (name !== undefined) p.name = name;
    const profile = stringFact(f, 'profile');
    if (profile !== undefined) p.profile = profile;
    out.push(p);
  }
  return out;
}

/** `node test/a.test.js (pid 4242)`: how a process is shown as a frame (folded stacks, flame graphs). */
export function processFrame(name: string | undefined, pid: number | undefined): string {
  return pid === undefined ? (name ?? '?') : `${name ?? '?'} (pid ${pid})`;
}

const PID_FRAME = /^(.*) \(pid (\d+)\)$/;

/** What processFrame wrote: the name and the pid (undefined when the text has none). */
export function parseProcessFrame(text: string): { name: string; pid?: number } {
  const m = PID_FRAME.exec(text);
  return m && Number.isSafeInteger(Number(m[2])) ? { name: m[1]!, pid: Number(m[2]) } : { name: text };
}

/** The root frames of a merged profile's row in folded stacks: its process, then its thread (toFolded's rootFrames). */
export function treeRootFrames(labels: Readonly<Labels>): string[] {
  const pid = labels[MERGE_LABELS.pid];
  const name = labels[MERGE_LABELS.process];
  return [processFrame(name === undefined ? undefined : String(name), typeof pid === 'number' ? pid : undefined),
    String(labels.thread_name ?? '?')];
}

const TIME_UNITS: Record<string, number> = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 };

/**
 * A decoded pprof profile (validated: readProfileFile's validateProfile) as ProfileInput, for
 * merging: every label kept (string and numeric), inlined functions kept (one location, several
 * lines), its facts parsed and its other comments kept. Values: 'samples' (count) and 'cpu' (a
 * time, converted to nanoseconds); a profile with neither cannot be merged (ProfileReadError).
 */
export function fromPprof(profile: Profile): { profile: ProfileInput; values: MergeValues } {
  const typeOf = (t: string): number => profile.sampleType.findIndex((x) => stringAt(profile, x.type) === t);
  const si = typeOf('samples');
  const ci = typeOf('cpu');
  const cpuScale = ci >= 0 ? TIME_UNITS[stringAt(profile, profile.sampleType[ci]!.unit)] : undefined;
  if (ci >= 0 && cpuScale === undefined) {
    throw new ProfileReadError('invalid', `has cpu values in ${stringAt(profile, profile.sampleType[ci]!.unit)}, not a unit of time`);
  }
  if (ci < 0 && si < 0) throw new ProfileReadError('invalid', "has neither a 'cpu' nor a 'samples' sample type: only CPU profiles can be merged");

  const functions = new Map<number, { name: string; systemName: string; file: string; startLine: number }>();
  for (const f of profile.function) {
    functions.set(toNumber(f.id), {
      name: stringAt(profile, f.name), systemName: stringAt(profile, f.systemName), file: stringAt(profile, f.filename), startLine: toNumber(f.startLine),
    });
  }
  const mappingFile = new Map<number, string>();
  for (const m of profile.mapping) mappingFile.set(toNumber(m.id), stringAt(profile, m.filename));
  // A location's frames, innermost first; all but the last are inlined into the next.
  const locations = new Map<number, FrameInput[]>();
  for (const loc of profile.location) {
    const frames: FrameInput[] = loc.line.map((l, j) => {
      const fn = functions.get(toNumber(l.functionId));
      const frame: FrameInput = { name: fn?.name || '?' };
      if (fn?.file) frame.file = fn.file;
      const line = toNumber(l.line);
      if (line > 0) frame.line = line;
      const column = toNumber(l.column);
      if (column > 0) frame.column = column;
      if (fn && fn.startLine > 0 && fn.startLine !== line) frame.startLine = fn.startLine; // (the default is the line)
      if (fn && fn.systemName && fn.systemName !== fn.name) frame.systemName = fn.systemName;
      if (j < loc.line.length - 1) frame.inlined = true;
      return frame;
    });
    if (frames.length === 0) {
      const file = mappingFile.get(toNumber(loc.mappingId));
      frames.push({ name: `0x${toNumber(loc.address).toString(16)}`, ...(file ? { file } : {}) });
    }
    locations.set(toNumber(loc.id), frames);
  }
  const unknown: FrameInput[] = [{ name: '?' }];
  const labelSets = new Map<string, Labels>(); // samples share label objects (pprof-writer merges rows by them)
  const samples: SampleInput[] = profile.sample.map((s) => {
    const labels: Labels = {};
    for (const l of s.label) {
      const k = stringAt(profile, l.key);
      if (k === '') continue;
      if (toNumber(l.str) !== 0) labels[k] = stringAt(profile, l.str);
      else if (Number.isSafeInteger(toNumber(l.num))) labels[k] = toNumber(l.num);
    }
    const key = JSON.stringify(labels);
    let shared = labelSets.get(key);
    if (!shared) labelSets.set(key, (shared = labels));
    const frames: FrameInput[] = [];
    for (const id of s.locationId) frames.push(...(locations.get(toNumber(id)) ?? unknown));
    const count = si >= 0 ? toNumber(s.value[si]) : 0;
    const cpuNanos = ci >= 0 ? toNumber(s.value[ci]) * cpuScale! : 0;
    return { frames, count, cpuNanos, labels: shared };
  });
  const facts: Facts = {};
  const comments: string[] = [];
  for (const i of profile.comment) {
    const c = stringAt(profile, i);
    const f = parseFactsLine(c);
    if (f) Object.assign(facts, f);
    else comments.push(c);
  }
  const periodUnit = profile.periodType ? TIME_UNITS[stringAt(profile, profile.periodType.unit)] : undefined;
  const period = toNumber(profile.period) * (periodUnit ?? 0);
  const first = profile.mapping[0] ? stringAt(profile, profile.mapping[0].filename) : '';
  const out: ProfileInput = {
    samples,
    periodNanos: period > 0 ? period : 1,
    durationNanos: Math.max(0, toNumber(profile.durationNanos)),
    facts,
    comments,
    ...(first ? { mappingFile: first } : {}),
  };
  const t = toNumber(profile.timeNanos);
  if (t > 0) out.startTimeNanos = typeof profile.timeNanos === 'bigint' ? profile.timeNanos : BigInt(t);
  return { profile: out, values: ci >= 0 ? 'cpu' : 'samples' };
}

/**
 * Folded stacks as ProfileInput. A `[thread]` root becomes the `thread_name` label; with two or
 * more roots the first is the process (`[name (pid N)]`, as merged profiles write it: the labels
 * `process` and `pid`) and the last the thread. Folded stacks carry one value per line: CPU
 * nanoseconds (the samples' count is then 0) or sample counts (values 'samples').
 */
export function fromFolded(folded: FoldedProfile): { profile: ProfileInput; values: MergeValues } {
  const labelSets = new Map<string, Labels>();
  const ns = folded.unit === 'nanoseconds';
  const samples: SampleInput[] = folded.stacks.map((s) => {
    const labels: Labels = {};
    if (s.root !== undefined) labels.thread_name = s.root;
    if (s.roots && s.roots.length > 1) {
      const p = parseProcessFrame(s.roots[0]!);
      labels[MERGE_LABELS.process] = p.name;
      if (p.pid !== undefined) labels[MERGE_LABELS.pid] = p.pid;
    }
    const key = JSON.stringify(labels);
    let shared = labelSets.get(key);
    if (!shared) labelSets.set(key, (shared = labels));
    return { frames: s.frames, count: ns ? 0 : s.value, cpuNanos: ns ? s.value : 0, labels: shared };
  });
  return { profile: { samples, periodNanos: 1 }, values: ns ? 'cpu' : 'samples' };
}

/** The processes of one input, and the labels its samples gain (besides `profile`). */
function processesOf(input: MergeInput): { processes: MergedProcess[]; add?: Labels } {
  const facts = input.profile.facts ?? {};
  const listed = readProcesses(facts);
  if (listed.length > 0) return { processes: listed };
  const pid = numberFact(facts, 'pid');
  if (pid !== undefined && Number.isSafeInteger(pid)) {
    // One process's profile (ptprof's agent writes pid, ppid, cmd, process_name, end...).
    const name = stringFact(facts, 'process_name') ?? stringFact(facts, 'cmd');
    const own: Facts = {};
    for (const k of PROCESS_KEYS) if (facts[k] !== undefined && k !== 'pid' && k !== 'name' && k !== 'profile') own[k] = facts[k]!;
    return { processes: [{ pid, ...(name !== undefined ? { name } : {}), facts: own }], add: { pid, ...(name !== undefined ? { process: name } : {}) } };
  }
  // No facts about processes: the pids its samples carry, if any.
  const pids = new Map<number, string | undefined>();
  for (const s of input.profile.samples) {
    const p = s.labels?.[MERGE_LABELS.pid];
    if (typeof p === 'number' && !pids.has(p)) {
      const n = s.labels?.[MERGE_LABELS.process];
      pids.set(p, n === undefined ? undefined : String(n));
    }
  }
  // None at all (another profiler's file, plain folded stacks): the input is one process of unknown pid.
  if (pids.size === 0) return { processes: [{ facts: {} }] };
  return { processes: [...pids].map(([p, n]) => ({ pid: p, ...(n !== undefined ? { name: n } : {}), facts: {} })) };
}

function sameValue(values: readonly (FactValue | undefined)[]): FactValue | undefined {
  const present = values.filter((v): v is FactValue => v !== undefined);
  if (present.length === 0) return undefined;
  return present.every((v) => v === present[0]) ? present[0] : undefined;
}

/** The facts under `prefix` of every input, combined (MergeOptions.groups). */
function combineGroup(all: readonly Facts[], prefix: string): Facts {
  const keys = new Set<string>();
  for (const f of all) for (const k of Object.keys(f)) if (k.startsWith(prefix)) keys.add(k);
  const out: Facts = {};
  for (const k of keys) {
    const vs = all.map((f) => f[k]).filter((v): v is FactValue => v !== undefined);
    if (vs.every((v) => typeof v === 'number')) out[k] = (vs as number[]).reduce((a, b) => a + b, 0);
    else if (vs.every((v) => typeof v === 'string')) out[k] = [...new Set(vs as string[])].join('; ');
    else if (vs.every((v) => v === vs[0])) out[k] = vs[0]!;
  }
  return out;
}

/**
 * Merges profiles into one: their samples (labels kept, `pid` and `process` added to the samples
 * of a one-process profile, `profile` added to every sample when two inputs share a pid or one has
 * none), the processes they list (facts `processes`, `incomplete`, `proc.<i>.*` with each one's
 * CPU profiled and its ratio to the OS's count), the sum of their OS CPU (`process_cpu_nanos`,
 * when every process has one), the facts named in `sum` and `same`, and the span of time they
 * cover. Identical rows are merged when the result is written. Throws a TypeError when the inputs
 * hold values of different kinds (CPU time and counts) or two inputs have the same name.
 */
export function mergeProfiles(inputs: readonly MergeInput[], options: MergeOptions = {}): MergeResult {
  if (inputs.length === 0) throw new TypeError('pprof-writer: mergeProfiles needs at least one profile');
  const names = new Set<string>();
  for (const i of inputs) {
    if (names.has(i.name)) throw new TypeError(`pprof-writer: two inputs are named ${JSON.stringify(i.name)}: names must be unique`);
    names.add(i.name);
  }
  const kinds = new Set(inputs.map((i) => i.values ?? 'cpu'));
  if (kinds.size > 1) {
    const counts = inputs.find((i) => (i.values ?? 'cpu') === 'samples')!;
    throw new TypeError(`pprof-writer: ${counts.name} holds sample counts and the others CPU time: they cannot be added up`);
  }
  const values: MergeValues = kinds.has('samples') ? 'samples' : 'cpu';

  const of = inputs.map(processesOf);
  // Collision: a pid in two inputs, or an input whose samples say nothing of their process.
  const seen = new Set<number>();
  let collided = false;
  for (const o of of) {
    if (o.processes.some((p) => p.pid === undefined)) collided ||= inputs.length > 1;
    const mine = new Set(o.processes.map((p) => p.pid).filter((p): p is number => p !== undefined));
    for (const p of mine) {
      if (seen.has(p)) collided = true;
    }
    for (const p of mine) seen.add(p);
  }

  const samples: SampleInput[] = [];
  const processes: MergedProcess[] = [];
  const key = (profile: string | undefined, pid: number | undefined): string => `${profile ?? ''}\u0000${pid ?? ''}`;
  const profiled = new Map<string, number>();
  inputs.forEach((input, n) => {
    const { add } = of[n]!;
    const extra: Labels = { ...add, ...(collided ? { [MERGE_LABELS.profile]: input.name } : {}) };
    const hasExtra = Object.keys(extra).length > 0;
    const relabelled = new Map<object, Labels>();
    for (const s of input.profile.samples) {
      let labels = s.labels;
      if (hasExtra) {
        const base = s.labels ?? {};
        let l = relabelled.get(base);
        if (!l) relabelled.set(base, (l = { ...base, ...extra }));
        labels = l;
      }
      samples.push(labels === s.labels ? s : { ...s, labels: labels! });
      const pid = labels?.[MERGE_LABELS.pid];
      const k = key(collided ? input.name : undefined, typeof pid === 'number' ? pid : undefined);
      profiled.set(k, (profiled.get(k) ?? 0) + (values === 'cpu' ? s.cpuNanos : s.count));
    }
    for (const p of of[n]!.processes) processes.push(collided ? { ...p, profile: input.name } : p);
  });

  // Each process's profiled CPU (from the samples) and its ratio to the OS's count: 0 for a process
  // with no sample at all (one that burned less than a period), which is still listed.
  for (const p of processes) {
    if (values !== 'cpu') continue;
    const got = profiled.get(key(p.profile, p.pid)) ?? 0;
    p.facts = { ...p.facts, profiled_nanos: Math.round(got) };
    const os = numberFact(p.facts, 'process_cpu_nanos');
    if (os !== undefined && os > 0) p.facts.ratio = Number((got / os).toFixed(3));
  }

  // Who merged and what, then the processes (how many, their OS CPU), then the inputs' counters,
  // then each process (long: last).
  const facts: Facts = { ...options.facts };
  if (processes.length > 0) {
    facts.processes = processes.length;
    const incomplete = processes.filter((p) => p.facts.complete === false).length;
    if (incomplete > 0) facts.incomplete = incomplete;
    const os = processes.map((p) => numberFact(p.facts, 'process_cpu_nanos'));
    if (os.every((v) => v !== undefined)) facts.process_cpu_nanos = os.reduce((a, b) => a! + b!, 0)!;
  }
  const inputFacts = inputs.map((i) => i.profile.facts ?? {});
  for (const k of options.same ?? []) {
    const v = sameValue(inputFacts.map((f) => f[k]));
    if (v !== undefined) facts[k] = v;
  }
  for (const k of options.sum ?? []) {
    const vs = inputFacts.map((f) => numberFact(f, k)).filter((v): v is number => v !== undefined);
    if (vs.length > 0) facts[k] = vs.reduce((a, b) => a + b, 0);
  }
  for (const prefix of options.groups ?? []) Object.assign(facts, combineGroup(inputFacts, prefix));
  processes.forEach((p, i) => {
    const all: Facts = { ...p.facts, ...(p.pid !== undefined ? { pid: p.pid } : {}), ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.profile !== undefined ? { profile: p.profile } : {}) };
    for (const k of PROCESS_KEYS) {
      if (all[k] === undefined || (k === 'hz' && all[k] === facts.hz)) continue; // the rate once, unless it differs
      facts[`${PROC}.${i + 1}.${k}`] = all[k]!;
    }
  });

  // The span the inputs cover: from the first start to the last end.
  let start: bigint | undefined;
  let end: bigint | undefined;
  for (const i of inputs) {
    const s = i.profile.startTimeNanos;
    if (s === undefined || s === 0 || s === 0n) continue;
    const b = typeof s === 'bigint' ? s : BigInt(Math.round(s));
    const e = b + BigInt(Math.round(i.profile.durationNanos ?? 0));
    if (start === undefined || b < start) start = b;
    if (end === undefined || e > end) end = e;
  }
  const period = inputs.map((i) => i.profile.periodNanos).find((p) => p > 1) ?? 1;
  const comments = inputs.flatMap((i) => i.profile.comments ?? []);
  const mappingFile = inputs.map((i) => i.profile.mappingFile).find((m) => m !== undefined);
  const profile: ProfileInput = {
    samples,
    periodNanos: period,
    facts,
    ...(comments.length ? { comments: [...new Set(comments)] } : {}),
    ...(start !== undefined ? { startTimeNanos: start, durationNanos: Number(end! - start) } : {}),
    ...(mappingFile !== undefined ? { mappingFile } : {}),
  };
  return { profile, processes, collided };
}
