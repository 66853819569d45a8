// The agent's last step: the profile written in the format asked for. pprof and folded stacks come
// from @ptprof/pprof-writer; speedscope and .cpuprofile from @ptprof/view (loaded only then).
import type { ProfileInput } from '@ptprof/pprof-writer';
import type { Format } from './config';

/** Writes `profile` to `file` (several files for cpuprofile: one per JS thread); returns their paths. */
export function writeProfileSync(file: string, profile: ProfileInput, format: Format): string[] {
  const writer = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
  if (format === 'folded') {
    writer.writeFoldedFileSync(file, profile, { value: 'cpu', rootLabel: 'thread_name' });
    return [file];
  }
  if (format === 'pprof') {
    writer.writePprofFileSync(file, profile);
    return [file];
  }
  const view = require('@ptprof/view') as typeof import('@ptprof/view');
  const files = view.outputFiles(view.viewOfPprof(writer.toPprof(profile), file), format, file);
  view.writeOutputFiles(files);
  return files.map((f) => f.file);
}
