// Continuous profiling to Grafana Pyroscope (--push): every window of every process arrives at a
// local receiver that implements the documented POST /ingest contract (receiver.ts), decoded with
// pprof-format: the right name, labels, from/until and CPU, nothing missing or duplicated, the
// sum of the windows what the process burned. A receiver that is down, slow, or answering 500 or
// 429 causes retries and drops counted in a bounded queue, never a stall or a crash; the final
// flush arrives on exit and on SIGTERM; the program's own output is unchanged. Loopback only.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertOneLine, cleanEnv, comments, cpuByThread, facts, fixture, ptprof, ptprofAsync, rmDir, tmpDir, tmpDirWithOkJs, totals, type Run } from './helpers';
import { startReceiver, type Ingested, type Receiver } from './receiver';

const APP = fixture('push-app.js');

/** The windows as they arrived, by their push.window number. */
function ordered(got: Ingested[]): Ingested[] {
  return [...got].sort((a, b) => Number(facts(a.profile)['push.window']) - Number(facts(b.profile)['push.window']));
}

/** The window numbers are 1..n, each once; each window starts where the previous ended. */
function assertStream(got: Ingested[]): void {
  const w = ordered(got);
  assert.deepEqual(w.map((x) => Number(facts(x.profile)['push.window'])), w.map((_, i) => i + 1), 'each window once, none missing');
  for (let i = 1; i < w.length; i++) {
    assert.equal(w[i].query.from, w[i - 1].query.until, `window ${i + 1} starts where window ${i} ended`);
    const end = BigInt(w[i - 1].profile.timeNanos as number | bigint) + BigInt(w[i - 1].profile.durationNanos as number | bigint);
    const gap = Number(BigInt(w[i].profile.timeNanos as number | bigint) - end);
    assert.ok(Math.abs(gap) < 2e6, `window ${i + 1} starts ${gap} ns after window ${i} ended`);
  }
}

function cpuOf(got: Ingested[]): { profiled: number; os: number } {
  return got.reduce((s, x) => ({ profiled: s.profiled + totals(x.profile).cpuNanos, os: s.os + Number(facts(x.profile).process_cpu_nanos) }), { profiled: 0, os: 0 });
}

function push(receiver: Receiver | string, extra: string[] = []): string[] {
  return ['--push', typeof receiver === 'string' ? receiver : receiver.url, '--app', 'checkout', '--push-every', '1s', '--tag', 'env=test', ...extra];
}

/** Runs a command to its end without blocking this process (the receiver answers from it). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, pid: c.pid ?? 0 }));
  });
}

/** A port nobody listens on (bound, then closed). */
async function closedPort(): Promise<string> {
  const r = await startReceiver();
  await r.close();
  return r.url;
}

