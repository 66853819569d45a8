// Failing calls: a failing syscall is an Error `call(args): ENAME (strerror)` with .code, .errno and
// .syscall; a bad argument is a TypeError naming the function and the argument; loading anywhere
// but Linux fails with one sentence that names the platform.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { binding } from '../src/index';
import { INDEX_JS, cleanup, createTimer, deleteTimer } from './support';

/** A tid that is no thread of this process (and, at the time of the check, of no process). */
function absentTid(): number {
  const ours = new Set(fs.readdirSync('/proc/self/task').map(Number));
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let t = max - 1; t > 1; t--) if (!ours.has(t) && !fs.existsSync(`/proc/${t}`)) return t;
  throw new Error('no free tid');
}

/** A thread of another process: pid 1's main thread. */
const FOREIGN_TID = 1;

function syscallError(fn: () => unknown, syscall: string, code: string): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected ${syscall} to throw`);
  assert.ok(!(caught instanceof TypeError), `a failing syscall is not a TypeError: ${caught.message}`);
  const err = caught as Error & { code: string; errno: number; syscall: string };
  assert.equal(err.syscall, syscall);
  assert.equal(err.code, code);
  assert.equal(typeof err.errno, 'number');
  assert.ok(err.errno > 0);
  // call(args)[: what]: ENAME (strerror)
  assert.match(err.message, new RegExp(`^${syscall}\\([^)]*\\)(: [^:]+)?: ${code} \\(.+\\)$`));
  return err;
}

describe('errors', function () {
  let tid: number;
  before(function () {
    binding.installHandler();
    tid = binding.register().tid;
  });
  afterEach(cleanup);

  it('timer_create on a tid that is not a thread of this process: EINVAL naming the tid', function () {
    const absent = absentTid();
    // The kernel's answer for a tid outside the thread group (good_sigevent, posix_cpu_timer_create)
    // is EINVAL, not ESRCH, whether or not the tid exists elsewhere.
    for (const t of [absent, FOREIGN_TID]) {
      const err = syscallError(() => binding.timerCreate(t), 'timer_create', 'EINVAL');
      assert.match(err.message, /^timer_create\(tid=\d+\): E[A-Z]+/);
      assert.ok(err.message.startsWith(`timer_create(tid=${t}): EINVAL (`), err.message);
    }
    assert.equal(binding.timerCount(), 0, 'a failed timer_create holds no table entry');
  });

  it('threadCpuNs of a thread that is not ours fails in clock_gettime', function () {
    const err = syscallError(() => binding.threadCpuNs(absentTid()), 'clock_gettime', 'EINVAL');
    assert.match(err.message, /^clock_gettime\(tid=\d+\): EINVAL/);
    syscallError(() => binding.threadCpuNs(FOREIGN_TID), 'clock_gettime', 'EINVAL');
  });

  it('a deleted or unknown timer id: EINVAL from every timer call', function () {
    const id = createTimer(tid);
    binding.timerSettime(id, 0, 0);
    deleteTimer(id);
    let err = syscallError(() => binding.timerSettime(id, 1e6, 1e6), 'timer_settime', 'EINVAL');
    assert.equal(err.message, `timer_settime(id=${id}): no such timer: EINVAL (Invalid argument)`);
    syscallError(() => binding.timerDelete(id), 'timer_delete', 'EINVAL');
    syscallError(() => binding.timerGetoverrun(id), 'timer_getoverrun', 'EINVAL');
    // The entry is reused under a new id; the stale id still names no timer and cannot touch it.
    const again = createTimer(tid);
    assert.notEqual(again, id);
    assert.equal(again % 1024, id % 1024, 'the same table entry');
    syscallError(() => binding.timerDelete(id), 'timer_delete', 'EINVAL');
    binding.timerSettime(again, 0, 0);
    assert.equal(binding.timerGetoverrun(again), 0);
    deleteTimer(again);
    for (const bad of [id + 1, 0, 100000, 2 ** 40]) {
      err = syscallError(() => binding.timerSettime(bad, 1e6, 1e6), 'timer_settime', 'EINVAL');
      assert.ok(err.message.startsWith(`timer_settime(id=${bad}): no such timer`), err.message);
    }
  });

  it('bad argument types and ranges are TypeErrors naming the function and argument', function () {
    const cases: [() => unknown, RegExp][] = [
      [() => (binding.timerCreate as any)(), /^timerCreate: tid must be a number$/],
      [() => binding.timerCreate('1' as any), /^timerCreate: tid must be a number$/],
      [() => binding.timerCreate(-1), /^timerCreate: tid must be a non-negative integer/],
      [() => binding.timerCreate(1.5), /^timerCreate: tid must be a non-negative integer/],
      [() => binding.timerCreate(NaN), /^timerCreate: tid must be a non-negative integer/],
      [() => binding.timerSettime(0, -1, 1), /^timerSettime: firstNs must be a non-negative integer/],
      [() => binding.timerSettime(0, 1, '1' as any), /^timerSettime: periodNs must be a number$/],
      [() => binding.timerSettime('0' as any, 1, 1), /^timer_settime: timer id must be a number$/],
      [() => binding.timerDelete(undefined as any), /^timer_delete: timer id must be a number$/],
      [() => binding.timerGetoverrun(-3), /^timer_getoverrun: timer id must be a non-negative integer/],
      [() => binding.setitimer('x' as any), /^setitimer: periodNs must be a number$/],
      [() => binding.setitimer(1.5), /^setitimer: periodNs must be a non-negative integer/],
      [() => binding.setEnabled(1 as any), /^setEnabled: expected a boolean$/],
      [() => binding.setTimerValid(tid, 'yes' as any), /^setTimerValid: valid must be a boolean$/],
      [() => binding.setTimerValid('1' as any, true), /^setTimerValid: tid must be a number$/],
      [() => binding.claimThread(-5), /^claimThread: tid must be a non-negative integer/],
      [() => binding.releaseThread({} as any), /^releaseThread: tid must be a number$/],
      [() => binding.threadCpuNs('1' as any), /^threadCpuNs: tid must be a number$/],
      [() => binding.demangle('_Z1fv' as any), /^demangle: expected an array of strings$/],
    ];
    for (const [fn, message] of cases) assert.throws(fn, (e: unknown) => e instanceof TypeError && message.test(e.message), String(message));
    assert.equal(binding.timerCount(), 0);
  });

  it('configure validates framesLimit and ringBytes', function () {
    const frames = /^configure: framesLimit must be an integer in 1\.\.512$/;
    const ring = /^configure: ringBytes must be a power of two in 4096\.\.67108864$/;
    const bad: [unknown, RegExp][] = [
      [undefined, /^configure: expected an options object$/],
      [3, /^configure: expected an options object$/],
      [{ framesLimit: 0 }, frames],
      [{ framesLimit: 513 }, frames],
      [{ framesLimit: 1.5 }, frames],
      [{ framesLimit: '64' }, frames],
      [{ framesLimit: NaN }, frames],
      [{ ringBytes: 2048 }, ring],
      [{ ringBytes: 5000 }, ring],
      [{ ringBytes: 4096.5 }, ring],
      [{ ringBytes: 128 * 1024 * 1024 }, ring],
      [{ ringBytes: '4096' }, ring],
      [{ ringBytes: -4096 }, ring],
    ];
    for (const [opts, message] of bad) {
      assert.throws(() => (binding.configure as any)(opts), (e: unknown) => e instanceof TypeError && message.test(e.message), JSON.stringify(opts));
    }
    // The bounds themselves are accepted; then the defaults are put back.
    binding.configure({});
    binding.configure({ framesLimit: 1, ringBytes: 4096 });
    binding.configure({ framesLimit: 512, ringBytes: 64 * 1024 * 1024 });
    binding.configure({ framesLimit: 128, ringBytes: 256 * 1024 });
  });

  it('loading on a platform other than Linux fails with one sentence naming it', function () {
    const r = spawnSync(process.execPath, [
      '-e',
      `Object.defineProperty(process, 'platform', { value: 'darwin' }); require(${JSON.stringify(INDEX_JS)});`,
    ], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    const line = r.stderr.split('\n').find((l) => l.startsWith('Error: '));
    assert.ok(line, r.stderr);
    assert.match(line, /^Error: @ptprof\/timers-native supports Linux only \(.*\); this platform is darwin\.$/);
    assert.doesNotMatch(r.stderr, /No native build was found/, 'fails before looking for a binary');
  });
});
