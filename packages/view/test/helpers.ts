// The page's scripts are plain browser scripts (globals, no modules): their types come by reference.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../dist/page/decode.d.ts" />
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../dist/page/tree.d.ts" />
// Shared by the tests: a scratch directory, the page's own scripts run in Node, and sums computed
// straight from a view's stacks (not through the code under test).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import type { ViewProfile } from '../src';

export function scratch(tag: string): { dir: string; file: (name: string) => string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ptprof-view-${tag}-`));
  return { dir, file: (name) => path.join(dir, name), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export const PAGE_DIST = path.resolve(__dirname, '..', 'page');

/** What page/decode.ts and page/tree.ts define (their declarations, built first by tsc -b). */
export interface PageApi {
  decodeVarints: typeof decodeVarints;
  decodeData: typeof decodeData;
  buildTree: typeof buildTree;
  functionRows: typeof functionRows;
  matchedTotal: typeof matchedTotal;
  matchFrames: typeof matchFrames;
}
export type PageDecoded = Decoded;
export type PageTree = Tree;

/** The compiled page scripts that need no DOM (decode, tree), run in a fresh context as the page runs them. */
export function pageApi(): PageApi {
  const ctx = vm.createContext({ atob });
  for (const name of ['decode', 'tree']) {
    const file = path.join(PAGE_DIST, `${name}.js`);
    vm.runInContext(fs.readFileSync(file, 'utf8'), ctx, { filename: file });
  }
  return ctx as unknown as PageApi;
}

/** Per thread and per function (by name), flat and cumulative, from the view's stacks. */
export function truth(view: ViewProfile, threads?: Set<number>): { total: number; flat: Map<string, number>; cum: Map<string, number> } {
  const flat = new Map<string, number>();
  const cum = new Map<string, number>();
  let total = 0;
  for (const s of view.stacks) {
    if (threads && !threads.has(s.thread)) continue;
    total += s.value;
    const key = (f: number): string => `${view.frames[f]!.name}|${view.frames[f]!.file}|${view.frames[f]!.line}`;
    const leaf = key(s.frames[s.frames.length - 1]!);
    flat.set(leaf, (flat.get(leaf) ?? 0) + s.value);
    for (const k of new Set(s.frames.map(key))) cum.set(k, (cum.get(k) ?? 0) + s.value);
  }
  return { total, flat, cum };
}
