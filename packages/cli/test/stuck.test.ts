// A program stuck where no JS listener can ever run still gives its profile on SIGINT, SIGTERM and
// SIGHUP sent to ptprof, and ends with the usual status (130, 143, 129): a loop on the main
// thread, workers spinning while the main thread idles or waits for them in Atomics.wait. A long
// native call is not interruptible: the process ends by the signal at the deadline, without its
// profile, and says so. Times: generous upper bounds only (against hangs).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanEnv, cpuByThread, facts, fixture, ptprofAsync, readProfile, rmDir, tmpDir, totals, type Run } from './helpers';

/** Runs ptprof on stuck.js MODE, sends `sig` to ptprof `afterMs` after "ready", and measures the end. */
async function stuck(mode: string, sig: NodeJS.Signals, dir: string, afterMs = 700): Promise<Run & { endMs: number }> {
  let sentAt = 0;
  let sent = false;
  const r = await ptprofAsync(['-o', 'cpu.pb.gz', '--', 'node', fixture('stuck.js'), mode], {
    cwd: dir,
    env: cleanEnv(),
    onStdout: (out, pid) => {
      if (sent || !/^ready$/m.test(out)) return;
      sent = true;
      setTimeout(() => {
        sentAt = Date.now();
        process.kill(pid, sig);
      }, afterMs);
    },
  });
  return { ...r, endMs: Date.now() - sentAt };
}

const STATUS: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

describe('a program that never returns to its event loop', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('stuck');
  });
  afterEach(() => rmDir(dir));

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`a loop on the main thread: ${sig} ends it with ${STATUS[sig]} and its profile, the loop holding the CPU`, async () => {
      const r = await stuck('loop', sig, dir);
      assert.equal(r.status, STATUS[sig], r.stderr);
      assert.ok(r.endMs < 10_000, `ended ${r.endMs} ms after ${sig}`);
      const p = readProfile(path.join(dir, 'cpu.pb.gz'));
      assert.equal(facts(p).end, sig);
      const main = cpuByThread(p, 'spinForever').get('main');
      assert.ok(main, 'the main thread is in the profile');
      assert.ok(main.inFn / totals(p).cpuNanos > 0.8, `spinForever holds ${(100 * main.inFn / totals(p).cpuNanos).toFixed(1)}% of the CPU`);
      assert.match(r.stderr, new RegExp(`killed by ${sig} \\(exit code ${STATUS[sig]}\\)`));
      assert.doesNotMatch(r.stderr, /one more to kill it|SIGKILL/, 'one signal was enough');
    });
  }

  it('workers spinning, the main thread idle: SIGTERM, 143, the workers in the profile', async () => {
    const r = await stuck('workers', 'SIGTERM', dir, 1500);
    assert.equal(r.status, 143, r.stderr);
    const byThread = cpuByThread(readProfile(path.join(dir, 'cpu.pb.gz')), 'workerSpin');
    const workers = [...byThread].filter(([name]) => name.startsWith('worker '));
    assert.equal(workers.length, 2, `threads: ${[...byThread.keys()]}`);
    // (On a loaded machine the workers get a small share of the cores, their start-up a large one:
    // their presence and what they spent the rest on are the point.)
    for (const [name, t] of workers) assert.ok(t.inFn > 20e6 && t.inFn / t.total > 0.5, `${name}: ${t.inFn / 1e6} of ${t.total / 1e6} ms in workerSpin`);
  });

  it('workers spinning, the main thread in Atomics.wait for them: SIGINT, 130, the workers in the profile', async () => {
    const r = await stuck('workers-wait', 'SIGINT', dir, 1500);
    assert.equal(r.status, 130, r.stderr);
    assert.ok(r.endMs < 10_000, `ended ${r.endMs} ms after SIGINT`);
    const byThread = cpuByThread(readProfile(path.join(dir, 'cpu.pb.gz')), 'workerSpin');
    const workers = [...byThread].filter(([name]) => name.startsWith('worker '));
    assert.equal(workers.length, 2, `threads: ${[...byThread.keys()]}`);
    for (const [name, t] of workers) assert.ok(t.inFn > 20e6 && t.inFn / t.total > 0.5, `${name}: ${t.inFn / 1e6} of ${t.total / 1e6} ms in workerSpin`);
  });

  it('one native call that takes minutes (pbkdf2Sync): SIGINT ends it by the deadline, 130, without a profile, and says why', async () => {
    const r = await stuck('native', 'SIGINT', dir, 300);
    assert.equal(r.status, 130, r.stderr);
    // The deadline is 2 s: it was not waited for (the call takes minutes).
    assert.ok(r.endMs >= 1500 && r.endMs < 20_000, `ended ${r.endMs} ms after SIGINT`);
    assert.match(r.stderr, /did not return to JavaScript in time after signal 2 \(a long native call or system call\?\): it ends without its profile/);
    assert.equal(fs.existsSync(path.join(dir, 'cpu.pb.gz')), false);
  });
});
