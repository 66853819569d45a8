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

/**
 * Sorted, non-overlapping code ranges of one isolate. Each range may carry data of its own (the
 * symbolizer's inlining table of optimized code), which moves with it. A range may be added with
 * its code event's raw name, parsed only when a sample first looks it up: a process reports
 * thousands of functions (every builtin at start, every function V8 compiles) and its samples
 * name a few hundred (issue 14).
 */
export class CodeMap<T = unknown> {
  private starts: number[] = [];
  private ends: number[] = [];
  private infos: (FunctionInfo | string)[] = [];
  private datas: (T | undefined)[] = [];

  get size(): number {
    return this.starts.length;
  }

  /** Index of the last range starting at or below addr, or -1. */
  private floor(addr: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= addr) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  add(start: number, len: number, info: FunctionInfo | string, data?: T): void {
    const end = start + Math.max(1, len);
    // Whatever the new code overlaps was freed without a CODE_REMOVED: drop it.
    let i = this.floor(start);
    if (i >= 0 && this.ends[i] <= start) i++;
    if (i < 0) i = 0;
    let j = i;
    while (j < this.starts.length && this.starts[j] < end) j++;
    this.starts.splice(i, j - i, start);
    this.ends.splice(i, j - i, end);
    this.infos.splice(i, j - i, info);
    this.datas.splice(i, j - i, data);
  }

  /** The function of range i, its name parsed on first use. */
  private info(i: number): FunctionInfo {
    const x = this.infos[i]!;
    if (typeof x !== 'string') return x;
    const parsed = parseCodeName(x);
    this.infos[i] = parsed;
    return parsed;
  }

  remove(start: number): FunctionInfo | undefined {
    const i = this.floor(start);
    if (i < 0 || this.starts[i] !== start) return undefined;
    const info = this.info(i);
    this.starts.splice(i, 1);
    this.ends.splice(i, 1);
    this.infos.splice(i, 1);
    this.datas.splice(i, 1);
    return info;
  }

  move(from: number, to: number): boolean {
    const i = this.floor(from);
    if (i < 0 || this.starts[i] !== from) return false;
    const len = this.ends[i] - this.starts[i];
    const info = this.infos[i]!; // moved as it is, parsed or not
    const data = this.datas[i];
    this.remove(from);
    this.add(to, len, info, data);
    return true;
  }

  lookup(addr: number): FunctionInfo | undefined {
    const i = this.floor(addr);
    if (i < 0 || addr >= this.ends[i]) return undefined;
    return this.info(i);
  }

  /** The range that covers addr, with its start and data. */
  entry(addr: number): CodeEntry<T> | undefined {
    const i = this.floor(addr);
    if (i < 0 || addr >= this.ends[i]) return undefined;
    return { start: this.starts[i], info: this.info(i), data: this.datas[i] };
  }

  /** The function of the range that starts exactly at addr (a BYTE_CODE event's first bytecode). */
  at(addr: number): FunctionInfo | undefined {
    const i = this.floor(addr);
    return i >= 0 && this.starts[i] === addr ? this.info(i) : undefined;
  }
}
