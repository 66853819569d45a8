// Shared by the test files: the fixture builds, temporary directories, and frames where V8 puts them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MappableFrame, MappableProfile } from '../src';

/** test/fixtures (plain files, not compiled): the app's TypeScript and the builder that runs the real tools. */
export const FIXTURES = path.resolve(__dirname, '..', '..', 'test', 'fixtures');

export interface Expected {
  name: string;
  file: string;
  line: number;
}

export interface Fixtures {
  BUILDS: string[];
  build(dir: string, which?: string[]): Record<string, string>;
  tsxCommand(dir: string, ...args: string[]): string[];
  originalLines(dir: string): Expected[];
  copySources(dir: string): void;
}

export const fixtures = require(path.join(FIXTURES, 'build.js')) as Fixtures;

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ptprof-sm-${tag}-`));
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The frame V8 gives a function of a generated script: its name as the generated code has it, and
 * the position (1-based) where its parameters start: the '(' after `function name`, or the
 * parameter of `x => ...` (what the sampler's code events say, e.g. "JS:*query2 /x/server.js:24:16").
 * `re` (with the `d` flag) marks that position with the group `at`, and the name with the group
 * `name` unless `name` is given ('' for a function V8 leaves anonymous).
 */
export function v8Frame(file: string, re: RegExp, name?: string): MappableFrame {
  const text = fs.readFileSync(file, 'utf8');
  const m = re.exec(text);
  const at = m?.indices?.groups?.at;
  if (!m || !at) throw new Error(`${re} not found in ${file}`);
  const before = text.slice(0, at[0]);
  const line = before.split('\n').length;
  const column = at[0] - (before.lastIndexOf('\n') + 1) + 1;
  const v8Name = name ?? m.groups?.name;
  if (v8Name === undefined) throw new Error(`${re} has no group 'name'`);
  return { name: v8Name === '' ? '(anonymous)' : v8Name, file, line, column };
}

/** A profile of one sample per frame (each alone on its stack), as the sampler's rows are shaped. */
export function profileOf(frames: MappableFrame[]): MappableProfile & { samples: { frames: MappableFrame[]; count: number; cpuNanos: number }[] } {
  return { samples: frames.map((f) => ({ frames: [f], count: 1, cpuNanos: 1e7 })), facts: { hz: 100 } };
}
