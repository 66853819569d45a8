// Source maps in the command: the agent names each process's frames through their scripts' maps
// as it writes the profile, and the summary says what could not be read (see @ptprof/sourcemaps).
// Done in the profiled process, once, after sampling stopped: only there are the maps of code
// transpiled in memory (tsx) known (Node's module.findSourceMap), and only there are the frames'
// columns, which a bundle on one line needs and folded output does not keep. Loaded when used, so
// that the agent's start-up does not pay for it.
import type { Profile } from '@ptprof/sampler';

/** The profile with its frames named through their source maps (or, when `enabled` is false, as it ran). */
export function withSourceMaps(profile: Profile, enabled: boolean): Profile {
  // A failure here must not cost the profile: it is written as it ran, and says why (in the
  // package's words, or, when the package itself cannot be loaded, in the same form).
  let errorComment = (err: unknown): string => `source_maps error: ${String((err as Error)?.message ?? err).split('\n')[0]}`;
  try {
    const sourcemaps = require('@ptprof/sourcemaps') as typeof import('@ptprof/sourcemaps');
    errorComment = sourcemaps.errorComment;
    return sourcemaps.mapProfile(profile, { enabled }).profile;
  } catch (err) {
    return { ...profile, comments: [...profile.comments, errorComment(err)] };
  }
}

/** The summary's lines about source maps, from a profile's comments. */
export function sourceMapSummary(comments: readonly string[]): string[] {
  const { describeComments } = require('@ptprof/sourcemaps') as typeof import('@ptprof/sourcemaps');
  return describeComments(comments);
}
