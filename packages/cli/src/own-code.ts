// The directories of ptprof's own JavaScript in a profiled process: the CLI's agent, and the
// packages it loads (the writer, the source maps, the view). The sampler puts a sample taken in
// any of them (with its own package's) under the one `(ptprof)` root frame: what the profiler costs
// the process is shown apart from the program's stacks (issue 14: a profiler that does not profile
// itself).

export function agentOwnCode(): string[] {
  // Asked for when a sampler starts, which loads @ptprof/sampler anyway (not at the agent's start).
  const { packageSources } = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
  // The compiled sources only (this file's directory, and each package's): not tests.
  return [__dirname, ...packageSources(['@ptprof/pprof-writer', '@ptprof/sourcemaps', '@ptprof/view'], __dirname)];
}
