// The per-thread timer lifecycle (Go's setThreadCPUProfiler) over a fake native backend.
import assert from 'node:assert/strict';
import { Sampler, TimerLifecycle, firstExpiryNs, periodForHz, registerCurrentThread } from '../src/index';
import { FakeBackend } from './fake-backend';

// A seeded generator so failures reproduce (mulberry32).
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('timer lifecycle', () => {
  it('puts every first expiry inside (0, period], the extremes included', () => {
    const period = periodForHz(100);
    assert.equal(firstExpiryNs(period, () => 0), 1);
    assert.equal(firstExpiryNs(period, () => 0.9999999999999), period);
    const rng = seeded(1);
    for (let i = 0; i < 100_000; i++) {
      const f = firstExpiryNs(period, rng);
      assert.ok(Number.isInteger(f) && f > 0 && f <= period, `first expiry ${f} outside (0, ${period}]`);
    }
  });

  it('draws first expiries uniformly (chi-square, 20 bins, p > 0.001)', () => {
    const period = 1_000_000;
    const bins = new Array(20).fill(0);
    const n = 40_000;
    const fake = new FakeBackend();
    const lc = new TimerLifecycle(fake.binding(), seeded(42));
    lc.setPeriod(period);
    for (let tid = 1; tid <= n; tid++) lc.arm(tid);
    for (const t of fake.timers.values()) bins[Math.min(19, Math.floor(((t.first - 1) / period) * 20))]++;
    const expected = n / 20;
    const chi2 = bins.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: the 0.999 quantile is 43.82.
    assert.ok(chi2 < 43.82, `chi-square ${chi2.toFixed(1)} over bins ${bins.join(',')}`);
    // And the test can fail: a first expiry of a full period is maximally non-uniform.
    const skewed = new Array(20).fill(0);
    skewed[19] = n;
    const chi2Skewed = skewed.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    assert.ok(chi2Skewed > 43.82);
  });

  it('sets valid after timer_settime, and clears it before timer_delete', () => {
    const fake = new FakeBackend();
    const lc = new TimerLifecycle(fake.binding(), seeded(3));
    lc.setPeriod(1e6);
    lc.arm(7);
    const settime = fake.indexOf('timerSettime');
    const validOn = fake.calls.findIndex((c) => c.fn === 'setTimerValid' && c.args[0] === 7 && c.args[1] === true);
    assert.ok(settime >= 0 && validOn > settime, 'valid=true must follow timer_settime');
    lc.disarm(7);
    const validOff = fake.calls.findIndex((c) => c.fn === 'setTimerValid' && c.args[0] === 7 && c.args[1] === false);
    const del = fake.indexOf('timerDelete');
    assert.ok(validOff >= 0 && del > validOff, 'valid=false must precede timer_delete');
  });

  it('re-creates every timer when the rate changes: old ones deleted (valid cleared first), new ones tagged with the new period', () => {
    const fake = new FakeBackend();
    const lc = new TimerLifecycle(fake.binding(), seeded(5));
    lc.setPeriod(periodForHz(100));
    for (const tid of [1, 2, 3]) lc.arm(tid);
    const old = [...fake.timers.keys()];
    const mark = fake.calls.length;
    lc.setPeriod(periodForHz(1000));
    for (const id of old) {
      assert.equal(fake.timers.get(id)!.deleted, true, `old timer ${id} kept`);
      const del = fake.indexOf('timerDelete', id, mark);
      const tid = fake.timers.get(id)!.tid;
      const off = fake.calls.findIndex((c, i) => i >= mark && i < del && c.fn === 'setTimerValid' && c.args[0] === tid && c.args[1] === false);
      assert.ok(off >= 0, `valid not cleared before deleting timer ${id}`);
    }
    const live = [...fake.timers].filter(([, t]) => !t.deleted);
    assert.deepEqual(live.map(([, t]) => t.tid).sort(), [1, 2, 3]);
    for (const [id, t] of live) {
      assert.equal(t.period, 1_000_000, `timer ${id} has the old period`);
      assert.ok(t.first > 0 && t.first <= 1_000_000);
      const create = fake.calls.find((c) => c.fn === 'timerCreate' && c.args[0] === t.tid && fake.calls.indexOf(c) >= mark)!;
      assert.equal(create.args[2], 1_000_000, 'tagged with its period');
    }
    // The same rate again changes nothing.
    const n = fake.calls.length;
    lc.setPeriod(periodForHz(1000));
    assert.equal(fake.calls.length, n);
  });

  it('disarms the timers of threads that exited, and only those', () => {
    const fake = new FakeBackend();
    const lc = new TimerLifecycle(fake.binding(), seeded(7));
    lc.setPeriod(1e7);
    for (const tid of [10, 11, 12]) lc.arm(tid);
    const gone = lc.reconcile(new Set([10, 12]));
    assert.deepEqual(gone, [11]);
    assert.deepEqual([...lc.timers.keys()].sort(), [10, 12]);
    const t11 = [...fake.timers.values()].find((t) => t.tid === 11)!;
    assert.equal(t11.deleted, true);
  });

  it('never gives a thread two timers (a self-armed worker is adopted, not doubled)', () => {
    const fake = new FakeBackend();
    const b = fake.binding();
    fake.period = 1e7;
    registerCurrentThread(b, seeded(9)); // the thread arms itself (tid 1000)
    const lc = new TimerLifecycle(b, seeded(9));
    lc.setPeriod(1e7);
    for (const t of b.timers()) lc.adopt(t.tid, t.id);
    assert.equal(lc.arm(1000), false);
    assert.equal([...fake.timers.values()].filter((t) => t.tid === 1000 && !t.deleted).length, 1);
  });

  it('a thread registering while no sampler runs gets no timer', () => {
    const fake = new FakeBackend();
    const r = registerCurrentThread(fake.binding(), seeded(1));
    assert.equal(r.armed, false);
    assert.equal(fake.timers.size, 0);
  });
});

