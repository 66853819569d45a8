#!/usr/bin/env node
'use strict';
// What source maps cost where ptprof applies them: once per process, as the profile is written,
// after sampling stopped (never on the sampling path). Three profiles, each mapped in a fresh
// process (as the agent does it at exit, loading @jridgewell/trace-mapping included):
//   bundle   one esbuild bundle of generated TypeScript modules with a ~2 MB map, every function
//            of it in the profile;
//   files    1000 scripts, each with its own .js.map (esbuild per file, as tsc writes them), every
//            function in the profile;
//   no maps  the same 1000 scripts without maps: what looking for them costs a profile that has none.
// Each profile has 10,000 rows of 8 frames drawn from its functions. Time is the median of --runs
// runs; memory is the growth of the process's peak RSS while mapping (the largest of the runs).
// Also measured: decoding and re-encoding the written pprof file, which mapping the files after the
// run (in the CLI) would add to the mapping itself.
//
//   npm run bench:sourcemaps [-- --write-readme] [--runs 5] [--keep]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const esbuild = require('esbuild');
const { writeSection, machine } = require('./lib/readme');

const args = process.argv.slice(2);
const RUNS = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 5);
const ROWS = 10_000;
const DEPTH = 8;
const FILES = 1000;
const ROOT = path.resolve(__dirname, '..');

/** A TypeScript module as people write them: an interface, a class, functions, arrows, loops. */
function tsModule(i) {
  return `// Generated module ${i}.
export interface Item${i} { id: number; name: string; tags: string[]; weight?: number }

export class Store${i} {
  private readonly items = new Map<number, Item${i}>();
  constructor(private readonly capacity: number) {}
  put(item: Item${i}): boolean {
    if (this.items.size >= this.capacity) return false;
    this.items.set(item.id, { ...item, tags: [...item.tags].sort() });
    return true;
  }
  find(predicate: (item: Item${i}) => boolean): Item${i}[] {
    const out: Item${i}[] = [];
    for (const item of this.items.values()) if (predicate(item)) out.push(item);
    return out;
  }
  totalWeight(): number {
    let total = 0;
    for (const item of this.items.values()) total += item.weight ?? 1;
    return total;
  }
}

export function parse${i}(text: string): Item${i}[] {
  return text.split('\\n').filter((line) => line.trim() !== '').map((line, id) => {
    const [name, ...tags] = line.split(',').map((s) => s.trim());
    return { id, name, tags, weight: tags.length };
  });
}

export function score${i}(items: readonly Item${i}[], bias = ${i % 7}): number {
  let s = bias;
  for (const item of items) {
    for (const tag of item.tags) s = (s * 31 + tag.length + (item.weight ?? 0)) % 1000003;
  }
  return s;
}

export const format${i} = (item: Item${i}): string => \`\${item.id}:\${item.name}[\${item.tags.join('|')}]\`;

export const validate${i} = async (items: Item${i}[]): Promise<string[]> => {
  const errors: string[] = [];
  for (const item of items) {
    if (!item.name) errors.push(\`item \${item.id} has no name\`);
    else if (item.tags.length > ${8 + (i % 5)}) errors.push(\`item \${item.id} has too many tags\`);
  }
  return errors;
};
`;
}

/** V8's frames for the functions of a generated script: name and the position of its parameters. */
function framesOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  const frames = [];
  const add = (name, at) => {
    const before = text.slice(0, at);
    frames.push({ name, file, line: before.split('\n').length, column: at - before.lastIndexOf('\n') });
  };
  for (const m of text.matchAll(/function ([\w$]+)\(/g)) add(m[1], m.index + m[0].length - 1);
  for (const m of text.matchAll(/\n\s+([\w$]+)\([\w$, ={}]*\) \{/g)) add(m[1], m.index + m[0].indexOf('('));
  for (const m of text.matchAll(/(?:var|const|let) ([\w$]+) = (?:async )?\(/g)) add(m[1], m.index + m[0].length - 1);
  // The program's functions: not keywords, not esbuild's module helpers (__export...), which no map covers.
  return frames.filter((f) => !/^(if|for|while|switch|catch|function|constructor|__\w+)$/.test(f.name));
}

/** Builds the three profiles' scripts in dir; returns { name: frames }. */
function setup(dir) {
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(src, `m${i}.ts`), tsModule(i));
  // One bundle: modules enough for a map of about 2 MB.
  const bundled = 700;
  fs.writeFileSync(path.join(src, 'entry.ts'), Array.from({ length: bundled }, (_, i) => `export * from './m${i}';`).join('\n') + '\n');
  esbuild.buildSync({ entryPoints: [path.join(src, 'entry.ts')], bundle: true, platform: 'node', outfile: path.join(dir, 'bundle', 'app.js'), sourcemap: true, logLevel: 'error' });
  // One script and one map per module, as tsc writes them.
  const entries = Array.from({ length: FILES }, (_, i) => path.join(src, `m${i}.ts`));
  esbuild.buildSync({ entryPoints: entries, outdir: path.join(dir, 'files'), format: 'cjs', platform: 'node', sourcemap: true, logLevel: 'error' });
  // The same scripts without maps.
  fs.mkdirSync(path.join(dir, 'plain'));
  for (let i = 0; i < FILES; i++) {
    const js = fs.readFileSync(path.join(dir, 'files', `m${i}.js`), 'utf8').replace(/\/\/# sourceMappingURL=\S+\s*$/, '');
    fs.writeFileSync(path.join(dir, 'plain', `m${i}.js`), js);
  }
  const list = (sub) => fs.readdirSync(path.join(dir, sub)).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, sub, f));
  return {
    bundle: list('bundle').flatMap(framesOf),
    files: list('files').flatMap(framesOf),
    plain: list('plain').flatMap(framesOf),
  };
}

