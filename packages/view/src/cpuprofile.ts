// Chrome's .cpuprofile (the DevTools protocol's Profiler.Profile, what `node --cpu-prof` writes),
// one per JS thread, for Chrome DevTools and VS Code. A .cpuprofile has no weights: each sample
// stands for the time to the next one. So the CPU of each call-tree node is cut into equal
// quanta (the profile's period, e.g. 10 ms at 100 Hz) and each quantum is one sample; the
// samples are in call-tree order, so the "timeline" reads as a flame graph.
//
// How the readers count time, and what that asks of the file:
// - DevTools gives a node hitCount × (endTime - startTime) / (sum of hitCounts): the hitCounts are
//   the quanta and endTime - startTime their sum.
// - VS Code gives samples[i] the delta timeDeltas[i - 1] and nothing to samples[0]: the first
//   sample is the root (hitCount 0), and every delta is one quantum.
import { pathToFileURL } from 'node:url';
import { isJsThread, type ViewProfile } from './model';
import { threadOrder } from './page-data';
import { threadNames } from './speedscope';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
  hitCount: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds. */
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds between samples (the first from startTime). */
  timeDeltas: number[];
}

const TO_NS: Record<string, number> = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 };
/** Most samples per file: a long profile gets longer quanta rather than a huge file. */
const MAX_SAMPLES = 2_000_000;

function url(file: string): string {
  if (file === '' || /^[a-z][\w+.-]*:/i.test(file)) return file; // node:internal/..., file://, http://
  return file.startsWith('/') ? pathToFileURL(file).href : file;
}

/**
 * One .cpuprofile per JS thread (main, workers); a profile without JS threads (no thread labels,
 * another profiler's) gives one per thread, and one without samples one empty profile (thread -1).
 * Throws when the values are not times.
 */
export function toCpuprofiles(view: ViewProfile): { thread: number; name: string; profile: CpuProfile }[] {
  const toNs = TO_NS[view.unit];
  if (toNs === undefined) {
    throw new Error(`a .cpuprofile holds times, and this profile's values are ${view.unit} (${view.sampleType})`);
  }
  const names = threadNames(view);
  const js = view.threads.some(isJsThread);
  const out: { thread: number; name: string; profile: CpuProfile }[] = [];
  for (const ti of threadOrder(view)) {
    const t = view.threads[ti]!;
    if (js && !isJsThread(t)) continue;
    const hz = view.processes[t.process]?.hz;
    let quantum = hz ? 1e9 / hz : 1e6; // ns
    quantum = Math.max(quantum, (t.total * toNs) / MAX_SAMPLES);
    out.push({ thread: ti, name: names[ti]!, profile: threadProfile(view, ti, quantum / toNs, quantum / 1e3) });
  }
  // Nothing sampled (a process that ended at once): one empty profile, thread -1, so that the
  // file asked for is there and opens (a root and no time) rather than missing.
  if (out.length === 0) out.push({ thread: -1, name: 'main', profile: threadProfile(view, -1, 1, 1e3) });
  return out;
}

/** The .cpuprofile of thread `ti`: quanta of `quantum` (in the view's unit), `deltaUs` µs each. */
function threadProfile(view: ViewProfile, ti: number, quantum: number, deltaUs: number): CpuProfile {
  // The thread's call tree: node 0 is the root; children by frame.
  const frameOf: number[] = [-1];
  const self: number[] = [0];
  const total: number[] = [0];
  const kids: Map<number, number>[] = [new Map()];
  for (const s of view.stacks) {
    if (s.thread !== ti) continue;
    let n = 0;
    total[0]! += s.value;
    for (const f of s.frames) {
      let c = kids[n]!.get(f);
      if (c === undefined) {
        c = frameOf.length;
        frameOf.push(f);
        self.push(0);
        total.push(0);
        kids.push(new Map());
        kids[n]!.set(f, c);
      }
      n = c;
      total[n]! += s.value;
    }
    self[n]! += s.value;
  }
  // Ids in pre-order (VS Code takes samples[i] - 1 as an index into nodes: ids must be 1..n in order).
  const nodes: CpuProfileNode[] = [];
  const samples: number[] = [1];
  const scriptIds = new Map<string, string>([['', '0']]);
  let carry = 0; // rounding error carried along, so that the total stays within one quantum
  const stack: number[] = [0];
  const idOf = new Map<number, number>();
  while (stack.length) {
    const n = stack.pop()!;
    const id = nodes.length + 1;
    idOf.set(n, id);
    const f = frameOf[n]!;
    const frame = f >= 0 ? view.frames[f]! : undefined;
    const u = frame ? url(frame.file) : '';
    if (!scriptIds.has(u)) scriptIds.set(u, String(scriptIds.size));
    const exact = n === 0 ? 0 : self[n]! / quantum + carry;
    const hits = Math.max(0, Math.round(exact));
    carry = exact - hits;
    for (let k = 0; k < hits; k++) samples.push(id);
    const known = frame !== undefined && frame.line > 0;
    nodes.push({
      id,
      callFrame: {
        functionName: frame ? frame.name : '(root)',
        scriptId: scriptIds.get(u)!,
        url: u,
        lineNumber: known ? frame.line - 1 : -1,
        columnNumber: known ? 0 : -1,
      },
      hitCount: hits,
    });
    // The heaviest child first: pushed last.
    const children = [...kids[n]!.values()].sort((a, b) => total[a]! - total[b]!);
    for (const c of children) stack.push(c);
  }
  // Children ids, now that every node has one.
  for (let n = 0; n < frameOf.length; n++) {
    const ch = [...kids[n]!.values()];
    if (ch.length) nodes[idOf.get(n)! - 1]!.children = ch.map((c) => idOf.get(c)!).sort((a, b) => a - b);
  }
  const n = samples.length - 1;
  return {
    nodes,
    startTime: 0,
    endTime: Math.round(n * deltaUs),
    samples,
    timeDeltas: samples.map(() => deltaUs),
  };
}
