// The other formats: speedscope's JSON (a profile per thread) and Chrome's .cpuprofile (a file per
// JS thread) must hold each thread's CPU, as the tools that read them count it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { parseFolded, toPprof } from '@ptprof/pprof-writer';
import {
  outputFiles, outputNextTo, toCpuprofiles, toSpeedscope, viewOfPprof, withTag, writeOutputFiles, type CpuProfile, type ViewProfile,
} from '../src';
import { ptprofLike } from './fixtures';
import { scratch, truth } from './helpers';
import { syntheticProfile } from './synthetic';

/** Self time per function name as Chrome DevTools counts it: hitCount x (endTime - startTime) / sum of hitCounts. */
function devtoolsSelf(p: CpuProfile): Map<string, number> {
  const hits = p.nodes.reduce((a, n) => a + n.hitCount, 0);
  const sampleUs = (p.endTime - p.startTime) / hits;
  const out = new Map<string, number>();
  for (const n of p.nodes) out.set(n.callFrame.functionName, (out.get(n.callFrame.functionName) ?? 0) + n.hitCount * sampleUs);
  return out;
}

/** Self time per function name as VS Code counts it: samples[i] gets timeDeltas[i - 1], ids taken as 1..n. */
function vscodeSelf(p: CpuProfile): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 1; i < p.timeDeltas.length; i++) {
    const n = p.nodes[p.samples[i]! - 1]!;
    out.set(n.callFrame.functionName, (out.get(n.callFrame.functionName) ?? 0) + p.timeDeltas[i - 1]!);
  }
  return out;
}

/** Flat CPU per function name of one thread, in µs, from the view's stacks. */
function flatUs(v: ViewProfile, thread: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of v.stacks) {
    if (s.thread !== thread) continue;
    const name = v.frames[s.frames[s.frames.length - 1]!]!.name;
    out.set(name, (out.get(name) ?? 0) + s.value / 1e3);
  }
  return out;
}

