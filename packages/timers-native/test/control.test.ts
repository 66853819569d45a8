// Stop signals for a JS thread that never returns to its event loop (src/control.cc): a program
// stuck in each place a program gets stuck, SIGINT sent from outside, the control's callback
// reached (at an interrupt, or from the loop) and the process ended by the signal. Real processes,
// real signals; times are bounded generously, against hangs only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from './support';

interface Mark {
  signo: number;
  fromInterrupt: boolean;
  ms: number;
  info: { interrupts: number; giveUps: number; taken: number[] };
  program?: boolean;
}

interface Stuck {
  signal: NodeJS.Signals | null;
  status: number | null;
  stderr: string;
  ready: { taken: boolean };
  mark: Mark | undefined;
  /** From SIGINT to the end of the process. */
  ms: number;
}

function stuck(where: string, env: NodeJS.ProcessEnv = {}): Promise<Stuck> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-control-'));
  const mark = path.join(dir, 'mark.json');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(FIXTURES, 'control.js')], {
      env: { ...process.env, CONTROL_WHERE: where, CONTROL_MARK: mark, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    let sentAt = 0;
    let ready: { taken: boolean } | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${where}: still running 60 s after SIGINT (a hang); stderr: ${stderr}`));
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^ready (.*)$/m.exec(out);
      if (m && !ready) {
        ready = JSON.parse(m[1]);
        // Let it get into the loop (or the wait) first.
        setTimeout(() => {
          sentAt = Date.now();
          child.kill('SIGINT');
        }, 200);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - sentAt;
      let m: Mark | undefined;
      try {
        m = JSON.parse(fs.readFileSync(mark, 'utf8'));
      } catch {
        m = undefined;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      if (!ready) reject(new Error(`${where}: never ready (exit ${status ?? signal}): ${stderr}`));
      else resolve({ signal, status, stderr, ready, mark: m, ms });
    });
  });
}

const PLACES: Record<string, string> = {
  loop: 'a loop at the top level', timer: 'a loop in a timer', immediate: 'a loop in an immediate', microtask: 'a loop in a microtask',
  io: 'a loop in an I/O callback', atomics: 'Atomics.wait', regexp: 'a backtracking regular expression',
};

describe('stop signals for a thread that never returns to its event loop', function () {
  this.timeout(120_000);

  for (const where of Object.keys(PLACES)) {
    it(`stuck in ${PLACES[where]}: the callback runs at an interrupt, the process ends by SIGINT`, async () => {
      const r = await stuck(where);
      assert.equal(r.ready.taken, true, 'SIGINT was taken over Node\'s default');
      assert.ok(r.mark, `the callback ran (exit ${r.status ?? r.signal}; stderr: ${r.stderr})`);
      assert.equal(r.mark.signo, 2);
      assert.equal(r.mark.fromInterrupt, true, 'the event loop never turned: it was reached at an interrupt');
      assert.equal(r.mark.info.interrupts, 1);
      assert.equal(r.signal, 'SIGINT', `ended by SIGINT, not ${r.status ?? r.signal}: ${r.stderr}`);
      assert.equal(r.stderr, '', 'nothing on stderr (no fatal error of Node\'s)');
      assert.ok(r.ms < 10_000, `ended ${r.ms} ms after SIGINT`);
    });
  }

  it('an idle program: the callback runs from the event loop, with no interrupt', async () => {
    const r = await stuck('idle');
    assert.ok(r.mark, `the callback ran (stderr: ${r.stderr})`);
    assert.equal(r.mark.fromInterrupt, false);
    assert.equal(r.mark.info.interrupts, 0);
    assert.equal(r.signal, 'SIGINT');
  });

  it('a native call shorter than the deadline: the callback runs when it returns to JavaScript', async () => {
    const r = await stuck('native', { CONTROL_ITERATIONS: '2000000', CONTROL_DEADLINE_MS: '60000' });
    assert.ok(r.mark, `the callback ran (stderr: ${r.stderr})`);
    assert.equal(r.mark.fromInterrupt, true);
    assert.equal(r.signal, 'SIGINT');
  });

  it('a native call longer than the deadline: the process ends by SIGINT at the deadline, without the callback, and says so', async () => {
    const r = await stuck('native', { CONTROL_ITERATIONS: '100000000', CONTROL_DEADLINE_MS: '2000' });
    assert.equal(r.mark, undefined, 'no callback: the thread never came back');
    assert.equal(r.signal, 'SIGINT');
    assert.match(r.stderr, /did not return to JavaScript in time after signal 2 .*without its profile/);
    // pbkdf2Sync with 1e8 iterations takes over a minute: it was not waited for.
    assert.ok(r.ms >= 1900 && r.ms < 20_000, `ended ${r.ms} ms after SIGINT`);
  });

  it('without the interrupt (graceMs 0), a loop is not reached: it ends only at the deadline, without the callback', async () => {
    const r = await stuck('loop', { CONTROL_GRACE_MS: '0', CONTROL_DEADLINE_MS: '1000' });
    assert.equal(r.mark, undefined);
    assert.equal(r.signal, 'SIGINT');
    assert.match(r.stderr, /did not return to JavaScript in time/);
  });

  it('a program that listens to SIGINT keeps it: nothing is taken, its listener decides', async () => {
    const r = await stuck('listener');
    assert.equal(r.ready.taken, false);
    assert.equal(r.mark?.program, true, 'the program\'s listener ran');
    assert.deepEqual(r.mark?.info.taken, []);
    assert.equal(r.status, 7);
  });
});
