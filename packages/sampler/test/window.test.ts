// Windows: sampler.window() returns the profile since the previous window and starts the next
// one, while recording goes on. Each window holds its own stretch's CPU, named, and the windows
// are contiguous: together they are what one profile of the run would hold.
import assert from 'node:assert/strict';
import { binding } from '@ptprof/timers-native';
import { Sampler, type Profile } from '../src/index';

function burnIn(name: 'windowA' | 'windowB', ms: number): number {
  const fns = {
    windowA(end: number) { let x = 0; while (binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += Math.sqrt(i); return x; },
    windowB(end: number) { let x = 0; while (binding.threadCpuNs() < end) for (let i = 0; i < 5000; i++) x += i % 7; return x; },
  };
  const t0 = binding.threadCpuNs();
  fns[name](t0 + ms * 1e6);
  return binding.threadCpuNs() - t0;
}

const cpuIn = (p: Profile, name: string): number =>
  p.samples.filter((s) => s.frames.some((f) => f.name === name)).reduce((a, s) => a + s.cpuNanos, 0);

describe('windows', function () {
  this.timeout(60_000);
  it('each window holds its own stretch, and consecutive windows are contiguous', () => {
    const s = new Sampler({ hz: 1000, threads: 'all' }).start();
    const a = burnIn('windowA', 400);
    const w1 = s.window();
    const b = burnIn('windowB', 400);
    const w2 = s.window();
    const a2 = burnIn('windowA', 200);
    const w3 = s.stop();
    console.log(`      w1: windowA ${(cpuIn(w1, 'windowA') / 1e6).toFixed(0)}/${(a / 1e6).toFixed(0)} ms; w2: windowB ${(cpuIn(w2, 'windowB') / 1e6).toFixed(0)}/${(b / 1e6).toFixed(0)} ms; w3: windowA ${(cpuIn(w3, 'windowA') / 1e6).toFixed(0)}/${(a2 / 1e6).toFixed(0)} ms`);
    assert.ok(cpuIn(w1, 'windowA') > 0.7 * a, 'window 1 has windowA');
    assert.equal(cpuIn(w1, 'windowB'), 0);
    assert.ok(cpuIn(w2, 'windowB') > 0.7 * b, 'window 2 has windowB');
    assert.ok(cpuIn(w2, 'windowA') < 0.05 * a, 'window 2 does not have window 1 again');
    assert.ok(cpuIn(w3, 'windowA') > 0.6 * a2, 'the last window (stop) has its own stretch');
    for (const [x, y] of [[w1, w2], [w2, w3]] as const) {
      assert.equal(y.startTimeNanos, x.startTimeNanos + BigInt(x.durationNanos), 'contiguous');
    }
    // Each window's OS count is its own. A window's samples of the CPU burned just before its
    // end are read in the next one (they reach the rings a little later, and the drain at the
    // boundary burns CPU itself), so one window may lend another some; over the windows the
    // profile's total is the OS's.
    let total = 0;
    let os = 0;
    for (const w of [w1, w2, w3]) {
      const t = w.samples.reduce((sum, x) => sum + x.cpuNanos, 0);
      // (Under load a thread's signals come seldom and heavy: one can carry 10-40 ms of CPU across
      // a boundary; measured 0.86-1.2 for 200 ms windows with two busy loops beside.)
      assert.ok(t > 0.6 * w.processCpuNanos && t < 1.5 * w.processCpuNanos, `window total ${t} vs OS ${w.processCpuNanos}`);
      assert.equal(w.facts.kept, w.stats.kept);
      total += t;
      os += w.processCpuNanos;
    }
    assert.ok(total > 0.9 * os && total < 1.05 * os, `the windows' total ${total} vs the OS's ${os}`);
    // The main thread keeps its name in every window.
    for (const w of [w1, w2, w3]) assert.ok(w.threads.some((t) => t.name === 'main' && t.js));
  });
});
