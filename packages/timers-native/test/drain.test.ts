// The drain format: flat typed arrays, one row per record and per code event, decoded by
// decodeDrain; records' times on CLOCK_MONOTONIC; demangle for native symbol names.
import assert from 'node:assert/strict';
import {
  binding, decodeDrain, INTS_PER_RECORD, NUMS_PER_RECORD, NUMS_PER_EVENT, FLAG_KNOWN, FLAG_TIMER_VALID, FLAG_JS,
  FLAG_TRUNCATED, CODE_ADDED, RI, EV, eventNames, keepTableBit, RECORD_INTS, RECORD_NUMS, EVENT_NUMS, checkLayout,
} from '../src/index';
import { SI_TIMER, burnUntilSignals, cleanup, createTimer, deleteTimer } from './support';

describe('drain', function () {
  let self: { tid: number; isolateId: number; slot: number };
  before(function () {
    binding.installHandler();
    self = binding.register();
  });
  afterEach(cleanup);

  it('the binary\'s layout (src/layout.h) is the one src/index.ts reads, and a different one is refused by name', function () {
    assert.deepEqual(binding.layout.recordInts, [...RECORD_INTS]);
    assert.deepEqual(binding.layout.recordNums, [...RECORD_NUMS]);
    assert.deepEqual(binding.layout.eventNums, [...EVENT_NUMS]);
    assert.deepEqual(binding.layout.flags, { known: FLAG_KNOWN, timerValid: FLAG_TIMER_VALID, js: FLAG_JS, truncated: FLAG_TRUNCATED });
    assert.doesNotThrow(() => checkLayout(binding.layout));
    const swapped = { ...binding.layout, recordNums: ['codeSeq', 'timeNs', ...binding.layout.recordNums.slice(2)] };
    assert.throws(() => checkLayout(swapped), /built from another version of src\/layout\.h.*rebuild/);
    assert.throws(() => checkLayout(undefined), /rebuild/);
  });

  it('raw arrays: 8 ints and 6 doubles per record, frames back to back, 7 doubles per code event', function () {
    binding.drain();
    const id = createTimer(self.tid, 123456789);
    binding.setTimerValid(self.tid, true);
    binding.setEnabled(true);
    const t0 = binding.monotonicNs();
    binding.timerSettime(id, 1e6, 1e6);
    const f = new Function('burn', 'return function ptprofDrainProbe() { return burn(5); }')(burnUntilSignals);
    f(); // new code while sampling: CODE_ADDED events in the same drain
    binding.timerSettime(id, 0, 0);
    const t1 = binding.monotonicNs();
    binding.setEnabled(false);
    deleteTimer(id);
    const raw = binding.drain();

    assert.ok(raw.count >= 5);
    assert.ok(raw.ints instanceof Int32Array && raw.nums instanceof Float64Array);
    assert.ok(raw.frames instanceof Float64Array && raw.events instanceof Float64Array);
    assert.equal(raw.ints.length, raw.count * INTS_PER_RECORD);
    assert.equal(raw.nums.length, raw.count * NUMS_PER_RECORD);
    let nframes = 0;
    for (let i = 0; i < raw.count; i++) {
      nframes += raw.ints[i * INTS_PER_RECORD + RI.nframes];
      const code = raw.ints[i * INTS_PER_RECORD + RI.code];
      const signo = raw.ints[i * INTS_PER_RECORD + RI.signo];
      // setitimer's SIGPROF (27) or the timers' real-time signal.
      assert.equal(signo, code === 0x80 ? 27 : binding.signalInfo().timerSignal, 'signal column');
    }
    assert.equal(raw.frames.length, nframes);
    const names = eventNames(raw);
    assert.ok(names.length > 0);
    assert.equal(raw.events.length, names.length * NUMS_PER_EVENT);
    // The names are one text, each ending where its row says, none past its end.
    assert.equal(raw.events[raw.events.length - NUMS_PER_EVENT + EV.nameEnd], raw.nameText.length);
    assert.ok(names.some((n) => n.length > 0), 'some event is named');
    for (const k of ['signals', 'handlerNs', 'foreign', 'disabled', 'ringDrops', 'sharedDrops', 'codeDrops', 'filteredSetitimer', 'filteredTimer', 'itimerSuspensions', 'sigprofReinstalls', 'collectorError'] as const) {
      assert.equal(typeof raw.counters[k], 'number', k);
    }

    const d = decodeDrain(raw);
    assert.equal(d.records.length, raw.count);
    assert.equal(d.events.length, names.length);
    let prevTime = t0;
    let prevSeq = 0;
    let prevCpu = 0;
    const cpuNow = binding.threadCpuNs();
    for (const [i, r] of d.records.entries()) {
      assert.ok(r.threadCpuNs > prevCpu && r.threadCpuNs <= cpuNow, "the receiving thread's CPU clock, increasing");
      assert.equal(r.timerTag, 123456789, "the timer's tag (sigev_value)");
      prevCpu = r.threadCpuNs;
      assert.equal(r.tid, raw.ints[i * INTS_PER_RECORD]);
      assert.equal(r.code, SI_TIMER);
      assert.equal(r.flags, FLAG_KNOWN | FLAG_TIMER_VALID | FLAG_JS | (r.truncated ? FLAG_TRUNCATED : 0));
      assert.ok(r.timeNs >= prevTime && r.timeNs <= t1, 'CLOCK_MONOTONIC, in order, within the run');
      assert.ok(r.codeSeq >= prevSeq, 'codeSeq never goes back on one thread');
      assert.ok(r.pc > 0);
      prevTime = r.timeNs;
      prevSeq = r.codeSeq;
    }
    const seqs = d.events.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
    assert.ok(d.records[d.records.length - 1].codeSeq <= seqs[seqs.length - 1]);
    assert.ok(d.events.some((e) => e.type === CODE_ADDED && /ptprofDrainProbe/.test(e.name)));
  });

  it('keepTable: a signal the reader would drop gets no record and no stack walk, only a count', function () {
    binding.drain();
    const id = createTimer(self.tid);
    binding.setTimerValid(self.tid, true);
    binding.setEnabled(true);
    const run = (table: number) => {
      binding.configure({ keepTable: table });
      const c0 = decodeDrain(binding.drain()).counters;
      binding.timerSettime(id, 1e6, 1e6);
      binding.setitimer(1e6);
      burnUntilSignals(20);
      binding.setitimer(0);
      binding.timerSettime(id, 0, 0);
      const d = decodeDrain(binding.drain());
      // This thread's records (setitimer's signal may land on an idle thread: unknown, kept).
      const mine = d.records.filter((r) => r.tid === self.tid);
      return {
        timerRecords: mine.filter((r) => r.code === SI_TIMER).length,
        itimerRecords: mine.filter((r) => r.code === 0x80).length,
        filteredSetitimer: d.counters.filteredSetitimer - c0.filteredSetitimer,
        filteredTimer: d.counters.filteredTimer - c0.filteredTimer,
      };
    };
    try {
      // Go's rule for a known thread with a valid timer: keep SI_TIMER, drop SI_KERNEL.
      const go = run(0xff & ~(1 << keepTableBit(false, true, true)));
      assert.ok(go.timerRecords > 0, 'the timer\'s signals are recorded');
      assert.equal(go.itimerRecords, 0, 'no record for setitimer\'s signals on this thread');
      assert.ok(go.filteredSetitimer > 0, 'they are counted instead');
      assert.equal(go.filteredTimer, 0);
      // Everything kept: setitimer's signals on this thread are records again.
      const all = run(0xff);
      assert.ok(all.itimerRecords > 0 && all.filteredSetitimer === 0, JSON.stringify(all));
    } finally {
      binding.configure({ keepTable: 0xff });
      binding.setTimerValid(self.tid, false);
      deleteTimer(id);
    }
    assert.throws(() => binding.configure({ keepTable: 256 }), /keepTable must be an integer in 0\.\.255/);
  });

  it('eventNames: each name from its own bytes, UTF-8 and unnamed events included, none past the text', function () {
    const names = ['LazyCompile:~a /x.js:1:1', '', 'Function:λ /日本.js:2:3', 'b', ''];
    const bytes = names.map((n) => Buffer.from(n, 'utf8'));
    const events = new Float64Array(names.length * NUMS_PER_EVENT);
    let end = 0;
    bytes.forEach((b, i) => {
      end += b.length;
      events[i * NUMS_PER_EVENT + EV.nameEnd] = end;
    });
    const nameText = new Uint8Array(Buffer.concat(bytes));
    assert.deepEqual(eventNames({ events, nameText }), names);
    // A text within a larger buffer (as the addon's arrays may be), and a row that says more than
    // the text holds (a damaged drain): the names stop at the text's end.
    const pool = new Uint8Array(nameText.length + 16);
    pool.set(nameText, 8);
    assert.deepEqual(eventNames({ events, nameText: pool.subarray(8, 8 + nameText.length) }), names);
    const long = events.slice();
    long[(names.length - 2) * NUMS_PER_EVENT + EV.nameEnd] = nameText.length + 5;
    long[(names.length - 1) * NUMS_PER_EVENT + EV.nameEnd] = nameText.length + 5;
    assert.deepEqual(eventNames({ events: long, nameText }), [...names.slice(0, 3), 'b', '']);
  });

  it('an empty drain has empty arrays and the counters', function () {
    binding.drain();
    const d = binding.drain();
    assert.equal(d.count, 0);
    assert.equal(d.ints.length + d.nums.length + d.frames.length + d.events.length + d.nameText.length, 0);
    assert.equal(typeof d.counters.signals, 'number');
  });

  it('demangle turns C++ symbol names into source names and leaves the rest alone', function () {
    assert.deepEqual(
      binding.demangle(['_ZN2v87Isolate10GetCurrentEv', '_ZN4node6worker6Worker11StartThreadERKN2v820FunctionCallbackInfoINS2_5ValueEEE', 'clock_gettime', '_Znot-a-name', '']),
      [
        'v8::Isolate::GetCurrent()',
        'node::worker::Worker::StartThread(v8::FunctionCallbackInfo<v8::Value> const&)',
        'clock_gettime',
        '_Znot-a-name',
        '',
      ],
    );
    assert.deepEqual(binding.demangle([]), []);
    assert.throws(() => binding.demangle('_Z1fv' as any), /^TypeError: demangle: expected an array of strings$/);
    assert.throws(() => binding.demangle([1] as any), /^TypeError: demangle: expected an array of strings$/);
  });
});
