// Finding and parsing the source map of one script, in this order:
//   1. the running process's own cache (Node's module.findSourceMap), which is the only place the
//      maps of code transpiled in memory (tsx, ts-node) exist, and is what Node itself uses;
//   2. the script's `//# sourceMappingURL=` annotation: a file (relative to the script, absolute,
//      or a file: URL) or an inline data: URL (base64 or percent-encoded);
//   3. `<script>.map` beside the script when there is no annotation.
// Every failure becomes a Located 'failed' with a kind and a one-line reason; nothing throws.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceMap } from '@jridgewell/trace-mapping';
import type { FailureKind, NodeSourceMap } from './types';

export interface LoadedMap {
  map: TraceMap;
  /** Where the map came from, for people: its path, 'inline' (a data: URL) or 'node' (Node's cache). */
  where: string;
  /**
   * The generated code as it ran, when known: the script's text on disk, unless the map came from
   * Node's cache and its line lengths say that the file on disk is not what ran (tsx runs a
   * transpiled copy of the .ts file).
   */
  text?: string;
  /** Bytes of map JSON read (0 for a map taken from Node's cache). */
  bytes: number;
}

export type Located =
  | { kind: 'none' }
  | { kind: 'map'; loaded: LoadedMap }
  | { kind: 'failed'; failure: { kind: FailureKind; map: string; reason: string } };

export interface LocateOptions {
  findSourceMap: ((file: string) => NodeSourceMap | undefined) | null;
  maxMapBytes: number;
}

/** The annotation is at the end of the script: this much is read to look for it. */
const TAIL_BYTES = 64 * 1024;

type TraceMapping = typeof import('@jridgewell/trace-mapping');
let traceMapping: TraceMapping | undefined;
// Loaded on the first map: a profile without any costs no more than reading the scripts' tails.
export function tm(): TraceMapping {
  traceMapping ??= require('@jridgewell/trace-mapping') as TraceMapping;
  return traceMapping;
}

