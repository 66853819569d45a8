// Reading files that may come from anyone (bounded, checked, printable), the facts block written
// into comments and read back, folded stacks read back, and the identity a write returns.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Function as PFunction, Label, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import {
  ProfileReadError, decodePprof, encodePprof, formatFacts, formatTop, parseFacts, parseFactsLine, parseFolded, printable,
  readProfileFile, sampleThread, threadTotals, toFolded, topFunctions, topOfFolded, validateProfile, writeFoldedFileSync, writePprofFileSync,
} from '../src';
import { handMadeProfile, rmDir, tmpDir } from './helpers';

/** A small valid pprof built by hand, to be broken one field at a time. */
function crafted(edit: (p: Profile, str: (s: string) => number) => void = () => {}): Profile {
  const st = new StringTable();
  const str = (s: string): number => st.dedup(s);
  const p = new Profile({
    sampleType: [new ValueType({ type: str('samples'), unit: str('count') }), new ValueType({ type: str('cpu'), unit: str('nanoseconds') })],
    stringTable: st,
    function: [new PFunction({ id: 1, name: str('hot'), systemName: str('hot'), filename: str('/a.js') })],
    location: [new Location({ id: 1, line: [new Line({ functionId: 1 })] })],
    sample: [new Sample({ locationId: [1], value: [1, 10_000_000], label: [new Label({ key: str('thread_name'), str: str('main') })] })],
    comment: [str('hz=100')],
  });
  edit(p, str);
  return p;
}

