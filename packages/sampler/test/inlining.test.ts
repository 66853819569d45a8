// Inlined functions keep their CPU. V8 inlines small hot functions into their callers (TurboFan on
// every Node, Maglev from Node 24); each sample's stack must show them, innermost first, at the
// lines they were executing. The programs (fixtures/inlined.ts) are written as users write them
// and V8 really inlines them: each test also counts what the profile would give with the outer
// frames alone (what ptprof gave before), and requires that to be far off, so a test that passes
// shows both that V8 inlined and that the expansion put the CPU back. Ground truth: each
// function's phase, timed with its thread's CPU clock.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const FIXTURE = path.join(__dirname, 'fixtures', 'inlined.js');
const MAJOR = Number(process.versions.node.split('.')[0]);

interface Lines {
  file: string;
  first: number;
  last: number;
  call?: number;
}
interface Shown {
  name: string;
  line?: number;
  startLine?: number;
  inlined: boolean;
  file?: string;
}
interface Result {
  node: string;
  scenario: string;
  fns: Record<string, { truth: number; prof: number; outerOnly: number }>;
  chains?: Record<string, { ns: number; stack?: Shown[]; lines: Lines[] }>;
  seen?: Record<string, number[]>;
  inlining: { optimized: number; inlined: number; unexpanded: number; early: number; tables: number; failures: number; rejected: number };
  codeMoves?: number;
  facts?: Record<string, unknown>;
  workers?: number;
}

