// Source maps end to end: the fixture app (an Express-like server in TypeScript) built by the real
// tools, profiled by the real binary, and read back from the written profile (pprof, folded,
// speedscope, .cpuprofile, `ptprof top`, `go tool pprof -list`), named by the original functions
// at their .ts lines; what was mapped and what failed in the profile's facts and the summary.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readProcesses, stringAt, toNumber, type Facts, type Profile } from '@ptprof/pprof-writer';
import type { Profile as SamplerProfile } from '@ptprof/sampler';
import { parseArgs } from '../src/args';
import { childEnv } from '../src/cli';
import { readAgentConfig } from '../src/config';
import { sourceMapSummary, withSourceMaps } from '../src/sourcemaps';
import { REPO, facts, goPprof, ptprof, readProfile, rmDir, tmpDir, type Run } from './helpers';

interface Expected {
  name: string;
  file: string;
  line: number;
}
const fixtures = require(path.join(REPO, 'packages', 'sourcemaps', 'test', 'fixtures', 'build.js')) as {
  BUILDS: string[];
  build(dir: string): Record<string, string>;
  tsxCommand(dir: string, ...args: string[]): string[];
  originalLines(dir: string): Expected[];
};

/** Requests the app serves per run (each burns ~0.3 s of CPU over the functions checked). */
const REQUESTS = '4';

interface Fn {
  name: string;
  file: string;
  startLine: number;
  systemName: string;
  /** CPU of the samples with the function on their stack. */
  cum: number;
}

function functions(p: Profile): Fn[] {
  const ci = p.sampleType.findIndex((t) => stringAt(p, t.type) === 'cpu');
  const fnOfLoc = new Map<string, string[]>();
  for (const l of p.location) fnOfLoc.set(String(toNumber(l.id)), l.line.map((x) => String(toNumber(x.functionId))));
  const cum = new Map<string, number>();
  for (const s of p.sample) {
    const ids = new Set(s.locationId.flatMap((id) => fnOfLoc.get(String(toNumber(id))) ?? []));
    for (const id of ids) cum.set(id, (cum.get(id) ?? 0) + toNumber(s.value[ci]));
  }
  return p.function.map((f) => ({
    name: stringAt(p, f.name), file: stringAt(p, f.filename), startLine: toNumber(f.startLine),
    systemName: stringAt(p, f.systemName), cum: cum.get(String(toNumber(f.id))) ?? 0,
  }));
}

describe('ptprof: --no-source-maps', () => {
  it('reaches the agent as PTPROF_SOURCE_MAPS=0; on by default; a bad value is refused', () => {
    const cmd = parseArgs(['--no-source-maps', '--', 'node', 'app.js']);
    assert.equal(cmd.kind === 'run' && cmd.sourceMaps, false);
    assert.equal((parseArgs(['app.js']) as { sourceMaps?: boolean }).sourceMaps, undefined);
    assert.throws(() => parseArgs(['--no-source-maps=1', 'app.js']), /--no-source-maps takes no value/);
    const base = { output: '/o.pb.gz', hz: 100, threads: 'all', format: 'pprof' };
    assert.equal(childEnv({ PTPROF_SOURCE_MAPS: '0' }, { ...base, sourceMaps: true }).PTPROF_SOURCE_MAPS, undefined);
    const off = childEnv({}, { ...base, sourceMaps: false });
    assert.equal(off.PTPROF_SOURCE_MAPS, '0');
    assert.equal(readAgentConfig(off, 1, '/').sourceMaps, false);
    assert.equal(readAgentConfig({}, 1, '/').sourceMaps, undefined);
    assert.throws(() => readAgentConfig({ PTPROF_SOURCE_MAPS: 'no' }, 1, '/'), /PTPROF_SOURCE_MAPS=no is not 0 or 1/);
  });

  it('a failure of the mapping itself keeps the profile as it ran, and the summary says so', () => {
    // Samples that are not an array make mapProfile throw: the agent must still write the profile.
    const broken = { samples: 42, facts: { hz: 100 } } as unknown as SamplerProfile;
    const out = withSourceMaps(broken, true);
    assert.equal(out.samples, broken.samples);
    assert.equal(out.facts.hz, 100);
    assert.match(String(out.facts['source_maps.error']), /.+/);
    assert.match(sourceMapSummary(out.facts)[0], /^source maps: not applied, the frames are as they ran \(.+\)$/);
  });
});