function oneLine(text: string, max = 160): string {
  const line = text.split('\n')[0].trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

function errorText(e: unknown): string {
  const x = e as NodeJS.ErrnoException;
  if (x && typeof x.code === 'string') return x.code;
  return oneLine(String((e as Error)?.message ?? e));
}

/**
 * The URL of the last `//# sourceMappingURL=` (or `//@`, or a `/*# ... *\/` block) of the script:
 * only comments and blank lines may follow it (an annotation inside a string in the middle of a
 * bundle is not one). `reachedStart`: the scan reached the start of `text` without finding code
 * (when `text` is only the file's tail, the annotation may be further up).
 */
export function findAnnotation(text: string): { url?: string; reachedStart: boolean } {
  let end = text.length;
  while (end > 0) {
    const start = text.lastIndexOf('\n', end - 1) + 1;
    const line = text.slice(start, end).trim();
    end = start - 1;
    if (line === '') continue;
    const m = /^\/\/[#@][ \t]*sourceMappingURL=[ \t]*(\S+)$/.exec(line) ?? /^\/\*[#@][ \t]*sourceMappingURL=[ \t]*(\S+)[ \t]*\*\/$/.exec(line);
    if (m) return { url: m[1], reachedStart: false };
    if (line.startsWith('//')) continue;
    return { reachedStart: false };
  }
  return { reachedStart: true };
}

/** The script's text, or only its last TAIL_BYTES when `tailOnly` and it is longer; undefined when unreadable. */
function readScript(file: string, tailOnly: boolean): { text: string; whole: boolean } | undefined {
  let fd: number | undefined;
  try {
    // O_NONBLOCK: a script named /dev/stdin or a FIFO must not hang the profile's writing.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return undefined;
    const size = st.size;
    if (!tailOnly || size <= TAIL_BYTES) return { text: fs.readFileSync(fd, 'utf8'), whole: true };
    const buf = Buffer.alloc(TAIL_BYTES);
    const n = fs.readSync(fd, buf, 0, TAIL_BYTES, size - TAIL_BYTES);
    return { text: buf.subarray(0, n).toString('utf8'), whole: false };
  } catch {
    return undefined; // not a file on disk (deleted, virtual, a directory): no map to find
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Decodes a data: URL's payload (`;base64` or percent-encoded). Throws on a malformed one. */
export function decodeDataUrl(url: string): string {
  const comma = url.indexOf(',');
  if (comma < 0) throw new Error('a data: URL without a comma');
  const meta = url.slice('data:'.length, comma);
  const body = url.slice(comma + 1);
  if (/;base64$/i.test(meta)) return Buffer.from(body, 'base64').toString('utf8');
  return decodeURIComponent(body);
}

/** The annotation's URL as a path on disk, or undefined for a scheme that is not read (http:, ...). */
function mapPathOf(url: string, script: string): string | undefined {
  if (url.startsWith('file:')) return fileURLToPath(url);
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(url)) return undefined;
  const p = path.resolve(path.dirname(script), url);
  // A relative URL may be percent-encoded (`my%20app.js.map`).
  if (url.includes('%') && !fs.existsSync(p)) {
    try {
      return path.resolve(path.dirname(script), decodeURIComponent(url));
    } catch {
      return p;
    }
  }
  return p;
}

function failed(kind: FailureKind, map: string, reason: string): Located {
  return { kind: 'failed', failure: { kind, map, reason } };
}

/**
 * Parses a map (JSON text, or the object Node holds) against `mapUrl` (the map's own path: its
 * relative `sources` are relative to it), checking what makes it usable.
 */
export function parseMap(input: string | object, mapUrl: string, where: string, bytes: number, text?: string): Located {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      // The spec allows a first line of `)]}'` against XSSI; it is not JSON.
      json = JSON.parse(input.startsWith(")]}'") ? input.slice(input.indexOf('\n') + 1) : input);
    } catch (e) {
      return failed('invalid_json', where, `not JSON: ${errorText(e)}`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return failed('invalid_json', where, 'not a JSON object');
  const o = json as Record<string, unknown>;
  if (o.version !== 3) return failed('unsupported', where, `version ${JSON.stringify(o.version)}, not 3`);
  if (!Array.isArray(o.sections) && typeof o.mappings !== 'string') return failed('unsupported', where, 'neither "mappings" nor "sections"');
  if (!Array.isArray(o.sections) && !Array.isArray(o.sources)) return failed('unsupported', where, 'no "sources" array');
  try {
    const { AnyMap, decodedMappings } = tm();
    const map = new AnyMap(o as unknown as ConstructorParameters<typeof AnyMap>[0], mapUrl);
    decodedMappings(map); // decodes now: a malformed "mappings" fails here, not halfway through the frames
    return { kind: 'map', loaded: { map, where, bytes, ...(text !== undefined ? { text } : {}) } };
  } catch (e) {
    return failed('unsupported', where, `unusable: ${errorText(e)}`);
  }
}

function sameLines(text: string, lineLengths: readonly number[]): boolean {
  let start = 0;
  for (let i = 0; i < lineLengths.length; i++) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (end - start !== lineLengths[i]) return false;
    if (nl < 0) return i === lineLengths.length - 1;
    start = nl + 1;
  }
  return false;
}

/**
 * Reads and parses the map file; `text` (the script's whole text, for checking names against the
 * generated code) is asked for only once the map is read: a script that names a map its package
 * did not ship (common on npm) is never read whole (issue 14: TypeScript's 9 MB _tsc.js).
 */
function readMapFile(mapPath: string, maxBytes: number, text: () => string | undefined): Located {
  let json: string;
  try {
    const st = fs.statSync(mapPath);
    if (st.isDirectory()) return failed('unreadable', mapPath, 'EISDIR');
    if (!st.isFile()) return failed('unreadable', mapPath, 'not a regular file');
    if (st.size > maxBytes) return failed('unreadable', mapPath, `${st.size} bytes, over the limit of ${maxBytes} (maxMapBytes)`);
    json = fs.readFileSync(mapPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return failed(code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable', mapPath, errorText(e));
  }
  return parseMap(json, mapPath, mapPath, Buffer.byteLength(json), text());
}

/** Finds, reads and parses the map of `script` (an absolute path). */
export function locate(script: string, opts: LocateOptions): Located {
  if (opts.findSourceMap) {
    let held: NodeSourceMap | undefined;
    try {
      held = opts.findSourceMap(script);
    } catch {
      held = undefined;
    }
    if (held && typeof held.payload === 'object' && held.payload !== null) {
      const disk = readScript(script, false);
      const text = disk && held.lineLengths && sameLines(disk.text, held.lineLengths) ? disk.text : undefined;
      return parseMap(held.payload, script, 'node', 0, text);
    }
  }
  let read = readScript(script, true);
  if (!read) return { kind: 'none' };
  let found = findAnnotation(read.text);
  if (found.reachedStart && !read.whole) {
    read = readScript(script, false);
    if (!read) return { kind: 'none' };
    found = findAnnotation(read.text);
  }
  const url = found.url;
  // The whole text, read only when a map needs it (readMapFile asks once its map is read).
  const tail = read;
  const wholeText = (): string | undefined => (tail.whole ? tail : readScript(script, false))?.text;
  if (url === undefined) {
    // No annotation: a map beside the script (esbuild --sourcemap=external, some build setups).
    const sibling = `${script}.map`;
    if (!fs.existsSync(sibling)) return { kind: 'none' };
    return readMapFile(sibling, opts.maxMapBytes, wholeText);
  }
  if (url.startsWith('data:')) {
    // The text is needed whole: for an inline map, and to check names against the generated code.
    const text = wholeText();
    if (text === undefined) return { kind: 'none' };
    let json: string;
    try {
      json = decodeDataUrl(url);
    } catch (e) {
      return failed('unreadable', 'inline', `a data: URL that does not decode: ${errorText(e)}`);
    }
    return parseMap(json, script, 'inline', Buffer.byteLength(json), text);
  }
  let mapPath: string | undefined;
  try {
    mapPath = mapPathOf(url, script);
  } catch (e) {
    return failed('unsupported', url, errorText(e));
  }
  if (mapPath === undefined) return failed('unsupported', oneLine(url, 100), 'a URL that is not a file (not fetched)');
  return readMapFile(mapPath, opts.maxMapBytes, wholeText);
}
