// Mapping the frames of one script through its map.
//
// V8 gives a JS frame the position of its function's start: for `function query2(key) {` the
// parameter list's '(' (the first parameter for `x => ...`). That position is looked up in the
// map (the mapping at or before it on its generated line): its original file, line and column are
// the function's. The original name comes from the map's `names`, from the mapping of the
// function's own identifier: the nearest named mapping before the start on the same generated
// line whose identifier is the one V8 named the function by (`query2` -> names "query"). When the
// generated code is known, the identifier is checked in it, with only `=`, `:`, `async`,
// `function`, `*` or `class{...constructor` between it and the parameters; without it (a map
// from Node's cache for code transpiled in memory) only an identifier that ends right at the '('
// counts. Otherwise V8's name stays, except when V8 gave none: then the name the original code
// gives the function (see nameInOriginal). A frame that also has `startLine` (the executing line
// is known) maps the start and the executing position separately.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tm, type LoadedMap } from './locate';
import type { MappableFrame } from './types';

/** [generated column, source index, original line, original column, name index?], 0-based. */
type Segment = readonly number[];

export interface ScriptResult {
  /** Input frame -> its mapped frame; frames left as they were are absent. */
  mapped: Map<MappableFrame, MappableFrame>;
  /**
   * Distinct frames mapped, and not mapped because the map does not cover them. A frame is a
   * function (its start): a function sampled at several executing lines (optimized code) is one.
   */
  mappedFrames: number;
  unmappedFrames: number;
  /** Distinct frames (functions) whose mapping points outside the map's sources, and why (the first). */
  outsideFrames: number;
  outsideReason?: string;
}

/** Paths as written in the profile: relative to cwd when under it; file: URLs as paths. */
export class PathDisplay {
  constructor(private readonly cwd: string) {}

  show(p: string): string {
    let file = p;
    if (file.startsWith('file:')) {
      try {
        file = fileURLToPath(file);
      } catch {
        return p;
      }
    }
    if (!path.isAbsolute(file)) return file;
    const rel = path.relative(this.cwd, file);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
  }
}

/** The text of original sources, from the map's sourcesContent or the file on disk; one read per file. */
export class OriginalSources {
  private readonly lines = new Map<string, string[] | undefined>();

  /** The source's lines, or undefined when neither the map nor the disk has it. */
  get(source: string, content: string | null | undefined): string[] | undefined {
    if (this.lines.has(source)) return this.lines.get(source);
    let text: string | undefined = typeof content === 'string' ? content : undefined;
    if (text === undefined) {
      try {
        const file = source.startsWith('file:') ? fileURLToPath(source) : source;
        if (path.isAbsolute(file)) text = fs.readFileSync(file, 'utf8');
      } catch {
        text = undefined; // not on disk: nothing to check against
      }
    }
    const lines = text?.split('\n');
    this.lines.set(source, lines);
    return lines;
  }
}

/**
 * The name the original code gives a function V8 left anonymous (an arrow wrapped in a helper call,
 * as esbuild's `__name(...)` under tsx; a function expression whose name the minifier dropped):
 * `function NAME(` at its original start, or `NAME = (`, `NAME: T = (`, `NAME: function (` just
 * before it, as V8 itself would have inferred from the original.
 */