describe('speedscope and .cpuprofile', () => {
  const view = viewOfPprof(toPprof(ptprofLike()), '/p/a.pb.gz');

  it('speedscope: a sampled profile per thread, stacks root first, weights in ns adding up to each thread', () => {
    const f = toSpeedscope(view, 'a.pb.gz');
    assert.equal(f.$schema, 'https://www.speedscope.app/file-format-schema.json');
    assert.deepEqual(f.profiles.map((p) => [p.name, p.unit, p.endValue]), [
      ['main', 'nanoseconds', 700_000_000], ['worker 1', 'nanoseconds', 800_000_000], ['node (tid 4261)', 'nanoseconds', 200_000_000],
      ['node (tid 4262)', 'nanoseconds', 100_000_000], ['node (tid 4244)', 'nanoseconds', 100_000_000]]);
    assert.equal(f.profiles[f.activeProfileIndex]!.name, 'worker 1', 'the busiest JS thread first');
    const main = f.profiles.find((p) => p.name === 'main')!;
    const stacks = main.samples.map((s, i) => [s.map((x) => f.shared.frames[x]!.name).join(';'), main.weights[i]]);
    assert.deepEqual(stacks.sort(), [['main', 100_000_000], ['main;fib;fib', 600_000_000]]);
    assert.deepEqual(f.shared.frames.find((x) => x.name === 'fib'), { name: 'fib', file: '/app/fib.js', line: 3 });
    for (const p of f.profiles) assert.equal(p.weights.reduce((a, b) => a + b, 0), p.endValue);
  });

  it('.cpuprofile: one per JS thread; ids 1..n in order; DevTools and VS Code count each function\'s CPU to a period', () => {
    const big = viewOfPprof(toPprof(syntheticProfile(2000, 5, 200)), '/p/big.pb.gz');
    for (const v of [view, big]) {
      const files = toCpuprofiles(v);
      assert.deepEqual(files.map((f) => f.name), v.threads.filter((t) => t.kind === 'main' || t.kind === 'worker').map((t) => t.name).sort());
      for (const { thread, profile: p } of files) {
        assert.deepEqual(p.nodes.map((n) => n.id), p.nodes.map((_, i) => i + 1));
        assert.equal(p.nodes[0]!.callFrame.functionName, '(root)');
        assert.equal(p.nodes[0]!.hitCount, 0);
        assert.equal(p.samples[0], 1, 'the first sample is the root (VS Code gives it no time)');
        assert.equal(p.samples.length, p.timeDeltas.length);
        const ids = new Set(p.nodes.map((n) => n.id));
        for (const n of p.nodes) for (const c of n.children ?? []) assert.ok(ids.has(c) && c > n.id, `child ${c} of ${n.id}`);
        const counted = new Map<number, number>();
        for (const s of p.samples.slice(1)) counted.set(s, (counted.get(s) ?? 0) + 1);
        for (const n of p.nodes) assert.equal(n.hitCount, counted.get(n.id) ?? 0, `hitCount of node ${n.id}`);
        // 100 Hz: a quantum is 10 ms = 10,000 µs; every function within one of its CPU, the thread within half of one.
        const want = flatUs(v, thread);
        const total = [...want.values()].reduce((a, b) => a + b, 0);
        for (const [tool, got] of [['DevTools', devtoolsSelf(p)], ['VS Code', vscodeSelf(p)]] as const) {
          for (const [fn, us] of want) assert.ok(Math.abs((got.get(fn) ?? 0) - us) <= 10_000, `${tool}: ${fn} ${got.get(fn)} µs, want ${us}`);
          const sum = [...got.values()].reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum - total) <= 5_000, `${tool}: thread total ${sum} µs, want ${total}`);
        }
      }
    }
    const js = toCpuprofiles(view).find((f) => f.name === 'main')!.profile;
    const fib = js.nodes.find((n) => n.callFrame.functionName === 'fib')!;
    assert.deepEqual(fib.callFrame, { functionName: 'fib', scriptId: fib.callFrame.scriptId, url: 'file:///app/fib.js', lineNumber: 2, columnNumber: 0 });
  });

  it('.cpuprofile of a profile without samples: one empty file (a root, no time), so the file asked for is there', () => {
    const empty = viewOfPprof(toPprof({ samples: [], periodNanos: 1e7, facts: { cmd: 'node -e 0' } }), '/p/e.pb.gz');
    const files = toCpuprofiles(empty);
    assert.equal(files.length, 1);
    assert.deepEqual([files[0]!.thread, files[0]!.name], [-1, 'main']);
    const p = files[0]!.profile;
    assert.deepEqual(p.nodes.map((n) => [n.id, n.callFrame.functionName, n.hitCount]), [[1, '(root)', 0]]);
    assert.deepEqual([p.samples, p.endTime], [[1], 0]);
    assert.deepEqual(outputFiles(empty, 'cpuprofile', '/p/e.cpuprofile').map((f) => f.file), ['/p/e.cpuprofile']);
  });

  it('.cpuprofile needs times: a profile of bytes is refused with the reason', () => {
    const bytes: ViewProfile = { ...view, unit: 'bytes', sampleType: 'inuse_space' };
    assert.throws(() => toCpuprofiles(bytes), /a \.cpuprofile holds times, and this profile's values are bytes \(inuse_space\)/);
  });

  it('file names: next to the input; main keeps the name, the other threads get theirs inserted', () => {
    assert.equal(outputNextTo('/d/ptprof.12.pb.gz', 'html'), '/d/ptprof.12.html');
    assert.equal(outputNextTo('/d/x.folded', 'speedscope'), '/d/x.speedscope.json');
    assert.equal(outputNextTo('/d/cpu', 'cpuprofile'), '/d/cpu.cpuprofile');
    assert.equal(withTag('/d/o.cpuprofile', 'worker 1', '.cpuprofile'), '/d/o.worker-1.cpuprofile');
    assert.deepEqual(outputFiles(view, 'cpuprofile', '/d/o.cpuprofile').map((f) => f.file), ['/d/o.cpuprofile', '/d/o.worker-1.cpuprofile']);
  });

  it('writes each format; folded reads back to the same threads and values', () => {
    const s = scratch('convert');
    try {
      for (const format of ['html', 'speedscope', 'cpuprofile', 'folded'] as const) writeOutputFiles(outputFiles(view, format, s.file(`o.${format}`)));
      assert.deepEqual(fs.readdirSync(s.dir).sort(), ['o.cpuprofile', 'o.folded', 'o.html', 'o.speedscope', 'o.worker-1.cpuprofile']);
      const folded = parseFolded(fs.readFileSync(s.file('o.folded'), 'utf8'));
      assert.equal(folded.unit, 'nanoseconds');
      const byThread = new Map<string, number>();
      for (const x of folded.stacks) byThread.set(x.root!, (byThread.get(x.root!) ?? 0) + x.value);
      assert.deepEqual([...byThread].sort(), [['main', 700_000_000], ['node', 400_000_000], ['worker 1', 800_000_000]]);
      assert.equal(folded.stacks.reduce((a, x) => a + x.value, 0), truth(view).total);
    } finally {
      s.remove();
    }
  });
});