// The child: builds the profile from the frames, maps it, reports time and peak-RSS growth.
const CHILD = `
const fs = require('node:fs');
const { mapProfile } = require(${JSON.stringify(path.join(ROOT, 'packages', 'sourcemaps'))});
const w = require(${JSON.stringify(path.join(ROOT, 'packages', 'pprof-writer'))});
const [framesFile, cwd, rows, depth] = process.argv.slice(1);
const frames = JSON.parse(fs.readFileSync(framesFile, 'utf8'));
let a = 1; // mulberry32: the same profile in every run
const rnd = () => {
  a = (a + 0x6d2b79f5) >>> 0;
  let t = Math.imul(a ^ (a >>> 15), a | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const samples = [];
for (let r = 0; r < Number(rows); r++) {
  const stack = [];
  for (let d = 0; d < Number(depth); d++) stack.push(frames[Math.floor(rnd() * frames.length)]);
  samples.push({ frames: stack, count: 1, cpuNanos: 1e7, labels: { thread_id: 1, thread_name: 'main' } });
}
const profile = { samples, periodNanos: 1e7, comments: [] };
global.gc?.();
const rss0 = process.resourceUsage().maxRSS;
const t0 = process.hrtime.bigint();
const { profile: mapped, stats } = mapProfile(profile, { cwd });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const rss1 = process.resourceUsage().maxRSS;
const bytes = w.encodePprof(mapped);
const t1 = process.hrtime.bigint();
w.encodePprof(w.decodePprof(bytes));
const rewriteMs = Number(process.hrtime.bigint() - t1) / 1e6;
process.stdout.write(JSON.stringify({ ms, rssMB: ((rss1 - rss0) * 1024) / 1e6, stats: { ...stats, failed: stats.failed.length }, rewriteMs }));
`;

function measure(dir, name, frames) {
  const framesFile = path.join(dir, `${name}.frames.json`);
  fs.writeFileSync(framesFile, JSON.stringify(frames));
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', CHILD, framesFile, dir, String(ROWS), String(DEPTH)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
    runs.push(JSON.parse(r.stdout));
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = median(runs.map((r) => r.ms));
  const rewriteMs = median(runs.map((r) => r.rewriteMs));
  const rssMB = Math.max(...runs.map((r) => r.rssMB));
  console.error(`${name}: ${ms.toFixed(1)} ms, +${rssMB.toFixed(1)} MB peak RSS, ${JSON.stringify(runs[0].stats)}, rewriting the pprof ${rewriteMs.toFixed(0)} ms`);
  return { ms, rssMB, stats: runs[0].stats, rewriteMs, frames: frames.length };
}

function mb(bytes) {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-sourcemaps-'));
  try {
    const t0 = Date.now();
    const frames = setup(dir);
    console.error(`built the scripts in ${((Date.now() - t0) / 1000).toFixed(1)} s (${dir})`);
    const cases = [
      ['one bundle (esbuild), every function of it in the profile', 'bundle'],
      [`${FILES} scripts, one map each (esbuild per file), every function in the profile`, 'files'],
      [`${FILES} scripts without maps (looking for them)`, 'plain'],
    ];
    const rows = cases.map(([label, name]) => ({ label, ...measure(dir, name, frames[name]) }));
    const m = machine();
    const table = [
      '| profile | scripts | map JSON read | functions mapped | time to map | peak RSS added |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.label} | ${r.stats.scripts || FILES} | ${r.stats.mapBytes ? mb(r.stats.mapBytes) : '—'} | ${r.stats.mappedFrames} of ${r.frames} | ` +
        `${r.ms.toFixed(0)} ms | ${r.rssMB.toFixed(1)} MB |`),
    ].join('\n');
    const text = `${table}\n\nEach profile has ${ROWS.toLocaleString('en')} rows of ${DEPTH} frames drawn from its functions; time is the median of ${RUNS} runs, ` +
      `each in a fresh process (loading @jridgewell/trace-mapping included), memory the largest growth of the peak RSS (MB: 10^6 bytes). ` +
      `Mapping the written pprof files afterwards instead (in the CLI) would add decoding and re-encoding each: ${rows.map((r) => `${r.rewriteMs.toFixed(0)} ms`).join(', ')} ` +
      `(medians) for these three. Measured ${m.date} with \`npm run bench:sourcemaps\` on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}, esbuild ${require('esbuild/package.json').version}.`;
    console.log(text);
    if (args.includes('--write-readme')) writeSection('sourcemaps', text);
  } finally {
    if (args.includes('--keep')) console.error(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
