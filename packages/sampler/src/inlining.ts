// Inlined frames: a pc in optimized code -> the functions V8 inlined there, innermost first.
//
// V8 inlines small hot functions into their callers (TurboFan on every Node, Maglev too from
// Node 24), so the code object a pc lies in names only the outermost function. For every optimized
// code object the native layer copies V8's own record of what it inlined where (src/inline.cc of
// @ptprof/timers-native): its source position table (pc offset -> line, column and inlining id)
// and, per inlining id, the call site in the caller and the inlined function, named by the address
// of its first bytecode. Here the table is resolved against the code map when its CODE_ADDED event
// is replayed (so names are those of V8's BYTE_CODE events, as of that moment), and a pc is
// expanded into frames: the innermost inlined function with the line it was executing, then each
// caller with the line of its call, down to the code's own function.
//
// Fail closed: a table whose code's own function, as read from V8's heap, is not the function
// V8 named the code after is rejected; a pc whose chain reaches a function without a name keeps
// the outer frame alone; and for code optimized before ptprof turned V8's detailed positions on
// (positions at calls only) the table places return addresses (calls) but not a leaf pc. Each
// such frame is counted (unexpanded), never given a wrong name.
import { IE, IS, INLINE_ENTRY, INLINE_SITE, type Binding, type DrainCounters, type InlineTable } from '@ptprof/timers-native';
import type { CodeMap, FunctionInfo } from './codemap';
import type { Frame, ProfileFacts, ProfileStats } from './profile';
import type { InliningStats } from './symbolizer';

export interface Inlining {
  table: InlineTable;
  /** The inlined functions, as V8's BYTE_CODE events named them; undefined: no event names it. */
  functions: (FunctionInfo | undefined)[];
  /** Expansions made so far, by entry: leaf-first frames, or null when one cannot be named. */
  cache: Map<number, Frame[] | null>;
  /** A table of a listing, waiting for the listing's end to be resolved (Symbolizer, pending). */
  unresolved?: boolean;
}

/** Makes (or reuses) the frame of a function at an executing line (columns are not kept: see Symbolizer). */
export type FrameMaker = (info: FunctionInfo, line: number, inlined: boolean) => Frame;

const ENTRY = INLINE_ENTRY.length;
const SITE = INLINE_SITE.length;

/**
 * Resolves a table when its code's CODE_ADDED is replayed: names its inlined functions from the
 * map as it is then. Undefined when the table fails the check of its own function (`own`: the
 * function V8 named the code after, which the table's own first bytecode must name too).
 */
export function resolveInlining(table: InlineTable, own: FunctionInfo, map: CodeMap<unknown>): Inlining | undefined {
  const mine = table.outer > 0 ? map.at(table.outer) : undefined;
  if (!mine || mine.name !== own.name || mine.file !== own.file || mine.line !== own.line || mine.column !== own.column) return undefined;
  const functions = table.functions.map((a) => (a > 0 ? map.at(a) : undefined));
  // Lines come from the scripts' line tables: every position of a function must be at or after
  // its own start, as V8 named it. A table that says otherwise was read wrong: refused whole.
  const { entries, sites } = table;
  const fnOf = (site: number): FunctionInfo | undefined => (site < 0 ? own : functions[sites[site * SITE + IS.function]]);
  const after = (fn: FunctionInfo | undefined, line: number, column: number): boolean =>
    !fn || line === 0 || line > fn.line || (line === fn.line && column >= fn.column);
  for (let e = 0; e < entries.length; e += ENTRY) {
    if (!after(fnOf(entries[e + IE.site]), entries[e + IE.line], entries[e + IE.column])) return undefined;
  }
  for (let s = 0; s < sites.length; s += SITE) {
    if (!after(fnOf(sites[s + IS.caller]), sites[s + IS.line], sites[s + IS.column])) return undefined;
  }
  return { table, functions, cache: new Map() };
}

/** The index of the last entry at or before pc offset `off`, or -1. */
function entryAt(entries: Int32Array, off: number): number {
  let lo = 0;
  let hi = entries.length / ENTRY - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid * ENTRY + IE.pcOffset] <= off) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/**
 * The frames at pc offset `off` of the code whose own function is `own`, leaf first: inlined
 * functions (inlined: true) then `own`. null when a function of the chain has no name (the caller
 * then keeps the outer frame alone).
 */
export function expandInlined(inl: Inlining, own: FunctionInfo, off: number, frame: FrameMaker): Frame[] | null {
  const { entries, sites } = inl.table;
  const k = entryAt(entries, off);
  let hit = inl.cache.get(k);
  if (hit !== undefined) return hit;
  if (k < 0) {
    // Before the first position (the function's entry): the function's own line.
    hit = [frame(own, 0, false)];
  } else {
    const e = k * ENTRY;
    let line = entries[e + IE.line];
    let site = entries[e + IE.site];
    const out: Frame[] = [];
    // A caller is always an earlier inlining id than its callees (checked natively), so this ends.
    while (site >= 0) {
      const s = site * SITE;
      const fn = inl.functions[sites[s + IS.function]];
      if (!fn) break;
      out.push(frame(fn, line, true));
      line = sites[s + IS.line];
      site = sites[s + IS.caller];
    }
    hit = site >= 0 ? null : [...out, frame(own, line, false)];
  }
  inl.cache.set(k, hit);
  return hit;
}

/**
 * A profile's inlining stats: the symbolizer's counts since `from`, the addon's counters between
 * two drains (c0, c), and why tables are not read ('' when they are).
 */
export function inliningStats(
  now: InliningStats, from: InliningStats, c: DrainCounters | undefined, c0: DrainCounters | undefined, off: string,
): ProfileStats['inlining'] {
  const d = (k: 'inlineTables' | 'inlineFailures' | 'inlineSkipped' | 'inlineNs'): number => (c && c0 ? c[k] - c0[k] : 0);
  return {
    optimized: now.optimized - from.optimized,
    inlined: now.inlined - from.inlined,
    unexpanded: now.unexpanded - from.unexpanded,
    early: now.early - from.early,
    rejected: now.rejected - from.rejected,
    tables: d('inlineTables'),
    failures: d('inlineFailures'),
    skipped: d('inlineSkipped'),
    readNs: d('inlineNs'),
    off,
  };
}

/** The profile's facts about inlining: what could not be expanded is said, never guessed. */
export function inliningFacts(st: ProfileStats['inlining']): ProfileFacts {
  return {
    'inline.optimized_frames': st.optimized,
    'inline.inlined_frames': st.inlined,
    'inline.unexpanded_frames': st.unexpanded,
    'inline.early_frames': st.early,
    'inline.tables': st.tables,
    'inline.failures': st.failures + st.rejected,
    'inline.read_nanos': st.readNs,
    ...(st.off ? { 'inline.off': st.off } : {}),
  };
}

/** Why the addon does not read inlining tables ('' when it does). */
export function inliningOff(n: Binding): string {
  try {
    const s = n.inlineStatus();
    return s.enabled ? '' : s.reason || 'off';
  } catch {
    return 'the addon cannot read inlining';
  }
}
