// `require('@ptprof/sampler/register')`: makes the calling thread known to ptprof. Load it in every
// worker (a preload given with NODE_OPTIONS=--require does this for you) so that workers get JS
// stacks and their own timers.
import { binding } from '@ptprof/timers-native';

// The thread's CPU clock first, before the rest loads (thread.ts: the sampler whole was ~12 ms):
// that and V8's listing of the worker's code are ptprof's work, counted from here; what the thread
// burned before (Node's bootstrap of the worker, ~20 ms) is not, and stays in its (unsampled) row.
const since = binding.threadCpuNs();
const { registerCurrentThread } = require('./thread') as typeof import('./thread');
registerCurrentThread(binding, undefined, since);
