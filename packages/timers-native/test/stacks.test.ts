// JS stacks: V8's GetStackSample in the handler, on the isolate's own thread, and names from JIT
// code events replayed up to each record's codeSeq.
import assert from 'node:assert/strict';
import { binding, CODE_ADDED, CODE_MOVED, CODE_TYPE_BYTE_CODE, CODE_TYPE_JIT, VM_STATES, type CodeEvent, type SignalRecord } from '../src/index';
import { CodeMap, cleanup, nodeTextMappings, runFixture, sampleSelf, stackNames, SI_TIMER } from './support';
import { ptprofOuter } from './fixtures/workload';

const VM_JS = 0;
const VM_GC = 1;

interface StackCheck {
  js: number;
  /** JS records whose pc is in node's own code with ptprofHotLoop's frame missing (see check). */
  leafLost: number;
  /** Of those, the ones whose walk gave no frame at all (V8 returned an empty stack in a builtin). */
  noFrames: number;
  withHot: number;
  hotAboveOuter: number;
  hotEntries: { name: string; codeType: number }[];
}

type NodeText = { start: number; end: number; offset: number }[];

/**
 * Resolves every JS-state record against the code map as of its codeSeq. With `nodeText` (the
 * executable mappings of node's binary, from the fixture), a record whose pc is in node's own code
 * (a builtin such as MathSqrt, or V8's copy of the builtins next to the JIT code) and whose stack
 * lacks ptprofHotLoop is counted apart: V8's walk starts at the frame pointer, and a builtin that
 * has not built a frame leaves the return address into its JS caller on the stack unread, so the
 * stack begins at that caller's caller. It must be a function truly on the stack (ptprofOuter or
 * the fixture's top level), never another one. A pc in JIT code is what replaying code moves is
 * for: those records must resolve.
 */
function check(records: SignalRecord[], events: CodeEvent[], isolateId: number, replay = true, nodeText: NodeText = []): StackCheck {
  const map = new CodeMap(events, isolateId);
  if (!replay) map.advanceTo(Infinity);
  const out: StackCheck = { js: 0, leafLost: 0, noFrames: 0, withHot: 0, hotAboveOuter: 0, hotEntries: [] };
  for (const r of [...records].sort((a, b) => a.codeSeq - b.codeSeq)) {
    if (replay) map.advanceTo(r.codeSeq);
    if (r.vmState !== VM_JS) continue;
    out.js++;
    const names = stackNames(map, r);
    const hot = names.findIndex((n) => n.includes('ptprofHotLoop'));
    if (hot < 0 && nodeText.some((m) => r.pc >= m.start && r.pc < m.end)) {
      // (Against the final map, the caller's code may have moved away: only replay can name it.)
      // A walk that gave no frame at all names nothing, so nothing wrong: counted, and bounded
      // in assertResolved (seen once in a CI run on Node 26: one record of ~60).
      if (r.frames.length === 0) out.noFrames++;
      else if (replay) assert.match(names[1] ?? '', /ptprofOuter|fixtures\/stacks\.js/, `leaf in node's code: ${names.join(' < ')}`);
      out.leafLost++;
      continue;
    }
    if (hot < 0) continue;
    out.withHot++;
    const addr = [r.pc, ...r.frames][hot];
    const e = map.resolve(addr)!;
    out.hotEntries.push({ name: e.name, codeType: e.codeType });
    if (names.slice(hot + 1).some((n) => n.includes('ptprofOuter'))) out.hotAboveOuter++;
  }
  return out;
}

/**
 * CODE_MOVED events of compiled (JIT) code whose name matches `name`, between the first and last
 * record's codeSeq (the bytecode of an optimized function moves too, but samples are not in it).
 */
function movesOf(events: CodeEvent[], isolateId: number, name: RegExp, records: SignalRecord[]): number {
  const seqs = records.map((r) => r.codeSeq);
  const lo = Math.min(...seqs);
  const hi = Math.max(...seqs);
  const at = new Map<number, string>();
  let n = 0;
  for (const e of [...events].filter((x) => x.isolateId === isolateId).sort((a, b) => a.seq - b.seq)) {
    if (e.type === CODE_ADDED && e.codeType === CODE_TYPE_JIT) at.set(e.start, e.name);
    else if (e.type === CODE_MOVED) {
      const was = at.get(e.start);
      if (was === undefined) continue;
      at.delete(e.start);
      at.set(e.newStart, was);
      if (name.test(was) && e.seq >= lo && e.seq <= hi) n++;
    }
  }
  return n;
}

