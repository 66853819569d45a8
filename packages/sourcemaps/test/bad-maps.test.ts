// Bad input never breaks a profile: each kind of unusable map leaves its script's frames as they
// ran, is counted and named in the stats and the facts, and the other scripts are still mapped.
// The bad maps are hand-made (no tool writes them on purpose); the good one is esbuild's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatFacts, parseFacts } from '@ptprof/pprof-writer';
import { describeSourceMapFacts, mapProfile, readSourceMapFacts, type FailureKind, type MappableFrame } from '../src';
import { fixtures, profileOf, rmDir, tmpDir, v8Frame } from './helpers';

/** A script with one function, hogName, and this annotation (none when undefined). */
function script(dir: string, name: string, annotation: string | undefined): string {
  const file = path.join(dir, 'bad', `${name}.js`);
  const fn = `hog_${name.replace(/\W/g, '_')}`;
  fs.writeFileSync(file, `'use strict';\nfunction ${fn}(n) {\n  let s = 0;\n  for (let i = 0; i < n; i++) s = (s * 31 + i) % 1000003;\n  return s;\n}\n`
    + `module.exports = ${fn};\n${annotation === undefined ? '' : `//# sourceMappingURL=${annotation}\n`}`);
  return file;
}

function frameOf(file: string): MappableFrame {
  return v8Frame(file, /function (?<name>hog_\w+)(?<at>\()/d);
}

describe('mapProfile: bad maps', function () {
  this.timeout(120_000);
  let dir: string;
  let good: string;
  before(() => {
    dir = tmpDir('bad');
    good = fixtures.build(dir, ['esbuild']).esbuild;
    fs.mkdirSync(path.join(dir, 'bad'));
  });
  after(() => rmDir(dir));

  const write = (name: string, text: string): void => fs.writeFileSync(path.join(dir, 'bad', name), text);
  // One line of mappings: line 2 of the script (where the function is) starts a segment...
  // ";AGAA" -> [[], [[0, 3, 0, 0]]]: source #3; ";AAiDA" -> [[], [[0, 0, 49, 0]]]: line 50 of source #0.
  const map = (extra: object): string => JSON.stringify({ version: 3, sources: ['hog.ts'], names: [], mappings: ';AAAA', ...extra });

  it('each kind is counted, named, and leaves its frames as they ran; the good script is still mapped', () => {
    const cases: [FailureKind, string, RegExp][] = [];
    const add = (kind: FailureKind, name: string, annotation: string, reason: RegExp): void => {
      cases.push([kind, script(dir, name, annotation), reason]);
    };
    add('missing', 'missing', 'missing.js.map', /^ENOENT$/);
    fs.mkdirSync(path.join(dir, 'bad', 'dir.js.map'));
    add('unreadable', 'dir', 'dir.js.map', /^EISDIR$/);
    add('unreadable', 'badpercent', 'data:application/json,%E0%A4%A', /data: URL that does not decode/);
    write('truncated.js.map', '{"version":3,"sources":["a.ts"],"mappings":"AAAA"');
    add('invalid_json', 'truncated', 'truncated.js.map', /^not JSON: /);
    add('invalid_json', 'badbase64', 'data:application/json;base64,!!!!not-base64!!!!', /^not JSON: /);
    write('v2.js.map', map({ version: 2 }));
    add('unsupported', 'v2', 'v2.js.map', /version 2, not 3/);
    add('unsupported', 'http', 'https://example.com/app.js.map', /not a file/);
    write('urlsection.js.map', JSON.stringify({ version: 3, sections: [{ offset: { line: 0, column: 0 }, url: 'other.js.map' }] }));
    add('unsupported', 'urlsection', 'urlsection.js.map', /unusable/);
    write('index.js.map', map({ mappings: ';AGAA' }));
    add('outside', 'index', 'index.js.map', /source #3, which the map does not list/);
    write('line.js.map', map({ mappings: ';AAiDA', sourcesContent: ['one\ntwo\n'] }));
    add('outside', 'line', 'line.js.map', /line 50 of .*hog\.ts, which has 3/);

    const goodFrame = v8Frame(good, /function (?<name>query2)(?<at>\()/d);
    const frames = [goodFrame, ...cases.map(([, file]) => frameOf(file))];
    const { profile, stats } = mapProfile(profileOf(frames), { cwd: dir });

    const got = profile.samples.map((s) => s.frames[0]);
    assert.equal(got[0].name, 'query', 'the good script is mapped');
    cases.forEach(([kind, file], i) => assert.equal(got[i + 1], frames[i + 1], `${kind} ${path.basename(file)}: left as it ran`));
    assert.equal(stats.scripts, 1);
    assert.equal(stats.mappedFrames, 1);
    assert.deepEqual(stats.failed.map((f) => [f.kind, f.script]).sort(),
      cases.map(([kind, file]) => [kind, path.relative(dir, file)]).sort());
    for (const [kind, file, reason] of cases) {
      const f = stats.failed.find((x) => x.script === path.relative(dir, file))!;
      assert.match(f.reason, reason, `${kind} ${file}: ${f.reason}`);
    }

    // The facts: the totals, then a count and a detail per kind, the profile's own kept; written
    // as pprof comments by pprof-writer's formatFacts and read back the same by its parseFacts.
    const facts = profile.facts!;
    assert.equal(facts.hz, 100, "the profile's own facts are kept");
    assert.deepEqual([facts['source_maps.mapped_frames'], facts['source_maps.scripts'], facts['source_maps.failed']], [1, 1, cases.length]);
    assert.match(String(facts['source_maps.failed.missing.detail']), /^bad\/missing\.js \(bad\/missing\.js\.map: ENOENT\)$/);
    const read = parseFacts(formatFacts(facts));
    assert.deepEqual({ ...read }, { ...facts });
    const report = readSourceMapFacts(read)!;
    assert.deepEqual(report.failures.map((f) => [f.kind, f.count]), [['missing', 1], ['unreadable', 2], ['invalid_json', 2], ['unsupported', 3], ['outside', 2]]);
    const people = describeSourceMapFacts(read);
    assert.equal(people[0], 'source maps: 1 frame in 1 script named from their maps');
    assert.match(people[1], /^8 scripts declared a source map that could not be read \(their frames are left as they ran\): bad\/missing\.js /);
    assert.match(people[2], /^2 scripts have source maps pointing outside their sources/);
  });

  it('skipScript: a skipped script keeps its frames as they ran, its map neither read nor counted', () => {
    const goodFrame = v8Frame(good, /function (?<name>query2)(?<at>\()/d);
    const mappedName = mapProfile(profileOf([goodFrame]), { cwd: dir }).profile.samples[0].frames[0].name;
    assert.notEqual(mappedName, 'query2', 'the script is mapped when not skipped');
    const asked: string[] = [];
    const { stats, profile } = mapProfile(profileOf([goodFrame]), { cwd: dir, skipScript: (s) => (asked.push(s), s === good) });
    assert.deepEqual(asked, [good]);
    assert.equal(profile.samples[0].frames[0], goodFrame);
    assert.deepEqual([stats.scripts, stats.mappedFrames, stats.unmappedFrames, stats.failed, stats.mapBytes], [0, 0, 0, [], 0]);
  });

  it('a map over maxMapBytes is not read', () => {
    const file = script(dir, 'big', 'big.js.map');
    write('big.js.map', map({ sourcesContent: ['x'.repeat(10_000)] }));
    const { stats, profile } = mapProfile(profileOf([frameOf(file)]), { cwd: dir, maxMapBytes: 1000 });
    assert.deepEqual(stats.failed.map((f) => f.kind), ['unreadable']);
    assert.match(stats.failed[0].reason, /^\d+ bytes, over the limit of 1000 \(maxMapBytes\)$/);
    assert.equal(profile.samples[0].frames[0].name, 'hog_big');
  });

  it('a large script that names a map its package did not ship is read only at its end (issue 14)', () => {
    // As TypeScript's 9 MB lib/_tsc.js, whose package ships no _tsc.js.map: the missing map is
    // found from the script's last bytes, and the script is never read whole.
    const file = script(dir, 'large', 'large.js.map');
    const text = fs.readFileSync(file, 'utf8');
    const body = text.slice(0, text.lastIndexOf('//# sourceMappingURL'));
    fs.writeFileSync(file, `${body}${`// ${'x'.repeat(97)}\n`.repeat(20_000)}//# sourceMappingURL=large.js.map\n`);
    assert.ok(fs.statSync(file).size > 1 << 20);
    const frame = frameOf(file);
    const wholeReads: string[] = [];
    const cjsFs = require('node:fs') as { readFileSync: typeof fs.readFileSync }; // the module object locate.ts reads through
    const real = cjsFs.readFileSync;
    const spy = ((target: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      const name = typeof target === 'number' ? fs.readlinkSync(`/proc/self/fd/${target}`) : String(target);
      wholeReads.push(name);
      return (real as (...a: unknown[]) => unknown)(target, ...rest);
    }) as typeof fs.readFileSync;
    cjsFs.readFileSync = spy;
    let r;
    try {
      r = mapProfile(profileOf([frame]), { cwd: dir });
    } finally {
      cjsFs.readFileSync = real;
    }
    assert.deepEqual(r.stats.failed.map((f) => [f.kind, f.reason]), [['missing', 'ENOENT']]);
    assert.equal(r.profile.samples[0].frames[0].name, 'hog_large');
    assert.deepEqual(wholeReads.filter((n) => n === file), [], 'the script was read whole');
    // Once the map is there, the script is read whole (its names are checked against the code).
    write('large.js.map', map({}));
    cjsFs.readFileSync = spy;
    try {
      r = mapProfile(profileOf([frame]), { cwd: dir });
    } finally {
      cjsFs.readFileSync = real;
    }
    assert.deepEqual(r.stats.failed, []);
    assert.equal(wholeReads.filter((n) => n === file).length, 1);
  });

  it('a script without a map, that no longer exists, or that is a FIFO (node /dev/stdin) is no failure and does not block', () => {
    const plain = script(dir, 'plain', undefined);
    const gone: MappableFrame = { name: 'gone', file: path.join(dir, 'bad', 'deleted.js'), line: 3, column: 14 };
    const fifo = path.join(dir, 'bad', 'fifo.js');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const piped: MappableFrame = { name: 'piped', file: fifo, line: 2, column: 14 };
    const { stats } = mapProfile(profileOf([frameOf(plain), gone, piped]), { cwd: dir });
    assert.deepEqual([stats.failed, stats.scripts, stats.mappedFrames], [[], 0, 0]);
    // A map that is a FIFO is not read either.
    const withFifoMap = script(dir, 'fifomap', 'fifomap.js.map');
    assert.equal(spawnSync('mkfifo', [path.join(dir, 'bad', 'fifomap.js.map')]).status, 0, 'mkfifo');
    const r = mapProfile(profileOf([frameOf(withFifoMap)]), { cwd: dir });
    assert.deepEqual(r.stats.failed.map((f) => [f.kind, f.reason]), [['unreadable', 'not a regular file']]);
  });

  it('an annotation in the code (a string in a bundle) is not the script\'s; one followed by comments is', () => {
    const file = script(dir, 'instring', undefined);
    // A line of code that holds the text: the scan from the end stops at code.
    fs.appendFileSync(file, 'const s = `\n//# sourceMappingURL=missing.map\n`;\nconsole.log(s);\n');
    assert.deepEqual(mapProfile(profileOf([frameOf(file)]), { cwd: dir }).stats.failed, []);
    fs.appendFileSync(file, '//# sourceMappingURL=missing-for-real.js.map\n// a comment after it\n\n');
    const { stats } = mapProfile(profileOf([frameOf(file)]), { cwd: dir });
    assert.deepEqual(stats.failed.map((f) => f.map), ['bad/missing-for-real.js.map']);
  });
});
