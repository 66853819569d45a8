// Workloads with ground truth from the OS, for the real-kernel tests.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { binding } from '@ptprof/timers-native';
import { listTids, type Profile } from '../src/index';

export const nativeIndex = require.resolve('@ptprof/timers-native');
export const registerPath = path.resolve(__dirname, '..', '..', 'register.js');

/**
 * Source of a function named `name` that burns `ms` of its thread's CPU (clock of the thread,
 * read after getrusage so it is not a tick stale) and returns the CPU it measured, in ns.
 */
export function hogSource(name: string): string {
  return `(function ${name}(ms, cpu) {
    let x = 0;
    const t0 = cpu();
    for (;;) {
      for (let i = 0; i < 20000; i++) x += Math.sqrt(i) * Math.sin(i);
      if (cpu() - t0 >= ms * 1e6) break;
    }
    globalThis.__sink = x;
    return cpu() - t0;
  })`;
}

function threadCpu(): number {
  process.cpuUsage();
  return binding.threadCpuNs();
}

/** Runs a hog named `name` on the calling thread; returns its CPU in ns. */
export function hogHere(name: string, ms: number): number {
  const fn = (0, eval)(hogSource(name)) as (ms: number, cpu: () => number) => number;
  return fn(ms, threadCpu);
}

export interface WorkerResult {
  tid: number;
  cpuNs: number;
  name: string;
}

/** Starts n workers at once, each registering with ptprof and running hog `name(i)` for ms. */
export function hogWorkers(n: number, name: (i: number) => string, ms: number, register = true): Promise<WorkerResult[]> {
  const runs: Promise<WorkerResult>[] = [];
  for (let i = 0; i < n; i++) {
    const fname = name(i);
    const src = `
      ${register ? `require(${JSON.stringify(registerPath)});` : ''}
      const { binding } = require(${JSON.stringify(nativeIndex)});
      const { parentPort } = require('node:worker_threads');
      const cpu = () => { process.cpuUsage(); return binding.threadCpuNs(); };
      const fn = ${hogSource(fname)};
      const cpuNs = fn(${ms}, cpu);
      parentPort.postMessage({ tid: binding.gettid(), cpuNs, name: ${JSON.stringify(fname)} });`;
    runs.push(
      new Promise((resolve, reject) => {
        const w = new Worker(src, { eval: true });
        let result: WorkerResult | undefined;
        w.on('message', (m: WorkerResult) => (result = m));
        w.on('error', reject);
        w.on('exit', (code) => (result ? resolve(result) : reject(new Error(`worker ${fname} exited ${code} without a result`))));
      }),
    );
  }
  return Promise.all(runs);
}

/** CPU ns of the samples whose stack contains a frame named fn (optionally on one thread). */
export function cpuIn(p: Profile, fn: string, tid?: number): number {
  let ns = 0;
  for (const s of p.samples) {
    if (tid !== undefined && s.labels.thread_id !== tid) continue;
    if (s.frames.some((f) => f.name === fn)) ns += s.cpuNanos;
  }
  return ns;
}

export function ratio(a: number, b: number): string {
  return (a / b).toFixed(4);
}

/** Every thread's CPU clock now (refreshed by getrusage first), by tid. */
export function cpuByThread(): Map<number, number> {
  process.cpuUsage();
  const m = new Map<number, number>();
  for (const tid of listTids()) {
    try {
      m.set(tid, binding.threadCpuNs(tid));
    } catch {
      /* exited */
    }
  }
  return m;
}