function run(scenario: string, v8flags: string[] = [], extra: string[] = []): { out: Result; stdout: string } {
  const r = spawnSync(process.execPath, [...v8flags, FIXTURE, scenario, ...extra], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `fixture ${scenario} ${v8flags.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  // The fixture's result is its last JSON line: V8's --trace-deopt lines (written by its own
  // threads too) may come after it.
  const lines = r.stdout.trim().split('\n');
  const last = [...lines].reverse().find((l) => l.startsWith('{"'));
  assert.ok(last, `fixture ${scenario}: no result line in its output`);
  const out = JSON.parse(last) as Result;
  const ratios = Object.entries(out.fns).map(([k, v]) => `${k} ${(v.prof / v.truth).toFixed(3)} (outer frames only ${(v.outerOnly / v.truth).toFixed(3)})`);
  console.log(`      ${scenario} ${v8flags.join(' ')}: ${ratios.join(', ')}; ${JSON.stringify(out.inlining)}`);
  return { out, stdout: r.stdout };
}

/** The functions V8 inlined where they ran: with the outer frames alone they keep under half their CPU. */
function inlinedCount(out: Result): number {
  return Object.values(out.fns).filter((f) => f.outerOnly / f.truth < 0.5).length;
}

/**
 * run(), again (up to 3 times) while V8 inlined fewer than `need` of the functions (or `also`
 * says why the run proves nothing): whether it
 * does is V8's choice, and on a loaded machine its compiler thread can come too late for the
 * phases (seen on Node 26: hashKey 0.503 of its CPU in its own frame, in 1 run of 12 with the
 * machine's 2 cores busy). Without inlining the test proves nothing, so it runs again, and fails
 * if V8 never inlined. Every other check is on the run that counts; a broken expansion leaves
 * the functions no CPU at all, which this does not retry.
 */
function runInlined(scenario: string, need: number, v8flags: string[] = [], also?: (out: Result) => string | undefined): { out: Result; stdout: string } {
  for (let attempt = 1; ; attempt++) {
    const r = run(scenario, v8flags);
    const not = inlinedCount(r.out) < need ? `V8 inlined ${inlinedCount(r.out)} of the functions, not ${need}` : also?.(r.out);
    if (not === undefined || attempt === 3) return r;
    console.log(`      ${not}: again`);
  }
}

/**
 * Each function's CPU in the profile is its true CPU (within what a shared 2-core machine allows),
 * and at least `inlinedAtLeast` of them were inlined: with the outer frames alone they would have
 * kept under half of it.
 */
function assertCpu(out: Result, inlinedAtLeast: number, atLeast = 0.85, unexpandedShare = 0): void {
  for (const [name, f] of Object.entries(out.fns)) {
    const ratio = f.prof / f.truth;
    assert.ok(f.truth > 50e6, `${name}: only ${f.truth / 1e6} ms of CPU to judge`);
    assert.ok(ratio > atLeast && ratio < 1.12, `${name}: profile ${(f.prof / 1e6).toFixed(0)} ms for a true ${(f.truth / 1e6).toFixed(0)} ms (${ratio.toFixed(3)})`);
  }
  const inlined = inlinedCount(out);
  assert.ok(inlined >= inlinedAtLeast, `only ${inlined} of the functions were inlined where they ran (outer frames alone): ${JSON.stringify(out.fns)}`);
  // Leaf pcs in code V8 optimized before ptprof loaded (Node's own, optimized at its start) are
  // counted apart: V8 recorded that code's positions at calls only (the late test below).
  assert.ok(out.inlining.unexpanded - out.inlining.early <= unexpandedShare * out.inlining.optimized, `optimized frames not expanded: ${JSON.stringify(out.inlining)}`);
  assert.equal(out.inlining.failures, 0, 'every table read');
}

/**
 * Inner function, caller, caller's caller: in that order, the inner one at a line of its own body,
 * each caller of an inlined frame at the line of its call. At least one chain must have been
 * sampled inlined.
 */
function assertChains(out: Result): void {
  let checked = 0;
  for (const [leaf, c] of Object.entries(out.chains ?? {})) {
    if (!c.stack || c.ns < 20e6) continue;
    const [l0, l1, l2] = c.lines;
    const s = c.stack;
    const is = (f: Shown, l: Lines): boolean => f.file === l.file && (f.startLine ?? f.line) === l.first;
    assert.ok(is(s[0], l0) && is(s[1], l1) && is(s[2], l2), `${leaf}: stack ${JSON.stringify(s)} is not ${JSON.stringify(c.lines)}`);
    assert.ok(s[0].line! >= l0.first && s[0].line! <= l0.last, `${leaf} executing line ${s[0].line} outside its lines ${l0.first}-${l0.last}`);
    for (let i = 1; i < 3; i++) {
      if (!s[i - 1].inlined) continue;
      assert.equal(s[i].line, c.lines[i].call, `${s[i].name} calls ${s[i - 1].name} at line ${c.lines[i].call}, not ${s[i].line}`);
    }
    if (s[0].inlined) checked++;
  }
  assert.ok(checked > 0, `no chain was sampled inlined: ${JSON.stringify(out.chains)}`);
}

describe('inlined functions keep their CPU (real V8 inlining)', function () {
  this.timeout(300_000);

  it('phases of four functions (small helpers, a helper of another module, a class method, a closure): each function\'s CPU, stacks in order, lines', () => {
    const { out } = runInlined('phases', 3);
    assertCpu(out, 3);
    assertChains(out);
    assert.ok(Number(out.facts?.['inline.inlined_frames']) > 0, 'the profile says how many frames it added');
  });

  it('the same program with inlinedFrames: false loses the inlined functions\' CPU to their callers (what the test above guards)', () => {
    const { out } = run('phases', [], ['--no-inlined-frames']);
    const lost = Object.values(out.fns).filter((f) => f.prof / f.truth < 0.5).length;
    assert.ok(lost >= 3, `inlined functions still had their CPU with expansion off: ${JSON.stringify(out.fns)}`);
    assert.equal(out.facts?.['inline.off'], 'switched off (inlinedFrames: false)');
  });

  it('TurboFan alone (--no-maglev)', () => {
    const { out } = runInlined('phases', 3, ['--no-maglev']);
    assertCpu(out, 3);
    assertChains(out);
  });

  it('Maglev alone (--no-turbofan), Node 24 and 26', function () {
    if (MAJOR < 24) {
      console.log(`      skipped: Node ${MAJOR} does not run Maglev by default (off in Node 20 and 22; with --maglev on 22 the code stays in Sparkplug here)`);
      this.skip();
    }
    const { out } = runInlined('phases', 1, ['--no-turbofan']);
    assertCpu(out, 1);
    assert.ok(out.inlining.inlined > 0, 'Maglev code was expanded');
  });

  it('an on-stack-replaced loop: a function called once, its helpers inlined into the loop V8 optimized where it ran', () => {
    const { out } = runInlined('osr', 1);
    assertCpu(out, 1);
  });

  it('a function deoptimized and its code collected after it was sampled, before the profile was read', () => {
    const { out, stdout } = runInlined('deopt', 1, ['--expose-gc', '--trace-deopt']);
    const after = stdout.slice(stdout.indexOf('deopt: wrapping mix'));
    assert.match(after, /marking dependent code.*runHash.*deoptimization/, 'V8 deoptimized runHash (--trace-deopt), or this test proves nothing');
    assertCpu(out, 1);
    assertChains(out);
  });

  it('--compact-on-every-full-gc: code moves between the samples and their reading', () => {
    const { out } = runInlined('compaction', 3, ['--expose-gc', '--compact-on-every-full-gc']);
    assert.ok((out.codeMoves ?? 0) > 0, 'the collections moved code, or this test proves nothing');
    assertCpu(out, 3);
    assertChains(out);
  });

  it('two workers at once: each isolate\'s code expands with its own tables', () => {
    const { out } = runInlined('workers', 3);
    assert.equal(out.workers, 2);
    // A worker's Node internals optimized from code compiled before it registered (no code event
    // names their bytecode) keep their outer frame: a few frames, counted.
    assertCpu(out, 3, 0.85, 0.02);
    assertChains(out);
  });

  it('code V8 optimized before ptprof loaded: calls there expand, leaf pcs are counted (inline.early_frames)', () => {
    // V8 lists that code when ptprof's events start, code objects before the bytecode that names
    // their functions: the tables are resolved at the listing's end. Before they were, quoteLen's
    // CPU all went to runQuote (0.000 here, 144 of 144 optimized frames unexpanded).
    // That V8 optimized the drivers before ptprof loaded is V8's doing too (its compiler thread
    // may come late): without it the test proves nothing, so it is a reason to run again.
    const { out } = runInlined('late', 1, [], (o) => (o.inlining.early > 0 ? undefined : 'V8 optimized none of the drivers before ptprof loaded'));
    // quoteLen's own instructions, inlined into runQuote, are leaf pcs there: they stay with
    // runQuote (early frames). Measured 0.94-0.96 of its CPU in 4 runs here (Node 20); under
    // contention for the cores less (the fixture says why), the rest in (unsampled).
    assertCpu(out, 1, 0.8);
    assert.ok(out.inlining.early > 0, `no leaf pc was counted in code optimized before ptprof loaded: ${JSON.stringify(out.inlining)}`);
    assert.ok(out.inlining.early <= out.inlining.unexpanded, 'early frames are unexpanded frames');
  });

  it('new Function, eval and a vm context (scripts without a file, one with a lineOffset): names and lines from their sources', () => {
    const { out } = runInlined('eval', 3);
    // Lower: where V8 does not inline evalDigit (Node 24, 7 runs in 20 here), each call goes
    // through V8's Call builtin, and a sample there, before the callee has a frame, is walked by
    // V8 (GetStackSample) from the caller's caller: up to 30% of evalSum's CPU then goes to
    // evalScenario, with or without inlined frames (measured both ways).
    assertCpu(out, 3, 0.6);
    // new Function's source starts "(function anonymous(keys,cpu,ms\n) {\n": its body from line 3.
    const within = (name: string, lo: number, hi: number): void => {
      const seen = out.seen?.[name] ?? [];
      assert.ok(seen.length > 0 && seen.every((l) => l >= lo && l <= hi), `${name} seen at lines ${seen.join(', ')}, expected ${lo}-${hi}`);
    };
    within('evalSum', 6, 10);
    within('vmSum', 104, 108);
    within('vmRun', 109, 112);
    within('upperCount', 3, 7);
  });
});