describe('--push to Pyroscope', function () {
  this.timeout(180_000);
  let dir: string;
  let rx: Receiver | undefined;
  beforeEach(() => {
    dir = tmpDir('push');
  });
  afterEach(async () => {
    await rx?.close();
    rx = undefined;
    rmDir(dir);
  });

  it('one stream of windows: names, labels, from/until, nothing missing or duplicated, the CPU of the run, the output unchanged', async () => {
    rx = await startReceiver();
    const doneFile = path.join(dir, 'done');
    const r = await ptprofAsync([...push(rx), '--', 'node', APP], { cwd: dir, env: cleanEnv({ RUN_MS: '4500', DONE_FILE: doneFile }) });
    assert.equal(r.status, 0, r.stderr);
    const alone = spawnSync(process.execPath, [APP], { env: cleanEnv({ RUN_MS: '100' }), encoding: 'utf8' });
    assert.equal(r.stdout, alone.stdout, "the program's own output");
    assert.deepEqual(rx.malformed, []);
    const got = ordered(rx.accepted);
    assert.ok(got.length >= 4, `${got.length} windows for 4.5 s at 1 s`);
    const pid = Number(facts(got[0].profile).pid);
    for (const x of got) {
      assert.equal(x.query.name, `checkout{service_name=checkout,hostname=${os.hostname()},pid=${pid},env=test}`);
      assert.equal(x.query.format, 'pprof');
      assert.equal(x.query.spyName, 'ptprof');
      assert.equal(x.query.sampleRate, '100');
      assert.equal(x.body, 'multipart');
      assert.ok(Number(x.query.until) > Number(x.query.from));
    }
    assertStream(got);
    // The last window is the final flush at exit: it ends with the process, not at the last tick.
    assert.match(r.stderr, new RegExp(`pid ${pid}: pushed ${got.length} of ${got.length} windows`));
    const last = got[got.length - 1].profile;
    const lastEndMs = Number((BigInt(last.timeNanos as number | bigint) + BigInt(last.durationNanos as number | bigint)) / 1_000_000n);
    // Both times are whole milliseconds: the profile's start is Date.now() at the sampler's start,
    // and its end that plus the windows' monotonic durations, so it can read up to 2 ms early.
    // A window that ended at the last tick would be up to a second early.
    const doneMs = Number(fs.readFileSync(doneFile, 'utf8'));
    assert.ok(lastEndMs + 2 >= doneMs, `the last window ends after the program was done (${lastEndMs} ms, done at ${doneMs} ms)`);
    // The windows add up to what the process burned (each window's own OS count, summed).
    const cpu = cpuOf(got);
    assert.ok(cpu.profiled / cpu.os > 0.85 && cpu.profiled / cpu.os < 1.1, `pushed CPU ${cpu.profiled / 1e6} ms of ${cpu.os / 1e6} ms`);
    const hot = got.reduce((s, x) => s + (cpuByThread(x.profile, 'hotPush').get('main')?.inFn ?? 0), 0);
    assert.ok(hot / cpu.profiled > 0.5, `hotPush: ${hot / cpu.profiled}`);
  });

  it('auth as Pyroscope users set it: a bearer token, or basic auth in the URL, and X-Scope-OrgID; never printed, never in the comments', async () => {
    rx = await startReceiver();
    const basic = rx.url.replace('http://', 'http://ops:s3cret-pw@');
    const r1 = await ptprofAsync([...push(basic, ['--push-tenant', 'team-7']), '--', 'node', APP], { cwd: dir, env: cleanEnv({ RUN_MS: '1500' }) });
    const n1 = rx.accepted.length;
    const r2 = await ptprofAsync([...push(rx, ['--push-token', 'tok-abc123']), '--', 'node', APP], { cwd: dir, env: cleanEnv({ RUN_MS: '1500' }) });
    assert.equal(r1.status, 0, r1.stderr);
    assert.equal(r2.status, 0, r2.stderr);
    const first = rx.accepted.slice(0, n1);
    const second = rx.accepted.slice(n1);
    assert.ok(first.length > 0 && second.length > 0);
    for (const x of first) {
      assert.equal(x.headers.authorization, `Basic ${Buffer.from('ops:s3cret-pw').toString('base64')}`);
      assert.equal(x.headers['x-scope-orgid'], 'team-7');
    }
    for (const x of second) assert.equal(x.headers.authorization, 'Bearer tok-abc123');
    for (const text of [r1.stderr, r2.stderr, ...rx.accepted.map((x) => comments(x.profile).join('\n'))]) {
      assert.doesNotMatch(text, /s3cret|tok-abc123/);
    }
  });

  it('500 and 429 (Retry-After) answers: retried, every window arrives once, the retries counted in the comments, said once on stderr', async () => {
    // The first two requests fail with 500, the next two with 429, then the server takes them. The
    // backoffs (1 s and 2 s, with jitter, then the 1 s the server asks twice) end before the run does.
    rx = await startReceiver((n) => (n <= 2 ? { status: 500 } : n <= 4 ? { status: 429, headers: { 'Retry-After': '1' } } : { status: 200 }));
    const r = await ptprofAsync([...push(rx), '--', 'node', APP], { cwd: dir, env: cleanEnv({ RUN_MS: '9000' }) });
    assert.equal(r.status, 0, r.stderr);
    const got = ordered(rx.accepted);
    assertStream(got);
    assert.equal(r.stderr.match(/server_error/g)?.length, 1, r.stderr);
    assert.equal(r.stderr.match(/throttled/g)?.length, 1, r.stderr);
    const last = facts(got[got.length - 1].profile);
    assert.equal(last['push.retries'], 4);
    assert.equal(last['push.failed.server_error'], 2);
    assert.equal(last['push.failed.throttled'], 2);
    assert.match(r.stderr, new RegExp(`pushed ${got.length} of ${got.length} windows.*retries`));
  });

  it('a server that is down: the program runs and ends as without ptprof; the queue stays bounded and the drops are counted', async () => {
    const down = await closedPort();
    const t0 = Date.now();
    const r = await ptprofAsync([...push(down), '--', 'node', APP], { cwd: dir, env: cleanEnv({ RUN_MS: '5000', PTPROF_PUSH_QUEUE: '2' }) });
    const ms = Date.now() - t0;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^started\ndone true\n$/);
    // 5 s of program, then at most the flush's deadline (2 s) and its worker's grace.
    assert.ok(ms < 15_000, `ran ${ms} ms`);
    assert.equal(r.stderr.match(/cannot push to .*unreachable: ECONNREFUSED/g)?.length, 1, r.stderr);
    assert.equal(r.stderr.match(/exceed the queue \(2 windows/g)?.length, 1, r.stderr);
    const m = /pushed 0 of (\d+) windows .*lost: (\d+) dropped \(queue full\), (\d+) not sent when the process ended/.exec(r.stderr);
    assert.ok(m, r.stderr);
    // Every window is accounted for: dropped, or still waiting at the end.
    assert.equal(Number(m[2]) + Number(m[3]), Number(m[1]));
    assert.ok(Number(m[3]) <= 3, 'no more than the queue (and the one on the wire) waits');
  });

  it('a slow server (no answer in the timeout): requests time out and are retried; the program is not held up', async () => {
    rx = await startReceiver((n) => (n <= 2 ? { status: 200, delayMs: 4000 } : { status: 200 }));
    const t0 = Date.now();
    const r = await ptprofAsync([...push(rx), '--', 'node', APP], { cwd: dir, env: cleanEnv({ RUN_MS: '4000', PTPROF_PUSH_TIMEOUT_MS: '700' }) });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - t0 < 15_000);
    assert.equal(r.stderr.match(/timeout: no answer in 700 ms/g)?.length, 1, r.stderr);
    // The requests that timed out reached the server (it answered late): a window may arrive twice
    // then, which is what a timeout cannot tell apart; every window arrives at least once.
    const numbers = new Set(rx.all.map((x) => Number(facts(x.profile)['push.window'])));
    const windows = Number(/pushed \d+ of (\d+) windows/.exec(r.stderr)?.[1]);
    assert.equal(numbers.size, windows, r.stderr);
  });

  it('the final flush on SIGTERM: the window since the last push arrives, and the program ends with 143', async () => {
    rx = await startReceiver();
    let sent = false;
    const r: Run = await ptprofAsync(['--push', rx.url, '--app', 'checkout', '--push-every', '60s', '--', 'node', APP, 'serve'], {
      cwd: dir,
      env: cleanEnv(),
      onStdout: (out, pid) => {
        if (sent || !/started/.test(out)) return;
        sent = true;
        setTimeout(() => process.kill(pid, 'SIGTERM'), 2000);
      },
    });
    assert.equal(r.status, 143, r.stderr);
    assert.equal(rx.accepted.length, 1, 'one window: the one SIGTERM ended');
    const p = rx.accepted[0].profile;
    assert.ok(totals(p).cpuNanos > 100e6, `${totals(p).cpuNanos / 1e6} ms in the last window`);
    assert.ok((cpuByThread(p, 'hotPush').get('main')?.inFn ?? 0) > 0);
  });

  it('the agent alone: PTPROF_PUSH_URL, PTPROF_APP, PTPROF_PUSH_EVERY, PTPROF_TAGS', async () => {
    rx = await startReceiver();
    const agent = path.resolve(__dirname, '..', 'src', 'agent.js');
    const r = await run(process.execPath, ['--require', agent, APP], {
      cwd: dir, env: cleanEnv({ RUN_MS: '2500', PTPROF_PUSH_URL: rx.url, PTPROF_APP: 'billing', PTPROF_PUSH_EVERY: '1s', PTPROF_TAGS: 'region=eu,tier=web' }),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const got = ordered(rx.accepted);
    assert.ok(got.length >= 2);
    assertStream(got);
    assert.equal(got[0].query.name, `billing{service_name=billing,hostname=${os.hostname()},pid=${r.pid},region=eu,tier=web}`);
  });

  it('usage errors before the program starts: a bad URL, no --app, a bad tag or period, options without --push', () => {
    const d = tmpDirWithOkJs('push-usage');
    try {
      for (const [args, message] of [
        [['--push', 'localhost:4040', '--app', 'a'], /--push must be an http:\/\/ or https:\/\/ URL/],
        [['--push', 'http://h:1'], /--push needs --app NAME/],
        [['--push', 'http://h:1', '--app', 'a b'], /--app must be an application name/],
        [['--push', 'http://h:1', '--app', 'a', '--tag', 'env'], /--tag must be key=value/],
        [['--push', 'http://h:1', '--app', 'a', '--tag', 'pid=3'], /pid is set by ptprof/],
        [['--push', 'http://h:1', '--app', 'a', '--push-every', '100ms'], /--push-every must be a duration from 1s to 1h/],
        [['--app', 'a'], /go with --push URL/],
        [['--push', 'http://u:hunter2@h:1?x=1', '--app', 'a'], /must have no query/],
      ] as [string[], RegExp][]) {
        const r = ptprof([...args, 'ok.js'], { cwd: d });
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assertOneLine(r.stderr, message);
        assert.doesNotMatch(r.stderr, /hunter2/);
      }
      const env = ptprof(['ok.js'], { cwd: d, env: cleanEnv({ PTPROF_PUSH_URL: 'http://h:1' }) });
      assert.equal(env.status, 2);
      assertOneLine(env.stderr, /PTPROF_PUSH_URL needs PTPROF_APP/);
    } finally {
      rmDir(d);
    }
  });
});
