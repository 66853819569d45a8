// Code transpiled in memory has no map on disk: only Node's own cache (module.findSourceMap) has
// it, when the program enabled source maps. tsx does (it calls process.setSourceMapsEnabled): the
// app's TypeScript is run through tsx's require hook in this process, profiled by the real
// sampler, and mapped with this process's findSourceMap (the default).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mapProfile, type MappableProfile } from '../src';
import { fixtures, rmDir, tmpDir, type Expected } from './helpers';

interface Frameish { name: string; file?: string; line?: number }
type Sampled = MappableProfile & { samples: { frames: Frameish[]; cpuNanos: number }[] };

/** CPU per function (name, file, line) with the function anywhere on the stack. */
function cumByFunction(p: Sampled): Map<string, number> {
  const cum = new Map<string, number>();
  for (const s of p.samples) {
    // A function by its first line (a frame in optimized code also has the line it was executing).
    for (const k of new Set(s.frames.map((f) => `${f.name} ${f.file}:${f.startLine ?? f.line}`))) cum.set(k, (cum.get(k) ?? 0) + s.cpuNanos);
  }
  return cum;
}

describe("mapProfile: Node's source-map cache", function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = tmpDir('tsx');
    fixtures.copySources(dir);
  });
  after(() => rmDir(dir));

  it("tsx's in-memory TypeScript, sampled: .ts names and lines from Node's cache; without it, as transpiled", () => {
    const { register } = require('tsx/cjs/api') as { register(): () => void };
    const { start } = require('@ptprof/sampler') as { start(o: { hz: number }): { stop(): Sampled } };
    const unregister = register();
    const argv = process.argv;
    let raw: Sampled;
    try {
      assert.equal(process.sourceMapsEnabled, true, 'tsx enables source maps');
      process.argv = [argv[0], 'server.ts', '3'];
      const sampler = start({ hz: 1000 });
      try {
        require(path.join(dir, 'src', 'server.ts'));
      } finally {
        raw = sampler.stop();
      }
    } finally {
      process.argv = argv;
      unregister();
    }

    const mapped = cumByFunction(mapProfile(raw, { cwd: dir }).profile as Sampled);
    const missing = fixtures.originalLines(dir).filter((e: Expected) => !((mapped.get(`${e.name} ${e.file}:${e.line}`) ?? 0) > 0));
    assert.deepEqual(missing, [], `functions not found at their .ts lines; the profile has:\n${[...mapped.keys()].filter((k) => k.includes('src/')).join('\n')}`);

    // Without Node's cache nothing is mapped: the .ts files on disk have no annotation, and what ran
    // was tsx's transpiled code, at other lines.
    const { profile, stats } = mapProfile(raw, { cwd: dir, findSourceMap: null });
    const asRan = cumByFunction(profile as Sampled);
    const at = fixtures.originalLines(dir).filter((e: Expected) => asRan.has(`${e.name} ${e.file}:${e.line}`));
    assert.deepEqual(at, []);
    assert.ok([...asRan.keys()].some((k) => k.startsWith(`query ${path.join(dir, 'src', 'cache.ts')}:`)), 'query of cache.ts, as it ran');
    assert.equal(stats.failed.length, 0);
  });
});
