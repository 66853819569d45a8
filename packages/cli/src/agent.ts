// The agent: preloaded with NODE_OPTIONS=--require into every Node process (and every worker
// thread) that the profiled program starts, or by hand (`node --require ptprof/agent app.js`,
// configured by the PTPROF_* variables). In a worker it only makes the thread known to the
// sampler; on a main thread it records and writes as agent/main.ts says. It must never break the
// program: every error is caught. Under the CLI it reports through the private report directory
// (the CLI says what went wrong, once); used alone, it warns on stderr.
import { isMainThread } from 'node:worker_threads';

const LOADED = Symbol.for('ptprof.agent');

/** What the agent leaves on globalThis[Symbol.for('ptprof.agent')]: the CLI uses it to stand it down. */
export interface AgentHandle {
  version: string;
  /** Stops profiling this process without writing anything (the ptprof command itself). */
  cancel(): void;
}

/**
 * A worker loads the sampler's own preload alone, which reads its CPU clock first and then loads
 * no more than making the thread known takes: not this agent's modules, which only a main thread
 * uses (they were ~10 ms of each worker's CPU, in the profiled program's time; issue 14).
 */
function startWorker(): void {
  require('@ptprof/sampler/register');
}

const g = globalThis as Record<symbol, unknown>;
if (!g[LOADED]) {
  const handle: AgentHandle = { version: '', cancel: () => {} };
  g[LOADED] = handle;
  try {
    if (isMainThread) {
      const { startMain, VERSION } = require('./agent/process') as typeof import('./agent/process');
      handle.version = VERSION;
      startMain(handle);
    } else startWorker();
  } catch (err) {
    const { message, warn } = require('./agent/report') as typeof import('./agent/report');
    warn(`not profiling ${isMainThread ? `process ${process.pid}` : 'this worker'}: ${message(err)}`);
  }
}
