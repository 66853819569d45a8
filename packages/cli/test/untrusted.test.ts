// Issue 19, cases 2-4 and the `top` items of 7: what ptprof reads may come from anyone. The
// summary counts only the files its agents report; names, comments and command lines are
// printed with their control characters escaped; reads are bounded; invalid pprof is refused.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { craftPprof } from './crafted';
import { assertNoRawControl, assertOneLine, fixture, listDir, ptprof, rmDir, tmpDir } from './helpers';

/** Escapes a crafted name could carry: set the title (OSC), clear the screen (CSI), 8-bit CSI, a bidi override. */
const EVIL = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e';

describe('the summary counts only what its agents report', function () {
  let dir: string;
  beforeEach(() => { dir = tmpDir('spoof'); });
  afterEach(() => rmDir(dir));

  it('a file copied into the output directory during the run (a neighbour in a shared directory) is not shown, nor read', () => {
    // The planted files fit the output's name pattern and are fresh: a "busiest process" with
    // 555,555 hours of CPU, and a decompression bomb. The program plays the neighbour.
    const spoof = zlib.gzipSync(craftPprof({ names: [`spoofedHot${EVIL}`], cpu: [2_000_000_000_000_000] }));
    const bomb = zlib.gzipSync(Buffer.alloc(256 << 20, 0x68), { level: 9 });
    fs.writeFileSync(path.join(dir, 'spoof.bin'), spoof);
    fs.writeFileSync(path.join(dir, 'bomb.bin'), bomb);
    const app = path.join(dir, 'app.js');
    fs.writeFileSync(app, `const fs = require('fs');
      fs.copyFileSync('spoof.bin', 'out.99999.pb.gz');
      fs.copyFileSync('bomb.bin', 'out.88888.pb.gz');
      require(${JSON.stringify(fixture('burn.js'))});`);
    const t0 = Date.now();
    const r = ptprof(['-o', 'out.pb.gz', app, 'normal', '100'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - t0 < 20_000, 'the bomb was not decompressed');
    assert.doesNotMatch(r.stderr, /99999|88888|spoofedHot|hrs/, r.stderr);
    assert.match(r.stderr, /^ptprof: wrote out\.pb\.gz \(pid \d+, /m);
    assert.equal((r.stderr.match(/^ptprof: wrote /gm) ?? []).length, 1, 'one profile written, one listed');
    assert.match(r.stderr, /top 10 functions by flat CPU in out\.pb\.gz:\n[\s\S]*hotLoop/);
    assertNoRawControl(r);
    assert.deepEqual(listDir(dir), ['app.js', 'bomb.bin', 'out.88888.pb.gz', 'out.99999.pb.gz', 'out.pb.gz', 'spoof.bin']);
  });
});

describe('control characters are escaped on output', function () {
  let dir: string;
  beforeEach(() => { dir = tmpDir('escapes'); });
  afterEach(() => rmDir(dir));

  it('ptprof top: function names, files, comments and thread names', () => {
    const file = path.join(dir, 'evil.pb.gz');
    fs.writeFileSync(file, zlib.gzipSync(craftPprof({
      names: [`fn${EVIL}`], comments: [`hz=100 note="${'x'}"`, `comment${EVIL}`, ''], thread: `thread${EVIL}`,
    })));
    const r = ptprof(['top', 'evil.pb.gz'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assertNoRawControl(r);
    const esc = '\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J\\\\x9b31m\\\\u202e';
    assert.match(r.stdout, new RegExp(`^comment${esc}$`, 'm'));
    assert.match(r.stdout, new RegExp(`fn${esc} \\(/app/x\\.js\\)$`, 'm'));
    assert.match(r.stdout, new RegExp(`^Threads: thread${esc} 10ms$`, 'm'));
  });

  it('the summary: a script in a directory with escapes in its name, run with an argument holding a newline and ESC', () => {
    const evilDir = path.join(dir, `dir${EVIL}`);
    fs.mkdirSync(evilDir);
    const script = path.join(evilDir, 'burn.js');
    fs.copyFileSync(fixture('burn.js'), script);
    const r = ptprof(['-o', 'out.pb.gz', script, 'normal', `100\n\u001b[2J`], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assertNoRawControl(r);
    assert.match(r.stderr, /^ptprof: wrote out\.pb\.gz \(pid \d+, .*dir\\x1b\]0;pwned\\x07\\x1b\[2J\\x9b31m\\u202e\/burn\.js' normal '100\\n\\x1b\[2J'\)$/m);
    assert.match(r.stderr, /hotLoop \(.*dir\\x1b\]0;pwned.*\/burn\.js\)$/m);
  });

  it('a usage error echoing a value keeps to one line', () => {
    const r = ptprof(['--hz', `1\n\u001b[2J`, 'x.js'], { cwd: dir });
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /--hz must be an integer from 1 to 10000 .*got '1\\n\\x1b\[2J'$/);
    assertNoRawControl(r);
  });
});

describe('reads are bounded', function () {
  let dir: string;
  beforeEach(() => { dir = tmpDir('bounded'); });
  afterEach(() => rmDir(dir));

  it('ptprof top /dev/zero: refused at once, exit 2', () => {
    const r = ptprof(['top', '/dev/zero'], { cwd: dir });
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /^ptprof: cannot read \/dev\/zero: it is a character device, not a regular file \(pass --allow-special to read it anyway\)$/);
    assert.equal(r.stdout, '');
  });

  it('--allow-special reads a device, up to the cap', () => {
    const r = ptprof(['top', '--allow-special', '--max-mb', '4', '/dev/zero'], { cwd: dir });
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /^ptprof: cannot read \/dev\/zero: it is larger than 4 MiB \(the cap: raise it with --max-mb N\)$/);
  });

  it('a small gzip holding 100 M empty comments: refused at the cap, fast, naming the cap and how to raise it', () => {
    // 100 M comments that are string 0 ('') take 1 byte each once decompressed: 100 MB, in a 100 KB gzip.
    const file = path.join(dir, 'comments.pb.gz');
    const head = craftPprof();
    const gz = zlib.createGzip({ level: 9 });
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    // 0x68 0x00: field 13 (comment), varint 0; written in 1 MB blocks.
    const block = Buffer.alloc(1 << 20);
    for (let i = 0; i < block.length; i += 2) block[i] = 0x68;
    const all = Buffer.concat([Buffer.from(head), ...Array.from({ length: 200 }, () => block)]);
    fs.writeFileSync(file, zlib.gzipSync(all, { level: 9 }));
    assert.ok(fs.statSync(file).size < 500_000, `${fs.statSync(file).size} bytes`);
    const t0 = Date.now();
    const r = ptprof(['top', 'comments.pb.gz'], { cwd: dir });
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /^ptprof: cannot read comments\.pb\.gz: it decompresses to more than 16 MiB \(the cap: raise it with --max-mb N\)$/);
    assert.equal(r.stdout, '');
  });

  it('under the cap, what is printed is bounded: 40 comments, names cut at 500 characters', () => {
    const file = path.join(dir, 'many.pb');
    const comments = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
    fs.writeFileSync(file, craftPprof({ comments, names: ['n'.repeat(100_000)] }));
    const r = ptprof(['top', 'many.pb'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.ok(lines.length < 60, `${lines.length} lines`);
    assert.ok(lines.includes('c39') && !lines.includes('c40'));
    assert.ok(lines.includes('(99960 more comments not shown)'));
    assert.match(r.stdout, /  n{500}\.\.\.\(\+\d+ chars\)$/m);
  });
});

describe('ptprof top refuses what it cannot add up or name', function () {
  let dir: string;
  before(() => { dir = tmpDir('invalid'); });
  after(() => rmDir(dir));

  const cases: [string, Parameters<typeof craftPprof>[0], RegExp][] = [
    ['negative CPU', { cpu: [-5_000_000] }, /sample 0 has the negative value -5000000 \(diff profiles are not supported\)/],
    ['CPU beyond 2^53 (Infinityhrs, NaN%)', { cpu: [2n ** 62n] }, /sample 0 has the value 4611686018427387904, beyond 2\^53/],
    ['a name past the string table', { edit: (p) => { p.function[0]!.name = 4242; } }, /the name of function 0 is string 4242, but the string table has \d+/],
    ['a missing location', { edit: (p) => { p.sample[0]!.locationId = [99]; } }, /sample 0 names location 99, which does not exist/],
  ];
  for (const [what, craft, message] of cases) {
    it(`${what}: exit 2, one line`, () => {
      fs.writeFileSync(path.join(dir, 'bad.pb.gz'), zlib.gzipSync(craftPprof(craft)));
      const r = ptprof(['top', 'bad.pb.gz'], { cwd: dir });
      assert.equal(r.status, 2, r.stdout);
      assertOneLine(r.stderr, new RegExp(`^ptprof: cannot read bad\\.pb\\.gz: it is not a valid pprof profile: ${message.source}$`));
      assert.equal(r.stdout, '');
      assertNoRawControl(r);
    });
  }

  it('a truncated gzip: "truncated or corrupt gzip"', () => {
    const gz = zlib.gzipSync(craftPprof());
    fs.writeFileSync(path.join(dir, 'cut.pb.gz'), gz.subarray(0, gz.length - 10));
    const r = ptprof(['top', 'cut.pb.gz'], { cwd: dir });
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /^ptprof: cannot read cut\.pb\.gz: it is a truncated or corrupt gzip \(Z_BUF_ERROR\)$/);
  });
});
