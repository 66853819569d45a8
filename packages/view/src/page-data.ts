// The data the page is built from: the view's model as one call tree per thread (a trie of the
// stacks), encoded compactly (varint.ts), with the thread selections and the facts already made.
// The page (page/*.ts) merges the trees of the selected threads, draws them and tabulates them.
import { isJsThread, type ThreadKind, type ViewProfile, type ViewThread } from './model';
import { VarintWriter } from './varint';

/** How a frame is coloured. */
export const FRAME_KINDS = ['js', 'node', 'native', 'v8', 'meta'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

/**
 * `js`: the program's JS; `node`: Node's own JS (node:internal/...); `native`: C/C++ (a binary or
 * a shared library, or a C++ name); `v8`: V8's builtins and bytecode handlers; `meta`: ptprof's
 * and V8's pseudo-frames such as `(thread node)`, `(no stack)`, `(garbage collector)`.
 */
export function frameKind(name: string, file: string): FrameKind {
  if (/^(Builtins?[_:]|BytecodeHandler:|Stub:|Handler:|RegExp:)/.test(name)) return 'v8';
  if (file === '' && /^\(.*\)$/.test(name)) return 'meta';
  if (/^node:|^internal\//.test(file)) return 'node';
  if (/\.(so(\.\d+)*|node)$|\/bin\/[^/.]+$/.test(file) || (file === '' && (/::|^\[.*\]$/.test(name)))) return 'native';
  return 'js';
}

export interface Selection {
  label: string;
  /** Options of one group are shown together (an <optgroup>); '' for the top level. */
  group: string;
  /** Indexes into PageData.threads. */
  threads: number[];
}

export interface PageThread {
  name: string;
  tid?: number;
  process: number;
  kind: ThreadKind;
  total: number;
}

/** A fact of the header: a label and a text, or a label, a value and its unit (the page formats it). */
export type Fact = [label: string, text: string] | [label: string, value: number, unit: string];

export interface PageProcess {
  /** e.g. `pid 1234: node app.js`. */
  label: string;
  facts: Fact[];
  comments: string[];
}

export interface PageData {
  format: 'ptprof-view 1';
  title: string;
  unit: string;
  sampleType: string;
  /** Names and files of the frames. */
  strings: string[];
  /** Varints, 4 per frame: name (string index), file (string index), line, kind (index in FRAME_KINDS). */
  frames: string;
  threads: PageThread[];
  /**
   * Varints, 2 per node of the call tree, parents before children: the distance back to the
   * parent (0: the node is a thread's root) and the frame (for a root: the thread).
   */
  nodes: string;
  /** Varints, 1 per node: the value of the stacks that end there (rounded to integers). */
  self: string;
  selections: Selection[];
  processes: PageProcess[];
  generator: string;
}

const KIND_ORDER: Record<ThreadKind, number> = { main: 0, worker: 1, pool: 2, v8: 3, other: 4 };

function workerNumber(t: ViewThread): number {
  return Number(/^worker (\d+)$/.exec(t.name)?.[1] ?? 0);
}

const KIND_WORD: Record<ThreadKind, string> = { main: '', worker: '', pool: "libuv's pool", v8: "V8's helper", other: '' };

function threadLabel(t: ViewThread): string {
  if (isJsThread(t) || t.tid === undefined) return t.name;
  return `${t.name} (tid ${t.tid}${KIND_WORD[t.kind] ? `, ${KIND_WORD[t.kind]}` : ''})`;
}

/**
 * The choices of the thread selector: all threads; for each process (when there are several) its
 * threads; main, each worker, libuv's pool and V8's helpers (each as a group, then one by one when
 * the group has several), and the other threads one by one.
 */
export function selections(view: ViewProfile, order: readonly number[]): Selection[] {
  const out: Selection[] = [{ label: view.processes.length > 1 ? 'All processes, all threads' : 'All threads', group: '', threads: [...order] }];
  view.processes.forEach((p, pi) => {
    const mine = order.filter((i) => view.threads[i]!.process === pi);
    if (mine.length === 0) return;
    const group = view.processes.length > 1 ? processLabel(view, pi) : '';
    if (view.processes.length > 1) out.push({ label: `all threads of pid ${p.pid ?? pi + 1}`, group, threads: mine });
    const ofKind = (k: ThreadKind): number[] => mine.filter((i) => view.threads[i]!.kind === k);
    for (const i of [...ofKind('main'), ...ofKind('worker')]) out.push({ label: threadLabel(view.threads[i]!), group, threads: [i] });
    const single: number[] = [];
    for (const [kind, name] of [['pool', "libuv's pool"], ['v8', "V8's helpers"]] as const) {
      const ts = ofKind(kind);
      if (ts.length === 0) continue;
      out.push({ label: `${name} (${ts.length} thread${ts.length > 1 ? 's' : ''})`, group, threads: ts });
      if (ts.length > 1) single.push(...ts);
    }
    single.push(...ofKind('other'));
    const singleGroup = view.processes.length > 1 ? group : 'one thread';
    for (const i of single) out.push({ label: threadLabel(view.threads[i]!), group: singleGroup, threads: [i] });
  });
  return out;
}

function processLabel(view: ViewProfile, pi: number): string {
  const p = view.processes[pi]!;
  const who = p.pid !== undefined ? `pid ${p.pid}` : `process ${pi + 1}`;
  return p.command ? `${who}: ${p.command}` : who;
}

/** The facts of each process, as the page shows them (label, value). */
export function processFacts(view: ViewProfile): PageProcess[] {
  return view.processes.map((p, pi) => {
    const threads = view.threads.filter((t) => t.process === pi);
    const total = threads.reduce((a, t) => a + t.total, 0);
    const facts: Fact[] = [];
    if (p.command) facts.push(['command', p.command]);
    if (p.pid !== undefined) facts.push(['pid', String(p.pid)]);
    if (p.durationNanos > 0) facts.push(['duration', p.durationNanos, 'nanoseconds']);
    if (p.hz !== undefined) facts.push(['rate', `${p.hz} Hz${p.mode ? `, threads=${p.mode}` : ''}`]);
    const js = threads.filter(isJsThread).length;
    facts.push(['threads', `${threads.length}${js ? ` (${js} JS)` : ''}`]);
    facts.push([view.unit === 'nanoseconds' && /^cpu\b/.test(p.sampleType) ? 'CPU profiled' : `total ${p.sampleType}`, total, view.unit]);
    if (p.osCpuNanos !== undefined && p.osCpuNanos > 0 && view.unit === 'nanoseconds') {
      facts.push(['OS CPU', p.osCpuNanos, 'nanoseconds']);
      facts.push(['profiled ÷ OS', (total / p.osCpuNanos).toFixed(3)]);
    }
    if (p.samples !== undefined) facts.push(['samples', String(p.samples)]);
    facts.push(['value', p.sampleType]);
    facts.push(['file', p.file]);
    return { label: processLabel(view, pi), facts, comments: p.comments };
  });
}

/** The threads in the order the page lists them: by process, kind (main, workers, pool, V8, other), worker number, value. */
export function threadOrder(view: ViewProfile): number[] {
  const ts = view.threads;
  return ts.map((_, i) => i).sort((a, b) => ts[a]!.process - ts[b]!.process || KIND_ORDER[ts[a]!.kind] - KIND_ORDER[ts[b]!.kind]
    || workerNumber(ts[a]!) - workerNumber(ts[b]!) || ts[b]!.total - ts[a]!.total || a - b);
}

/** Builds the page data of a view. */
export function pageData(view: ViewProfile, options: { title?: string; generator?: string } = {}): PageData {
  const order = threadOrder(view);
  const newIndex = new Map<number, number>(order.map((old, i) => [old, i]));

  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const str = (s: string): number => {
    let i = stringIndex.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      stringIndex.set(s, i);
    }
    return i;
  };
  const frames = new VarintWriter();
  for (const f of view.frames) {
    frames.push(str(f.name));
    frames.push(str(f.file));
    frames.push(f.line);
    frames.push(FRAME_KINDS.indexOf(frameKind(f.name, f.file)));
  }

  // The trie: one root per thread, a node per distinct (parent, frame). Node numbers grow as nodes
  // are made, so a parent always comes before its children.
  const parent: number[] = [];
  const frameOf: number[] = [];
  const self: number[] = [];
  const child = new Map<number, number>();
  const nf = view.frames.length + 1;
  const roots = order.map((_, t) => {
    parent.push(-1);
    frameOf.push(t);
    self.push(0);
    return parent.length - 1;
  });
  for (const s of view.stacks) {
    let node = roots[newIndex.get(s.thread)!]!;
    for (const f of s.frames) {
      const key = node * nf + f;
      let next = child.get(key);
      if (next === undefined) {
        next = parent.length;
        parent.push(node);
        frameOf.push(f);
        self.push(0);
        child.set(key, next);
      }
      node = next;
    }
    self[node]! += s.value;
  }
  const nodes = new VarintWriter();
  const selfW = new VarintWriter();
  for (let i = 0; i < parent.length; i++) {
    nodes.push(parent[i]! < 0 ? 0 : i - parent[i]!);
    nodes.push(frameOf[i]!);
    selfW.push(Math.round(self[i]!));
  }

  const threads: PageThread[] = order.map((i) => {
    const t = view.threads[i]!;
    const out: PageThread = { name: t.name, process: t.process, kind: t.kind, total: Math.round(t.total) };
    if (t.tid !== undefined) out.tid = t.tid;
    return out;
  });
  const renumbered: ViewProfile = { ...view, threads: order.map((i) => view.threads[i]!) };
  const first = view.processes[0];
  return {
    format: 'ptprof-view 1',
    title: options.title ?? (first?.command ? `ptprof: ${first.command}` : `ptprof: ${first?.file ?? 'profile'}`),
    unit: view.unit,
    sampleType: view.sampleType,
    strings,
    frames: frames.base64(),
    threads,
    nodes: nodes.base64(),
    self: selfW.base64(),
    selections: selections(renumbered, order.map((_, i) => i)),
    processes: processFacts(view),
    generator: options.generator ?? 'ptprof',
  };
}
