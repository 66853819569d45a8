// The SIGPROF handler: installed once (never chained to itself), passes signals that are not a
// profiling timer's to the handler it replaced, never lets SIGPROF's default action (terminate)
// run, and counts what it does not record.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as inspector from 'node:inspector';
import { binding, decodeDrain, type DrainCounters } from '../src/index';
import { INDEX_JS, burnUntilSignals, cleanup, createTimer, deleteTimer, runFixture, sleep } from './support';

/** Waits (briefly) until the handler has counted `n` more signals than `base`. */
async function countersAfter(base: DrainCounters, n: number): Promise<{ counters: DrainCounters; records: number }> {
  let records = 0;
  for (let i = 0; i < 100; i++) {
    const d = decodeDrain(binding.drain());
    records += d.records.length;
    if (d.counters.signals >= base.signals + n) return { counters: d.counters, records };
    await sleep(10);
  }
  return { counters: decodeDrain(binding.drain()).counters, records };
}

function post(session: inspector.Session, method: string): Promise<void> {
  return new Promise((resolve, reject) => session.post(method, (err) => (err ? reject(err) : resolve())));
}

describe('handler', function () {
  afterEach(cleanup);

  it('installHandler replaces the default disposition once; a second call keeps it and does not chain to itself', function () {
    assert.equal(binding.currentHandler(), 'default');
    assert.equal(binding.installHandler(), 'default');
    assert.equal(binding.currentHandler(), 'ptprof');
    assert.equal(binding.installHandler(), 'ptprof');
    assert.equal(binding.installHandler(), 'ptprof');
    assert.equal(binding.currentHandler(), 'ptprof');
  });

  it('a foreign SIGPROF (kill) is counted and recorded nowhere, and the default action never runs', async function () {
    binding.register({ codeEvents: false });
    binding.setEnabled(true); // recording on: a foreign signal is still not a sample
    const base = decodeDrain(binding.drain()).counters;
    process.kill(process.pid, 'SIGPROF'); // si_code SI_USER; SIG_DFL would terminate the process
    const one = await countersAfter(base, 1);
    assert.equal(one.counters.foreign, base.foreign + 1);
    assert.equal(one.counters.signals, base.signals + 1);
    assert.equal(one.counters.disabled, base.disabled);
    assert.equal(one.records, 0);
    assert.equal(binding.signalCount(), one.counters.signals);
    // Had installHandler chained to itself, each of these would recurse until the stack overflowed.
    for (let i = 0; i < 3; i++) {
      const b = decodeDrain(binding.drain()).counters;
      process.kill(process.pid, 'SIGPROF');
      const c = await countersAfter(b, 1);
      assert.equal(c.counters.foreign, b.foreign + 1);
      assert.equal(c.records, 0);
    }
  });

  it('timer signals while recording is off are counted as disabled and recorded nowhere', function () {
    const { tid } = binding.register({ codeEvents: false });
    const id = createTimer(tid);
    binding.setTimerValid(tid, true);
    binding.setEnabled(false);
    const base = decodeDrain(binding.drain()).counters;
    binding.timerSettime(id, 1e6, 1e6);
    binding.setitimer(4e6);
    burnUntilSignals(5);
    binding.setitimer(0);
    binding.timerSettime(id, 0, 0);
    const off = decodeDrain(binding.drain());
    assert.equal(off.records.length, 0);
    const disabled = off.counters.disabled - base.disabled;
    assert.ok(disabled >= 5, `${disabled} signals counted as disabled`);
    assert.equal(off.counters.signals - base.signals, disabled, 'every signal seen was counted as disabled');
    assert.equal(off.counters.foreign, base.foreign);

    // The same timer with recording on: records, and the disabled count stands still.
    binding.setEnabled(true);
    binding.timerSettime(id, 1e6, 1e6);
    burnUntilSignals(3);
    binding.timerSettime(id, 0, 0);
    binding.setEnabled(false);
    const on = decodeDrain(binding.drain());
    assert.ok(on.records.length > 0);
    assert.equal(on.counters.disabled, off.counters.disabled);
    deleteTimer(id);
  });

  it('counts the time the handler takes (handlerNs): some for every signal, never more than the time that passed', function () {
    const { tid } = binding.register({ codeEvents: false });
    const id = createTimer(tid);
    binding.setTimerValid(tid, true);
    binding.setEnabled(true);
    const base = decodeDrain(binding.drain()).counters;
    assert.equal(typeof base.handlerNs, 'number');
    const t0 = binding.monotonicNs();
    binding.timerSettime(id, 1e6, 1e6);
    burnUntilSignals(20);
    binding.timerSettime(id, 0, 0);
    const t1 = binding.monotonicNs();
    binding.setEnabled(false);
    const after = decodeDrain(binding.drain());
    assert.ok(after.records.length > 0);
    const signals = after.counters.signals - base.signals;
    const ns = after.counters.handlerNs - base.handlerNs;
    // Each signal is a stack walk and a ring write: some hundreds of ns at least, well under a
    // millisecond (under qemu too). One thread took them all, one at a time: their sum is within
    // the time that passed.
    assert.ok(signals >= 20, `${signals} signals`);
    assert.ok(ns >= signals * 100, `${ns} ns in the handler for ${signals} signals`);
    assert.ok(ns / signals < 1e6, `${ns / signals} ns a signal`);
    assert.ok(ns <= t1 - t0, `${ns} ns in the handler within ${t1 - t0} ns`);
    deleteTimer(id);
  });

  it('a program that owns SIGPROF keeps it: the timers use their own signal, setitimer waits until SIGPROF is free', function () {
    const out = runFixture('chain.js');
    // Node's process.on('SIGPROF') installs libuv's handler: "other". ptprof leaves it in place.
    assert.equal(out.before, 'other');
    assert.equal(out.was, 'other');
    assert.equal(out.after, 'other');
    assert.ok(out.heardKill >= 1, 'a kill reaches the program\'s listener');
    assert.equal(out.itimerArmedWhileProgramOwns, false, 'setitimer stays off while SIGPROF is the program\'s');
    assert.ok(out.recordsWhileEnabled > 0, 'the per-thread timer still records');
    assert.deepEqual(out.recordSignals, [out.timerSignal], 'every record came on the timers\' real-time signal');
    assert.equal(out.kernelRecordsWhileProgramOwns, 0);
    assert.equal(out.heardWhileEnabled, 0, 'the program heard none of ptprof\'s signals');
    assert.equal(out.recordsWhileDisabled, 0);
    assert.equal(out.heardWhileDisabled, 0);
    assert.ok(out.counters.disabled >= 5);
    assert.equal(out.afterRemove, 'default', 'Node put SIG_DFL back when the listener went');
    assert.equal(out.afterGuard, 'ptprof');
    assert.equal(out.itimerArmedAfterGuard, true);
    assert.ok(out.kernelRecordsAfter > 0, 'setitimer records again once SIGPROF is ours');
    assert.ok(out.info.itimerSuspensions >= 0 && out.info.sigprofYielded === false);
  });

  it('the inspector\'s CPU profiler takes SIGPROF while it runs; currentHandler notices', async function () {
    const session = new inspector.Session();
    session.connect();
    try {
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.start');
      assert.equal(binding.currentHandler(), 'other');
      await post(session, 'Profiler.stop');
      // V8 puts back the handler it found (ours); reinstalling is harmless either way.
      assert.equal(binding.currentHandler(), 'ptprof');
      await post(session, 'Profiler.disable');
    } finally {
      session.disconnect();
    }
    assert.equal(binding.installHandler(), 'ptprof');
  });

  it('a CPU profiler started before installHandler keeps SIGPROF; it puts SIG_DFL back when it stops, and ptprof then takes it', function () {
    // Had ptprof installed over V8's handler and armed setitimer, the next SIGPROF after the stop
    // would have killed the process (exit 155).
    const script = `
      const { binding } = require(${JSON.stringify(INDEX_JS)});
      const s = new (require('node:inspector').Session)();
      s.connect();
      const out = [];
      s.post('Profiler.enable', () => s.post('Profiler.start', () => {
        out.push(binding.currentHandler(), binding.installHandler(), binding.currentHandler());
        binding.setitimer(1e6);
        out.push(binding.signalInfo().itimerArmed);
        s.post('Profiler.stop', () => {
          out.push(binding.currentHandler(), binding.installHandler(), binding.currentHandler(), binding.signalInfo().itimerArmed);
          binding.setitimer(0);
          process.kill(process.pid, 'SIGPROF'); // harmless: a foreign signal, recorded nowhere
          setTimeout(() => console.log(JSON.stringify(out)), 50);
        });
      }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ['other', 'other', 'other', false, 'default', 'default', 'ptprof', true]);
  });
});
