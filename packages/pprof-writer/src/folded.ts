// Folded stacks ("collapsed" format of flamegraph.pl, speedscope, inferno):
//
//   root;caller;leaf 42
//
// Frames root first, joined with ';', then one space and the value. A frame is written
// `name (file:line)` when its file is known (`name (file)` when the line is not), else `name`.
// The characters that would break the format are percent-escaped in names and files:
// '%' -> %25, ';' -> %3B, '\n' -> %0A, '\r' -> %0D. Lines are merged (equal stacks summed), lines
// whose value is 0 are left out, and the lines are sorted (by UTF-16 code units).
import { normalize, type NormFrame } from './model';
export { NO_STACK_FRAME } from './model';
import { writeFileAtomic, writeFileAtomicSync } from './atomic';
import type { FoldedOptions, ProfileInput } from './types';


/** Escapes the characters that have a meaning in the folded format. */
export function escapeFoldedName(s: string): string {
  return s.replace(/[%;\n\r]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

function frameText(f: NormFrame): string {
  const name = escapeFoldedName(f.name);
  if (f.file === '') return name;
  const file = escapeFoldedName(f.file);
  return f.line > 0 ? `${name} (${file}:${f.line})` : `${name} (${file})`;
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
  const norm = normalize(input);
  const texts = norm.frames.map(frameText); // once per distinct frame
  const sums = new Map<string, number>();
  for (const row of norm.rows) {
    const parts: string[] = [];
    if (rootLabel !== undefined) {
      const l = row.labels.find(([k]) => k === rootLabel);
      parts.push(`[${l ? escapeFoldedName(String(l[1])) : '?'}]`);
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
export async function writeFoldedFile(path: string, input: ProfileInput, options: FoldedOptions = {}): Promise<void> {
  await writeFileAtomic(path, toFolded(input, options));
}

/** Synchronous writeFoldedFile. */
export function writeFoldedFileSync(path: string, input: ProfileInput, options: FoldedOptions = {}): void {
  writeFileAtomicSync(path, toFolded(input, options));
}
