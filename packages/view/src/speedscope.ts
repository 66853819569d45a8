// speedscope's own file format (https://www.speedscope.app/file-format-schema.json): one
// "sampled" profile per thread, so that its profile selector lists the threads. (speedscope's
// pprof importer would merge every thread into one profile and show one value.)
import { isJsThread, type ViewProfile } from './model';
import { threadOrder } from './page-data';
import { VERSION } from './version';

export interface SpeedscopeFile {
  $schema: 'https://www.speedscope.app/file-format-schema.json';
  name: string;
  exporter: string;
  activeProfileIndex: number;
  shared: { frames: { name: string; file?: string; line?: number }[] };
  profiles: {
    type: 'sampled';
    name: string;
    unit: 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'bytes' | 'none';
    startValue: number;
    endValue: number;
    /** Each a stack of indexes into shared.frames, root first. */
    samples: number[][];
    weights: number[];
  }[];
}

const UNITS = new Set(['nanoseconds', 'microseconds', 'milliseconds', 'seconds', 'bytes']);

/** The name of each thread, unique within the view: with its process when there are several, its tid when names repeat. */
export function threadNames(view: ViewProfile): string[] {
  const count = new Map<string, number>();
  for (const t of view.threads) count.set(`${t.process}\u0000${t.name}`, (count.get(`${t.process}\u0000${t.name}`) ?? 0) + 1);
  return view.threads.map((t) => {
    let name = t.name;
    if ((count.get(`${t.process}\u0000${t.name}`) ?? 0) > 1 && t.tid !== undefined) name += ` (tid ${t.tid})`;
    if (view.processes.length > 1) {
      const p = view.processes[t.process]!;
      name = `pid ${p.pid ?? t.process + 1} ${name}`;
    }
    return name;
  });
}

/**
 * speedscope's JSON for a view: a profile per thread, in the page's order (main, workers, pool,
 * V8, others); the busiest JS thread is the one shown first.
 */
export function toSpeedscope(view: ViewProfile, name = 'ptprof profile'): SpeedscopeFile {
  const names = threadNames(view);
  const order = threadOrder(view);
  const at = new Map(order.map((t, i) => [t, i]));
  const unit = UNITS.has(view.unit) ? (view.unit as SpeedscopeFile['profiles'][number]['unit']) : 'none';
  const profiles: SpeedscopeFile['profiles'] = order.map((t) => ({
    type: 'sampled', name: names[t]!, unit, startValue: 0, endValue: 0, samples: [], weights: [],
  }));
  for (const s of view.stacks) {
    const p = profiles[at.get(s.thread)!]!;
    p.samples.push(s.frames);
    p.weights.push(s.value);
    p.endValue += s.value;
  }
  let active = 0;
  order.forEach((t, i) => {
    const a = view.threads[order[active]!]!;
    const th = view.threads[t]!;
    if ((isJsThread(th) && !isJsThread(a)) || (isJsThread(th) === isJsThread(a) && th.total > a.total)) active = i;
  });
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    name,
    exporter: `ptprof ${VERSION}`,
    activeProfileIndex: active,
    shared: {
      frames: view.frames.map((f) => {
        const out: { name: string; file?: string; line?: number } = { name: f.name };
        if (f.file) out.file = f.file;
        if (f.line > 0) out.line = f.line;
        return out;
      }),
    },
    profiles,
  };
}
