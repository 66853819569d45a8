// The CLI's side of the hand-off (part.ts): it reads the parts the run's processes leave in its
// private report directory as they come (every second while the command runs, and once more
// when it has ended), adds each to its process's rows and removes it. Memory grows with the
// distinct (process, thread, stack) rows, as the profile itself does, not with time or samples;
// the disk holds at most the parts of the last second. profile() is the whole tree's profile so
// far, one process per input of pprof-writer's mergeProfiles (labels pid and process, each
// process's facts): what the run writes at its end, and what a live view of the tree would take.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mergeProfiles, numberFact, type Facts, type FrameInput, type MergeResult, type SampleInput } from '@ptprof/pprof-writer';
import { decodePart, every, MAX_PART_BYTES, PART_NAME, type Part, type PartProcess } from './part';

/** The sampler's facts that count something: a process's are its windows' sum, the tree's its processes'. */
export const COUNTER_FACTS: readonly string[] = [
  'records', 'kept', 'filtered.setitimer', 'filtered.timer_create', 'dropped.ring', 'dropped.shared', 'foreign', 'late', 'misdelivered',
  'errors', 'unresolved_js_frames', 'js_frames', 'setitimer_suspended', 'sigprof_reinstalled', 'code_events_dropped', 'handoff_errors',
  'threads', 'inline.optimized_frames', 'inline.inlined_frames', 'inline.unexpanded_frames', 'inline.early_frames', 'inline.tables', 'inline.failures',
  'inline.read_nanos', 'ptprof_nanos', 'ptprof_threads_nanos', 'ptprof_handler_nanos', 'ptprof_start_nanos', 'ptprof_exit_nanos', 'unsampled_nanos', 'oversampled_nanos',
];
/** Groups of facts combined over the processes (counts added, failures and reasons listed). */
export const FACT_GROUPS: readonly string[] = ['source_maps.', 'inline.'];
/** Facts the tree has when every process agrees. */
export const SAME_FACTS: readonly string[] = ['hz', 'period_nanos', 'mode', 'timer_signal', 'timers', 'overrun_weights'];

type ThreadLabels = { thread_id: number; thread_name: string; thread_kind: 'js' | 'native' };

interface Row {
  labels: ThreadLabels;
  ids: number[];
  count: number;
  cpuNanos: number;
}

/** What the CLI knows of one process of the run, from its parts. */
export interface TreeProcess extends PartProcess {
  /** Parts read. */
  parts: number;
  /** The final part was read: the process ended and handed everything over. */
  final: boolean;
  /** How it ended (from the final part). */
  end?: string;
  startTimeNanos: bigint;
  /** Wall-clock time its parts cover. */
  durationNanos: number;
  /** The OS's count of its CPU over its parts (CLOCK_PROCESS_CPUTIME_ID, window by window). */
  osCpuNanos: number;
  profiledNanos: number;
  samples: number;
  /** CPU per thread, by tid. */
  threads: Map<number, { name: string; js: boolean; cpuNanos: number }>;
  /** Its windows' facts: the counters summed, the others as the last part said; the final part's own (source maps). */
  facts: Facts;
  /** A part that could not be read: why (its later parts were not read either). */
  error?: string;
}

interface ProcessState extends TreeProcess {
  nextSeq: number;
  frames: FrameInput[];
  /** Each thread's labels, once (rows share them), with a number for the rows' keys. */
  labelSets: Map<string, { labels: ThreadLabels; n: number }>;
  rows: Map<string, Row>;
}

export class TreeCollector {
  /** By `<pid>.<nonce>` (a pid the kernel reuses during the run is another process). */
  private readonly procs = new Map<string, ProcessState>();
  /**
   * One object per distinct frame of the whole run: the processes of a tree mostly run the same
   * code (the test runner's workers, a cluster's), and each sends its own frames.
   */
  private readonly frames = new Map<string, FrameInput>();

  constructor(readonly dir: string) {}

  /** Reads the parts every `ms` while the command runs. */
  startPolling(ms = 1000): this {
    this.stopPolling = every(ms, () => this.poll());
    return this;
  }

  stopPolling: () => void = () => {};

  /** Reads every part there is, each process's in order, and removes them. */
  poll(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    const byProcess = new Map<string, { pid: number; seqs: number[] }>();
    for (const n of names) {
      const m = PART_NAME.exec(n);
      if (!m) continue;
      const key = `${m[1]}.${m[2]}`;
      let e = byProcess.get(key);
      if (!e) byProcess.set(key, (e = { pid: Number(m[1]), seqs: [] }));
      e.seqs.push(Number(m[3]));
    }
    for (const [key, { pid, seqs }] of byProcess) {
      seqs.sort((a, b) => a - b);
      for (const seq of seqs) {
        const st = this.procs.get(key);
        const file = path.join(this.dir, `${key}.${seq}.part`);
        if (st?.error !== undefined) {
          fs.rmSync(file, { force: true }); // after a part that could not be read, the others cannot be either
          continue;
        }
        if (seq !== (st?.nextSeq ?? 0)) break; // an earlier one is still being written: next time
        this.read(key, pid, file);
        fs.rmSync(file, { force: true });
      }
    }
  }

