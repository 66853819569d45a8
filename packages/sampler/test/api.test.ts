// The library API: options, errors, idle behaviour, the profile model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Sampler, profile, start } from '../src/index';
import { hogHere } from './workloads';

const samplerIndex = path.resolve(__dirname, '..', 'src', 'index.js');

describe('sampler API', function () {
  this.timeout(30_000);

  it('rejects bad options with a message that names the option and the range', () => {
    for (const hz of [0, 10001, 1.5, NaN, '100' as unknown as number]) {
      assert.throws(() => new Sampler({ hz }), (e: Error) => e instanceof RangeError && /hz must be an integer from 1 to 10000/.test(e.message));
    }
    assert.throws(() => new Sampler({ threads: 'some' as 'all' }), /threads must be 'all' or 'js'/);
    assert.throws(() => new Sampler({ framesLimit: 0 }), /framesLimit/);
    assert.throws(() => new Sampler({ ringBytes: 5000 }), /ringBytes must be a power of two/);
  });

  it('one sampler at a time; stop needs start; a sampler starts once', () => {
    const s = start({ hz: 100 });
    assert.throws(() => start(), /already running/);
    assert.throws(() => s.start(), /already started/);
    s.stop();
    assert.throws(() => s.stop(), /needs a running sampler/);
    start().stop();
  });

  it('returns a profile model with samples, threads, stats, facts and thread kinds', async () => {
    const { result, profile: p } = await profile(() => hogHere('apiHog', 200), { hz: 1000 });
    assert.ok(result > 0);
    assert.equal(p.hz, 1000);
    assert.equal(p.periodNanos, 1_000_000);
    assert.equal(p.mode, 'all');
    assert.equal(typeof p.startTimeNanos, 'bigint');
    assert.ok(p.durationNanos > 150e6);
    // The threads' totals are their samples'; the (unsampled) rows (no signal, count 0) are the
    // rest of each thread's CPU, and the unsampled_nanos fact is their sum.
    const isUnsampled = (s: (typeof p.samples)[number]) => s.frames.length === 1 && s.frames[0].name === '(unsampled)';
    const sampled = p.samples.filter((s) => !isUnsampled(s));
    const unsampled = p.samples.filter(isUnsampled);
    const total = sampled.reduce((a, s) => a + s.cpuNanos, 0);
    assert.equal(p.threads.reduce((a, t) => a + t.cpuNanos, 0), total);
    assert.ok(sampled.every((s) => s.frames.length > 0 && s.count >= 1 && s.cpuNanos > 0));
    // The main thread's timer samples each stand for 1 + si_overrun periods, less, at stop, what
    // its samples stood for beyond its CPU (less than a period, taken off its largest row).
    const main = sampled.filter((s) => s.labels.thread_name === 'main');
    const signals = main.reduce((a, s) => a + s.count, 0);
    const mainCpu = main.reduce((a, s) => a + s.cpuNanos, 0);
    assert.ok(mainCpu >= (signals - 1) * p.periodNanos, `main: ${mainCpu} ns for ${signals} signals`);
    assert.ok(unsampled.every((s) => s.count === 0 && s.cpuNanos > 0));
    assert.equal(unsampled.reduce((a, s) => a + s.cpuNanos, 0), p.facts.unsampled_nanos);
    const hog = p.samples.filter((s) => s.frames[0].name === 'apiHog' && s.frames[0].file === '' === false);
    assert.ok(hog.length > 0, 'the hog is a leaf frame');
    assert.equal(p.facts.hz, 1000);
    assert.equal(p.facts.period_nanos, 1_000_000);
    assert.equal(p.facts.mode, 'all');
    assert.equal(p.facts['dropped.ring'], p.stats.dropped.ring);
    assert.equal(p.facts.kept, p.stats.kept);
    assert.equal(p.facts.process_cpu_nanos, p.processCpuNanos);
    assert.deepEqual(p.comments, []);
    // Each thread's kind is a label: 'js' for this (main) thread, whatever its name.
    for (const t of p.threads) {
      const rows = p.samples.filter((x) => x.labels.thread_id === t.tid);
      assert.ok(rows.every((x) => x.labels.thread_kind === (t.js ? 'js' : 'native')), `thread ${t.name}`);
    }
    assert.ok(p.samples.some((x) => x.labels.thread_name === 'main' && x.labels.thread_kind === 'js'));
    assert.equal(p.stats.kept + p.stats.filtered.setitimer + p.stats.filtered.timer_create, p.stats.records);
  });

  it('changes the rate while running, and the weights follow', () => {
    const s = start({ hz: 100 });
    const a = hogHere('beforeChange', 300);
    s.setRate(1000);
    const b = hogHere('afterChange', 300);
    const p = s.stop();
    assert.equal(p.hz, 1000);
    const cpu = (fn: string) => p.samples.filter((x) => x.frames.some((f) => f.name === fn)).reduce((x, y) => x + y.cpuNanos, 0);
    const cnt = (fn: string) => p.samples.filter((x) => x.frames.some((f) => f.name === fn)).reduce((x, y) => x + y.count, 0);
    assert.ok(Math.abs(cpu('beforeChange') / a - 1) < 0.15, `before: ${cpu('beforeChange')} vs ${a}`);
    assert.ok(Math.abs(cpu('afterChange') / b - 1) < 0.15, `after: ${cpu('afterChange')} vs ${b}`);
    assert.ok(cnt('afterChange') > 2 * cnt('beforeChange'), 'more signals at the higher rate');
  });

  it('never keeps an idle program alive', () => {
    const src = `require(${JSON.stringify(samplerIndex)}).start({ hz: 1000 }); setTimeout(() => {}, 50);`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['-e', src], { timeout: 10_000 });
    assert.equal(r.status, 0, String(r.stderr));
    assert.ok(Date.now() - t0 < 5_000, 'the process lingered');
  });
});
