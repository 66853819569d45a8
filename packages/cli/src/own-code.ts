// The directories of ptprof's own JavaScript in a profiled process: the CLI's agent, and the
// packages it loads (the writer, the source maps, the view). The sampler puts a sample taken in
// any of them (with its own package's) under the one `(ptprof)` root frame: what the profiler costs
// the process is shown apart from the program's stacks (issue 14: a profiler that does not profile
// itself).
import * as path from 'node:path';

export function agentOwnCode(): string[] {
  // The compiled sources only (this file's directory, and each package's dist/src): not tests.
  const dirs = [__dirname];
  for (const pkg of ['@ptprof/pprof-writer', '@ptprof/sourcemaps', '@ptprof/view']) {
    try {
      dirs.push(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'src'));
    } catch {
      /* not installed: nothing of it runs */
    }
  }
  return dirs;
}
