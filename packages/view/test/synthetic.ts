// Synthetic profiles as ptprof writes them (pprof-writer's input, with thread labels), of any size:
// a call tree grown by extending random existing stacks, so that stacks share prefixes as real
// ones do. Used by the tests and by bench/view.js (100,000 distinct stacks).
import type { FrameInput, ProfileInput, SampleInput } from '@ptprof/pprof-writer';

/** A small deterministic PRNG (xorshift32), so that a failing profile can be made again. */
export function random(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export const THREADS: { tid: number; name: string }[] = [
  { tid: 100, name: 'main' }, { tid: 101, name: 'worker 1' }, { tid: 102, name: 'worker 2' }, { tid: 103, name: 'worker 3' },
  { tid: 110, name: 'libuv-worker' }, { tid: 111, name: 'libuv-worker' }, { tid: 120, name: 'node-V8Worker' }, { tid: 121, name: 'node-V8Worker' },
];

const VERBS = ['parse', 'render', 'compute', 'handle', 'load', 'encode', 'decode', 'visit', 'resolve', 'emit', 'transform', 'check'];
const NOUNS = ['Request', 'Token', 'Node', 'Buffer', 'Module', 'Route', 'Frame', 'Record', 'Chunk', 'Query', 'Schema', 'Block'];

/**
 * `stacks` distinct stacks over `functions` functions, spread over THREADS (JS frames on the JS
 * threads, C++ frames on the pool's and V8's), each worth 1 to 20 periods of 10 ms of CPU.
 */
export function syntheticProfile(stacks: number, seed = 1, functions = 4000): ProfileInput {
  const rnd = random(seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const js: FrameInput[] = [];
  const native: FrameInput[] = [];
  for (let i = 0; i < functions; i++) {
    const name = `${VERBS[i % VERBS.length]}${NOUNS[Math.floor(i / VERBS.length) % NOUNS.length]}${Math.floor(i / 144) || ''}`;
    if (i % 5 === 4) native.push({ name: `v8::internal::${name}(v8::internal::Isolate*)`, file: '/usr/bin/node' });
    else js.push({ name, file: `/srv/app/src/${['http', 'db', 'views', 'lib', 'util'][i % 5]}/mod${i % 97}.js`, line: 1 + (i % 400) * 3 });
  }
  const samples: SampleInput[] = [];
  const seen = new Set<string>();
  const byThread: FrameInput[][][] = THREADS.map(() => []);
  while (samples.length < stacks) {
    const t = pick(THREADS.length);
    const jsThread = t < 4;
    const pool = jsThread ? js : native;
    const mine = byThread[t]!;
    // Extend a prefix of an existing stack of this thread (root first), or start a new one.
    const base = mine.length && rnd() < 0.95 ? mine[pick(mine.length)]! : [];
    const keep = base.length ? 1 + pick(base.length) : 0;
    const stack = base.slice(0, keep);
    const add = 1 + pick(jsThread ? 6 : 3);
    for (let k = 0; k < add && stack.length < 60; k++) stack.push(pool[Math.floor(Math.pow(rnd(), 2) * pool.length)]!);
    if (jsThread && rnd() < 0.2) stack.push(native[pick(native.length)]!); // a native leaf under JS
    const key = `${t}|${stack.map((f) => f.name).join(';')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    mine.push(stack);
    const count = 1 + pick(20);
    samples.push({
      frames: stack.slice().reverse(),
      count,
      cpuNanos: count * 10_000_000,
      labels: { thread_id: THREADS[t]!.tid, thread_name: THREADS[t]!.name, thread_kind: t < 4 ? 'js' : 'native' },
    });
  }
  return {
    samples,
    periodNanos: 10_000_000,
    durationNanos: 60e9,
    facts: {
      ptprof: 'synthetic', pid: 4242, ppid: 1, process: 'root', end: 'exit(0)', hz: 100, period_nanos: 10_000_000, mode: 'all',
      process_cpu_nanos: samples.reduce((a, s) => a + s.cpuNanos, 0), cmd: `node synthetic.js --stacks ${stacks}`,
    },
    mappingFile: '/usr/bin/node',
  };
}
