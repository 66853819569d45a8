// `ptprof view`, `ptprof convert` and `--html`: thin calls into @ptprof/view, which reads the
// profiles and makes the page and the other formats.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { outputFiles, outputNextTo, readProfiles, writeOutputFiles, type OutputFile } from '@ptprof/view';
import { UsageError } from './args';
import type { ConvertCommand, ViewCommand } from './view-args';

/** A profile that cannot be read: one line, for stderr. */
function readError(e: unknown, files: readonly string[]): UsageError {
  const x = e as NodeJS.ErrnoException;
  const file = typeof x.path === 'string' ? x.path : files[0];
  if (x.code === 'ENOENT') return new UsageError(`cannot read ${file}: no such file`);
  if (x.code === 'EISDIR') return new UsageError(`cannot read ${file}: it is a directory`);
  if (x.code) return new UsageError(`cannot read ${file}: ${x.code}`);
  return new UsageError(x.message);
}

/** The directory of `file` must exist and be writable (checkOutput's rule, for these commands). */
type CheckOutput = (file: string) => void;

function make(files: readonly string[], format: Parameters<typeof outputFiles>[1], out: string, checkOutput: CheckOutput): OutputFile[] {
  let outputs: OutputFile[];
  try {
    outputs = outputFiles(readProfiles(files), format, out);
  } catch (e) {
    throw readError(e, files);
  }
  for (const o of outputs) checkOutput(o.file);
  try {
    writeOutputFiles(outputs);
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${out}: ${x.code ?? x.message}`);
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
      warn(`cannot open a browser here (${opener}: ${e.code === 'ENOENT' ? 'not found' : e.code ?? e.message}): open ${file} in one`);
      resolve();
    });
  });
}

/** `ptprof view FILE... [-o OUT] [--open]`: writes the page, prints its path. */
export async function runView(cmd: ViewCommand, checkOutput: CheckOutput, warn: (line: string) => void): Promise<number> {
  const out = path.resolve(cmd.output ?? outputNextTo(cmd.files[0]!, 'html'));
  make(cmd.files, 'html', out, checkOutput);
  process.stdout.write(`${out}\n`);
  if (cmd.open) await openInBrowser(out, warn);
  return 0;
}

/** `ptprof convert FILE --format F [-o OUT]`: writes the file(s), prints their paths. */
export function runConvert(cmd: ConvertCommand, checkOutput: CheckOutput): number {
  const out = path.resolve(cmd.output ?? outputNextTo(cmd.file, cmd.format));
  if (path.resolve(cmd.file) === out) throw new UsageError(`ptprof convert would write over ${cmd.file}: give another name with -o`);
  const written = make([cmd.file], cmd.format, out, checkOutput);
  process.stdout.write(written.map((o) => `${o.file}\n`).join(''));
  return 0;
}

/**
 * After a run with --html: the page of every profile the run wrote (a process each), next to the
 * first. Returns the page's path, or undefined when no profile was written.
 */
export function pageAfterRun(profiles: readonly string[]): string | undefined {
  const files = profiles.filter((f) => fs.existsSync(f));
  if (files.length === 0) return undefined;
  const out = outputNextTo(files[0]!, 'html');
  writeOutputFiles(outputFiles(readProfiles(files), 'html', out));
  return out;
}
