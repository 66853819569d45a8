// mapProfile against what the real tools write: tsc, esbuild (external, inline, minified, ESM, a map
// without annotation), rollup. Frames are put where V8 puts them (the start of a function's
// parameters), so that each naming rule is checked exactly; the CLI's tests profile the same builds
// with the real sampler.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { mapProfile, type MappableFrame } from '../src';
import { fixtures, profileOf, rmDir, tmpDir, v8Frame, type Expected } from './helpers';

describe('mapProfile: builds made by the real tools', function () {
  this.timeout(180_000);
  let dir: string;
  let out: Record<string, string>;
  let expected: Expected[];
  before(() => {
    dir = tmpDir('builds');
    out = fixtures.build(dir);
    expected = fixtures.originalLines(dir);
  });
  after(() => rmDir(dir));

  /** [name, file, line] of a function of the app, its line read from its TypeScript source. */
  const orig = (name: string, file: string): [string, string, number] => {
    const e = expected.find((x) => x.name === name && x.file === file);
    if (!e) throw new Error(`no ${name} in ${file}`);
    return [e.name, e.file, e.line];
  };
  const lineOf = (file: string, re: RegExp): number => fs.readFileSync(path.join(dir, file), 'utf8').split('\n').findIndex((l) => re.test(l)) + 1;
  const mapped = (frames: MappableFrame[]): MappableFrame[] => mapProfile(profileOf(frames), { cwd: dir }).profile.samples.map((s) => s.frames[0]);
  const summary = (frames: MappableFrame[]): [string, string | undefined, number | undefined][] => frames.map((f) => [f.name, f.file, f.line]);

  it("esbuild: the functions it renamed get their own names back, with their .ts files and lines; the bundle's stay in systemName", () => {
    const f = out.esbuild;
    const frames = [
      v8Frame(f, /function (?<name>query2)(?<at>\()/d),
      v8Frame(f, /function (?<name>send2)(?<at>\()/d),
      v8Frame(f, /var (?<name>checksum2) = (?<at>\()/d),
      v8Frame(f, /var (?<name>checksum) = (?<at>\()/d),
      v8Frame(f, /function (?<name>query)(?<at>\()/d),
      v8Frame(f, /function (?<name>renderTable)(?<at>\()/d),
      v8Frame(f, /\n {2}(?<name>paginate)(?<at>\()/d),
      v8Frame(f, /function (?<name>usersPage)(?<at>\()/d),
    ];
    const { profile, stats } = mapProfile(profileOf(frames), { cwd: dir });
    const got = profile.samples.map((s) => s.frames[0]);
    assert.deepEqual(summary(got), [
      orig('query', 'src/cache.ts'), orig('send', 'src/cache.ts'), orig('checksum', 'src/render.ts'), orig('checksum', 'src/cache.ts'),
      orig('query', 'src/db.ts'), orig('renderTable', 'src/render.ts'), orig('paginate', 'src/render.ts'), orig('usersPage', 'src/server.ts'),
    ]);
    assert.equal(got[0].systemName, `query2 esbuild/server.js:${frames[0].line}:${frames[0].column}`);
    assert.equal(got[2].systemName, `checksum2 esbuild/server.js:${frames[2].line}:${frames[2].column}`);
    assert.deepEqual({ ...stats, ms: 0, mapBytes: stats.mapBytes > 0 }, {
      enabled: true, scripts: 1, mappedFrames: 8, unmappedFrames: 0, failed: [], mapBytes: true, ms: 0,
    });
    const { 'source_maps.map_bytes': mapBytes, 'source_maps.ms': ms, ...counts } = profile.facts!;
    assert.deepEqual(counts, {
      hz: 100, 'source_maps.mapped_frames': 8, 'source_maps.scripts': 1, 'source_maps.failed': 0, 'source_maps.unmapped_frames': 0,
    });
    assert.equal(mapBytes, stats.mapBytes);
    assert.equal(typeof ms, 'number');
  });

  it('esbuild, minified: every function on the one line named by the map, the class constructor and a dropped name too', () => {
    const f = out.minified;
    const frames = [
      v8Frame(f, /function (?<name>\w+)(?<at>\()\w+,\w+=6\)/d),
      v8Frame(f, /function (?<name>\w+)(?<at>\()\w+\)\{let \w+=2166136261/d),
      v8Frame(f, /function (?<name>\w+)(?<at>\()\w+\)\{let \w+=0;for\(let \w+=0;\w+<5;/d),
      v8Frame(f, /function (?<name>\w+)(?<at>\()\w+\)\{let \w+=\w+\|1;/d),
      v8Frame(f, /var (?<name>\w+)=(?<at>\w+)=>\{let \w+=0;for\(let \w+=0;\w+<75;/d),
      v8Frame(f, /var (?<name>\w+)=(?<at>\w+)=>\{let \w+=0;for\(let \w+=0;\w+<1;/d),
      v8Frame(f, /(?<name>\w+)=class\{constructor(?<at>\()/d),
      v8Frame(f, /\.get\("\/users",function(?<at>\()/d, ''),
    ];
    assert.equal(new Set(frames.map((x) => x.line)).size, 1, 'the bundle is one line');
    assert.deepEqual(summary(mapped(frames)), [
      orig('query', 'src/db.ts'), orig('query', 'src/cache.ts'), orig('send', 'src/db.ts'), orig('send', 'src/cache.ts'),
      orig('checksum', 'src/cache.ts'), orig('checksum', 'src/render.ts'),
      ['Paginator', 'src/render.ts', lineOf('src/render.ts', /constructor\(/)],
      orig('usersPage', 'src/server.ts'),
    ]);
  });

  it('rollup: query$1 and send$1 are query and send of src/db.ts, checksum$1 is the cache\'s', () => {
    const f = out.rollup;
    assert.deepEqual(summary(mapped([
      v8Frame(f, /function (?<name>query\$1)(?<at>\()/d),
      v8Frame(f, /function (?<name>send\$1)(?<at>\()/d),
      v8Frame(f, /const (?<name>checksum\$1) = (?<at>\()/d),
      v8Frame(f, /\n {4}(?<name>paginate)(?<at>\()/d),
    ])), [orig('query', 'src/db.ts'), orig('send', 'src/db.ts'), orig('checksum', 'src/cache.ts'), orig('paginate', 'src/render.ts')]);
  });

  it('tsc --sourceMap: one map per file, each function at its own .ts line', () => {
    const tscDir = path.dirname(out.tsc);
    const frames = [
      v8Frame(path.join(tscDir, 'cache.js'), /function (?<name>query)(?<at>\()/d),
      v8Frame(path.join(tscDir, 'db.js'), /function (?<name>query)(?<at>\()/d),
      v8Frame(path.join(tscDir, 'render.js'), /(?<name>checksum) = (?<at>\()/d),
      v8Frame(path.join(tscDir, 'server.js'), /\n\s+(?<name>handle)(?<at>\()/d),
    ];
    const { profile, stats } = mapProfile(profileOf(frames), { cwd: dir });
    assert.deepEqual(summary(profile.samples.map((s) => s.frames[0])), [
      orig('query', 'src/cache.ts'), orig('query', 'src/db.ts'), orig('checksum', 'src/render.ts'), orig('handle', 'src/server.ts'),
    ]);
    assert.equal(stats.scripts, 4);
  });

  it('an inline base64 map, an ES module, and a map beside a script that does not name it', () => {
    for (const [build, script] of [['inline', out.inline], ['esm', out.esm], ['sibling', out.sibling]]) {
      const got = mapped([v8Frame(script, /function (?<name>query2)(?<at>\()/d), v8Frame(script, /var (?<name>checksum2) = (?<at>\()/d)]);
      assert.deepEqual(summary(got), [orig('query', 'src/cache.ts'), orig('checksum', 'src/render.ts')], build);
    }
    assert.doesNotMatch(fs.readFileSync(out.sibling, 'utf8'), /sourceMappingURL/);
    assert.match(fs.readFileSync(out.inline, 'utf8'), /sourceMappingURL=data:application\/json;base64,/);
  });

  it('an annotation that is a percent-encoded data: URL, an absolute path, or a file: URL', () => {
    const code = fs.readFileSync(out.esbuild, 'utf8').replace(/\/\/# sourceMappingURL=\S+\s*$/, '');
    const mapFile = `${out.esbuild}.map`;
    const json = fs.readFileSync(mapFile, 'utf8');
    const variants: Record<string, string> = {
      'percent.js': `data:application/json;charset=utf-8,${encodeURIComponent(json)}`,
      'absolute.js': mapFile,
      'fileurl.js': pathToFileURL(mapFile).href,
    };
    for (const [name, url] of Object.entries(variants)) {
      const script = path.join(dir, 'esbuild', name);
      fs.writeFileSync(script, `${code}//# sourceMappingURL=${url}\n`);
      assert.deepEqual(summary(mapped([v8Frame(script, /function (?<name>send2)(?<at>\()/d)])), [orig('send', 'src/cache.ts')], name);
    }
  });

  it('an index map (sections): each section maps to its own sources', () => {
    // No common tool writes index maps; this one joins two real esbuild maps, as a concatenating
    // build step would: the cache module's bundle, then the renderer's below it.
    const parts = ['cache', 'render'].map((m) => {
      const file = path.join(dir, 'index', `${m}.js`);
      require('esbuild').buildSync({ entryPoints: [path.join(dir, 'src', `${m}.ts`)], bundle: true, platform: 'node', format: 'cjs',
        outfile: file, sourcemap: 'external', logLevel: 'warning' });
      return { code: fs.readFileSync(file, 'utf8'), map: JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as object };
    });
    const joined = path.join(dir, 'index', 'joined.js');
    const offset = parts[0].code.split('\n').length - 1;
    fs.writeFileSync(joined, `${parts[0].code}${parts[1].code}//# sourceMappingURL=joined.js.map\n`);
    fs.writeFileSync(`${joined}.map`, JSON.stringify({
      version: 3,
      sections: [{ offset: { line: 0, column: 0 }, map: parts[0].map }, { offset: { line: offset, column: 0 }, map: parts[1].map }],
    }));
    assert.deepEqual(summary(mapped([
      v8Frame(joined, /function (?<name>send)(?<at>\()/d),
      v8Frame(joined, /function (?<name>renderTable)(?<at>\()/d),
    ])), [orig('send', 'src/cache.ts'), orig('renderTable', 'src/render.ts')]);
  });

  it('a frame that knows its executing line (startLine): both positions mapped, the name from the start', () => {
    const f = out.esbuild;
    const start = v8Frame(f, /function (?<name>send2)(?<at>\()/d);
    const exec = v8Frame(f, /let x = value \| 1;\n {2}for \(let i = 0; i < 24e6; i\+\+\) (?<at>x) = /d, 'send2');
    const [got] = mapped([{ ...exec, startLine: start.line, startColumn: start.column }]);
    const execLine = lineOf('src/cache.ts', /x = \(x \^ \(x << 13\)\)/);
    assert.deepEqual([got.name, got.file, got.line, got.startLine], ['send', 'src/cache.ts', execLine, orig('send', 'src/cache.ts')[2]]);
    assert.equal(got.systemName, `send2 esbuild/server.js:${start.line}:${start.column}`);
    // The function sampled at its start and at an executing line is one frame in the counts.
    const { stats } = mapProfile(profileOf([start, { ...exec, startLine: start.line, startColumn: start.column }]), { cwd: dir });
    assert.equal(stats.mappedFrames, 1);
  });

  it('leaves alone the top level of a script, frames of other files, and shares frame objects between samples', () => {
    const query2 = v8Frame(out.esbuild, /function (?<name>query2)(?<at>\()/d);
    const topLevel: MappableFrame = { name: '(anonymous)', file: out.esbuild, line: 1, column: 1 };
    const native: MappableFrame = { name: 'uv_run', file: '/usr/bin/node' };
    const internal: MappableFrame = { name: 'Module._load', file: 'node:internal/modules/cjs/loader', line: 1000, column: 24 };
    const input: { samples: { frames: MappableFrame[]; n: number }[]; facts?: Record<string, string> } = {
      samples: [{ frames: [query2, topLevel], n: 1 }, { frames: [native, query2, internal], n: 2 }, { frames: [internal], n: 3 }],
    };
    const { profile, stats } = mapProfile(input, { cwd: dir, facts: false });
    const [a, b, c] = profile.samples;
    assert.equal(a.frames[0], b.frames[1], 'one mapped object for one input frame');
    assert.equal(a.frames[0].name, 'query');
    assert.equal(a.frames[1], topLevel);
    assert.equal(b.frames[0], native);
    assert.equal(b.frames[2], internal);
    assert.equal(c, input.samples[2], 'a sample with nothing mapped is the same object');
    assert.equal(b.n, 2, 'other fields of a sample are kept');
    assert.equal(profile.facts, undefined);
    assert.equal(stats.mappedFrames, 1);
    assert.equal(input.samples[0].frames[0], query2, 'the input is not modified');
    assert.equal(query2.name, 'query2');
  });

  it('enabled: false maps nothing and says so in the facts', () => {
    const frames = [v8Frame(out.esbuild, /function (?<name>query2)(?<at>\()/d)];
    const { profile, stats } = mapProfile(profileOf(frames), { enabled: false });
    assert.equal(profile.samples[0].frames[0], frames[0]);
    assert.equal(stats.enabled, false);
    assert.deepEqual(profile.facts, { hz: 100, 'source_maps.enabled': false });
  });
});
