// The rings of src/ring.h alone, in C++, under real concurrency: test/native/ring_test.cc built
// with AddressSanitizer + UndefinedBehaviorSanitizer, and with ThreadSanitizer. A torn or lost
// record, a data race or an out-of-bounds copy fails it (shown by storing the ring's head before
// copying the record in: "torn record").
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'src');
const TEST = path.resolve(__dirname, '..', '..', 'test', 'native', 'ring_test.cc');

describe('rings (C++ unit test, no V8)', function () {
  this.timeout(120_000);
  let dir: string;
  before(function () {
    if (spawnSync('g++', ['--version']).error) {
      console.log('      skipped: g++ is not installed (needed to build test/native/ring_test.cc)');
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-ring-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, flags] of [['ASan + UBSan', ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined']], ['TSan', ['-fsanitize=thread']]] as const) {
    it(`SPSC and MPSC rings: every record whole and in order, or counted as dropped (${name})`, () => {
      const exe = path.join(dir, `ring_test_${name.replace(/\W+/g, '_')}`);
      const cc = spawnSync('g++', ['-std=c++20', '-O1', '-g', ...flags, `-I${SRC}`, TEST, '-o', exe, '-lpthread'], { encoding: 'utf8' });
      assert.equal(cc.status, 0, `g++ failed:\n${cc.stderr}`);
      // Not the LD_PRELOAD of npm run test:asan (ASan's runtime under a TSan binary crashes it).
      const env: NodeJS.ProcessEnv = { ...process.env, TSAN_OPTIONS: 'halt_on_error=1', ASAN_OPTIONS: 'abort_on_error=1' };
      delete env.LD_PRELOAD;
      const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 60_000, env });
      assert.equal(r.status, 0, `${exe} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^ok$/m);
      assert.doesNotMatch(r.stderr, /ThreadSanitizer|AddressSanitizer|runtime error/);
      console.log(`      ${r.stdout.trim().split('\n').slice(0, 2).join('; ')}`);
    });
  }
});