  private read(key: string, pid: number, file: string): void {
    let part: Part;
    try {
      const st = fs.lstatSync(file);
      if (!st.isFile()) throw new Error('malformed part: not a regular file');
      if (st.size > MAX_PART_BYTES) throw new Error(`malformed part: larger than ${MAX_PART_BYTES} bytes`);
      part = decodePart(fs.readFileSync(file, 'utf8'), this.procs.get(key)?.frames.length ?? 0);
      if (part.pid !== pid || part.seq !== (this.procs.get(key)?.nextSeq ?? 0)) throw new Error('malformed part: its pid or number is not its name\'s');
    } catch (e) {
      const st = this.procs.get(key);
      const why = (e as Error).message;
      if (st) st.error = why;
      else this.procs.set(key, { ...emptyState({ pid, ppid: 0, root: false, command: '?', name: '?' }), error: why });
      return;
    }
    let st = this.procs.get(key);
    if (!st) this.procs.set(key, (st = emptyState(part)));
    part.frames = part.frames.map((f) => this.intern(f));
    if (part.mapped) part.mapped = part.mapped.map(([id, f]) => [id, this.intern(f)]);
    apply(st, part);
  }

  private intern(f: FrameInput): FrameInput {
    const key = JSON.stringify([f.name, f.file, f.line, f.column, f.startLine, f.startColumn, f.systemName, f.inlined]);
    let known = this.frames.get(key);
    if (!known) this.frames.set(key, (known = f));
    return known;
  }

  /** The processes that handed at least one part over: the root first, then in the order they started. */
  processes(): TreeProcess[] {
    return [...this.procs.values()].sort((a, b) => Number(b.root) - Number(a.root)
      || (a.startTimeNanos < b.startTimeNanos ? -1 : a.startTimeNanos > b.startTimeNanos ? 1 : 0) || a.pid - b.pid);
  }

  /**
   * The tree's profile so far: every process's rows with the labels pid and process, its facts
   * (`proc.<i>.*`: its OS CPU, ratio, end...), the counters summed. `ended`: the run is over, so a
   * process without its final part lost it (`complete=false`); while the run goes on, it is running.
   */
  profile(options: { ended: boolean; facts?: Facts }): MergeResult {
    const ordered = this.processes() as ProcessState[];
    const inputs = ordered.filter((p) => p.parts > 0).map((p, i) => {
      const samples: SampleInput[] = [];
      for (const r of p.rows.values()) samples.push({ frames: r.ids.map((id) => p.frames[id]!), count: r.count, cpuNanos: r.cpuNanos, labels: r.labels });
      const facts: Facts = {
        ...p.facts, threads: p.threads.size, pid: p.pid, ppid: p.ppid, ...(p.root ? { root: true } : {}), process_name: p.name,
        ...(p.end !== undefined ? { end: p.end } : {}), ...(options.ended && !p.final ? { complete: false } : {}),
        process_cpu_nanos: Math.round(p.osCpuNanos), cmd: p.command,
      };
      return {
        name: `${i + 1}`,
        profile: { samples, periodNanos: numberFact(p.facts, 'period_nanos') ?? 1e7, startTimeNanos: p.startTimeNanos, durationNanos: p.durationNanos, facts },
      };
    });
    if (inputs.length === 0) throw new Error('no process handed a profile over');
    return mergeProfiles(inputs, { facts: options.facts ?? {}, sum: COUNTER_FACTS, same: SAME_FACTS, groups: FACT_GROUPS });
  }
}

function emptyState(who: PartProcess): ProcessState {
  return {
    pid: who.pid, ppid: who.ppid, root: who.root, command: who.command, name: who.name, parts: 0, final: false,
    startTimeNanos: 0n, durationNanos: 0, osCpuNanos: 0, profiledNanos: 0, samples: 0, threads: new Map(), facts: {},
    nextSeq: 0, frames: [], labelSets: new Map(), rows: new Map(),
  };
}

/** Adds a (checked) part to its process. */
function apply(st: ProcessState, part: Part): void {
  st.nextSeq = part.seq + 1;
  st.parts++;
  for (const f of part.frames) st.frames.push(f);
  const labels = part.threads.map(([tid, name, js]) => {
    const k = `${tid}\u0000${name}\u0000${js ? 1 : 0}`;
    let l = st.labelSets.get(k);
    if (!l) st.labelSets.set(k, (l = { labels: { thread_id: tid, thread_name: name, thread_kind: js ? 'js' : 'native' }, n: st.labelSets.size }));
    const t = st.threads.get(tid);
    if (!t) st.threads.set(tid, { name, js, cpuNanos: 0 });
    else t.name = name; // a name learnt later (a worker's) wins, as in the sampler
    return l;
  });
  const rows = part.rows;
  for (let i = 0; i < rows.length; ) {
    const t = rows[i]!;
    const count = rows[i + 1]!;
    const cpu = rows[i + 2]!;
    const depth = rows[i + 3]!;
    const ids = rows.slice(i + 4, i + 4 + depth);
    i += 4 + depth;
    const key = `${labels[t]!.n}:${ids.join(',')}`;
    let r = st.rows.get(key);
    if (!r) st.rows.set(key, (r = { labels: labels[t]!.labels, ids, count: 0, cpuNanos: 0 }));
    r.count += count;
    r.cpuNanos += cpu;
    st.profiledNanos += cpu;
    st.samples += count;
    st.threads.get(part.threads[t]![0])!.cpuNanos += cpu;
  }
  const start = BigInt(part.start);
  if (st.parts === 1 || start < st.startTimeNanos) st.startTimeNanos = start;
  st.durationNanos += part.duration;
  st.osCpuNanos += numberFact(part.facts, 'process_cpu_nanos') ?? 0;
  for (const [k, v] of Object.entries(part.facts)) {
    if (k === 'process_cpu_nanos' || k === 'threads') continue;
    if (COUNTER_FACTS.includes(k) && typeof v === 'number') st.facts[k] = (numberFact(st.facts, k) ?? 0) + v;
    else st.facts[k] = v;
  }
  if (part.final) {
    st.final = true;
    if (part.end !== undefined) st.end = part.end;
    for (const [id, f] of part.mapped ?? []) st.frames[id] = f;
  }
}
