// The profile's account of its source maps, as facts: named values that @ptprof/pprof-writer
// writes into the pprof's comments in key=value form (its formatFacts; read back with its
// parseFacts), and that the ptprof agent also puts in its report for the CLI's summary. One group,
// `source_maps.*`: the totals, then per kind of failure its count and the scripts it names.
//
//   source_maps.mapped_frames=14 source_maps.scripts=3 source_maps.failed=2 source_maps.unmapped_frames=0
//   source_maps.map_bytes=1843210 source_maps.ms=41 source_maps.failed.missing=1
//   source_maps.failed.missing.detail="dist/a.js (dist/a.js.map: ENOENT)"
//
// or `source_maps.enabled=false`, or `source_maps.error="..."` when mapping itself failed (a bug:
// the profile is then written as it ran). A detail lists at most MAX_LISTED scripts, then "and N
// more". This module makes and reads plain records: formatting them is the writer's business.
import type { Facts } from '@ptprof/pprof-writer';
import { FAILURE_KINDS, type FailureKind, type SourceMapFailure, type SourceMapStats } from './types';

const PREFIX = 'source_maps';
const MAX_LISTED = 5;

function describeFailure(f: SourceMapFailure): string {
  const where = f.map === 'inline' ? 'inline map' : f.map === 'node' ? "Node's map" : f.map;
  return `${f.script} (${where}: ${oneLine(f.reason)})`;
}

/** The facts for these stats, in the order they are written. */
export function statsFacts(stats: SourceMapStats): Facts {
  if (!stats.enabled) return { [`${PREFIX}.enabled`]: false };
  const facts: Facts = {
    [`${PREFIX}.mapped_frames`]: stats.mappedFrames,
    [`${PREFIX}.scripts`]: stats.scripts,
    [`${PREFIX}.failed`]: stats.failed.length,
    [`${PREFIX}.unmapped_frames`]: stats.unmappedFrames,
    [`${PREFIX}.map_bytes`]: stats.mapBytes,
    [`${PREFIX}.ms`]: Math.round(stats.ms),
  };
  for (const kind of FAILURE_KINDS) {
    const of = stats.failed.filter((f) => f.kind === kind);
    if (of.length === 0) continue;
    const listed = of.slice(0, MAX_LISTED).map(describeFailure);
    if (of.length > MAX_LISTED) listed.push(`and ${of.length - MAX_LISTED} more`);
    facts[`${PREFIX}.failed.${kind}`] = of.length;
    facts[`${PREFIX}.failed.${kind}.detail`] = listed.join('; ');
  }
  return facts;
}

/** The facts of a profile whose mapping failed as a whole (it is written as it ran). */
export function errorFacts(err: unknown): Facts {
  return { [`${PREFIX}.error`]: oneLine(err instanceof Error ? err.message : String(err)) };
}

function oneLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** What a profile's facts say about its source maps; undefined when they say nothing. */
export interface SourceMapReport {
  enabled: boolean;
  /** Mapping failed as a whole, with this message. */
  error?: string;
  mappedFrames: number;
  scripts: number;
  failed: number;
  /** Per kind of failure: how many scripts, and the listed ones as written. */
  failures: { kind: FailureKind; count: number; detail: string }[];
}

/**
 * Reads back what statsFacts or errorFacts wrote, from a profile's facts (pprof-writer's
 * parseFacts of its comments, or an agent's report). Values of the wrong type count as absent.
 */
export function readSourceMapFacts(facts: Readonly<Facts>): SourceMapReport | undefined {
  // Required here, by the readers (the CLI, the viewer), not at the top: the agent maps every
  // process's frames at its end and needs none of pprof-writer, whose index (pprof-format, zlib,
  // the merge) took ~11 ms of each process's end to load (issue 14).
  const { numberFact, stringFact } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
  const num = (key: string): number | undefined => numberFact(facts, `${PREFIX}.${key}`);
  const str = (key: string): string | undefined => stringFact(facts, `${PREFIX}.${key}`);
  const none = { mappedFrames: 0, scripts: 0, failed: 0, failures: [] };
  if (facts[`${PREFIX}.enabled`] === false) return { enabled: false, ...none };
  const error = str('error');
  if (error !== undefined) return { enabled: true, error, ...none };
  const mappedFrames = num('mapped_frames');
  if (mappedFrames === undefined) return undefined;
  const failures: SourceMapReport['failures'] = [];
  for (const kind of FAILURE_KINDS) {
    const count = num(`failed.${kind}`);
    if (count !== undefined && count > 0) failures.push({ kind, count, detail: str(`failed.${kind}.detail`) ?? '' });
  }
  return { enabled: true, mappedFrames, scripts: num('scripts') ?? 0, failed: num('failed') ?? 0, failures };
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Lines for people (the CLI's summary), from a profile's facts, e.g.
 *   source maps: 14 frames in 3 scripts named from their maps
 *   2 scripts declared a source map that could not be read: dist/a.js (dist/a.js.map: ENOENT), ...
 */
export function describeSourceMapFacts(facts: Readonly<Facts>): string[] {
  const r = readSourceMapFacts(facts);
  if (!r || !r.enabled) return [];
  if (r.error !== undefined) return [`source maps: not applied, the frames are as they ran (${r.error})`];
  const lines: string[] = [];
  if (r.mappedFrames > 0) {
    lines.push(`source maps: ${plural(r.mappedFrames, 'frame', 'frames')} in ${plural(r.scripts, 'script', 'scripts')} named from their maps`);
  }
  const unread = r.failures.filter((f) => f.kind !== 'outside');
  const n = unread.reduce((a, f) => a + f.count, 0);
  if (n > 0) {
    lines.push(`${plural(n, 'script', 'scripts')} declared a source map that could not be read (their frames are left as they ran): ` +
      unread.map((f) => f.detail).join('; '));
  }
  for (const f of r.failures.filter((x) => x.kind === 'outside')) {
    lines.push(`${f.count === 1 ? '1 script has a source map pointing outside its sources' : `${f.count} scripts have source maps pointing outside their sources`} ` +
      `(those frames are left as they ran): ${f.detail}`);
  }
  return lines;
}
