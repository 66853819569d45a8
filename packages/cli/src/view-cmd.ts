// `ptprof view`, `ptprof convert` and `--html`: thin calls into @ptprof/view, which reads the
// profiles (through pprof-writer's readProfileFile: capped, no pipes or devices unless asked) and
// makes the page and the other formats. Paths are printed through printable().
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { printable } from '@ptprof/pprof-writer';
import {
  outputFiles, outputNextTo, ProfileFileError, readProfiles, writeOutputFiles, type OutputFile, type ProfileSource,
} from '@ptprof/view';
import { UsageError, type ReadLimits } from './args';
import { readFailure } from './summary';
import type { ConvertCommand, ViewCommand } from './view-args';

/** The directory of `file` must exist and be writable (checkOutput's rule, for these commands). */
type CheckOutput = (file: string) => void;

/** The profiles as one view; a file that cannot be read is a UsageError saying which and why. */
function read(files: readonly (string | ProfileSource)[], limits: ReadLimits): ReturnType<typeof readProfiles> {
  try {
    return readProfiles(files, { maxBytes: limits.maxMb * 1024 * 1024, allowSpecial: limits.allowSpecial });
  } catch (e) {
    if (e instanceof ProfileFileError) throw new UsageError(readFailure(e.file, e.cause));
    throw e;
  }
}

function make(files: readonly (string | ProfileSource)[], limits: ReadLimits, format: Parameters<typeof outputFiles>[1], out: string,
  checkOutput: CheckOutput): OutputFile[] {
  let outputs: OutputFile[];
  const view = read(files, limits);
  try {
    outputs = outputFiles(view, format, out);
  } catch (e) {
    throw new UsageError(`cannot write ${printable(out)}: ${printable((e as Error).message)}`);
  }
  for (const o of outputs) checkOutput(o.file);
  try {
    writeOutputFiles(outputs);
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${printable(out)}: ${x.code ?? printable(x.message)}`);
  }
  return outputs;
}

/** Opens a file in the default browser; says so on stderr when there is no way to. Resolves once it is known. */
export function openInBrowser(file: string, warn: (line: string) => void): Promise<void> {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer.exe' : 'xdg-open';
  return new Promise((resolve) => {
    const child = spawn(opener, [file], { stdio: 'ignore', detached: true });
    child.once('spawn', () => {
      child.unref(); // the browser outlives ptprof
      resolve();
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      warn(`cannot open a browser here (${opener}: ${e.code === 'ENOENT' ? 'not found' : e.code ?? e.message}): open ${printable(file)} in one`);
      resolve();
    });
  });
}

/** `ptprof view FILE... [-o OUT] [--open]`: writes the page, prints its path. */
export async function runView(cmd: ViewCommand, checkOutput: CheckOutput, warn: (line: string) => void): Promise<number> {
  const out = path.resolve(cmd.output ?? outputNextTo(cmd.files[0]!, 'html'));
  make(cmd.files, cmd, 'html', out, checkOutput);
  process.stdout.write(`${printable(out)}\n`);
  if (cmd.open) await openInBrowser(out, warn);
  return 0;
}

/** `ptprof convert FILE --format F [-o OUT]`: writes the file(s), prints their paths. */
export function runConvert(cmd: ConvertCommand, checkOutput: CheckOutput): number {
  const out = path.resolve(cmd.output ?? outputNextTo(cmd.file, cmd.format));
  if (path.resolve(cmd.file) === out) throw new UsageError(`ptprof convert would write over ${printable(cmd.file)}: give another name with -o`);
  const written = make([cmd.file], cmd, cmd.format, out, checkOutput);
  process.stdout.write(written.map((o) => `${printable(o.file)}\n`).join(''));
  return 0;
}

/**
 * After a run with --html: the page of the profiles the run's agents reported (a process each),
 * each read only if it is still the file its agent wrote; next to the first. Returns the page's
 * path. Throws a UsageError saying what could not be read or written.
 */
export function pageAfterRun(profiles: readonly ProfileSource[]): string {
  const out = outputNextTo(profiles[0]!.file, 'html');
  // The files this run's agents wrote (checked by identity), whatever their size: the largest cap.
  make(profiles, { maxMb: 4096, allowSpecial: false }, 'html', out, () => {});
  return out;
}
