// ptprof/api (start, stop, profileFor, writeProfile) as a program uses it: alone, and inside a
// run of the ptprof command, where it shares the process's recording with the agent: the API's
// profile holds its own stretch only, and the whole run's profile holds everything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO, cleanEnv, cpuByThread, facts, fixture, ptprof, readProfile, rmDir, tmpDir, totals } from './helpers';

function share(file: string, fn: string): number {
  const p = readProfile(file);
  return (cpuByThread(p, fn).get('main')?.inFn ?? 0) / totals(p).cpuNanos;
}

describe('ptprof/api', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('api');
  });
  afterEach(() => rmDir(dir));

  it('alone: stop() returns the stretch since start(); profileFor(1) the next second', () => {
    const r = spawnSync(process.execPath, [fixture('api-app.js')], { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /done api/);
    const api = path.join(dir, 'api.pb.gz');
    assert.ok(share(api, 'fnIn') > 0.6, `fnIn: ${share(api, 'fnIn')}`);
    assert.equal(share(api, 'fnPre'), 0);
    assert.equal(share(api, 'fnPost'), 0);
    assert.equal(facts(readProfile(api)).trigger, 'api');
    const forP = path.join(dir, 'for.pb.gz');
    assert.ok(share(forP, 'fnFor') > 0.2, `fnFor: ${share(forP, 'fnFor')}`);
    assert.equal(share(forP, 'fnIn'), 0);
  });

  it('examples/api.js, the README\'s runnable example: before.pb.gz and during.pb.gz, slowSort in both', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'examples', 'api.js')], { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^before\.pb\.gz: \d+ stacks; during\.pb\.gz: \d+ ms of CPU in 2 s\n$/);
    for (const f of ['before.pb.gz', 'during.pb.gz']) assert.ok(share(path.join(dir, f), 'slowSort') > 0.2, `${f}: ${share(path.join(dir, f), 'slowSort')}`);
  });

  it('under ptprof: the API gets its stretch, the whole run still has all of it', () => {
    const r = ptprof(['-o', 'whole.pb.gz', '--', 'node', fixture('api-app.js')], { cwd: dir, env: cleanEnv() });
    assert.equal(r.status, 0, r.stderr);
    const api = path.join(dir, 'api.pb.gz');
    assert.ok(share(api, 'fnIn') > 0.6, `fnIn: ${share(api, 'fnIn')}`);
    assert.equal(share(api, 'fnPre'), 0);
    assert.equal(share(api, 'fnPost'), 0);
    const whole = path.join(dir, 'whole.pb.gz');
    for (const fn of ['fnPre', 'fnIn', 'fnPost', 'fnFor']) assert.ok(share(whole, fn) > 0.02, `${fn} in the whole run: ${share(whole, fn)}`);
    // The whole run's windows add up: its CPU is the process's (within sampling).
    const p = readProfile(whole);
    const ratio = totals(p).cpuNanos / Number(facts(p).process_cpu_nanos);
    assert.ok(ratio > 0.8 && ratio < 1.1, `profiled / OS CPU = ${ratio}`);
  });
});
