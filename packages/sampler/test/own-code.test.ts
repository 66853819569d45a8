// The profiler's own JavaScript (a drain, replaying code events, naming native frames) runs on the
// program's threads, from a timer of its event loop: its samples must not be mixed into the
// program's stacks. They go under one `(ptprof)` root, cut above the outermost frame of ptprof's
// own code, and their CPU is the `ptprof_nanos` fact.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { binding } from '@ptprof/timers-native';
import { Sampler, type Profile } from '../src/index';

// The sampler's compiled sources (this test, in dist/test, is a program like any other).
const SAMPLER_DIR = path.resolve(__dirname, '..', 'src') + path.sep;
const own = (f: { file?: string }): boolean => f.file !== undefined && f.file.startsWith(SAMPLER_DIR);

function programChunk(ms: number): number {
  const end = binding.threadCpuNs() + ms * 1e6;
  let x = 0;
  while (binding.threadCpuNs() < end) for (let i = 0; i < 2000; i++) x += Math.sqrt(i);
  return x;
}

let programNs = 0;

async function run(): Promise<Profile> {
  const s = new Sampler({ hz: 1000, threads: 'all' }).start();
  const t0 = binding.threadCpuNs();
  // Longer than the 2 s a tick's drain may hold what it took (sampler.ts, HOLD_MS): the sampler
  // symbolizes in the window at least once, as a program that runs for a while sees it.
  while (binding.threadCpuNs() - t0 < 2600e6) {
    // New code in every chunk, as a program that loads code has: code events for the sampler's
    // drains to replay, so that its own code burns CPU where the timers can see it.
    for (let i = 0; i < 20; i++) new Function('x', `return x * ${Math.random()} + ${i}`)(i);
    const c0 = binding.threadCpuNs();
    programChunk(4);
    programNs += binding.threadCpuNs() - c0;
    await new Promise((r) => setImmediate(r));
  }
  return s.stop();
}

describe('the profiler\'s own code: under (ptprof)', function () {
  this.timeout(60_000);
  it('samples in the sampler\'s code have (ptprof) as their root, right above the outermost of its frames; ptprof_nanos is their CPU', async () => {
    const p = await run();
    let selfNs = 0;
    let selfSamples = 0;
    for (const s of p.samples) {
      const root = s.frames[s.frames.length - 1]!;
      const hasOwn = s.frames.some(own);
      if (root.name === '(ptprof)') {
        selfNs += s.cpuNanos;
        selfSamples += s.count;
        assert.ok(own(s.frames[s.frames.length - 2]!), `the frame below (ptprof) is the sampler's own: ${s.frames.map((f) => f.name).join(' < ')}`);
        assert.ok(!s.frames.some((f) => f.name === 'programChunk' || f.name === 'run'), `no program frame in: ${s.frames.map((f) => f.name).join(' < ')}`);
      } else {
        assert.ok(!hasOwn, `a stack with the sampler's code is not under (ptprof): ${s.frames.map((f) => `${f.name} (${f.file ?? ''})`).join(' < ')}`);
      }
    }
    console.log(`      (ptprof): ${(selfNs / 1e6).toFixed(0)} ms in ${selfSamples} samples of ${(p.samples.reduce((a, s) => a + s.cpuNanos, 0) / 1e6).toFixed(0)} ms`);
    assert.ok(selfSamples > 0, 'the sampler\'s own code was sampled (the test sees what it checks)');
    assert.equal(p.facts.ptprof_nanos, selfNs);
    assert.equal(p.stats.self.nanos, selfNs);
    const program = p.samples.filter((s) => s.frames.some((f) => f.name === 'programChunk')).reduce((a, s) => a + s.cpuNanos, 0);
    assert.ok(program > 0.8 * programNs, `the program's own CPU is still the program's: ${program / 1e6} of ${programNs / 1e6} ms`);
  });
});
