// Folded stacks ("collapsed" format of flamegraph.pl, speedscope, inferno):
//
//   root;caller;leaf 42
//
// Frames root first, joined with ';', then one space and the value. A frame is written
// `name (file:line)` when its file is known (`name (file)` when the line is not), else `name`; the
// line is the function's first (startLine), so that a function is one frame of a flame graph
// however many of its lines were sampled (pprof keeps the executing lines).
// The characters that would break the format are percent-escaped in names and files:
// '%' -> %25, ';' -> %3B, '\n' -> %0A, '\r' -> %0D. Lines are merged (equal stacks summed), lines
// whose value is 0 are left out, and the lines are sorted (by UTF-16 code units).
import { normalize, type NormFrame, type NormRow } from './model';
export { NO_STACK_FRAME } from './model';
import { writeFileAtomic, writeFileAtomicSync, type FileIdentity } from './atomic';
import { ProfileReadError, rankTopRows, type TopRow } from './read';
import type { FoldedOptions, FrameInput, ProfileInput } from './types';


/** Escapes the characters that have a meaning in the folded format. */
export function escapeFoldedName(s: string): string {
  return s.replace(/[%;\n\r]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

function frameText(f: NormFrame): string {
  const name = escapeFoldedName(f.name);
  if (f.file === '') return name;
  const file = escapeFoldedName(f.file);
  const line = f.startLine > 0 ? f.startLine : f.line;
  return line > 0 ? `${name} (${file}:${line})` : `${name} (${file})`;
}

/** Renders the profile as folded stacks, one line per distinct stack, each ending with '\n'. */
export function toFolded(input: ProfileInput, options: FoldedOptions = {}): string {
  const value = options.value ?? 'samples';
  if (value !== 'samples' && value !== 'cpu') {
    throw new TypeError(`pprof-writer: options.value must be 'samples' or 'cpu', got ${String(value)}`);
  }
  const rootLabel = options.rootLabel;
  if (rootLabel !== undefined && (typeof rootLabel !== 'string' || rootLabel === '')) {
    throw new TypeError('pprof-writer: options.rootLabel must be a non-empty string');
  }
  if (options.rootFrames !== undefined && typeof options.rootFrames !== 'function') {
    throw new TypeError('pprof-writer: options.rootFrames must be a function');
  }
  const rootFrames = options.rootFrames
    ?? (rootLabel === undefined ? undefined : (labels: Readonly<Record<string, string | number>>) => [String(labels[rootLabel] ?? '?')]);
  const norm = normalize(input);
  const texts = norm.frames.map(frameText); // once per distinct frame
  // Rows share their label sets: the root frames are made once per set.
  const rootsOf = new Map<NormRow['labels'], string[]>();
  const sums = new Map<string, number>();
  for (const row of norm.rows) {
    let parts: string[] = [];
    if (rootFrames !== undefined) {
      let roots = rootsOf.get(row.labels);
      if (!roots) {
        roots = rootFrames(Object.fromEntries(row.labels)).map((r) => `[${escapeFoldedName(r)}]`);
        rootsOf.set(row.labels, roots);
      }
      parts = [...roots];
    }
    for (let i = row.frameIds.length - 1; i >= 0; i--) parts.push(texts[row.frameIds[i]!]!);
    const stack = parts.join(';');
    const v = value === 'samples' ? row.count : row.cpuNanos;
    sums.set(stack, (sums.get(stack) ?? 0) + v);
  }
  const lines: string[] = [];
  for (const [stack, v] of sums) {
    const n = Math.round(v);
    if (n > 0) lines.push(`${stack} ${n}`);
  }
  lines.sort();
  return lines.map((l) => l + '\n').join('');
}

/** Writes toFolded(input, options) to `path` atomically (temporary file + rename). */
export async function writeFoldedFile(path: string, input: ProfileInput, options: FoldedOptions = {}): Promise<FileIdentity> {
  return writeFileAtomic(path, toFolded(input, options));
}

/** Synchronous writeFoldedFile; returns the written file's identity (device, inode, size). */
export function writeFoldedFileSync(path: string, input: ProfileInput, options: FoldedOptions = {}): FileIdentity {
  return writeFileAtomicSync(path, toFolded(input, options));
}

// Reading folded stacks back: the inverse of the above, for any folded file (flamegraph.pl's
// stackcollapse scripts, inferno, speedscope), not only the ones written here. What the writer
// escapes is unescaped; a first frame written `[name]` is the writer's rootLabel (ptprof writes
// the thread's name there), not a function. ptprof top and @ptprof/view both read through here.

/** One line of a folded file. */
export interface FoldedStack {
  /** Leaf first, like SampleInput.frames (so a stack can be written again as it is). */
  frames: FrameInput[];
  /** The `[name]` root frame's name (the writer's rootLabel: the thread); absent when the line has none. */
  root?: string;
  /**
   * Every leading `[name]` frame, outermost first, when there are several (a merged process
   * tree's `[process (pid N)];[thread]`); `root` is the last of them.
   */
  roots?: string[];
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

function unescapeFolded(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a '%' that the writer did not escape: the text as it is
  }
}

/**
 * One frame of a folded line: `name (file:line)`, `name (file)` or `name`, percent-escaped. The
 * file is the last parenthesised group after a space and holds no parentheses, so C++ names with
 * their own parentheses (`f(int) (/usr/bin/node)`, `v8::(anonymous namespace)::g()`) keep them.
 */
export function parseFoldedFrame(text: string): FrameInput {
  const m = /^(.*) \(([^()]*?)(?::(\d+))?\)$/.exec(text);
  if (!m || m[1] === '') return { name: unescapeFolded(text) };
  const frame: FrameInput = { name: unescapeFolded(m[1]!), file: unescapeFolded(m[2]!) };
  if (m[3] !== undefined) frame.line = Number(m[3]);
  return frame;
}

/**
 * Parses folded stacks (`a;b;c 123` lines; blank lines and a CR before the LF are skipped). Throws
 * a ProfileReadError: 'not-profile' naming the first line that is not `stack value`, or when there
 * is no line at all; 'invalid' when the values add up beyond 2^53 (no total could be honest).
 */
export function parseFolded(text: string): FoldedProfile {
  const stacks: FoldedStack[] = [];
  let total = 0;
  let min = Infinity;
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.trim() === '') continue;
    const m = /^(.*) (\d+(?:\.\d+)?)$/.exec(l);
    if (!m) {
      throw new ProfileReadError('not-profile', `is not folded stacks: line ${n} is ${JSON.stringify(l.slice(0, 80))}, not 'frame;frame;... value'`);
    }
    const value = Number(m[2]);
    total += value;
    if (!Number.isSafeInteger(Math.ceil(total))) throw new ProfileReadError('invalid', 'is not valid folded stacks: the values add up beyond 2^53');
    if (value > 0) min = Math.min(min, value);
    const parts = m[1]!.split(';');
    const roots: string[] = [];
    while (parts.length > 1 && /^\[.*\]$/.test(parts[0]!)) roots.push(unescapeFolded(parts.shift()!.slice(1, -1)));
    const frames = parts.map(parseFoldedFrame).reverse();
    const stack: FoldedStack = { frames, value };
    if (roots.length > 0) stack.root = roots[roots.length - 1]!;
    if (roots.length > 1) stack.roots = roots;
    stacks.push(stack);
  }
  if (stacks.length === 0) throw new ProfileReadError('not-profile', 'holds no folded stacks');
  return { stacks, unit: min >= 1000 ? 'nanoseconds' : 'count' };
}

/** The `top` table of folded stacks: flat and cum per (name, file), in the unit parseFolded found. */
export function topOfFolded(text: string, n = Infinity): { rows: TopRow[]; total: number; unit: FoldedProfile['unit'] } {
  const folded = parseFolded(text);
  const flat = new Map<string, number>();
  const cum = new Map<string, number>();
  let total = 0;
  for (const s of folded.stacks) {
    total += s.value;
    const keys = s.frames.map((f) => JSON.stringify([f.name, f.file ?? '']));
    flat.set(keys[0]!, (flat.get(keys[0]!) ?? 0) + s.value);
    for (const k of new Set(keys)) cum.set(k, (cum.get(k) ?? 0) + s.value);
  }
  return { rows: rankTopRows(flat, cum, total, n), total, unit: folded.unit };
}