export function nameInOriginal(line: string, col0: number): string | undefined {
  const after = /^function\s*\*?\s*([\w$]+)\s*\(/.exec(line.slice(col0));
  if (after) return after[1];
  const before = line.slice(0, col0);
  const m = /([\w$]+)\s*(?::[^=;(){}]*)?=\s*(?:async\s*)?(?:function\b\s*\*?\s*)?\(?\s*$/.exec(before)
    ?? /([\w$]+)\s*:\s*(?:async\s*)?(?:function\b\s*\*?\s*)?\(?\s*$/.exec(before);
  return m ? m[1] : undefined;
}

/** What may stand between a function's identifier and its parameters in generated code. */
const BETWEEN_NAME_AND_PARAMS = /^[\s=:*]*(?:async\b[\s*]*)?(?:function\b[\s*]*(?:[\w$]+\s*)?)?$|^\s*=\s*class\b.*\bconstructor\s*$/;
/** How far back (segments, columns) the function's identifier is looked for. */
const NAME_SEGMENTS_BACK = 8;
const NAME_COLUMNS_BACK = 256;

interface Position {
  segs: readonly Segment[];
  i: number;
}

/** Maps `frames` (all of script `script`) through `loaded`. */
export function mapScript(loaded: LoadedMap, script: string, frames: readonly MappableFrame[], display: PathDisplay): ScriptResult {
  const map = loaded.map;
  const lines = tm().decodedMappings(map) as readonly (readonly Segment[])[];
  const sources = map.resolvedSources;
  const contents = map.sourcesContent ?? [];
  const names = map.names;
  const originals = new OriginalSources();
  const original = (seg: Segment): string[] | undefined => originals.get(sources[seg[1]]!, contents[seg[1]]);
  const scriptShown = display.show(script);
  let textLines: string[] | undefined;
  const lineText = (line1: number): string | undefined => {
    if (loaded.text === undefined) return undefined;
    textLines ??= loaded.text.split('\n');
    return textLines[line1 - 1];
  };

  const result: ScriptResult = { mapped: new Map(), mappedFrames: 0, unmappedFrames: 0, outsideFrames: 0 };

  // The mapping at or before (line, column) on that generated line, or its first when the column is unknown.
  const lookup = (line1: number | undefined, col1: number | undefined): Position | undefined => {
    if (!line1 || line1 < 1) return undefined;
    const segs = lines[line1 - 1];
    if (!segs || segs.length === 0) return undefined;
    let i = 0;
    if (col1 && col1 > 0) {
      const col0 = col1 - 1;
      let lo = 0;
      let hi = segs.length - 1;
      i = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (segs[mid][0] <= col0) {
          i = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (i < 0) i = 0; // before the line's first mapping: that one
    } else {
      // A line without a column (an executing line in optimized code): its first mapping that has
      // an original place.
      while (i < segs.length - 1 && segs[i].length < 4) i++;
    }
    // A segment of one field marks generated code with no original (a bundler's runtime).
    return segs[i].length >= 4 ? { segs, i } : undefined;
  };

  // Why a mapping cannot be used: a source the map does not list, or a line past its end.
  const outside = (seg: Segment): string | undefined => {
    // (resolvedSources turns a null source into the map's directory: the raw list says what the map gave.)
    if (seg[1] >= sources.length || map.sources[seg[1]] === null || map.sources[seg[1]] === undefined) {
      return `a mapping names source #${seg[1]}, which the map does not list (it lists ${sources.length})`;
    }
    const n = original(seg)?.length;
    if (n !== undefined && seg[2] + 1 > n) return `a mapping points at line ${seg[2] + 1} of ${display.show(sources[seg[1]]!)}, which has ${n}`;
    return undefined;
  };

  const originalName = (v8Name: string, line1: number, col1: number | undefined, at: Position): string => {
    if (v8Name === '' || v8Name === '(anonymous)') {
      const seg = at.segs[at.i];
      const text = original(seg)?.[seg[2]];
      return (text !== undefined ? nameInOriginal(text, seg[3]) : undefined) ?? v8Name;
    }
    const ident = /[\w$]+$/.exec(v8Name)?.[0];
    if (!ident || !col1 || v8Name.startsWith('(')) return v8Name;
    const col0 = col1 - 1;
    const text = lineText(line1);
    for (let j = at.i; j >= 0 && at.i - j < NAME_SEGMENTS_BACK; j--) {
      const s = at.segs[j];
      if (s[0] > col0) continue;
      if (col0 - s[0] > NAME_COLUMNS_BACK) break;
      if (s.length < 5) continue;
      const original = names[s[4]];
      if (typeof original !== 'string' || original === '') continue;
      const fits = text !== undefined
        ? text.startsWith(ident, s[0]) && BETWEEN_NAME_AND_PARAMS.test(text.slice(s[0] + ident.length, col0))
        : s[0] + ident.length === col0;
      if (fits) return v8Name.slice(0, v8Name.length - ident.length) + original;
    }
    return v8Name;
  };

  // Each function counted once per outcome, by its start (the positions below are per executing line).
  const counted = new Set<string>();
  const count = (kind: 'mappedFrames' | 'unmappedFrames' | 'outsideFrames', f: MappableFrame, sLine: number, sCol: number | undefined): void => {
    const key = `${kind}\u0000${f.name}\u0000${sLine}:${sCol}\u0000${f.systemName}`;
    if (counted.has(key)) return;
    counted.add(key);
    result[kind]++;
  };

  const mapFrame = (f: MappableFrame): MappableFrame | undefined => {
    const hasStart = typeof f.startLine === 'number' && f.startLine > 0;
    const sLine = hasStart ? f.startLine! : f.line!;
    const sCol = hasStart ? (f.startColumn ?? (f.startLine === f.line ? f.column : undefined)) : f.column;
    const start = lookup(sLine, sCol);
    if (!start) {
      count('unmappedFrames', f, sLine, sCol);
      return undefined;
    }
    const seg = start.segs[start.i];
    const bad = outside(seg);
    if (bad) {
      count('outsideFrames', f, sLine, sCol);
      result.outsideReason ??= bad;
      return undefined;
    }
    let line = seg[2] + 1;
    let column = seg[3] + 1;
    if (hasStart && (f.line !== sLine || f.column !== sCol)) {
      // The executing line, when it maps into the same original file as the function's start.
      const exec = lookup(f.line, f.column);
      const eseg = exec ? exec.segs[exec.i] : undefined;
      if (eseg && eseg[1] === seg[1] && !outside(eseg)) {
        line = eseg[2] + 1;
        column = eseg[3] + 1;
      }
    }
    count('mappedFrames', f, sLine, sCol);
    const out: MappableFrame = {
      ...f,
      name: originalName(f.name, sLine, sCol, start),
      file: display.show(sources[seg[1]]!),
      line,
      column,
      // The generated function, for pprof's Function.system_name: its runtime name and start.
      systemName: `${f.name} ${scriptShown}:${sLine}${sCol ? `:${sCol}` : ''}`,
    };
    if (hasStart) {
      out.startLine = seg[2] + 1;
      if (f.startColumn !== undefined) out.startColumn = seg[3] + 1;
    }
    return out;
  };

  const byPosition = new Map<string, MappableFrame | null>();
  for (const f of frames) {
    // A script's top level (V8's 1:1: the module wrapper or the script) has no one original place
    // in a bundle: it keeps the script's name.
    if (f.line === 1 && f.column === 1 && !f.startLine) continue;
    const key = `${f.name}\u0000${f.line}:${f.column}:${f.startLine}:${f.startColumn}:${f.inlined}:${f.systemName}`;
    let out = byPosition.get(key);
    if (out === undefined) {
      out = mapFrame(f) ?? null;
      byPosition.set(key, out);
    }
    if (out) result.mapped.set(f, out);
  }
  return result;
}