function assertResolved(c: StackCheck, what: string): void {
  const inJit = c.js - c.leafLost;
  assert.ok(inJit >= 20, `${what}: only ${inJit} records in the JS state with a pc outside node's builtins`);
  assert.ok(c.noFrames <= Math.max(2, 0.05 * c.js), `${what}: ${c.noFrames} of ${c.js} JS records have no frame at all`);
  const share = c.withHot / inJit;
  console.log(`      ${what}: ${c.withHot}/${inJit} JS records resolve to ptprofHotLoop (${(share * 100).toFixed(1)}%), ${c.leafLost} more with the pc in a builtin and the leaf lost by V8`);
  assert.ok(share >= 0.9, `${what}: ${c.withHot} of ${inJit} JS records resolve to ptprofHotLoop`);
  assert.ok(c.hotAboveOuter >= 0.9 * c.withHot, `${what}: the caller ptprofOuter is below ptprofHotLoop in ${c.hotAboveOuter} of ${c.withHot}`);
  // The tier marker: '~' '^' '*' in every version; Maglev's '+' (Node 22+), "'" after '*'/'+' for
  // context-specialized code (Node 24+), 'o' before '*'/'+' for on-stack replacement (Node 26+).
  for (const e of c.hotEntries) assert.match(e.name, /^JS:(o?[*+]'?|[\^~])ptprofHotLoop .*workload\.js:\d+:\d+$/);
}

describe('stacks', function () {
  let reg: { tid: number; isolateId: number; slot: number };
  before(function () {
    binding.installHandler();
    reg = binding.register();
  });
  afterEach(cleanup);

  it('frames taken while a named function runs resolve to it (>= 90% of JS records)', function () {
    const d = sampleSelf(reg.tid, 1e6, () => ptprofOuter(300, 0, 40));
    assert.ok(d.records.length >= 30, `${d.records.length} records for 300 ms`);
    for (const r of d.records) {
      assert.equal(r.code, SI_TIMER);
      assert.equal(r.tid, reg.tid);
      assert.equal(r.js, true);
      assert.equal(r.isolateId, reg.isolateId);
      assert.ok(r.vmState >= 0 && r.vmState < VM_STATES.length, `vmState ${r.vmState}`);
      assert.ok(r.frames.length <= 128, 'default frames limit');
      assert.ok(r.codeSeq <= d.allEvents[d.allEvents.length - 1].seq);
    }
    assertResolved(check(d.records, d.allEvents, reg.isolateId, true, nodeTextMappings()), 'optimizing');
  });

  it('code events: the enumeration at register() and new code, in sequence, for this isolate', function () {
    const d = sampleSelf(reg.tid, 1e6, () => ptprofOuter(50));
    const events = d.allEvents;
    assert.ok(events.length > 100, `${events.length} code events`);
    for (let i = 1; i < events.length; i++) assert.equal(events[i].seq, events[i - 1].seq + 1, 'one sequence, no gaps');
    for (const e of events) {
      assert.equal(e.isolateId, reg.isolateId);
      if (e.type === CODE_ADDED) {
        assert.ok(e.len > 0 && e.start > 0);
        assert.ok(e.name.length > 0);
      } else {
        assert.equal(e.name, '');
      }
    }
    // Builtins and bytecode handlers are enumerated; the workload's functions are added as compiled.
    assert.ok(events.some((e) => e.name.startsWith('Builtin:')));
    assert.ok(events.some((e) => e.codeType === CODE_TYPE_BYTE_CODE && /^JS:~ptprofHotLoop /.test(e.name)));
  });

  it('interpreted frames resolve against BYTE_CODE entries (--no-opt --no-sparkplug --no-maglev)', function () {
    const out = runFixture('stacks.js', ['--no-opt', '--no-sparkplug', '--no-maglev']);
    const records = out.records as SignalRecord[];
    const map = new CodeMap(out.events, out.reg.isolateId);
    let js = 0, framesResolved = 0, leafDropped = 0, walkFailed = 0;
    const hot: { name: string; codeType: number }[] = [];
    for (const r of [...records].sort((a, b) => a.codeSeq - b.codeSeq)) {
      map.advanceTo(r.codeSeq);
      if (r.vmState !== VM_JS) continue;
      js++;
      // Every frame of an interpreted stack is a bytecode array + offset: all of them resolve.
      const frames = r.frames.map((a) => map.resolve(a));
      if (frames.length > 0 && frames.every((e) => e !== undefined && e.name.startsWith('JS:'))) framesResolved++;
      const names = stackNames(map, r);
      const i = names.findIndex((n) => n.includes('ptprofHotLoop'));
      if (i >= 0) {
        const e = map.resolve([r.pc, ...r.frames][i])!;
        hot.push({ name: e.name, codeType: e.codeType });
        assert.ok(names.slice(i + 1).some((n) => n.includes('ptprofOuter')), names.join(' < '));
      } else if (names.length === 1) {
        // The walk failed (no frames, only the pc): about 3% of walks, in prologues and epilogues
        // (docs/ARCHITECTURE.md). Bounded below through framesResolved.
        walkFailed++;
      } else {
        // V8 drops the interpreted leaf when the pc is in a bytecode handler whose top of stack is
        // not a return address into the interpreter (StackFrameIteratorForProfiler): the stack is
        // then the caller's, never another function's.
        assert.match(names[0], /^(BytecodeHandler|Builtin):|^0x/, names.join(' < '));
        assert.match(names[1] ?? '', /ptprofOuter/, names.join(' < '));
        leafDropped++;
      }
    }
    console.log(`      interpreted: ${hot.length}/${js} with the leaf, ${leafDropped} leaf dropped by V8, ${walkFailed} walks failed, ${framesResolved} fully resolved`);
    assert.ok(js >= 20, `only ${js} JS records`);
    assert.ok(framesResolved >= 0.9 * js, `${framesResolved} of ${js} JS records have every frame resolved`);
    assert.ok(hot.length >= 5, `${hot.length} records show ptprofHotLoop`);
    for (const e of hot) {
      assert.equal(e.codeType, CODE_TYPE_BYTE_CODE);
      assert.match(e.name, /^JS:~ptprofHotLoop .*workload\.js:\d+:\d+$/);
    }
  });

  it('code moved by compacting GCs still resolves, replayed up to each record\'s codeSeq', function () {
    // Many samples land in GC here: ask for more signals so that enough are in JS.
    const out = runFixture('stacks.js', ['--expose-gc', '--compact-on-every-full-gc'], { PTPROF_MIN_SIGNALS: '100' });
    const moves = (out.events as CodeEvent[]).filter((e) => e.type === CODE_MOVED).length;
    assert.ok(moves > 0, 'compacting GCs report CODE_MOVED');
    assert.ok((out.records as SignalRecord[]).some((r) => r.vmState === VM_GC), 'some samples land in GC');
    assert.ok(out.nodeText.length > 0, 'the fixture found node\'s executable mappings');
    const replayed = check(out.records, out.events, out.reg.isolateId, true, out.nodeText);
    assertResolved(replayed, 'compacting');
    // Against the final map instead, samples taken before a move point at code that left. On
    // Node 26 (V8 14) that control is weak: ptprofHotLoop's compiled code moves 27-31 times while
    // sampled, yet the final map still resolved 45-52 of 46-53 records in six runs (the code goes
    // back where it was, compaction after compaction); on Node 20 it resolved 20-31 of 50-68. The
    // replay is never worse; it is strictly better where V8 moves code for good.
    const final = check(out.records, out.events, out.reg.isolateId, false, out.nodeText);
    const hotMoves = movesOf(out.events as CodeEvent[], out.reg.isolateId, /ptprofHotLoop/, out.records as SignalRecord[]);
    console.log(`      final map instead: ${final.withHot}/${final.js} (${moves} moves, ${hotMoves} of ptprofHotLoop's code while sampled)`);
    assert.ok(final.withHot <= replayed.withHot, 'replaying is never worse than the final map');
    const v8major = Number(process.versions.v8.split('.')[0]);
    if (hotMoves > 0 && v8major < 14) assert.ok(final.withHot < replayed.withHot, 'the moves relocated sampled code');
  });
});
