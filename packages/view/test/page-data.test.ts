// The data the page is built from, checked through the page's own code (page/decode.ts and
// page/tree.ts, compiled, run in Node): what the page shows must add up to the profile.
import assert from 'node:assert/strict';
import { toPprof } from '@ptprof/pprof-writer';
import {
  encodeVarints, frameKind, pageData, renderHtml, selections, threadOrder, viewOfPprof, type ViewProfile,
} from '../src';
import { pageApi, truth, type PageDecoded, type PageTree } from './helpers';
import { ptprofLike } from './fixtures';
import { syntheticProfile } from './synthetic';

const page = pageApi();

function decoded(view: ViewProfile): PageDecoded {
  // Through JSON, as the page gets it.
  return page.decodeData(JSON.parse(JSON.stringify(pageData(view))));
}

function mask(d: PageDecoded, threads: number[]): Uint8Array {
  const m = new Uint8Array(d.nThreads);
  for (const t of threads) m[t] = 1;
  return m;
}

/** The page's function rows keyed like truth(): name|file|line. */
function rowsByKey(d: PageDecoded, t: PageTree): { flat: Map<string, number>; cum: Map<string, number> } {
  const flat = new Map<string, number>();
  const cum = new Map<string, number>();
  for (const r of page.functionRows(t, d.nFrames)) {
    const key = `${d.raw.strings[d.frameName[r.frame]!]}|${d.raw.strings[d.frameFile[r.frame]!]}|${d.frameLine[r.frame]}`;
    if (r.flat) flat.set(key, r.flat);
    cum.set(key, r.cum);
  }
  return { flat, cum };
}

function sorted(m: Map<string, number>): [string, number][] {
  return [...m].filter(([, v]) => v > 0).sort();
}

