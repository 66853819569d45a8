// The Go runtime's TestCPUProfileMultithreadMagnitude, ported: a CPU hog on the main thread, then
// copies of it in N workers in parallel; for each phase the profile's CPU for that hog's function
// must match the OS's count of the CPU the hogs burned. (The benchmark reports the exact figures;
// this test holds them within 10%.)
import assert from 'node:assert/strict';
import { Sampler } from '../src/index';
import { cpuIn, hogHere, hogWorkers, ratio } from './workloads';

const TOLERANCE = 0.1;

for (const hz of [100, 1000]) {
  describe(`magnitude at ${hz} Hz`, function () {
    this.timeout(60_000);
    it('serial, N=2 and N=4 workers: profile CPU per hog function within 10% of the OS count', async () => {
      const s = new Sampler({ hz }).start();
      const truth: Record<string, number> = {};
      truth.hogSerial = hogHere('hogSerial', 500);
      for (const n of [2, 4]) {
        const fn = `hogParallel${n}`;
        const res = await hogWorkers(n, () => fn, 500);
        truth[fn] = res.reduce((a, r) => a + r.cpuNs, 0);
      }
      const p = s.stop();
      const lines: string[] = [];
      for (const [fn, os] of Object.entries(truth)) {
        const prof = cpuIn(p, fn);
        lines.push(`${fn}: profile ${(prof / 1e6).toFixed(1)} ms, OS ${(os / 1e6).toFixed(1)} ms, ratio ${ratio(prof, os)}`);
      }
      console.log('      ' + lines.join('\n      '));
      for (const [fn, os] of Object.entries(truth)) {
        const prof = cpuIn(p, fn);
        assert.ok(Math.abs(prof / os - 1) <= TOLERANCE, `${fn}: profile ${prof} ns vs OS ${os} ns (ratio ${ratio(prof, os)})`);
      }
      assert.equal(p.stats.dropped.ring + p.stats.dropped.shared, 0, 'no records may be dropped at this rate');
    });
  });
}
