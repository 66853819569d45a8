// Address -> function, from V8's JIT code events, replayed in order.
//
// V8 reports CODE_ADDED with a name such as "JS:*fib /path/x.js:3:13" ('*' optimized, '^'
// baseline, '~' interpreted: interpreted frames are bytecode-array addresses and resolve against
// BYTE_CODE entries), CODE_MOVED when a full GC compacts, and seldom CODE_REMOVED. Code that the
// GC frees is not always reported: an entry that new code overlaps is stale and goes.
//
// The tier marker before the name differs between V8 versions (see TIER_MARKER):
//   Node 20, 22 (V8 11.3, 12.4): '~' interpreted, '^' Sparkplug, '*' TurboFan ('+' Maglev in 22
//                                 when it runs);
//   Node 24 (V8 13.6):            also '+' Maglev, and a trailing "'" for code specialized to its
//                                 context: "*'" and "+'";
//   Node 26 (V8 14.6):            also a leading 'o' for on-stack-replacement code: "o*", "o+".
// Without the marker parsed, "JS:*'fib" would be named "'fib" and "JS:o*fib" "o*fib".
import { fileURLToPath } from 'node:url';

export interface FunctionInfo {
  name: string;
  file: string;
  line: number;
  column: number;
  /** The event's own name, e.g. "JS:*fib /x.js:3:13" or "Builtin:ArrayPrototypePush". */
  systemName: string;
  /** 'js' | 'builtin' | 'stub' | 'regexp' | 'wasm' | 'other' */
  kind: string;
  /** The tier: '*' TurboFan, '+' Maglev, '^' Sparkplug (baseline), '~' interpreted, '' otherwise
   *  (the marker as V8 wrote it, e.g. "o*" or "*'", is in systemName). */
  tier: string;
}

const URL_START = /^(\/|file:|node:|\[|https?:|evalmachine|data:|[A-Za-z]:\\)/;

function toPath(url: string): string {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch {
      return url;
    }
  }
  return url;
}

