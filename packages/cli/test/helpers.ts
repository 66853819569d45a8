// Shared by the CLI's test files: the real binary, temporary directories, fixtures, profile readers.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodePprof, stringAt, toNumber, type Profile } from '@ptprof/pprof-writer';

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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; stdout: ${stdout} stderr: ${stderr}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!sent && /^ready$/m.test(stdout)) {
        sent = true;
        process.kill(child.pid!, sig);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, pid: child.pid ?? 0 });
    });
  });
}

export function readProfile(file: string): Profile {
  return decodePprof(fs.readFileSync(file));
}

export function comments(p: Profile): string[] {
  return p.comment.map((i) => stringAt(p, i));
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
export function goPprof(args: readonly string[], tmp: string, cwd?: string): string {
  const go = fs.existsSync('/usr/lib/go/bin/go') ? '/usr/lib/go/bin/go' : 'go';
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
