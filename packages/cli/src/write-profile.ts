// The agent's last step: the profile written in the format asked for. pprof and folded stacks come
// from @ptprof/pprof-writer; speedscope and .cpuprofile from @ptprof/view (loaded only then).
import type { FileIdentity, FoldedOptions, Profile, ProfileInput } from '@ptprof/pprof-writer';
import type { Format } from './config';

/**
 * Writes `profile` to `file` (several files for cpuprofile: one per JS thread, `file` the first).
 * Returns their paths, and what the first is once written (for the summary to read only that file).
 * Folded stacks get a `[thread]` root frame, or the root frames `folded` says (a process tree's).
 */
export function writeProfileSync(file: string, profile: ProfileInput, format: Format,
  folded: FoldedOptions = { rootLabel: 'thread_name' }, pprof?: Profile): { files: string[]; written: FileIdentity } {
  const writer = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
  if (format === 'folded') return { files: [file], written: writer.writeFoldedFileSync(file, profile, { value: 'cpu', ...folded }) };
  // `pprof`: the same profile already built (toPprof), which the caller reuses for its summary.
  if (format === 'pprof') return { files: [file], written: writer.writePprofFileSync(file, pprof ?? profile) };
  const view = require('@ptprof/view') as typeof import('@ptprof/view');
  const out = view.outputFiles(view.viewOfPprof(writer.toPprof(profile), file), format, file);
  const ids = view.writeOutputFiles(out);
  return { files: out.map((f) => f.file), written: ids[0]! };
}