function readError(fn: () => unknown): ProfileReadError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProfileReadError, `a ProfileReadError, got ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

describe('profile facts in comments', () => {
  it('round-trip numbers, booleans and strings, quoting what must be quoted', () => {
    const facts = {
      hz: 100, ratio: 0.987, big: 9007199254740991, neg: -3, timers: false, mode: 'all', version: '0.1.0',
      cmd: "node '/my app.js' --x=1\n\u001b[2J", numeric_string: '123', bool_string: 'true', empty: '', eq: 'a=b',
    };
    const lines = formatFacts(facts);
    assert.ok(lines.every((l) => l.length <= 100 || !l.includes(' ')), lines.join('\n'));
    assert.ok(lines.every((l) => !/[\u0000-\u001f]/.test(l)), 'no control character is written raw');
    assert.deepEqual({ ...parseFacts(lines) }, facts);
    assert.deepEqual(formatFacts({ a: 1, b: 'x y' }), ['a=1 b="x y"']);
  });

  it('free-form comments are not facts; a bad name or value is refused', () => {
    assert.equal(parseFactsLine('ptprof 0.1.0 pid=3'), undefined);
    assert.equal(parseFactsLine('a=1 '), undefined);
    assert.equal(parseFactsLine('a="unterminated'), undefined);
    assert.deepEqual({ ...parseFacts(['hand-made', 'a=1 b=two', 'a=3']) }, { a: 3, b: 'two' });
    assert.throws(() => formatFacts({ 'bad key': 1 }), /fact name "bad key"/);
    assert.throws(() => formatFacts({ x: NaN }), /fact x must be a finite number/);
  });

  it('are written by toPprof ahead of the free comments, and survive go-style decoding', () => {
    const input = { ...handMadeProfile(), facts: { hz: 250, mode: 'all' } };
    const p = decodePprof(encodePprof(input));
    const comments = p.comment.map((i) => p.stringTable.strings[Number(i)]);
    assert.deepEqual(comments.slice(0, 2), ['hz=250 mode=all', 'rate=250Hz']);
    assert.equal(parseFacts(comments).hz, 250);
  });
});

describe('printable text', () => {
  it('escapes C0, C1, DEL and bidi controls; cuts long text and says how much', () => {
    assert.equal(printable('a\u001b]0;title\u0007b\u009b2J\u007f\u202e\n'), 'a\\x1b]0;title\\x07b\\x9b2J\\x7f\\u202e\\n');
    assert.equal(printable('café — ok'), 'café — ok');
    assert.equal(printable('x'.repeat(10), 4), 'xxxx...(+6 chars)');
  });

  it('formatTop escapes function and file names', () => {
    const p = crafted((q, str) => { q.function[0]!.name = str('evil\u001b[2J'); });
    const text = formatTop(topFunctions(p), 10_000_000);
    assert.ok(!text.includes('\u001b'), text);
    assert.match(text, /evil\\x1b\[2J \(\/a\.js\)/);
  });
});

describe('readProfileFile: bounded and checked', () => {
  let dir: string;
  before(() => { dir = tmpDir('readsafe'); });
  after(() => rmDir(dir));
  const put = (name: string, data: Uint8Array | string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  };

  it('reads what the writer wrote, pprof and folded', () => {
    const f = put('ok.pb.gz', encodePprof(handMadeProfile()));
    const r = readProfileFile(f);
    assert.equal(r.format, 'pprof');
    const g = put('ok.folded', toFolded(handMadeProfile(), { value: 'cpu', rootLabel: 'thread_name' }));
    assert.equal(readProfileFile(g).format, 'folded');
  });

  it('refuses a device or a pipe unless asked, and caps what it reads from one', () => {
    const e = readError(() => readProfileFile('/dev/zero'));
    assert.equal(e.code, 'not-regular');
    assert.match(e.message, /is a character device, not a regular file/);
    // A pipe with no writer: refused at once, where opening it would wait for a writer.
    const fifo = path.join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    assert.match(readError(() => readProfileFile(fifo)).message, /^is a pipe, not a regular file$/);
    assert.equal(readError(() => readProfileFile(dir)).message, 'is a directory');
    const big = readError(() => readProfileFile('/dev/zero', { allowSpecial: true, maxBytes: 1 << 20 }));
    assert.equal(big.code, 'too-large');
    assert.match(big.message, /larger than 1 MiB/);
  });

  it('refuses a file over the cap, and a gzip that decompresses over it, without decompressing it all', () => {
    const f = put('big.pb', Buffer.concat([Buffer.from([0x0a]), Buffer.alloc(2 << 20)]));
    assert.equal(readError(() => readProfileFile(f, { maxBytes: 1 << 20 })).code, 'too-large');
    // 64 MiB of empty comments in a small gzip.
    const bomb = put('bomb.pb.gz', zlib.gzipSync(Buffer.concat([crafted().encode(), Buffer.alloc(64 << 20, 0x68)]), { level: 9 }));
    assert.ok(fs.statSync(bomb).size < 200_000);
    const t0 = process.hrtime.bigint();
    const e = readError(() => readProfileFile(bomb));
    assert.equal(e.code, 'too-large');
    assert.match(e.message, /decompresses to more than 16 MiB/);
    assert.ok(Number(process.hrtime.bigint() - t0) < 10e9, 'stops at the cap');
  });

  it('with expect, reads only the file that was written, not one put in its place since', () => {
    const f = path.join(dir, 'mine.pb.gz');
    const id = writePprofFileSync(f, handMadeProfile());
    assert.equal(readProfileFile(f, { expect: id }).format, 'pprof');
    fs.writeFileSync(path.join(dir, 'other'), encodePprof(handMadeProfile()));
    fs.renameSync(path.join(dir, 'other'), f); // same content, another inode
    const e = readError(() => readProfileFile(f, { expect: id }));
    assert.equal(e.code, 'changed');
    assert.match(e.message, /is not the file that was written/);
  });

  it('a truncated gzip is "truncated or corrupt gzip"', () => {
    const gz = encodePprof(handMadeProfile());
    const f = put('cut.pb.gz', gz.subarray(0, gz.length - 20));
    const e = readError(() => readProfileFile(f));
    assert.equal(e.code, 'bad-gzip');
    assert.match(e.message, /^is a truncated or corrupt gzip \(Z_BUF_ERROR\)$/);
  });

  it('refuses pprof that cannot be added up or named honestly', () => {
    const cases: [string, (p: Profile, str: (s: string) => number) => void, RegExp][] = [
      ['a name past the string table', (p) => { p.function[0]!.name = 999; }, /the name of function 0 is string 999, but the string table has \d+/],
      ['a negative value', (p) => { p.sample[0]!.value = [1, -5]; }, /negative value -5/],
      ['a value beyond 2^53', (p) => { p.sample[0]!.value = [1, 2n ** 62n]; }, /beyond 2\^53/],
      ['a missing location', (p) => { p.sample[0]!.locationId = [7]; }, /names location 7, which does not exist/],
      ['too few values', (p) => { p.sample[0]!.value = [1]; }, /has 1 values for 2 sample types/],
      ['a comment past the table', (p) => { p.comment = [5000]; }, /comment 0 is string 5000/],
      ['a label value past the table', (p) => { p.sample[0]!.label[0]!.str = 77; }, /the value of label 0 of sample 0 is string 77/],
      ['totals that overflow', (p) => {
        p.sample = [0, 1, 2].map(() => new Sample({ locationId: [1], value: [1, 2 ** 52] }));
      }, /total of sample type 1 is beyond 2\^53/],
    ];
    for (const [what, edit, msg] of cases) {
      const p = crafted(edit);
      const e = readError(() => validateProfile(p));
      assert.equal(e.code, 'invalid', what);
      assert.match(e.message, msg, what);
      const f = put('bad.pb', p.encode());
      assert.match(readError(() => readProfileFile(f)).message, msg, `${what}, through readProfileFile`);
    }
    validateProfile(crafted());
  });
});

describe('folded stacks, read back', () => {
  it('parse what toFolded writes: thread roots, names, files, lines, escapes', () => {
    const input = handMadeProfile();
    input.samples[0]!.frames[0] = { name: 'a;b%c', file: '/x;y.js', line: 3 };
    const { stacks } = parseFolded(toFolded(input, { value: 'cpu', rootLabel: 'thread_name' }));
    const s = stacks.find((x) => x.frames.some((f) => f.name === 'a;b%c'));
    assert.ok(s, JSON.stringify(stacks));
    assert.equal(s.root, 'main');
    assert.deepEqual(s.frames[0], { name: 'a;b%c', file: '/x;y.js', line: 3 }); // leaf first
    assert.equal(stacks.reduce((a, x) => a + x.value, 0), input.samples.reduce((a, x) => a + Math.round(x.cpuNanos), 0));
    const e = readError(() => parseFolded('a;b 1\nnot folded\n'));
    assert.equal(e.code, 'not-profile');
    assert.match(e.message, /^is not folded stacks: line 2 is "not folded"/);
    assert.equal(readError(() => parseFolded('\n\n')).code, 'not-profile');
    assert.equal(readError(() => parseFolded(`a ${2 ** 52}\nb ${2 ** 52}\n`)).code, 'invalid');
  });

  it('top of folded stacks: thread roots skipped, flat and cum per function, ns or counts', () => {
    const text = [
      '[main];main (/a.js:1);fib (/a.js:5) 3000000',
      '[main];main (/a.js:1) 1000000',
      '[worker 1];hash (node:internal/x:3) 2000000',
      '[main];main (/a.js:1);fib (/a.js:5);fib (/a.js:5) 4000000',
      '',
    ].join('\n');
    const t = topOfFolded(text);
    assert.equal(t.total, 10_000_000);
    assert.equal(t.unit, 'nanoseconds');
    assert.deepEqual(t.rows.map((r) => [r.name, r.file, r.flat, r.cum]), [
      ['fib', '/a.js', 7_000_000, 7_000_000],
      ['hash', 'node:internal/x', 2_000_000, 2_000_000],
      ['main', '/a.js', 1_000_000, 8_000_000],
    ]);
    assert.equal(topOfFolded('a;b 3\na 1\n').unit, 'count');
    assert.equal(topOfFolded('a%3Bb 3\n').rows[0]!.name, 'a;b');
  });
});

describe('thread kinds and written identities', () => {
  it('threadTotals reads the thread_kind label', () => {
    const input = handMadeProfile();
    for (const s of input.samples) s.labels = { ...s.labels, thread_kind: s.labels!.thread_name === 'libuv-worker' ? 'native' : 'js' };
    const kinds = threadTotals(decodePprof(encodePprof(input))).map((t) => [t.threadName, t.threadKind]);
    assert.deepEqual(kinds.sort(), [['libuv-worker', 'native'], ['main', 'js'], ['worker 1', 'js']]);
    // Other profilers write the keys with a space; a thread id may be a string label.
    const other = handMadeProfile();
    other.samples = [{ ...other.samples[0]!, labels: { 'thread name': 'Main Event Loop', 'thread id': '77' } }];
    const p = decodePprof(encodePprof(other));
    assert.deepEqual(sampleThread(p, p.sample[0]!), { threadId: 77, threadName: 'Main Event Loop' });
    assert.deepEqual(threadTotals(p).map((t) => [t.threadId, t.threadName]), [[77, 'Main Event Loop']]);
  });

  it('the sync writers return the device, inode and size of the file they wrote', () => {
    const dir = tmpDir('identity');
    try {
      for (const [name, write] of [
        ['a.pb.gz', (f: string) => writePprofFileSync(f, handMadeProfile())],
        ['a.folded', (f: string) => writeFoldedFileSync(f, handMadeProfile())],
      ] as const) {
        const f = path.join(dir, name);
        const id = write(f);
        const st = fs.statSync(f);
        assert.deepEqual(id, { dev: st.dev, ino: st.ino, size: st.size });
      }
    } finally {
      rmDir(dir);
    }
  });
});
