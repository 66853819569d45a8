// Programs written to fight the profiler (issue: never crash, hang or grow). Each scenario runs in
// a child process, because before its fix it crashed (a signal), hung (the timeout here) or grew;
// the closing note of that issue lists what each did before. PTPROF_TEST_INDEX in a fixture's
// environment points it at another build's index.js, which is how the "before" was shown.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as path from 'node:path';
import { FIXTURES } from './support';

function run(fixture: string, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}, timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...nodeArgs, path.join(FIXTURES, fixture)], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout, maxBuffer: 16 * 1024 * 1024,
  });
}

function result(r: SpawnSyncReturns<string>, what: string): any {
  const how = r.error ? `${r.error.message} (a hang?)` : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  assert.ok(r.status === 0 && !r.error, `${what}: ${how}\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** The .node file node-gyp-build loads here (a local build wins over the prebuilds). */
function loadedBinary(): string {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.resolve(__dirname, '..', 'src', 'index.js'))});
    const f = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/).slice(5).join(' ')).find((p) => p.endsWith('.node'));
    console.log(f)`], { encoding: 'utf8' });
  return r.stdout.trim();
}

describe('hostile programs', function () {
  this.timeout(120_000);

  it('an addon loaded only by a worker that exited: the main thread survives SIGPROF afterwards (-z nodelete)', function () {
    const out = result(run('hostile-unload.js'), 'worker-only load');
    assert.equal(out.alive, true);
    assert.equal(out.stillMapped, true, 'the addon stays mapped after its last environment is gone');
  });

  it('no deadlock when binding calls allocate under compacting GCs (--stress-compaction --gc-interval)', function () {
    const out = result(run('hostile-gc-lock.js', ['--stress-compaction', '--gc-interval=200'], { ROUNDS: '4000' }, 90_000), 'GC under registry_mu');
    assert.equal(out.errors, 4000, 'each bad timer id threw, outside the lock');
  });

  it('two copies of the addon: no handler passes signals to the other, each takes its own real-time signal and records its own timer', function () {
    const binary = loadedBinary();
    assert.ok(binary.endsWith('.node'), `the loaded binary: ${binary}`);
    const out = result(run('hostile-copies.js', [], { PTPROF_TEST_BINARY: binary }), 'two copies');
    // The first copy took SIGPROF over SIG_DFL; the second found the first's handler and left it.
    assert.deepEqual(out.installed, ['default', 'other', 'ptprof', 'other']);
    assert.notEqual(out.signals[0], out.signals[1], 'each copy has its own timer signal');
    assert.ok(out.records[0] > 0 && out.records[1] > 0, `records: ${out.records}`);
  });

  it('the collector thread cannot be created (pids limit): recording goes on without it, the program lives', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root, to run the child as another user (RLIMIT_NPROC does not bind root)');
      this.skip();
    }
    if (spawnSync('prlimit', ['--version']).error) {
      console.log('      skipped: prlimit (util-linux) is not installed');
      this.skip();
    }
    const nobody = 65534;
    const child = spawn(process.execPath, [path.join(FIXTURES, 'hostile-nproc.js')], { uid: nobody, gid: nobody, cwd: '/', stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b) => {
        stdout += b;
        if (stdout.includes('ready\n')) resolve();
      });
      child.on('exit', () => reject(new Error(`the child ended early: ${stderr}`)));
    });
    // As the same user (prlimit on another user's process needs CAP_SYS_RESOURCE; lowering one's
    // own does not).
    const lim = spawnSync('prlimit', ['--pid', String(child.pid), '--nproc=1:1'], { encoding: 'utf8', uid: nobody, gid: nobody });
    assert.equal(lim.status, 0, lim.stderr);
    child.stdin.write('go\n');
    const end = await ended;
    assert.equal(end.signal, null, `killed by ${end.signal}: ${stderr}`);
    assert.equal(end.code, 0, stderr);
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.started.collector, false);
    assert.match(out.started.collectorError, /Resource temporarily unavailable/);
    assert.ok(out.collectorError > 0, 'the drain counters carry the errno');
    assert.ok(out.records > 0, 'records were still collected, by drain() alone');
  });

  it('the code-event log of a registered thread stays bounded while no sampler runs', function () {
    const out = result(run('hostile-codelog.js', [], { FUNCTIONS: '100000' }), 'code-event log');
    console.log(`      ${out.functions} functions compiled: ${out.events} events held, ${out.drops} not logged, RSS +${out.rssGrowthMb.toFixed(1)} MB`);
    // Before: every event kept (~2 per function compiled, 200k+); after: the bound (32768 past
    // the enumeration at register), the rest counted.
    assert.ok(out.events < 40000, `${out.events} events held for ${out.functions} functions`);
    assert.ok(out.drops > out.functions, `${out.drops} events counted as not logged`);
  });

  it('a busy JS thread\'s backlog stops at backlogBytes and counts the records it drops', function () {
    const out = result(run('hostile-backlog.js'), 'backlog cap');
    console.log(`      ${out.signals} signals: ${out.records} records (${out.bytes} bytes) kept, ${out.drops} dropped`);
    assert.ok(out.bytes <= 65536 + 8192, `${out.bytes} bytes kept, cap 64 KiB (+ one ring)`);
    assert.ok(out.drops > 0, 'drops were counted');
    assert.equal(out.records + out.drops, out.signals, 'every signal is a record or a counted drop');
  });

  it('a failed register() leaves no isolate entry behind: the next registration\'s code events carry its own isolate id', function () {
    const out = result(run('hostile-register.js'), 'failed register');
    assert.match(out.failed, /no free slot.*EAGAIN/);
    assert.deepEqual(out.eventIsolates, [out.registered]);
    assert.deepEqual(out.recordIsolates, [out.registered]);
  });

  it('a 4 KiB ring keeps 512-frame stacks, truncated to what fits', function () {
    const out = result(run('hostile-smallring.js', ['--no-opt', '--no-sparkplug', '--no-maglev']), 'small ring');
    assert.ok(out.records > 0, `records: ${out.records}, drops ${out.drops}`);
    assert.ok(out.maxFrames > 400 && out.maxFrames <= (4096 - 88) / 8, `frames per record: ${out.maxFrames}`);
    assert.ok(out.truncated > 0);
  });
});


