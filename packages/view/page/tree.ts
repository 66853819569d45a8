// The tree the page draws: the call trees of the selected threads merged into one (or kept apart
// under a node per thread), laid out for a flame graph, and the function table and search totals
// computed from it. Pure (no DOM), so that tests run it in Node (test/page-tree.test.ts).

/** A node's frame when it is the root of everything. */
const ROOT = -1;

interface Tree {
  n: number;
  /** -1 for the root (node 0). */
  parent: Int32Array;
  /** A frame (>= 0), ROOT, or -2 - t for the node of thread t (a tower per thread). */
  frame: Int32Array;
  self: Float64Array;
  total: Float64Array;
  depth: Int32Array;
  /** Where the node starts, in value units from the left edge of its root. */
  x: Float64Array;
  /** The nodes in pre-order (a parent before its children, the heaviest child first). */
  order: Int32Array;
  /** For the node at pre-order position i, the position just past its subtree. */
  end: Int32Array;
  /** The pre-order position of each node. */
  pos: Int32Array;
  /** Children of node j: childList[childStart[j] .. childStart[j + 1]), left to right. */
  childStart: Int32Array;
  childList: Int32Array;
  maxDepth: number;
}

/**
 * Merges the call trees of the threads t with selected[t] set. With `split`, each thread keeps its
 * own tower under a node of its own; without, equal stacks of different threads are one.
 */
function buildTree(d: Decoded, selected: Uint8Array, split: boolean): Tree {
  const cap = d.nNodes + 1;
  const parent = new Int32Array(cap);
  const frame = new Int32Array(cap);
  const self = new Float64Array(cap);
  const map = new Int32Array(d.nNodes).fill(-1);
  const keys = new Map<number, number>();
  const stride = d.nFrames + d.nThreads + 1;
  parent[0] = -1;
  frame[0] = ROOT;
  let n = 1;
  const child = (p: number, code: number, f: number): number => {
    const key = p * stride + code;
    let c = keys.get(key);
    if (c === undefined) {
      c = n++;
      parent[c] = p;
      frame[c] = f;
      keys.set(key, c);
    }
    return c;
  };
  for (let i = 0; i < d.nNodes; i++) {
    const p = d.nodeParent[i];
    if (p < 0) {
      const t = d.nodeFrame[i];
      if (selected[t]) map[i] = split ? child(0, d.nFrames + t, -2 - t) : 0;
      continue;
    }
    const mp = map[p];
    if (mp < 0) continue;
    const c = child(mp, d.nodeFrame[i], d.nodeFrame[i]);
    map[i] = c;
    self[c] += d.nodeSelf[i];
  }
  return layout(n, parent.slice(0, n), frame.slice(0, n), self.slice(0, n));
}

/** Totals, children (heaviest first), pre-order, depths and x positions of a tree whose parents come before their children. */
function layout(n: number, parent: Int32Array, frame: Int32Array, self: Float64Array): Tree {
  const total = self.slice();
  const size = new Int32Array(n).fill(1);
  const nChildren = new Int32Array(n + 1);
  for (let j = n - 1; j > 0; j--) {
    total[parent[j]] += total[j];
    size[parent[j]] += size[j];
    nChildren[parent[j]]++;
  }
  const childStart = new Int32Array(n + 1);
  for (let j = 0; j < n; j++) childStart[j + 1] = childStart[j] + nChildren[j];
  const fill = childStart.slice(0, n);
  const childList = new Int32Array(Math.max(0, n - 1));
  for (let j = 1; j < n; j++) childList[fill[parent[j]]++] = j;
  for (let j = 0; j < n; j++) {
    const a = childStart[j];
    const b = childStart[j + 1];
    if (b - a > 1) {
      const kids = Array.from(childList.subarray(a, b)).sort((u, v) => total[v] - total[u] || frame[u] - frame[v]);
      childList.set(kids, a);
    }
  }
  const order = new Int32Array(n);
  const pos = new Int32Array(n);
  const end = new Int32Array(n);
  const depth = new Int32Array(n);
  const x = new Float64Array(n);
  let maxDepth = 0;
  // Pre-order with an explicit stack (trees can be deeper than the JS stack allows for recursion).
  const stack = new Int32Array(n);
  let sp = 0;
  stack[sp++] = 0;
  let k = 0;
  while (sp > 0) {
    const j = stack[--sp];
    order[k] = j;
    pos[j] = k;
    end[k] = k + size[j];
    k++;
    let off = x[j];
    for (let c = childStart[j]; c < childStart[j + 1]; c++) {
      const ch = childList[c];
      x[ch] = off;
      off += total[ch];
      depth[ch] = depth[j] + 1;
      if (depth[ch] > maxDepth) maxDepth = depth[ch];
    }
    for (let c = childStart[j + 1] - 1; c >= childStart[j]; c--) stack[sp++] = childList[c];
  }
  return { n, parent, frame, self, total, depth, x, order, end, pos, childStart, childList, maxDepth };
}

interface FunctionRow {
  frame: number;
  flat: number;
  /** The value of the stacks the function is on, counted once per stack (recursion included). */
  cum: number;
}

/** Flat and cumulative value of every frame in the tree (threads' and the root's nodes left out). */
function functionRows(t: Tree, nFrames: number): FunctionRow[] {
  const flat = new Float64Array(nFrames);
  const cum = new Float64Array(nFrames);
  const onStack = new Int32Array(nFrames);
  const open = new Int32Array(t.maxDepth + 2); // positions of the nodes on the current path
  let sp = 0;
  for (let i = 0; i < t.n; i++) {
    while (sp > 0 && t.end[open[sp - 1]] <= i) {
      const f = t.frame[t.order[open[--sp]]];
      if (f >= 0) onStack[f]--;
    }
    const j = t.order[i];
    const f = t.frame[j];
    if (f >= 0) {
      flat[f] += t.self[j];
      if (onStack[f] === 0) cum[f] += t.total[j];
      onStack[f]++;
    }
    open[sp++] = i;
  }
  const rows: FunctionRow[] = [];
  for (let f = 0; f < nFrames; f++) if (cum[f] > 0) rows.push({ frame: f, flat: flat[f], cum: cum[f] });
  return rows;
}

/** The value of the stacks that pass through a matching frame (nested matches counted once). */
function matchedTotal(t: Tree, match: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < t.n; ) {
    const j = t.order[i];
    const f = t.frame[j];
    if (f >= 0 && match[f]) {
      sum += t.total[j];
      i = t.end[i];
    } else {
      i++;
    }
  }
  return sum;
}

/** Which frames' names match `query`: a case-insensitive regexp, or the text itself when it is not one. */
function matchFrames(d: Decoded, query: string): Uint8Array {
  const match = new Uint8Array(d.nFrames);
  let re: RegExp;
  try {
    re = new RegExp(query, 'i');
  } catch {
    re = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  }
  const byString = new Map<number, boolean>();
  for (let f = 0; f < d.nFrames; f++) {
    const s = d.frameName[f];
    let m = byString.get(s);
    if (m === undefined) {
      m = re.test(d.raw.strings[s]);
      byString.set(s, m);
    }
    if (m) match[f] = 1;
  }
  return match;
}
