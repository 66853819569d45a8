import assert from 'node:assert/strict';
import {
  SI_KERNEL, SI_TIMER, SI_TKILL, SI_USER, SI_QUEUE,
  filterSIGPROF, countSIGPROF, type SignalEvent,
} from '../src/index.js';

interface Recorded extends SignalEvent { seq: number; tid: number }

// A recorded stream: two threads with timers (each also hit by setitimer), one without, one the
// profiler does not know, and signals from other senders. `keep` is the expected answer, by hand.
const STREAM: ReadonlyArray<Recorded & { keep: boolean }> = [
  { seq: 0, tid: 1, code: SI_TIMER, known: true, timerValid: true, keep: true },
  { seq: 1, tid: 1, code: SI_KERNEL, known: true, timerValid: true, keep: false },
  { seq: 2, tid: 2, code: SI_TIMER, known: true, timerValid: true, keep: true },
  { seq: 3, tid: 2, code: SI_KERNEL, known: true, timerValid: true, keep: false },
  { seq: 4, tid: 3, code: SI_KERNEL, known: true, timerValid: false, keep: true },
  { seq: 5, tid: 3, code: SI_TIMER, known: true, timerValid: false, keep: false }, // expiry after the flag was cleared
  { seq: 6, tid: 4, code: SI_KERNEL, known: false, timerValid: false, keep: true },
  { seq: 7, tid: 4, code: SI_TIMER, known: false, timerValid: false, keep: false },
  { seq: 8, tid: 1, code: SI_TKILL, known: true, timerValid: true, keep: true },
  { seq: 9, tid: 4, code: SI_USER, known: false, timerValid: false, keep: true },
  { seq: 10, tid: 2, code: SI_QUEUE, known: true, timerValid: true, keep: true },
  { seq: 11, tid: 2, code: 42, known: true, timerValid: true, keep: true },
  { seq: 12, tid: 1, code: SI_TIMER, known: true, timerValid: true, keep: true },
];

describe('filterSIGPROF', () => {
  it('keeps the right records, in order, as the same objects', () => {
    const kept = [...filterSIGPROF(STREAM)];
    assert.deepEqual(kept.map((r) => r.seq), [0, 2, 4, 6, 8, 9, 10, 11, 12]);
    for (const r of kept) assert.equal(r, STREAM[r.seq], 'a copy, not the record given');
  });

  it('per thread, counts exactly one profiling source', () => {
    const sources = new Map<number, Set<number>>();
    for (const r of filterSIGPROF(STREAM)) {
      if (r.code !== SI_KERNEL && r.code !== SI_TIMER) continue;
      if (!sources.has(r.tid)) sources.set(r.tid, new Set());
      sources.get(r.tid)!.add(r.code);
    }
    assert.deepEqual([...sources.keys()].sort(), [1, 2, 3, 4]);
    for (const [tid, codes] of sources) assert.equal(codes.size, 1, `thread ${tid} kept ${[...codes]}`);
  });

  it('accepts any iterable, including a generator, and is lazy', () => {
    let pulled = 0;
    function* source(): Generator<Recorded> {
      for (const r of STREAM) { pulled++; yield r; }
    }
    const it = filterSIGPROF(source());
    assert.equal(pulled, 0);
    assert.equal(it.next().value?.seq, 0);
    assert.equal(pulled, 1);
    assert.equal(it.next().value?.seq, 2); // seq 1 was pulled and dropped
    assert.equal(pulled, 3);
    assert.deepEqual([...filterSIGPROF(new Set(STREAM.slice(0, 2)))].map((r) => r.seq), [0]);
    assert.deepEqual([...filterSIGPROF([])], []);
  });

  it('throws on a malformed record when reached, naming its index and field', () => {
    const bad = [STREAM[0], STREAM[1], { code: SI_TIMER, known: 'yes', timerValid: true }] as unknown as Recorded[];
    const it = filterSIGPROF(bad);
    assert.equal(it.next().value?.seq, 0);
    assert.throws(() => it.next(), {
      name: 'TypeError',
      message: /^filterSIGPROF: record 2: known must be a boolean .*got string "yes"/,
    });
    assert.throws(() => [...filterSIGPROF([null as unknown as Recorded])], {
      name: 'TypeError', message: /^filterSIGPROF: record 0: expected an object/,
    });
  });
});

describe('countSIGPROF', () => {
  it('counts kept and dropped, in all and per source', () => {
    const c = countSIGPROF(STREAM);
    assert.deepEqual(c, {
      kept: 9,
      dropped: 4,
      bySource: {
        setitimer: { kept: 2, dropped: 2 },
        timer_create: { kept: 3, dropped: 2 },
        tkill: { kept: 1, dropped: 0 },
        user: { kept: 1, dropped: 0 },
        queue: { kept: 1, dropped: 0 },
        other: { kept: 1, dropped: 0 },
      },
    });
    assert.equal(c.kept, STREAM.filter((r) => r.keep).length);
    assert.equal(c.kept + c.dropped, STREAM.length);
  });

  it('agrees with filterSIGPROF and with the hand-written answers', () => {
    assert.deepEqual([...filterSIGPROF(STREAM)].map((r) => r.seq), STREAM.filter((r) => r.keep).map((r) => r.seq));
  });

  it('counts an empty stream as zeros', () => {
    const c = countSIGPROF([]);
    assert.equal(c.kept, 0);
    assert.equal(c.dropped, 0);
    for (const v of Object.values(c.bySource)) assert.deepEqual(v, { kept: 0, dropped: 0 });
  });

  it('throws on a malformed record, naming its index', () => {
    assert.throws(() => countSIGPROF([STREAM[0], { code: 0xfffffffe, known: true, timerValid: true }]), {
      name: 'RangeError', message: /^countSIGPROF: record 1: code must be a signed 32-bit integer/,
    });
  });
});
