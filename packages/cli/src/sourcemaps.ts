// Source maps in the command: the agent names each process's frames through their scripts' maps
// as it writes the profile, and the summary says what could not be read (see @ptprof/sourcemaps).
// Done in the profiled process, once, after sampling stopped and before any writer runs (so every
// format gets the same frames): only there are the maps of code transpiled in memory (tsx) known
// (Node's module.findSourceMap), and only there are the frames' columns, which a bundle on one line
// needs and folded output does not keep. Loaded when used, so that the agent's start-up does not
// pay for it.
import * as path from 'node:path';
import type { Facts } from '@ptprof/pprof-writer';
import { agentOwnCode } from './own-code';
import type { MappableProfile } from '@ptprof/sourcemaps';

type SourceMaps = typeof import('@ptprof/sourcemaps');

let ownDirsCache: string[] | undefined;
/** The directories of ptprof's own compiled JavaScript in this process, each ending with a separator. */
function ownDirs(): string[] {
  if (!ownDirsCache) {
    // What the sampler puts under (ptprof): its own code and the agent's.
    const { samplerOwnCode } = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
    ownDirsCache = [...samplerOwnCode(), ...agentOwnCode()].map((d) => d + path.sep);
  }
  return ownDirsCache;
}

/**
 * The profile with its frames named through their source maps (or, when `enabled` is false, as it
 * ran), and the `source_maps.*` facts that say so. A failure here must not cost the profile: it is
 * written as it ran, with the failure as the fact `source_maps.error` (the package's errorFacts,
 * or, when the package itself cannot be loaded, the same fact made here).
 */
export function withSourceMaps<P extends MappableProfile>(profile: P, enabled: boolean): P {
  let sourcemaps: SourceMaps | undefined;
  try {
    sourcemaps = require('@ptprof/sourcemaps') as SourceMaps;
    // ptprof's own frames (under the (ptprof) root) stay as they ran: reading its maps cost ~10 ms
    // at the end of every process that had a sample in them (issue 14).
    const own = ownDirs();
    return sourcemaps.mapProfile(profile, { enabled, skipScript: (s) => own.some((d) => s.startsWith(d)) }).profile;
  } catch (err) {
    const facts = sourcemaps
      ? sourcemaps.errorFacts(err)
      : { 'source_maps.error': `cannot load @ptprof/sourcemaps: ${String((err as Error)?.message ?? err).split('\n')[0]}` };
    return { ...profile, facts: { ...profile.facts, ...facts } };
  }
}

/** The summary's lines about source maps, from a profile's facts (its agent's report). */
export function sourceMapSummary(facts: Readonly<Facts>): string[] {
  const { describeSourceMapFacts } = require('@ptprof/sourcemaps') as SourceMaps;
  return describeSourceMapFacts(facts);
}
