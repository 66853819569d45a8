// `require('@ptprof/sampler/register')`: makes the calling thread known to ptprof. Load it in every
// worker (a preload given with NODE_OPTIONS=--require does this for you) so that workers get JS
// stacks and their own timers.
import { registerCurrentThread } from './sampler';

registerCurrentThread();