describe('the page data', () => {
  const view = viewOfPprof(toPprof(ptprofLike()), '/p/a.pb.gz');
  const big = viewOfPprof(toPprof(syntheticProfile(3000, 3, 300)), '/p/big.pb.gz');

  it('varints: base64 of LEB128, decoded by the page up to 2^53', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, 300];
    assert.deepEqual(Array.from(page.decodeVarints(encodeVarints(values))), values);
    assert.equal(encodeVarints([1, 2, 3]), Buffer.from([1, 2, 3]).toString('base64'));
    assert.throws(() => encodeVarints([-1]), RangeError);
    assert.throws(() => encodeVarints([1.5]), RangeError);
  });

  it("holds every stack: the page's call trees give back each thread's stacks and values", () => {
    // The same stack twice on one thread (pprof keeps samples apart by their other labels): one node, the sum.
    const twice = ptprofLike();
    twice.samples.push({ ...twice.samples[0]!, cpuNanos: 10_000_000, count: 1, labels: { thread_id: 4242, thread_name: 'main', span: 'checkout' } });
    const dup = viewOfPprof(toPprof(twice), '/p/twice.pb.gz');
    assert.equal(dup.stacks.length, view.stacks.length + 1);
    for (const v of [view, dup, big]) {
      const d = decoded(v);
      const order = threadOrder(v);
      const fromPage = new Map<string, number>();
      for (let i = 0; i < d.nNodes; i++) {
        if (d.nodeSelf[i] === 0) continue;
        const names: string[] = [];
        let j = i;
        while (d.nodeParent[j]! >= 0) {
          names.push(d.raw.strings[d.frameName[d.nodeFrame[j]!]!]!);
          j = d.nodeParent[j]!;
        }
        const key = `${order[d.nodeFrame[j]!]}:${names.reverse().join(';')}`;
        fromPage.set(key, (fromPage.get(key) ?? 0) + d.nodeSelf[i]!);
      }
      const want = new Map<string, number>();
      for (const s of v.stacks) {
        const key = `${s.thread}:${s.frames.map((f) => v.frames[f]!.name).join(';')}`;
        want.set(key, (want.get(key) ?? 0) + s.value);
      }
      assert.deepEqual(sorted(fromPage), sorted(want));
    }
  });

  it('merged or a tower per thread, all threads or one: totals, flat and cum as computed from the stacks', () => {
    for (const v of [view, big]) {
      const d = decoded(v);
      const order = threadOrder(v);
      const all = order.map((_, i) => i);
      for (const split of [false, true]) {
        const t = page.buildTree(d, mask(d, all), split);
        const want = truth(v);
        assert.equal(t.total[0], want.total);
        const got = rowsByKey(d, t);
        assert.deepEqual(sorted(got.flat), sorted(want.flat));
        assert.deepEqual(sorted(got.cum), sorted(want.cum));
        // Layout: every child lies inside its parent; pre-order ends nest.
        for (let j = 1; j < t.n; j++) {
          const p = t.parent[j]!;
          assert.ok(t.x[j]! >= t.x[p]! && t.x[j]! + t.total[j]! <= t.x[p]! + t.total[p]! + 1e-6, `node ${j} inside ${p}`);
          assert.equal(t.depth[j], t.depth[p]! + 1);
        }
      }
      // A tower per thread: the root's children are the threads, with their totals.
      const split = page.buildTree(d, mask(d, all), true);
      const towers = Array.from({ length: split.n }, (_, j) => j).filter((j) => split.parent[j] === 0);
      assert.deepEqual(towers.map((j) => split.total[j]).sort((a, b) => a - b), v.threads.map((th) => th.total).sort((a, b) => a - b));
      assert.ok(towers.every((j) => split.frame[j]! <= -2));
      // One thread at a time.
      order.forEach((old, i) => {
        const t = page.buildTree(d, mask(d, [i]), false);
        const want = truth(v, new Set([old]));
        assert.equal(t.total[0], want.total);
        assert.deepEqual(sorted(rowsByKey(d, t).cum), sorted(want.cum));
      });
    }
  });

  it('search: the frames whose names match, and the value of the stacks through them (counted once)', () => {
    const d = decoded(view);
    const t = page.buildTree(d, mask(d, threadOrder(view).map((_, i) => i)), true);
    const through = (re: RegExp): number => view.stacks.filter((s) => s.frames.some((f) => re.test(view.frames[f]!.name))).reduce((a, s) => a + s.value, 0);
    assert.equal(page.matchedTotal(t, page.matchFrames(d, 'fib')), through(/fib/i)); // fib;fib counted once
    assert.equal(page.matchedTotal(t, page.matchFrames(d, 'FIB')), 600_000_000);
    assert.equal(page.matchedTotal(t, page.matchFrames(d, '^(main|hashChunk)$')), through(/^(main|hashChunk)$/));
    assert.equal(page.matchedTotal(t, page.matchFrames(d, 'sha512|deflate')), 300_000_000);
    // Not a regexp: the text itself.
    assert.equal(page.matchedTotal(t, page.matchFrames(d, 'ReduceNode(v8')), 100_000_000);
    assert.equal(page.matchedTotal(t, page.matchFrames(d, 'nothing like it')), 0);
  });

  it('the thread selector: all, main, each worker, the pool and V8 as groups then one by one; each process', () => {
    const pd = pageData(view);
    assert.deepEqual(pd.selections.map((s) => [s.group, s.label, s.threads.map((i) => pd.threads[i]!.name + (pd.threads[i]!.tid ?? ''))]), [
      ['', 'All threads', ['main4242', 'worker 14250', 'node4261', 'node4262', 'node4244']],
      ['', 'main', ['main4242']],
      ['', 'worker 1', ['worker 14250']],
      ['', "libuv's pool (2 threads)", ['node4261', 'node4262']],
      ['', "V8's helpers (1 thread)", ['node4244']],
      ['one thread', "node (tid 4261, libuv's pool)", ['node4261']],
      ['one thread', "node (tid 4262, libuv's pool)", ['node4262']],
    ]);
    const two: ViewProfile = { ...view, processes: [view.processes[0]!, { ...view.processes[0]!, pid: 99, command: 'node child.js' }],
      threads: [...view.threads, { process: 1, name: 'main', tid: 99, kind: 'main', total: 5 }] };
    const s2 = selections(two, threadOrder(two));
    assert.deepEqual(s2.slice(0, 3).map((s) => [s.group, s.label, s.threads.length]), [
      ['', 'All processes, all threads', 6], ['pid 4242: node /app/index.js', 'all threads of pid 4242', 5], ['pid 4242: node /app/index.js', 'main', 1]]);
    assert.deepEqual(s2.slice(-2).map((s) => [s.group, s.label, s.threads.length]), [
      ['pid 99: node child.js', 'all threads of pid 99', 1], ['pid 99: node child.js', 'main', 1]]);
  });

  it("the facts: command, duration, rate, threads, CPU profiled against the OS's count", () => {
    const facts = Object.fromEntries(pageData(view).processes[0]!.facts.map((f) => [f[0], f.slice(1)]));
    assert.deepEqual(facts.command, ['node /app/index.js']);
    assert.deepEqual(facts.duration, [2e9, 'nanoseconds']);
    assert.deepEqual(facts.rate, ['100 Hz, threads=all']);
    assert.deepEqual(facts.threads, ['5 (2 JS)']);
    assert.deepEqual(facts['CPU profiled'], [1.9e9, 'nanoseconds']);
    assert.deepEqual(facts['OS CPU'], [2e9, 'nanoseconds']);
    assert.deepEqual(facts['profiled ÷ OS'], ['0.950']);
    assert.deepEqual(facts.samples, ['190']);
  });

  it('frame kinds: JS, Node\'s JS, native, V8 builtins, pseudo-frames', () => {
    assert.equal(frameKind('fib', '/app/fib.js'), 'js');
    assert.equal(frameKind('(anonymous)', 'file:///app/a.mjs'), 'js');
    assert.equal(frameKind('Module._load', 'node:internal/modules/cjs/loader'), 'node');
    assert.equal(frameKind('sha512_block_data_order_avx2', '/usr/bin/node'), 'native');
    assert.equal(frameKind('memcpy', '/lib/x86_64-linux-gnu/libc.so.6'), 'native');
    assert.equal(frameKind('v8::internal::Foo()', ''), 'native');
    assert.equal(frameKind('[libc.so.6]', ''), 'native');
    assert.equal(frameKind('Builtin:ArrayMap', ''), 'v8');
    assert.equal(frameKind('BytecodeHandler:Ldar', ''), 'v8');
    assert.equal(frameKind('(thread node)', ''), 'meta');
    assert.equal(frameKind('(garbage collector)', ''), 'meta');
  });

  it('the page is one file: no external reference, a policy that forbids fetching, the data escaped', () => {
    const evil = '</script><script>alert(1)</script><!--';
    const input = ptprofLike();
    input.samples[0]!.frames[0] = { name: evil, file: '/app/$&$1.js', line: 1 };
    const html = renderHtml(pageData(viewOfPprof(toPprof(input), 'x')));
    assert.ok(!html.includes(evil), 'the name is not in the HTML as it is');
    assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?(https?:|\/\/)/i);
    assert.doesNotMatch(html, /<link\b/i);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
    assert.equal((html.match(/<script\b/g) ?? []).length, 2, 'the data and the code, nothing else');
    const json = /<script id="ptprof-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!;
    const data = JSON.parse(json) as { strings: string[] };
    assert.ok(data.strings.includes(evil));
    assert.ok(data.strings.includes('/app/$&$1.js'), "'$' in the data is not taken as a replacement pattern");
    assert.doesNotMatch(json, /\[(\s*\d+\s*,){16}/, 'no long arrays of decimal numbers');
  });
});