describe('Sampler lifecycle over a fake backend', () => {
  it('start arms JS threads and setitimer at the rate; stop deletes every timer it created, valid first', () => {
    const fake = new FakeBackend();
    const s = new Sampler({ hz: 250, threads: 'js', _backend: fake.binding(), _rng: seeded(11) }).start();
    assert.equal(fake.itimer, 4_000_000, 'setitimer runs at the same rate for threads without a timer');
    assert.equal(fake.period, 4_000_000);
    assert.equal(fake.enabled, true);
    const main = [...fake.timers.values()].find((t) => t.tid === 1000);
    assert.ok(main && main.period === 4_000_000 && main.first > 0 && main.first <= 4_000_000);
    // A worker registers during sampling and arms itself; the next drain adopts it.
    fake.known.set(2000, { js: true, name: 'worker 1' });
    const wid = fake.binding().timerCreate(2000, true);
    s.drain();
    assert.ok(s.armedThreads.has(2000));
    s.setRate(1000);
    for (const t of fake.timers.values()) if (!t.deleted) assert.equal(t.period, 1_000_000);
    assert.equal(fake.itimer, 1_000_000);
    s.stop();
    assert.equal(fake.itimer, 0);
    assert.equal(fake.period, 0);
    assert.equal(fake.enabled, false);
    for (const [id, t] of fake.timers) {
      assert.equal(t.deleted, true, `timer ${id} for tid ${t.tid} not deleted`);
      const del = fake.indexOf('timerDelete', id);
      const off = fake.calls.findIndex((c, i) => i < del && c.fn === 'setTimerValid' && c.args[0] === t.tid && c.args[1] === false);
      assert.ok(off >= 0, `valid not cleared before deleting timer ${id}`);
    }
    assert.ok(fake.timers.has(wid));
  });

  it("threads: 'all' arms a timer for every OS thread of the process", () => {
    const fake = new FakeBackend();
    const s = new Sampler({ hz: 100, threads: 'all', _backend: fake.binding(), _rng: seeded(13) }).start();
    const { listTids } = require('../src/threads') as typeof import('../src/threads');
    for (const tid of listTids()) assert.ok(s.armedThreads.has(tid), `thread ${tid} has no timer`);
    s.stop();
    for (const t of fake.timers.values()) assert.equal(t.deleted, true);
    for (const tid of listTids()) assert.ok(fake.indexOf('releaseThread', tid) >= 0, `thread ${tid} claimed but not released`);
  });

  it("threads: 'js' leaves other threads to setitimer", () => {
    const fake = new FakeBackend();
    fake.known.set(3000, { js: false, name: '' });
    const s = new Sampler({ hz: 100, threads: 'js', _backend: fake.binding(), _rng: seeded(17) }).start();
    assert.ok(!s.armedThreads.has(3000));
    assert.ok(s.armedThreads.has(1000));
    s.stop();
  });

  it('a thread that exits before its timer is armed does not break start', () => {
    const fake = new FakeBackend();
    const { listTids } = require('../src/threads') as typeof import('../src/threads');
    const victim = listTids().find((t) => t !== process.pid)!;
    fake.failCreateFor.add(victim);
    const s = new Sampler({ hz: 100, threads: 'all', _backend: fake.binding(), _rng: seeded(19) }).start();
    assert.ok(!s.armedThreads.has(victim));
    s.stop();
  });

  it("a timer whose thread exited (0/0 from timer_gettime) is dropped, and the tid's new thread gets a timer of its own", () => {
    const fake = new FakeBackend();
    const { listTids } = require('../src/threads') as typeof import('../src/threads');
    const tid = listTids().find((t) => t !== process.pid)!;
    const s = new Sampler({ hz: 100, threads: 'all', _backend: fake.binding(), _rng: seeded(23) }).start();
    const first = s.armedThreads.get(tid)!;
    assert.ok(first !== undefined, 'armed at start');
    // The thread exits and another gets its tid before the next scan: the tid is still listed.
    fake.exited.add(tid);
    s.drain();
    assert.equal(fake.timers.get(first)!.deleted, true, "the dead thread's timer is deleted");
    const off = fake.calls.findIndex((c) => c.fn === 'setTimerValid' && c.args[0] === tid && c.args[1] === false);
    assert.ok(off >= 0 && off < fake.indexOf('timerDelete', first), 'valid cleared before the delete');
    assert.ok(fake.indexOf('releaseThread', tid) >= 0, 'the slot given to the dead thread is released');
    fake.exited.delete(tid);
    const second = s.armedThreads.get(tid);
    assert.ok(second !== undefined && second !== first, 'the new thread got its own timer in the same scan');
    s.stop();
  });
});
