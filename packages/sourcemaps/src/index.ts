// @ptprof/sourcemaps: the frames of a CPU profile named by their original functions, files and
// lines through the scripts' source maps. Knows nothing about signals or the sampler: it reads
// and returns profiles of @ptprof/pprof-writer's model (the sampler's Profile has the same shape).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { plural, statsFacts } from './facts';
import { locate, type LocateOptions } from './locate';
import { mapScript, PathDisplay } from './mapper';
import type { MappableFrame, MappableProfile, NodeSourceMap, SourceMapOptions, SourceMapStats } from './types';

export type {
  MappableFrame, MappableProfile, MappableSample, NodeSourceMap, SourceMapOptions, SourceMapStats, SourceMapFailure, FailureKind,
} from './types';
export { FAILURE_KINDS } from './types';
export { statsFacts, errorFacts, readSourceMapFacts, describeSourceMapFacts, type SourceMapReport } from './facts';
export { findAnnotation, decodeDataUrl } from './locate';

export const DEFAULT_MAX_MAP_BYTES = 128 * 1024 * 1024;

/** This process's `module.findSourceMap`, which knows the maps Node holds (when the program enabled them). */
function nodeFindSourceMap(): ((file: string) => NodeSourceMap | undefined) | null {
  try {
    const m = require('node:module') as { findSourceMap?: (file: string) => NodeSourceMap | undefined };
    return typeof m.findSourceMap === 'function' ? m.findSourceMap : null;
  } catch {
    return null;
  }
}

/** The script of a JS frame as an absolute path, or undefined for frames that are not in a script file. */
function scriptOf(f: MappableFrame): string | undefined {
  if (typeof f.file !== 'string' || !(typeof f.line === 'number' && f.line > 0)) return undefined;
  if (f.file.startsWith('file:')) {
    try {
      return fileURLToPath(f.file);
    } catch {
      return undefined;
    }
  }
  return path.isAbsolute(f.file) ? f.file : undefined;
}

/**
 * Names the profile's JS frames by their source maps: each frame whose script has a map gets the
 * original name, file (relative to `cwd` when under it), line and column, and keeps its generated
 * name and position in `systemName` ("query2 dist/server.js:16:16"). Only the scripts in the
 * profile are looked at, one at a time: each map is read and parsed once and dropped before the
 * next, so memory holds one map at a time. Never throws for a bad map: it is counted in the stats
 * (and the facts) and its frames are left as they were.
 *
 * Returns a new profile (the input is not modified: samples and frames are new objects where
 * mapped, shared where not) with the stats added to its `facts` (the `source_maps.*` group, see
 * statsFacts), and the stats.
 */
export function mapProfile<P extends MappableProfile>(profile: P, options: SourceMapOptions = {}): { profile: P; stats: SourceMapStats } {
  const t0 = performance.now();
  const stats: SourceMapStats = { enabled: options.enabled !== false, scripts: 0, mappedFrames: 0, unmappedFrames: 0, failed: [], mapBytes: 0, ms: 0 };
  const done = (samples: P['samples']): { profile: P; stats: SourceMapStats } => {
    stats.ms = performance.now() - t0;
    const facts = options.facts === false ? profile.facts : { ...profile.facts, ...statsFacts(stats) };
    return { profile: { ...profile, samples, ...(facts !== undefined ? { facts } : {}) }, stats };
  };
  if (!stats.enabled) return done(profile.samples);

  // The distinct frames of each script (producers share frame objects: each is looked at once).
  const byScript = new Map<string, MappableFrame[]>();
  const seen = new Set<MappableFrame>();
  for (const s of profile.samples) {
    for (const f of s.frames) {
      if (seen.has(f)) continue;
      seen.add(f);
      const script = scriptOf(f);
      if (script === undefined || options.skipScript?.(script)) continue;
      let list = byScript.get(script);
      if (!list) byScript.set(script, (list = []));
      list.push(f);
    }
  }

  const display = new PathDisplay(options.cwd ?? process.cwd());
  const locateOptions: LocateOptions = {
    findSourceMap: options.findSourceMap === undefined ? nodeFindSourceMap() : options.findSourceMap,
    maxMapBytes: options.maxMapBytes ?? DEFAULT_MAX_MAP_BYTES,
  };
  const shownMap = (where: string): string => (where === 'inline' || where === 'node' ? where : display.show(where));
  const mapped = new Map<MappableFrame, MappableFrame>();
  for (const [script, frames] of [...byScript].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const found = locate(script, locateOptions);
    if (found.kind === 'none') continue;
    if (found.kind === 'failed') {
      const f = found.failure;
      stats.failed.push({ kind: f.kind, script: display.show(script), map: shownMap(f.map), reason: f.reason });
      continue;
    }
    stats.mapBytes += found.loaded.bytes;
    const r = mapScript(found.loaded, script, frames, display);
    for (const [from, to] of r.mapped) mapped.set(from, to);
    stats.mappedFrames += r.mappedFrames;
    stats.unmappedFrames += r.unmappedFrames;
    if (r.mappedFrames > 0) stats.scripts++;
    if (r.outsideFrames > 0) {
      const reason = `${plural(r.outsideFrames, 'frame', 'frames')}: ${r.outsideReason}`;
      stats.failed.push({ kind: 'outside', script: display.show(script), map: shownMap(found.loaded.where), reason });
    }
  }
  if (mapped.size === 0) return done(profile.samples);
  const samples = profile.samples.map((s) => {
    let changed = false;
    const frames = s.frames.map((f) => {
      const m = mapped.get(f);
      if (m) changed = true;
      return m ?? f;
    });
    return changed ? { ...s, frames } : s;
  });
  return done(samples as P['samples']);
}