const hasGo = spawnSync(fs.existsSync('/usr/lib/go/bin/go') ? '/usr/lib/go/bin/go' : 'go', ['version']).status === 0;

describe('ptprof: source maps', function () {
  this.timeout(300_000);
  let dir: string;
  let builds: Record<string, string>;
  let expected: Expected[];
  before(() => {
    dir = tmpDir('srcmap');
    builds = fixtures.build(dir);
    expected = fixtures.originalLines(dir);
  });
  after(() => rmDir(dir));

  function run(name: string, command: string[], options: string[] = []): { r: Run; file: string } {
    const file = path.join(dir, `${name}.pb.gz`);
    const r = ptprof(['--hz', '1000', '-o', file, ...options, '--', ...command], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    return { r, file };
  }

  /** The expected functions the profile lacks (with CPU, under their original name, file and start line). */
  function missing(fns: Fn[]): Expected[] {
    return expected.filter((e) => !fns.some((f) => f.name === e.name && f.file === e.file && f.startLine === e.line && f.cum > 0));
  }
  const listing = (fns: Fn[]): string => fns.filter((f) => f.cum > 0).map((f) => `${f.name} ${f.file}:${f.startLine} [${f.systemName}]`).join('\n');
  /** The source_maps facts of a pprof file, as pprof-writer's parseFacts reads them from its comments. */
  const mapFacts = (file: string): Facts => Object.fromEntries(Object.entries(facts(readProfile(file))).filter(([k]) => k.startsWith('source_maps.')));
  const mappedWithoutFailures = (f: Facts): boolean => (f['source_maps.mapped_frames'] as number) > 0 && f['source_maps.failed'] === 0;

  for (const build of ['tsc', 'esbuild', 'inline', 'minified', 'esm', 'sibling', 'rollup']) {
    it(`${build}: the original functions at their .ts lines, the generated ones in system_name`, () => {
      const { r, file } = run(build, ['node', builds[build], REQUESTS]);
      const fns = functions(readProfile(file));
      assert.deepEqual(missing(fns), [], listing(fns));
      // Where it ran: esbuild's query2 in the bundle, tsc's query in tsc/cache.js.
      const q = fns.find((f) => f.name === 'query' && f.file === 'src/cache.ts')!;
      assert.match(q.systemName, new RegExp(`^[\\w$]+ ${path.basename(path.dirname(builds[build]))}/[\\w.]+:\\d+:\\d+$`));
      assert.match(r.stderr, /\nptprof: {3}source maps: \d+ frames in \d+ scripts? named from their maps\n/);
      assert.ok(mappedWithoutFailures(mapFacts(file)), JSON.stringify(mapFacts(file)));
    });
  }

  it("tsx: TypeScript transpiled in memory, named through Node's cache (module.findSourceMap)", () => {
    const { file } = run('tsx', fixtures.tsxCommand(dir, REQUESTS));
    // tsx's launcher runs the program in a child Node process: its frames, named through that
    // process's maps (which exist only in it), are in the run's one profile.
    assert.deepEqual(fs.readdirSync(dir).filter((f) => /^tsx\.\d+\.pb\.gz$/.test(f)), [], 'one file for the run');
    const p = readProfile(file);
    assert.ok(readProcesses(facts(p)).length >= 2, 'the launcher and the program');
    const fns = functions(p);
    assert.deepEqual(missing(fns), [], listing(fns));
  });

  it('--no-source-maps: the frames as they ran (the bundle\'s names and lines: the tests above can fail)', () => {
    const { r, file } = run('off', ['node', builds.esbuild, REQUESTS], ['--no-source-maps']);
    const fns = functions(readProfile(file));
    assert.deepEqual(missing(fns), expected, 'no function at its original place');
    assert.ok(fns.some((f) => f.name === 'query2' && f.file === builds.esbuild && f.cum > 0), listing(fns));
    assert.deepEqual(mapFacts(file), { 'source_maps.enabled': false });
    assert.doesNotMatch(r.stderr, /source maps/);
  });

  it('folded output, ptprof top and go tool pprof -list show the original functions and files', function () {
    const folded = path.join(dir, 'esbuild.folded');
    const r = ptprof(['--hz', '1000', '--format', 'folded', '-o', folded, '--', 'node', builds.esbuild, REQUESTS], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const cacheQuery = expected.find((e) => e.name === 'query' && e.file === 'src/cache.ts')!;
    assert.match(fs.readFileSync(folded, 'utf8'), new RegExp(`;query \\(src/cache\\.ts:${cacheQuery.line}\\) \\d+\\n`));
    assert.match(r.stderr, /\nptprof: {3}source maps: \d+ frames in \d+ scripts? named from their maps\n/, `the summary reads the report, not the file: ${r.stderr}`);

    const pb = path.join(dir, 'esbuild.pb.gz'); // written by the esbuild test above
    const top = ptprof(['top', pb], { cwd: dir });
    assert.equal(top.status, 0, top.stderr);
    assert.match(top.stdout, /\n\s+\S+\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+query \(src\/cache\.ts\)\n/);
    assert.doesNotMatch(top.stdout, /query2/);

    if (!hasGo) {
      console.log('    (skipping go tool pprof -list: go is not installed; apt-get install -y golang-go)');
      this.skip();
    }
    // pprof reads the original file from disk (relative to where it runs) and puts the CPU on its lines.
    const list = goPprof(['-symbolize=none', '-list', '^query$', pb], dir, dir);
    assert.match(list, /ROUTINE =+ query in src\/cache\.ts\n/);
    const source = fs.readFileSync(path.join(dir, 'src', 'cache.ts'), 'utf8').split('\n')[cacheQuery.line - 1];
    assert.match(list, new RegExp(`\\s${cacheQuery.line}:${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
  });

  it('speedscope and .cpuprofile: the same original functions (the profile is mapped once, before any writer runs)', () => {
    const cacheQuery = expected.find((e) => e.name === 'query' && e.file === 'src/cache.ts')!;
    const frames = {
      speedscope: (data: { shared: { frames: { name: string; file?: string; line?: number }[] } }) => data.shared.frames,
      cpuprofile: (data: { nodes: { callFrame: { functionName: string; url: string; lineNumber: number } }[] }) =>
        data.nodes.map(({ callFrame: c }) => ({ name: c.functionName, file: c.url, line: c.lineNumber + 1 })),
    };
    for (const format of ['speedscope', 'cpuprofile'] as const) {
      const out = path.join(dir, `esbuild.${format === 'speedscope' ? 'speedscope.json' : 'cpuprofile'}`);
      const r = ptprof(['--hz', '1000', '--format', format, '-o', out, '--', 'node', builds.esbuild, REQUESTS], { cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /\nptprof: {3}source maps: \d+ frames in \d+ scripts? named from their maps\n/, `${format}: ${r.stderr}`);
      const got = frames[format](JSON.parse(fs.readFileSync(out, 'utf8')));
      assert.ok(got.some((f) => f.name === 'query' && f.file === 'src/cache.ts' && f.line === cacheQuery.line),
        `${format}: ${got.map((f) => `${f.name} ${f.file}:${f.line}`).join(', ')}`);
      assert.ok(!got.some((f) => f.name === 'query2'), `${format}: the bundle's name is gone`);
    }
  });

  it('bad maps: the summary names them, the profile counts them and keeps their frames as they ran', () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    const hog = (name: string, annotation: string): void => fs.writeFileSync(path.join(bad, `${name}.js`),
      `'use strict';\nmodule.exports = function ${name}Hog(n) {\n  let s = 0;\n  for (let i = 0; i < n; i++) s = (s * 31 + i) % 1000003;\n  return s;\n};\n`
      + `//# sourceMappingURL=${annotation}\n`);
    hog('missing', 'missing.js.map');
    hog('broken', 'broken.js.map');
    fs.writeFileSync(path.join(bad, 'broken.js.map'), '{"version":3,"mappings":');
    hog('outside', 'outside.js.map');
    // Line 2's first mapping names source #3; the map lists one.
    fs.writeFileSync(path.join(bad, 'outside.js.map'), JSON.stringify({ version: 3, sources: ['outside.ts'], names: [], mappings: ';AGAA' }));
    fs.writeFileSync(path.join(bad, 'main.js'), "for (const m of ['missing', 'broken', 'outside']) require(`./${m}.js`)(2e7);\n");
    const { r, file } = run('bad', ['node', path.join(bad, 'main.js')]);
    assert.match(r.stderr, /\nptprof: {3}2 scripts declared a source map that could not be read \(their frames are left as they ran\): bad\/missing\.js \(bad\/missing\.js\.map: ENOENT\); bad\/broken\.js \(bad\/broken\.js\.map: not JSON: [^\n]*\)\n/);
    assert.match(r.stderr, /\nptprof: {3}1 script has a source map pointing outside its sources \(those frames are left as they ran\): bad\/outside\.js \(bad\/outside\.js\.map: 1 frame: a mapping names source #3[^\n]*\)\n/);
    const fns = functions(readProfile(file));
    for (const name of ['missing', 'broken', 'outside']) {
      assert.ok(fns.some((f) => f.name === `${name}Hog` && f.file === path.join(bad, `${name}.js`) && f.startLine === 2 && f.cum > 0), listing(fns));
    }
    const f = mapFacts(file);
    assert.equal(f['source_maps.failed'], 3, JSON.stringify(f));
    for (const kind of ['missing', 'invalid_json', 'outside']) {
      assert.equal(f[`source_maps.failed.${kind}`], 1, kind);
      assert.match(String(f[`source_maps.failed.${kind}.detail`]), new RegExp(`^bad/${kind === 'invalid_json' ? 'broken' : kind}\\.js \\(`), kind);
    }
  });

  it("Node's type stripping: .ts files run as they are keep their names and lines", function () {
    const strip = path.join(dir, 'strip');
    fs.mkdirSync(strip);
    fs.writeFileSync(path.join(strip, 'lib.ts'), '// Run by Node as it is: types erased, positions kept.\nexport interface Rounds {\n  count: number;\n}\n\n'
      + 'export function spin(rounds: Rounds): number {\n  let s = 0;\n  for (let i = 0; i < rounds.count; i++) s = (s * 31 + i) % 1000003;\n  return s;\n}\n');
    fs.writeFileSync(path.join(strip, 'main.ts'), "import { spin, type Rounds } from './lib.ts';\n\nconst rounds: Rounds = { count: 3e7 };\nconsole.log(`spun ${spin(rounds) >= 0}`);\n");
    // The `node` the CLI runs (first on PATH): type stripping by default (22.18+, 23.6+), with a flag (22.6+), or not at all.
    const probe = (flags: string[]): boolean => spawnSync('node', [...flags, path.join(strip, 'main.ts')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
      .stdout === 'spun true\n';
    const flags = probe([]) ? [] : probe(['--experimental-strip-types']) ? ['--experimental-strip-types'] : undefined;
    if (!flags) {
      const v = spawnSync('node', ['--version'], { encoding: 'utf8' }).stdout.trim();
      console.log(`    (skipping: node ${v} cannot run TypeScript; Node >= 22.6 can)`);
      this.skip();
    }
    const { file } = run('strip', ['node', ...flags, path.join(strip, 'main.ts')]);
    const fns = functions(readProfile(file));
    assert.ok(fns.some((f) => f.name === 'spin' && f.file === path.join(strip, 'lib.ts') && f.startLine === 6 && f.cum > 0), listing(fns));
    // Nothing to map (no map: the file is what ran), and nothing failed.
    const f = mapFacts(file);
    assert.deepEqual([typeof f['source_maps.mapped_frames'], f['source_maps.failed']], ['number', 0], JSON.stringify(f));
  });
});
