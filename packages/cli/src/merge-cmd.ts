// `ptprof merge A B ... -o OUT`: profiles of separate runs or machines (or the files of a --split
// run) as one, through pprof-writer's mergeProfiles. Thin: parse, read (capped, like top and
// view), merge, write.
import * as path from 'node:path';
import {
  fromFolded, fromPprof, mergeProfiles, parseFolded, printable, readProfileFile, treeRootFrames, type MergeInput,
} from '@ptprof/pprof-writer';
import { formatOfOutput, LIMITS_HELP, UsageError, type ReadLimits } from './args';
import { readFailure } from './summary';
import { COUNTER_FACTS, FACT_GROUPS, SAME_FACTS } from './tree';
import { scan } from './view-args';
import { VERSION } from './version';
import { writeProfileSync } from './write-profile';

export interface MergeCommand extends ReadLimits {
  kind: 'merge';
  files: string[];
  output: string;
}

export const MERGE_USAGE = `Usage: ptprof merge -o OUT [--max-mb N] [--allow-special] <file> <file>...

Merges profiles (pprof or folded stacks: ptprof's, of one process or a whole run, or another
profiler's CPU profiles) into one and prints its path. Each sample keeps its labels and gains its
process's (pid, process); where two files would collide (the same pid in both, or no pid at all),
every sample also gets profile=<its file's name>. The processes are listed in the profile's facts
with their own OS CPU; the totals are their sum.
  -o, --output OUT   the merged profile: pprof (gzipped), or folded stacks for a name ending in
                     .folded ([process (pid N)];[thread] roots), speedscope for .speedscope.json
${LIMITS_HELP}`;

export function parseMerge(args: readonly string[]): MergeCommand | { kind: 'merge-help' } {
  const usage = 'usage: ptprof merge -o OUT [--max-mb N] [--allow-special] <file> <file>...';
  const files: string[] = [];
  const { help, output, limits } = scan(args, usage, (a, i) => {
    if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${printable(a)}' for ptprof merge (${usage})`);
    files.push(a);
    return i + 1;
  });
  if (help) return { kind: 'merge-help' };
  if (files.length < 2) throw new UsageError(`ptprof merge needs two profile files or more (${usage})`);
  if (output === undefined) throw new UsageError(`ptprof merge needs -o OUT, where to write the merged profile (${usage})`);
  return { kind: 'merge', files, output, ...limits };
}

/** Each file's name for the `profile` label: its base name, or the path given where two share one. */
function inputNames(files: readonly string[]): string[] {
  const base = files.map((f) => path.basename(f));
  const names = files.map((f, i) => (base.filter((b) => b === base[i]).length > 1 ? f : base[i]!));
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UsageError(`ptprof merge was given ${printable(n)} twice`);
    seen.add(n);
  }
  return names;
}

export function runMerge(cmd: MergeCommand, checkOutput: (file: string) => void): number {
  const out = path.resolve(cmd.output);
  const format = formatOfOutput(out) ?? 'pprof';
  if (format === 'cpuprofile') throw new UsageError('ptprof merge writes pprof, folded stacks or speedscope (a .cpuprofile holds one thread)');
  checkOutput(out);
  const names = inputNames(cmd.files);
  const inputs: MergeInput[] = cmd.files.map((file, i) => {
    try {
      const read = readProfileFile(file, { maxBytes: cmd.maxMb * 1024 * 1024, allowSpecial: cmd.allowSpecial });
      const input = read.format === 'pprof' ? fromPprof(read.profile) : fromFolded(parseFolded(read.text));
      return { name: names[i]!, ...input };
    } catch (e) {
      throw new UsageError(readFailure(file, e));
    }
  });
  const counts = inputs.every((i) => i.values === 'samples');
  if (counts && format !== 'folded') {
    throw new UsageError('these profiles hold sample counts, not CPU time: merge them into folded stacks (-o OUT.folded)');
  }
  let merged;
  try {
    merged = mergeProfiles(inputs, { facts: { ptprof: VERSION }, sum: COUNTER_FACTS, same: SAME_FACTS, groups: FACT_GROUPS });
  } catch (e) {
    throw new UsageError(`cannot merge: ${printable((e as Error).message.replace(/^pprof-writer: /, ''))}`);
  }
  try {
    writeProfileSync(out, merged.profile, format, { rootFrames: treeRootFrames, value: counts ? 'samples' : 'cpu' });
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${printable(out)}: ${x.code ?? printable(x.message)}`);
  }
  if (merged.collided) {
    process.stderr.write(`ptprof: the files share pids (or have none): every sample has the label profile=<file name> (${names.map((n) => printable(n)).join(', ')})\n`);
  }
  process.stdout.write(`${printable(out)}\n`);
  return 0;
}
