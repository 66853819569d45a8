// Folded stacks: `root;...;leaf value`, frames as `name (file:line)`, escaping, sorting, merging.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeFoldedName, isPprofBytes, parseFolded, parseFoldedFrame, toFolded, writeFoldedFile, writeFoldedFileSync, encodePprof, type ProfileInput } from '../src';
import { inputTotals, randomProfile, rmDir, tmpDir } from './helpers';

const input = (): ProfileInput => ({
  periodNanos: 1e7,
  samples: [
    { frames: [{ name: 'leaf', file: '/app/a.js', line: 7, column: 3 }, { name: 'mid', file: '/app/a.js' }, { name: 'root' }],
      count: 4, cpuNanos: 40_000_001, labels: { thread_name: 'main' } },
    { frames: [{ name: 'other' }, { name: 'root' }], count: 2, cpuNanos: 20_000_000, labels: { thread_name: 'worker 1' } },
    { frames: [], count: 1, cpuNanos: 9_999_999.6, labels: { thread_name: 'main' } },
  ],
});

/** Parses folded text back: stack -> value (checks the shape of every line). */
function parse(text: string): Map<string, number> {
  assert.ok(text === '' || text.endsWith('\n'), 'ends with a newline');
  const out = new Map<string, number>();
  for (const line of text.split('\n').slice(0, -1)) {
    const m = line.match(/^(.+) (\d+)$/);
    assert.ok(m, `line ${JSON.stringify(line)} is "stack value"`);
    assert.ok(!out.has(m[1]!), `stack ${m[1]} appears once`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('folded stacks', () => {
  it('writes root first, frames as name / name (file) / name (file:line), sample counts by default', () => {
    assert.equal(toFolded(input()), [
      '(no stack) 1',
      'root;mid (/app/a.js);leaf (/app/a.js:7) 4',
      'root;other 2',
      '',
    ].join('\n'));
  });

  it('writes cpu nanoseconds (rounded) with value: "cpu"', () => {
    assert.equal(toFolded(input(), { value: 'cpu' }), [
      '(no stack) 10000000',
      'root;mid (/app/a.js);leaf (/app/a.js:7) 40000001',
      'root;other 20000000',
      '',
    ].join('\n'));
  });

  it('adds the value of rootLabel as a root frame [value] ([?] when absent)', () => {
    const inp = input();
    delete inp.samples[2]!.labels;
    assert.equal(toFolded(inp, { rootLabel: 'thread_name' }), [
      '[?];(no stack) 1',
      '[main];root;mid (/app/a.js);leaf (/app/a.js:7) 4',
      '[worker 1];root;other 2',
      '',
    ].join('\n'));
  });

  it('escapes %, ; and newlines in names and files so that every line still splits right', () => {
    assert.equal(escapeFoldedName('a;b\nc\rd%e'), 'a%3Bb%0Ac%0Dd%25e');
    const text = toFolded({ periodNanos: 1, samples: [
      { frames: [{ name: 'x;y', file: '/p;q/r\n.js', line: 2 }, { name: 'multi\nline' }, { name: '100%' }], count: 3, cpuNanos: 3 },
    ] });
    assert.equal(text, '100%25;multi%0Aline;x%3By (/p%3Bq/r%0A.js:2) 3\n');
    const [stack] = [...parse(text).keys()];
    assert.deepEqual(stack!.split(';').map((s) => decodeURIComponent(s)), ['100%', 'multi\nline', 'x;y (/p;q/r\n.js:2)']);
  });

  it('merges stacks that print the same (labels and columns are not shown) and leaves out zero values', () => {
    const text = toFolded({ periodNanos: 1, samples: [
      { frames: [{ name: 'f', file: '/a.js', line: 1, column: 1 }], count: 1, cpuNanos: 1, labels: { thread_id: 1 } },
      { frames: [{ name: 'f', file: '/a.js', line: 1, column: 9 }], count: 2, cpuNanos: 2, labels: { thread_id: 2 } },
      { frames: [{ name: 'g' }], count: 0, cpuNanos: 5 },
    ] });
    assert.equal(text, 'f (/a.js:1) 3\n');
  });

  it('is sorted and sums to the input totals on a random profile', () => {
    const inp = randomProfile(4242, 300);
    const totals = inputTotals(inp);
    for (const value of ['samples', 'cpu'] as const) {
      const text = toFolded(inp, { value });
      const lines = text.split('\n').slice(0, -1);
      assert.deepEqual(lines, [...lines].sort());
      const sum = [...parse(text).values()].reduce((a, b) => a + b, 0);
      assert.equal(sum, value === 'samples' ? totals.count : totals.cpu);
      // Each line's stack is the reverse of some input row's frames.
      const stacks = new Set(inp.samples.map((s) => s.frames.map((f) => `${f.name} (${f.file}:${f.line})`).reverse().join(';')));
      for (const stack of parse(text).keys()) assert.ok(stacks.has(stack), stack);
    }
  });

  it('writes an empty string for an empty profile', () => {
    assert.equal(toFolded({ periodNanos: 1, samples: [] }), '');
  });

  it('writeFoldedFile / writeFoldedFileSync write the same text atomically', async () => {
    const dir = tmpDir('folded');
    try {
      const a = path.join(dir, 'a.folded');
      const b = path.join(dir, 'b.folded');
      await writeFoldedFile(a, input(), { value: 'cpu' });
      writeFoldedFileSync(b, input(), { value: 'cpu' });
      const expected = toFolded(input(), { value: 'cpu' });
      assert.equal(fs.readFileSync(a, 'utf8'), expected);
      assert.equal(fs.readFileSync(b, 'utf8'), expected);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['a.folded', 'b.folded']);
      await assert.rejects(writeFoldedFile(path.join(dir, 'missing', 'c.folded'), input()), { code: 'ENOENT' });
      assert.deepEqual(fs.readdirSync(dir).sort(), ['a.folded', 'b.folded']);
    } finally {
      rmDir(dir);
    }
  });
});

describe('reading folded stacks back', () => {
  it('parseFolded gives back what toFolded wrote: frames leaf first, names, files, lines, [thread] roots, values', () => {
    const p = parseFolded(toFolded(input(), { value: 'cpu', rootLabel: 'thread_name' }));
    assert.equal(p.unit, 'nanoseconds');
    const byStack = new Map(p.stacks.map((s) => [`${s.root}|${s.frames.map((f) => f.name).join(',')}`, s]));
    const main = byStack.get('main|leaf,mid,root');
    assert.ok(main, [...byStack.keys()].join(' / '));
    assert.deepEqual(main.frames, [{ name: 'leaf', file: '/app/a.js', line: 7 }, { name: 'mid', file: '/app/a.js' }, { name: 'root' }]);
    assert.equal(main.value, 40_000_001);
    assert.equal(byStack.get('worker 1|other,root')?.value, 20_000_000);
    assert.equal(byStack.get('main|(no stack)')?.value, 10_000_000);
    assert.equal(p.stacks.length, 3);
  });

  it('sums to the input totals on a random profile, with escaped names; counts when values are small', () => {
    const rnd = { ...input(), samples: input().samples.map((s) => ({ ...s, frames: s.frames.map((f) => ({ ...f, name: `${f.name};x%y\n(z)` })) })) };
    const p = parseFolded(toFolded(rnd, { value: 'samples' }));
    assert.equal(p.unit, 'count');
    assert.equal(p.stacks.reduce((a, s) => a + s.value, 0), 7);
    assert.ok(p.stacks.some((s) => s.frames[0]!.name === 'leaf;x%y\n(z)' && s.frames[0]!.file === '/app/a.js'));
  });

  it('keeps the parentheses of C++ names and reads frames without a file', () => {
    assert.deepEqual(parseFoldedFrame('v8::(anonymous namespace)::f(double, int*) (/usr/bin/node)'),
      { name: 'v8::(anonymous namespace)::f(double, int*)', file: '/usr/bin/node' });
    assert.deepEqual(parseFoldedFrame('(thread node)'), { name: '(thread node)' });
    assert.deepEqual(parseFoldedFrame('f (a (b) c)'), { name: 'f (a (b) c)' });
    assert.deepEqual(parseFoldedFrame('(anonymous) (/a.js:12)'), { name: '(anonymous)', file: '/a.js', line: 12 });
  });

  it('names the line that is not folded stacks, and refuses an empty text', () => {
    assert.throws(() => parseFolded('a;b 1\r\nnot folded\r\n'), { name: 'ProfileReadError', code: 'not-profile', message: /line 2 is "not folded"/ });
    assert.throws(() => parseFolded('\n\n'), { code: 'not-profile', message: /no folded stacks/ });
  });

  it('isPprofBytes tells pprof (gzipped or not) from text', () => {
    assert.equal(isPprofBytes(encodePprof(input())), true);
    assert.equal(isPprofBytes(Buffer.from(toFolded(input()))), false);
    assert.equal(isPprofBytes(Buffer.alloc(0)), false);
  });
});
