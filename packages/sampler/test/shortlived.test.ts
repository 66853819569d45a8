// Short-lived threads (Go issue 35057's reason for the random first expiry): many workers that
// each burn a fraction of one period. With a first expiry of a full period none would ever be
// sampled; uniform in (0, period], each is sampled with probability burn/period, so together
// they are represented.
//
// Not fully, though, and the kernel is why: a CPU-clock timer's expiry is noticed only at a
// scheduler tick while the thread runs (4 ms at HZ=250), and a thread that exits between its
// expiry and the next tick never gets the signal (posix_cpu_timers_exit detaches timers without
// firing them). Threads burning less than a tick are under-counted: measured here 0.16-0.40 of
// their CPU for 3 ms workers. The assertion is that they are seen at all, well above zero.
import assert from 'node:assert/strict';
import { Sampler } from '../src/index';
import { cpuIn, hogWorkers } from './workloads';

describe('short-lived threads', function () {
  this.timeout(120_000);
  it('120 workers burning 2 ms each at 100 Hz (a fifth of a period) are represented', async () => {
    const s = new Sampler({ hz: 100, threads: 'js' }).start();
    const res: { cpuNs: number }[] = [];
    for (let batch = 0; batch < 24; batch++) res.push(...(await hogWorkers(5, () => 'tinyHog', 2)));
    const p = s.stop();
    const truth = res.reduce((a, r) => a + r.cpuNs, 0);
    const prof = cpuIn(p, 'tinyHog');
    const hits = p.samples.filter((x) => x.frames.some((f) => f.name === 'tinyHog')).reduce((a, x) => a + x.count, 0);
    console.log(`      tinyHog: ${hits} samples, profile ${(prof / 1e6).toFixed(0)} ms, OS ${(truth / 1e6).toFixed(1)} ms`);
    // Ideal expectation: truth / period, ~36 samples; measured about a quarter of that (see above),
    // so ~10: P(fewer than 2) is below 1e-3. With 40 workers (~3 hits) one run in ten fell short.
    assert.ok(hits >= 1, 'short-lived workers were never sampled');
    assert.ok(prof >= truth / 20 && prof <= truth * 2, `profile ${prof} ns vs OS ${truth} ns`);
  });
});
