// Shared by the CLI's test files: the real binary, temporary directories, fixtures, profile readers.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodePprof, parseFacts, stringAt, toNumber, type Facts, type Profile } from '@ptprof/pprof-writer';

/** The compiled `ptprof` command (run with node, as npm's bin shim does). */
export const BIN = path.resolve(__dirname, '..', 'src', 'bin.js');
/** Fixture programs (plain JS, not compiled). */
export const FIXTURES = path.resolve(__dirname, '..', '..', 'test', 'fixtures');
export const REPO = path.resolve(__dirname, '..', '..', '..', '..');
/** The addon's package, for fixtures that measure their threads' CPU (threadCpuNs). */
export const NATIVE = path.dirname(require.resolve('@ptprof/timers-native/package.json'));

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ptprof-cli-${tag}-`));
}

/** A temporary directory holding ok.js, a program that leaves ran.txt if it runs (nothing may run after a usage error). */
export function tmpDirWithOkJs(tag: string): string {
  const dir = tmpDir(tag);
  fs.writeFileSync(path.join(dir, 'ok.js'), "require('fs').writeFileSync('ran.txt', 'x');\n");
  return dir;
}

/**
 * `<dir>/shared`, a sticky directory anyone may write (like /tmp), with dir made readable by
 * nobody; skips the test (saying why) unless this process is root, which a second user needs.
 */
export function stickyDirAsRoot(ctx: Mocha.Context, dir: string, why: string): string {
  if (process.getuid?.() !== 0) {
    console.log(`      skipped: needs root, ${why}`);
    ctx.skip();
  }
  // nobody must be able to run node and read ptprof (not so in a checkout under a private home).
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(path.dirname(BIN), 'version.js'))})`], { ...NOBODY });
  if (probe.status !== 0) {
    const why = /\w*Error: .*/.exec(String(probe.stderr))?.[0] ?? probe.error?.message ?? `exit ${probe.status}`;
    console.log(`      skipped: nobody (uid ${NOBODY.uid}) cannot run ptprof from this checkout (${why})`);
    ctx.skip();
  }
  fs.chmodSync(dir, 0o755);
  const sticky = path.join(dir, 'shared');
  fs.mkdirSync(sticky);
  fs.chmodSync(sticky, 0o1777);
  return sticky;
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** An environment without anything a surrounding ptprof run could have left. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('PTPROF_') && k !== 'PTPROF_TEST_STATS') delete env[k];
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

export interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs `node bin.js ...args` to completion. */
export function ptprof(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number }): Run {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? cleanEnv(),
    encoding: 'utf8',
    timeout: 60_000,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, pid: r.pid ?? 0 };
}

/**
 * Starts `node bin.js ...args`, waits until the program prints `ready` on stdout, sends `sig` to
 * the ptprof process (not to the program: ptprof must pass it on), and waits for the end.
 */
export function ptprofSignal(args: readonly string[], sig: NodeJS.Signals, opts: { cwd: string }): Promise<Run> {
  let sent = false;
  return ptprofAsync(args, {
    cwd: opts.cwd,
    onStdout: (out, pid) => {
      if (!sent && /^ready$/m.test(out)) {
        sent = true;
        process.kill(pid, sig);
      }
    },
  });
}

/**
 * Starts `node bin.js ...args` and resolves when it ends; `onStdout` sees the program's stdout as
 * it comes (to act while the program runs, e.g. when it prints "ready").
 */
