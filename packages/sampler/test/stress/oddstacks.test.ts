// Deep and odd stacks: recursion 10,000 frames deep, eval'd code, code in vm contexts, ESM
// modules, async functions and generators symbolize without crashing; frames no code event
// covers are named as such, never given someone else's name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const samplerIndex = path.resolve(__dirname, '..', '..', 'src', 'index.js');

const lib = `
export function* oddGenerator(n) { for (let i = 0; i < n; i++) { let x = 0; for (let j = 0; j < 2000; j++) x += Math.sqrt(j); yield x; } }
export async function oddAsync(ms) {
  const t = Date.now(); let x = 0;
  while (Date.now() - t < ms) { for (let i = 0; i < 1e4; i++) x += Math.sqrt(i); await null; }
  return x;
}
`;

const main = `
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { oddGenerator, oddAsync } from './lib.mjs';
const require = createRequire(import.meta.url);
const { start } = require(${JSON.stringify(samplerIndex)});
const s = start({ hz: 1000, threads: 'all', framesLimit: 512 });
function burn(ms) { const t = Date.now(); let x = 0; while (Date.now() - t < ms) for (let i = 0; i < 1e4; i++) x += Math.sqrt(i); return x; }

// 1. 10,000 frames deep (more than the frames kept: the stack is truncated, not broken).
function oddDeep(n) { if (n === 0) return burn(300); return oddDeep(n - 1) + 1; }
oddDeep(10000);
// 2. eval'd code with a named function, and a function made by new Function.
eval('function oddEvaled() { return burn(200); } oddEvaled();');
new Function('burn', 'return function oddFromFunction() { return burn(200); }')(burn)();
// 3. A vm context.
const ctx = vm.createContext({ burnMs: (ms) => burn(ms) });
vm.runInContext('function oddInVm() { let x = 0; const t = Date.now(); while (Date.now() - t < 200) x += Math.sqrt(x + 1); return x; } oddInVm();', ctx, { filename: 'odd-vm.js' });
// 4. A generator and an async function, from an ES module.
let g = 0; for (const v of oddGenerator(20000)) g += v;
await oddAsync(200);
const p = s.stop();
const names = new Set(); let frames = 0; let truncated = 0; let maxDepth = 0;
for (const x of p.samples) {
  maxDepth = Math.max(maxDepth, x.frames.length);
  for (const f of x.frames) { names.add(f.name + '|' + (f.file || '')); frames++; if (f.name === '(truncated)') truncated++; }
}
console.log(JSON.stringify({ names: [...names], frames, truncated, maxDepth, unresolved: p.stats.unresolvedFrames, jsFrames: p.stats.jsFrames }));
`;

describe('stress: deep and odd stacks', function () {
  this.timeout(60_000);
  it('deep recursion, eval, new Function, vm contexts, ESM, generators and async functions', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-odd-'));
    try {
      fs.writeFileSync(path.join(dir, 'lib.mjs'), lib);
      fs.writeFileSync(path.join(dir, 'main.mjs'), main);
      const r = spawnSync(process.execPath, ['--stack-size=8000', path.join(dir, 'main.mjs')], { encoding: 'utf8', timeout: 50_000 });
      assert.equal(r.status, 0, `exit ${r.status} ${r.signal}\n${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      const has = (name: string, file?: string) =>
        out.names.some((n: string) => n.split('|')[0] === name && (file === undefined || n.split('|')[1].endsWith(file)));
      assert.ok(has('oddDeep', 'main.mjs'), 'the deep recursion is named, with its ESM file as a path');
      // the leaf at the pc, the 512 frames walked, and the (truncated) root
      assert.ok(out.truncated > 0 && out.maxDepth === 514, `10,000 frames: truncated at the limit (max depth ${out.maxDepth})`);
      assert.ok(has('oddEvaled'), "eval'd code");
      assert.ok(has('oddFromFunction'), 'new Function');
      assert.ok(has('oddInVm', 'odd-vm.js'), 'a vm context, with its filename');
      assert.ok(has('oddGenerator', 'lib.mjs'), 'a generator in an ES module');
      assert.ok(has('oddAsync', 'lib.mjs'), 'an async function');
      assert.ok(!out.names.some((n: string) => n.includes('file://')), 'files are paths, not URLs');
      // Frames no code event covers are named (unknown); they are few.
      assert.ok(out.unresolved <= out.jsFrames * 0.02, `${out.unresolved} of ${out.jsFrames} frames unresolved`);
      console.log(`      ${out.names.length} distinct frames, max depth ${out.maxDepth}, unresolved ${out.unresolved}/${out.jsFrames}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
