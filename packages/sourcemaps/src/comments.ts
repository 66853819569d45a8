// The profile's account of its source maps, as comment lines (go tool pprof shows them; the ptprof
// CLI's summary reads them back):
//
//   source_maps mapped_frames=14 scripts=3 failed=2 unmapped_frames=0 map_bytes=1843210 ms=41
//   source_maps failed.missing=1: dist/a.js (dist/a.js.map: ENOENT)
//   source_maps failed.invalid_json=1: dist/b.js (dist/b.js.map: not JSON: Unexpected token ...)
//
// or `source_maps off`, or `source_maps error: ...` when mapping itself failed (a bug: the profile
// is then written as it ran). One line of totals, then one line per kind of failure (at most
// MAX_LISTED scripts each, then "and N more").
import { FAILURE_KINDS, type FailureKind, type SourceMapFailure, type SourceMapStats } from './types';

const PREFIX = 'source_maps';
const MAX_LISTED = 5;

function describeFailure(f: SourceMapFailure): string {
  const where = f.map === 'inline' ? 'inline map' : f.map === 'node' ? "Node's map" : f.map;
  return `${f.script} (${where}: ${oneLine(f.reason)})`;
}

/** The comment lines for these stats. */
export function formatComments(stats: SourceMapStats): string[] {
  if (!stats.enabled) return [`${PREFIX} off`];
  const lines = [
    `${PREFIX} mapped_frames=${stats.mappedFrames} scripts=${stats.scripts} failed=${stats.failed.length} ` +
      `unmapped_frames=${stats.unmappedFrames} map_bytes=${stats.mapBytes} ms=${Math.round(stats.ms)}`,
  ];
  for (const kind of FAILURE_KINDS) {
    const of = stats.failed.filter((f) => f.kind === kind);
    if (of.length === 0) continue;
    const listed = of.slice(0, MAX_LISTED).map(describeFailure);
    if (of.length > MAX_LISTED) listed.push(`and ${of.length - MAX_LISTED} more`);
    lines.push(`${PREFIX} failed.${kind}=${of.length}: ${listed.join('; ')}`);
  }
  return lines;
}

/** The comment of a profile whose mapping failed as a whole (it is written as it ran). */
export function errorComment(err: unknown): string {
  return `${PREFIX} error: ${oneLine(err instanceof Error ? err.message : String(err))}`;
}

function oneLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** What a profile's comments say about its source maps; undefined when they say nothing. */
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

/** Reads back what formatComments wrote (from a pprof file's comments, or an agent's report). */
export function parseComments(comments: readonly string[]): SourceMapReport | undefined {
  let report: SourceMapReport | undefined;
  for (const c of comments) {
    if (c === `${PREFIX} off`) return { enabled: false, mappedFrames: 0, scripts: 0, failed: 0, failures: [] };
    if (c.startsWith(`${PREFIX} error: `)) return { enabled: true, error: c.slice(`${PREFIX} error: `.length), mappedFrames: 0, scripts: 0, failed: 0, failures: [] };
    const totals = /^source_maps mapped_frames=(\d+) scripts=(\d+) failed=(\d+)/.exec(c);
    if (totals) {
      report = { enabled: true, mappedFrames: Number(totals[1]), scripts: Number(totals[2]), failed: Number(totals[3]), failures: report?.failures ?? [] };
      continue;
    }
    const kind = /^source_maps failed\.(\w+)=(\d+): (.*)$/.exec(c);
    if (kind && (FAILURE_KINDS as readonly string[]).includes(kind[1])) {
      report ??= { enabled: true, mappedFrames: 0, scripts: 0, failed: 0, failures: [] };
      report.failures.push({ kind: kind[1] as FailureKind, count: Number(kind[2]), detail: kind[3] });
    }
  }
  return report;
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Lines for people (the CLI's summary), e.g.
 *   source maps: 14 frames in 3 scripts named from their maps
 *   2 scripts declared a source map that could not be read: dist/a.js (dist/a.js.map: ENOENT), ...
 */
export function describeComments(comments: readonly string[]): string[] {
  const r = parseComments(comments);
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