// The tier marker of a "JS:" name: an optional 'o' (on-stack replacement, V8 14+) before an
// optimizing tier, the tier ('*' TurboFan, '+' Maglev, '^' Sparkplug, '~' interpreted, '-' kept
// from older V8s), and an optional "'" (context-specialized, V8 13+) after an optimizing tier.
// Group 2 is the tier. An 'o' or "'" elsewhere belongs to the name ("JS:~outer", "JS:~'x'").
const TIER_MARKER = /^(o(?=[*+]))?([*^~+-])((?<=[*+])')?/;

const parsed = new Map<string, FunctionInfo>();

/** Parses a code event's name; results are shared between identical names. */
export function parseCodeName(raw: string): FunctionInfo {
  const hit = parsed.get(raw);
  if (hit) return hit;
  let info: FunctionInfo;
  const colon = raw.indexOf(':');
  const prefix = colon > 0 ? raw.slice(0, colon) : '';
  if (prefix === 'JS' || prefix === 'Script') {
    // "Script:~ /path/x.js:1:1" is a script's top-level code.
    let rest = raw.slice(prefix.length + 1);
    const marker = TIER_MARKER.exec(rest);
    const tier = marker ? marker[2] : '';
    if (marker) rest = rest.slice(marker[0].length);
    let name = rest;
    let file = '';
    let line = 0;
    let column = 0;
    const pos = /:(\d+):(\d+)$/.exec(rest);
    if (pos) {
      const head = rest.slice(0, pos.index);
      // The script follows the last space that starts something shaped like a URL or path; a
      // name may contain spaces ("get x"), so the first space is not the separator.
      let split = -1;
      for (let i = head.indexOf(' '); i >= 0; i = head.indexOf(' ', i + 1)) {
        if (URL_START.test(head.slice(i + 1))) split = i;
      }
      if (split < 0) split = head.lastIndexOf(' ');
      if (split >= 0) {
        name = head.slice(0, split);
        file = toPath(head.slice(split + 1));
        line = Number(pos[1]);
        column = Number(pos[2]);
      }
    } else {
      const sp = rest.lastIndexOf(' ');
      if (sp >= 0) {
        name = rest.slice(0, sp);
        file = toPath(rest.slice(sp + 1));
      }
    }
    info = { name: name.trim() || (prefix === 'Script' ? '(script)' : '(anonymous)'), file, line, column, systemName: raw, kind: 'js', tier };
  } else {
    const kinds: Record<string, string> = { Builtin: 'builtin', Stub: 'stub', RegExp: 'regexp', BytecodeHandler: 'builtin' };
    const kind = kinds[prefix] ?? (raw.startsWith('wasm') ? 'wasm' : 'other');
    info = { name: raw, file: '', line: 0, column: 0, systemName: raw, kind, tier: '' };
  }
  parsed.set(raw, info);
  return info;
}

/** A code range found by CodeMap.entry: where it starts, its function, and what it carries. */
export interface CodeEntry<T> {
  start: number;
  info: FunctionInfo;
  data: T | undefined;
}

/** A run of ranges in address order, stored as parallel arrays. */
interface Chunk<T> {
  starts: number[];
  ends: number[];
  infos: (FunctionInfo | string)[];
  datas: (T | undefined)[];
}

/** A chunk is split in two when it grows past this many ranges. */
const CHUNK_MAX = 1024;

/**
 * Sorted, non-overlapping code ranges of one isolate. Each range may carry data of its own (the
 * symbolizer's inlining table of optimized code), which moves with it. A range may be added with
 * its code event's raw name, parsed only when a sample first looks it up: a process reports
 * thousands of functions (every builtin at start, every function V8 compiles) and its samples
 * name a few hundred (issue 14).
 *
 * The ranges are kept in chunks of at most CHUNK_MAX, each sorted, the chunks in order: an insert
 * moves at most a chunk's entries. One sorted array made N inserts cost N^2/2 moves: 18 ms for
 * 20,000 code objects (TypeScript's tsc reports about that many), 311 ms for 50,000, on the
 * profiled program's main thread (issue 14).
 */
export class CodeMap<T = unknown> {
  private chunks: Chunk<T>[] = [];
  private count = 0;
  // Where floor() found its range: chunk index and index in it.
  private fc = 0;
  private fi = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the last chunk whose first range starts at or below addr, or -1. */
  private chunkOf(addr: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.chunks[mid]!.starts[0]! <= addr) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /** Index of the first of starts above addr. */
  private static above(starts: readonly number[], addr: number): number {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Finds the last range starting at or below addr (into fc, fi); false when there is none. */
  private floor(addr: number): boolean {
    const c = this.chunkOf(addr);
    if (c < 0) return false;
    this.fc = c;
    this.fi = CodeMap.above(this.chunks[c]!.starts, addr) - 1;
    return true;
  }

  private removeAt(c: number, i: number): void {
    const ch = this.chunks[c]!;
    ch.starts.splice(i, 1);
    ch.ends.splice(i, 1);
    ch.infos.splice(i, 1);
    ch.datas.splice(i, 1);
    this.count--;
    if (ch.starts.length === 0) this.chunks.splice(c, 1);
  }

  add(start: number, len: number, info: FunctionInfo | string, data?: T): void {
    const end = start + Math.max(1, len);
    // Past every range: appended, nothing to drop (a quarter of the adds at a sampler's start).
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.ends[last.ends.length - 1]! <= start && last.starts.length < CHUNK_MAX) {
      last.starts.push(start);
      last.ends.push(end);
      last.infos.push(info);
      last.datas.push(data);
      this.count++;
      return;
    }
    // Whatever the new code overlaps was freed without a CODE_REMOVED: drop it. The ranges are
    // sorted and disjoint, so the first that can overlap is the floor of start or the one after.
    for (;;) {
      let c = 0;
      let i = 0;
      if (this.floor(start)) {
        c = this.fc;
        i = this.fi;
        if (this.chunks[c]!.ends[i]! <= start && ++i === this.chunks[c]!.starts.length) {
          c++;
          i = 0;
        }
      }
      if (c >= this.chunks.length || this.chunks[c]!.starts[i]! >= end) break;
      this.removeAt(c, i);
    }
    this.count++;
    let c = this.chunkOf(start);
    if (c < 0) {
      if (this.chunks.length === 0) {
        this.chunks.push({ starts: [start], ends: [end], infos: [info], datas: [data] });
        return;
      }
      c = 0;
    }
    const ch = this.chunks[c]!;
    const i = CodeMap.above(ch.starts, start);
    ch.starts.splice(i, 0, start);
    ch.ends.splice(i, 0, end);
    ch.infos.splice(i, 0, info);
    ch.datas.splice(i, 0, data);
    if (ch.starts.length > CHUNK_MAX) {
      const half = ch.starts.length >>> 1;
      this.chunks.splice(c + 1, 0, {
        starts: ch.starts.splice(half), ends: ch.ends.splice(half), infos: ch.infos.splice(half), datas: ch.datas.splice(half),
      });
    }
  }

  /** The function of the range found by floor(), its name parsed on first use. */
  private info(): FunctionInfo {
    const ch = this.chunks[this.fc]!;
    const x = ch.infos[this.fi]!;
    if (typeof x !== 'string') return x;
    const parsed = parseCodeName(x);
    ch.infos[this.fi] = parsed;
    return parsed;
  }

  /** floor(addr), and the range found covers addr. */
  private covering(addr: number): boolean {
    return this.floor(addr) && addr < this.chunks[this.fc]!.ends[this.fi]!;
  }

  /** floor(addr), and the range found starts at addr. */
  private startingAt(addr: number): boolean {
    return this.floor(addr) && this.chunks[this.fc]!.starts[this.fi] === addr;
  }

  remove(start: number): FunctionInfo | undefined {
    if (!this.startingAt(start)) return undefined;
    const info = this.info();
    this.removeAt(this.fc, this.fi);
    return info;
  }

  move(from: number, to: number): boolean {
    if (!this.startingAt(from)) return false;
    const ch = this.chunks[this.fc]!;
    const len = ch.ends[this.fi]! - from;
    const info = ch.infos[this.fi]!; // moved as it is, parsed or not
    const data = ch.datas[this.fi];
    this.removeAt(this.fc, this.fi);
    this.add(to, len, info, data);
    return true;
  }

  lookup(addr: number): FunctionInfo | undefined {
    return this.covering(addr) ? this.info() : undefined;
  }

  /** The range that covers addr, with its start and data. */
  entry(addr: number): CodeEntry<T> | undefined {
    if (!this.covering(addr)) return undefined;
    const ch = this.chunks[this.fc]!;
    return { start: ch.starts[this.fi]!, info: this.info(), data: ch.datas[this.fi] };
  }

  /** The function of the range that starts exactly at addr (a BYTE_CODE event's first bytecode). */
  at(addr: number): FunctionInfo | undefined {
    return this.startingAt(addr) ? this.info() : undefined;
  }
}
