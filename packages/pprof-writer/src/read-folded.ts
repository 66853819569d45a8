// Reading folded stacks back (the format of folded.ts, and flamegraph.pl's "collapsed" files from
// other tools): one stack per line, root first, then a space and the value. What the writer
// escapes (%, ;, CR, LF) is unescaped; a first frame written `[name]` is the writer's rootLabel
// (ptprof writes the thread's name there), not a function.
import type { FrameInput } from './types';

export interface FoldedStack {
  /** Leaf first, like SampleInput.frames. */
  frames: FrameInput[];
  /** The `[name]` root frame's name, when the line has one. */
  root?: string;
  value: number;
}

export interface FoldedProfile {
  stacks: FoldedStack[];
  /**
   * What the values are: CPU nanoseconds when every non-zero value is at least 1000 (what ptprof
   * writes with value 'cpu'), sample counts otherwise (flamegraph.pl's tools write counts).
   */
  unit: 'nanoseconds' | 'count';
}

function unescape(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a '%' that the writer did not escape: the text as it is
  }
}

/**
 * One frame of a folded line: `name (file:line)`, `name (file)` or `name`. The file is the last
 * parenthesised group after a space and holds no parentheses, so C++ names with their own
 * parentheses (`f(int) (/usr/bin/node)`) keep them.
 */
export function parseFoldedFrame(text: string): FrameInput {
  const m = /^(.*) \(([^()]*?)(?::(\d+))?\)$/.exec(text);
  if (!m || m[1] === '') return { name: unescape(text) };
  const frame: FrameInput = { name: unescape(m[1]!), file: unescape(m[2]!) };
  if (m[3] !== undefined) frame.line = Number(m[3]);
  return frame;
}

/** Parses folded stacks. Throws an Error naming the first line that is not `stack value`. */
export function parseFolded(text: string): FoldedProfile {
  const stacks: FoldedStack[] = [];
  let min = Infinity;
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.trim() === '') continue;
    const m = /^(.*) (\d+(?:\.\d+)?)$/.exec(l);
    if (!m) throw new Error(`line ${n} is not a folded-stacks line ('frame;frame;... value'): ${JSON.stringify(l.slice(0, 80))}`);
    const value = Number(m[2]);
    if (value > 0) min = Math.min(min, value);
    const parts = m[1]!.split(';');
    let root: string | undefined;
    if (parts.length > 1 && /^\[.*\]$/.test(parts[0]!)) root = unescape(parts.shift()!.slice(1, -1));
    const frames = parts.map(parseFoldedFrame).reverse();
    stacks.push(root === undefined ? { frames, value } : { frames, root, value });
  }
  if (stacks.length === 0) throw new Error('no folded stacks in it');
  return { stacks, unit: min >= 1000 ? 'nanoseconds' : 'count' };
}

/**
 * Whether these bytes are a pprof profile (gzipped or not) rather than text: folded stacks are
 * printable text, a protobuf starts with a field tag (0x0a: sample_type).
 */
export function isPprofBytes(buf: Uint8Array): boolean {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
  return buf.length > 0 && buf[0] === 0x0a;
}