export function ptprofAsync(args: readonly string[], opts: {
  cwd: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; onStdout?: (all: string, pid: number) => void;
  onStderr?: (all: string, pid: number) => void; timeoutMs?: number;
}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A process group of its own: a test that times out kills the command with ptprof (a program
    // stuck in a loop would otherwise outlive the test, spinning).
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      reject(new Error(`timed out; stdout: ${stdout} stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      opts.onStdout?.(stdout, child.pid!);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(stderr, child.pid!);
    });
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, pid: child.pid ?? 0 });
    });
  });
}

/** Control characters a terminal acts on (newline aside), and the invisible ones that reorder text. */
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/** Neither stdout nor stderr holds a raw control character. */
export function assertNoRawControl(r: { stdout: string; stderr: string }): void {
  for (const [name, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const m = RAW_CONTROL.exec(text);
    assert.ok(!m, `${name} holds a raw control character U+${m?.[0].charCodeAt(0).toString(16).padStart(4, '0')}: ${JSON.stringify(text.slice(0, 2000))}`);
  }
}

/** stderr is exactly one line, `ptprof: ...` matching `message`. */
export function assertOneLine(stderr: string, message: RegExp): void {
  const lines = stderr.split('\n');
  assert.equal(lines.length, 2, `one line on stderr: ${JSON.stringify(stderr)}`);
  assert.equal(lines[1], '');
  assert.match(lines[0], /^ptprof: /);
  assert.match(lines[0], message);
}

/** Whether this process may act as another user (root: spawn with uid/gid, chown). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** nobody, for tests that need a second user. */
export const NOBODY = { uid: 65534, gid: 65534 };

export function readProfile(file: string): Profile {
  return decodePprof(fs.readFileSync(file));
}

export function comments(p: Profile): string[] {
  return p.comment.map((i) => stringAt(p, i));
}

/** The facts the sampler and the agent wrote into the profile's comments. */
export function facts(p: Profile): Facts {
  return parseFacts(comments(p));
}

function valueIndex(p: Profile, type: string): number {
  return p.sampleType.findIndex((t) => stringAt(p, t.type) === type);
}

/** Total samples (signals) and CPU of a profile. */
export function totals(p: Profile): { samples: number; cpuNanos: number } {
  const si = valueIndex(p, 'samples');
  const ci = valueIndex(p, 'cpu');
  let samples = 0;
  let cpuNanos = 0;
  for (const s of p.sample) {
    samples += toNumber(s.value[si]);
    cpuNanos += toNumber(s.value[ci]);
  }
  return { samples, cpuNanos };
}

/** CPU per thread_name, and the part of it with a function named `fn` on the stack. */
export function cpuByThread(p: Profile, fn: string): Map<string, { total: number; inFn: number }> {
  const ci = valueIndex(p, 'cpu');
  const fnNames = new Map<string, string>();
  for (const f of p.function) fnNames.set(String(toNumber(f.id)), stringAt(p, f.name));
  const locHas = new Map<string, boolean>();
  for (const l of p.location) locHas.set(String(toNumber(l.id)), l.line.some((x) => fnNames.get(String(toNumber(x.functionId))) === fn));
  const out = new Map<string, { total: number; inFn: number }>();
  for (const s of p.sample) {
    const label = s.label.find((l) => stringAt(p, l.key) === 'thread_name');
    const thread = label ? stringAt(p, label.str) : '?';
    const v = toNumber(s.value[ci]);
    let e = out.get(thread);
    if (!e) out.set(thread, (e = { total: 0, inFn: 0 }));
    e.total += v;
    if (s.locationId.some((id) => locHas.get(String(toNumber(id))))) e.inFn += v;
  }
  return out;
}

/** Files in dir (sorted), hidden ones included. */
export function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** `go tool pprof ARGS` (Debian's golang-go), with a writable temporary directory, in `cwd` (default this process's). */
 
const tools = require('../../../../scripts/lib/optional-tools.js') as { requireGo(ctx?: Mocha.Context): string };

/** `go tool pprof ARGS`; without go the running test is skipped, saying what to install. */
export function goPprof(args: readonly string[], tmp: string, cwd?: string): string {
  const go = tools.requireGo();
  const r = spawnSync(go, ['tool', 'pprof', ...args], {
    encoding: 'utf8',
    ...(cwd !== undefined ? { cwd } : {}),
    env: { ...process.env, PPROF_TMPDIR: tmp, HOME: process.env.HOME ?? tmp },
    timeout: 60_000,
  });
  if (r.error) throw new Error(`go tool pprof: ${r.error.message} (install it: apt-get install -y golang-go)`);
  if (r.status !== 0) throw new Error(`go tool pprof ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
