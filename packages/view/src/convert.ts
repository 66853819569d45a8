// A view written out in each format, with the names of the files: what `ptprof view`, `ptprof
// convert` and the agent's --format write. Each file is written whole or not at all.
import { toFolded, treeRootFrames, writeFileAtomicSync, type FileIdentity, type ProfileInput, type SampleInput } from '@ptprof/pprof-writer';
import { toCpuprofiles } from './cpuprofile';
import { renderHtml } from './html';
import type { ViewProfile } from './model';
import { pageData } from './page-data';
import { toSpeedscope } from './speedscope';
import { VERSION } from './version';

export const OUTPUT_FORMATS = ['html', 'speedscope', 'cpuprofile', 'folded'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The extension each format's files get. */
export const EXTENSIONS: Record<OutputFormat, string> = {
  html: '.html',
  speedscope: '.speedscope.json',
  cpuprofile: '.cpuprofile',
  folded: '.folded',
};

export interface OutputFile {
  file: string;
  data: string;
  /** The thread a .cpuprofile is of. */
  thread?: string;
}

/** Extensions that profiles come with, taken off an input's name to make an output's. */
const INPUT_EXT = /(\.pb\.gz|\.pb|\.pprof|\.prof|\.gz|\.folded|\.collapsed|\.txt|\.speedscope\.json|\.cpuprofile|\.html)$/i;

/** `dir/ptprof.123.pb.gz` -> `dir/ptprof.123<ext>`: the default output next to the input. */
export function outputNextTo(input: string, format: OutputFormat): string {
  return input.replace(INPUT_EXT, '') + EXTENSIONS[format];
}

/** `out.cpuprofile` + `worker 1` -> `out.worker-1.cpuprofile`. */
export function withTag(file: string, tag: string, ext: string): string {
  const slug = tag.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'thread';
  const stem = file.endsWith(ext) ? file.slice(0, file.length - ext.length) : file;
  return `${stem}.${slug}${ext}`;
}

/** The view as ProfileInput (the thread's name as a label, and its process's when there are several), for the folded writer. */
function toProfileInput(view: ViewProfile): ProfileInput {
  const several = view.processes.length > 1;
  const labels = view.threads.map((t) => {
    const p = view.processes[t.process]!;
    return several ? { thread_name: t.name, process: p.name ?? p.command ?? p.file, ...(p.pid !== undefined ? { pid: p.pid } : {}) } : { thread_name: t.name };
  });
  const frames = view.frames.map((f) => ({ name: f.name, file: f.file, line: f.line }));
  const ns = view.unit === 'nanoseconds';
  const samples: SampleInput[] = view.stacks.map((s) => ({
    frames: s.frames.map((f) => frames[f]!).reverse(),
    count: ns ? 0 : Math.round(s.value),
    cpuNanos: ns ? s.value : 0,
    labels: labels[s.thread]!,
  }));
  return { samples, periodNanos: 1 };
}

export interface OutputOptions {
  /** The page's title (html). */
  title?: string;
}

/**
 * The files of `view` in `format`, named after `base`: one file, except .cpuprofile, one per JS
 * thread (the thread `main`, or a single thread, keeps `base`; the others get their name inserted).
 */
export function outputFiles(view: ViewProfile, format: OutputFormat, base: string, options: OutputOptions = {}): OutputFile[] {
  switch (format) {
    case 'html': {
      const data = pageData(view, { generator: `ptprof ${VERSION}`, ...(options.title ? { title: options.title } : {}) });
      return [{ file: base, data: renderHtml(data) }];
    }
    case 'speedscope':
      return [{ file: base, data: JSON.stringify(toSpeedscope(view, options.title)) }];
    case 'folded': {
      // Several processes (a process tree, or several files): each line begins with its process.
      const roots = view.processes.length > 1 ? { rootFrames: treeRootFrames } : { rootLabel: 'thread_name' };
      return [{ file: base, data: toFolded(toProfileInput(view), { value: view.unit === 'nanoseconds' ? 'cpu' : 'samples', ...roots }) }];
    }
    case 'cpuprofile': {
      const profiles = toCpuprofiles(view);
      // The thread `main` keeps the name asked for; in a view of several processes (where each
      // is `pid N main`) the first process's main thread, which comes first, does.
      const keep = Math.max(0, profiles.findIndex((p) => p.name === 'main'));
      return profiles.map((p, i) => ({
        file: i === keep ? base : withTag(base, p.name, EXTENSIONS.cpuprofile),
        data: JSON.stringify(p.profile),
        thread: p.name,
      }));
    }
  }
}

/**
 * Writes each file atomically (a temporary file renamed over it); throws on the first failure.
 * Returns what each file is once written (device, inode, size), in order.
 */
export function writeOutputFiles(files: readonly OutputFile[]): FileIdentity[] {
  return files.map((f) => writeFileAtomicSync(f.file, f.data));
}
