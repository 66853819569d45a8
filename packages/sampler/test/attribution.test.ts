// Per-thread attribution: each worker's samples carry its own thread id and name and its own
// function, and nobody else's.
import assert from 'node:assert/strict';
import { Sampler } from '../src/index';
import { hogHere, hogWorkers } from './workloads';

describe('per-thread attribution', function () {
  this.timeout(60_000);
  it('each worker gets its own thread id, name and function', async () => {
    const s = new Sampler({ hz: 500 }).start();
    const res = await hogWorkers(3, (i) => `hogOfWorker${i}`, 300);
    // The main thread burns some CPU of its own too: idle while it waits for the workers, it may
    // have no sample otherwise (the sampler's own drains no longer symbolize in the window).
    hogHere('hogOfMain', 60);
    const p = s.stop();
    const fnNames = res.map((r) => r.name);
    for (const r of res) {
      const mine = p.samples.filter((x) => x.labels.thread_id === r.tid);
      assert.ok(mine.length > 0, `no samples for worker tid ${r.tid}`);
      assert.match(mine[0].labels.thread_name, /^worker \d+$/);
      assert.ok(mine.every((x) => x.labels.thread_name === mine[0].labels.thread_name), 'one name per thread');
      const withOwn = mine.filter((x) => x.frames.some((f) => f.name === r.name));
      assert.ok(withOwn.length > 0, `${r.name} never seen on its thread`);
      for (const x of mine) {
        for (const other of fnNames) {
          if (other === r.name) continue;
          assert.ok(!x.frames.some((f) => f.name === other), `${other} seen on ${r.name}'s thread ${r.tid}`);
        }
      }
    }
    const names = new Set(p.threads.filter((t) => t.js).map((t) => t.name));
    assert.ok(names.has('main'));
    assert.equal([...names].filter((n) => n.startsWith('worker ')).length, 3, [...names].join(', '));
  });
});
