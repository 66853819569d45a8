// Shared by the test files: temporary directories, fixtures, and the real pprof client.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameInput, ProfileInput, SampleInput } from '../src';

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ptprof-pw-${tag}-`));
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deterministic PRNG (mulberry32) so that a failing random profile can be reproduced. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A hand-made profile of three threads. Every number in it is distinct enough to be traced. */
export function handMadeProfile(): ProfileInput {
  const main: FrameInput = { name: 'main', file: '/app/index.js', line: 10, column: 1 };
  const fib: FrameInput = { name: 'fib', file: '/app/fib.js', line: 3, column: 13 };
  const hash: FrameInput = { name: 'hashChunk', file: '/app/worker.js', line: 42, column: 7 };
  return {
    periodNanos: 1e9 / 250, // 250 Hz
    startTimeNanos: 1_700_000_000_123_456_789n,
    durationNanos: 2_500_000_123,
    comments: ['rate=250Hz', 'mode=all', 'dropped=0', 'filtered=3', 'ptprof 0.1.0'],
    mappingFile: '/usr/local/bin/node',
    samples: [
      { frames: [fib, fib, main], count: 301, cpuNanos: 1_204_000_017, labels: { thread_id: 4242, thread_name: 'main' } },
      { frames: [main], count: 7, cpuNanos: 28_000_003, labels: { thread_id: 4242, thread_name: 'main' } },
      { frames: [hash, { name: 'onMessage', file: '/app/worker.js', line: 5 }], count: 123, cpuNanos: 492_000_011,
        labels: { thread_id: 4250, thread_name: 'worker 1' } },
      { frames: [{ name: '(garbage collector)' }], count: 5, cpuNanos: 20_000_000, labels: { thread_id: 4242, thread_name: 'main' } },
      { frames: [{ name: 'uv_work' }], count: 11, cpuNanos: 44_000_005, labels: { thread_id: 4261, thread_name: 'libuv-worker' } },
    ],
  };
}

/** A random profile: `rows` rows over `fns` functions in a few files, `threads` threads. */
export function randomProfile(seed: number, rows: number, fns = 25, threads = 4): ProfileInput {
  const rnd = prng(seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const frames: FrameInput[] = [];
  for (let i = 0; i < fns; i++) {
    frames.push({ name: `fn${i}`, file: `/src/mod${i % 5}.js`, line: 1 + i * 3, column: 1 + (i % 4) });
  }
  const samples: SampleInput[] = [];
  for (let r = 0; r < rows; r++) {
    const depth = 1 + pick(8);
    const stack: FrameInput[] = [];
    for (let d = 0; d < depth; d++) stack.push(frames[pick(fns)]!);
    const t = pick(threads);
    const count = 1 + pick(50);
    samples.push({
      frames: stack,
      count,
      cpuNanos: count * 10_000_000 + pick(1_000_000),
      labels: { thread_id: 1000 + t, thread_name: t === 0 ? 'main' : `worker ${t}` },
    });
  }
  return { samples, periodNanos: 10_000_000, durationNanos: 3e9, startTimeNanos: Date.now() * 1e6, comments: [`seed=${seed}`] };
}

/** Sums computed straight from the input (not through the package). */
export function inputTotals(input: ProfileInput): { count: number; cpu: number } {
  let count = 0;
  let cpu = 0;
  for (const s of input.samples) {
    count += s.count;
    cpu += s.cpuNanos;
  }
  return { count, cpu };
}

// ---- go tool pprof -------------------------------------------------------------------------------

/** `go` on PATH or at /usr/lib/go/bin/go; throws (the tests must FAIL, not skip) when neither exists. */
 
const tools = require('../../../../scripts/lib/optional-tools.js') as { requireGo(ctx?: Mocha.Context): string };

/** `go`; without it the running test (or the suite of the hook `ctx`) is skipped, saying why. */
export function findGo(ctx?: Mocha.Context): string {
  return tools.requireGo(ctx);
}

export interface PprofRun { stdout: string; ms: number }

/** Runs `go tool pprof -symbolize=none ARGS FILE` with a private HOME and PPROF_TMPDIR. */
export function goPprof(args: string[], file: string): PprofRun {
  const go = findGo();
  const home = tmpDir('gohome');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(go, ['tool', 'pprof', '-symbolize=none', ...args, file], {
      cwd: home,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        PPROF_TMPDIR: home,
        GOTOOLCHAIN: 'local',
        GOFLAGS: '',
        GOCACHE: path.join(home, 'gocache'),
        GOPATH: path.join(home, 'gopath'),
        TZ: 'UTC',
      },
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.error) throw r.error;
    if (r.status !== 0) {
      throw new Error(`go tool pprof ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
    }
    return { stdout: r.stdout, ms };
  } finally {
    rmDir(home);
  }
}

export interface RawSample { values: number[]; locations: number[]; labels: Map<string, string[]> }
export interface RawLocation { name: string; file: string; line: number }
export interface RawProfile {
  comments: string[];
  periodType: string;
  period: number;
  time: string;
  duration: string;
  sampleTypes: string[];
  samples: RawSample[];
  locations: Map<number, RawLocation[]>;
  mappings: string[];
}

/** Parses the text of `go tool pprof -raw` (the Go profile package's Profile.String()). */
export function parseRaw(text: string): RawProfile {
  const out: RawProfile = {
    comments: [], periodType: '', period: 0, time: '', duration: '', sampleTypes: [], samples: [],
    locations: new Map(), mappings: [],
  };
  const lines = text.split('\n');
  let section: 'head' | 'samples' | 'locations' | 'mappings' = 'head';
  let lastLoc: RawLocation[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    if (section === 'head') {
      let m: RegExpMatchArray | null;
      if ((m = line.match(/^Comment: (.*)$/))) out.comments.push(m[1]!);
      else if ((m = line.match(/^PeriodType: (.*)$/))) out.periodType = m[1]!;
      else if ((m = line.match(/^Period: (\d+)$/))) out.period = Number(m[1]);
      else if ((m = line.match(/^Time: (.*)$/))) out.time = m[1]!;
      else if ((m = line.match(/^Duration: (.*)$/))) out.duration = m[1]!;
      else if (line === 'Samples:') {
        out.sampleTypes = lines[++i]!.trim().split(/\s+/);
        section = 'samples';
      }
      continue;
    }
    if (line === 'Locations') { section = 'locations'; continue; }
    if (line === 'Mappings') { section = 'mappings'; continue; }
    if (section === 'samples') {
      const sm = line.match(/^\s*((?:\d+\s+)+)?(\d+): ?([\d ]*)$/);
      if (sm) {
        const values = `${sm[1] ?? ''} ${sm[2]}`.trim().split(/\s+/).map(Number);
        const locations = sm[3]!.trim() === '' ? [] : sm[3]!.trim().split(/\s+/).map(Number);
        out.samples.push({ values, locations, labels: new Map() });
        continue;
      }
      const lm = line.match(/^\s+([^:\s][^:]*):\[(.*)\]$/);
      if (lm && out.samples.length > 0) {
        out.samples[out.samples.length - 1]!.labels.set(lm[1]!, [lm[2]!]);
        continue;
      }
      throw new Error(`unparsed -raw sample line: ${JSON.stringify(line)}`);
    }
    if (section === 'locations') {
      // "     1: 0x0 M=1 fib /app/fib.js:3 s=3"; inlined lines continue on lines without an id.
      const lm = line.match(/^\s*(\d+): 0x[0-9a-f]+ M=\d+ (.*) (\S*?):(\d+)(?::\d+)?(?: s=\d+)?$/);
      if (lm) {
        lastLoc = [{ name: lm[2]!, file: lm[3]!, line: Number(lm[4]) }];
        out.locations.set(Number(lm[1]), lastLoc);
        continue;
      }
      const cm = line.match(/^\s+(.*) (\S*?):(\d+)(?::\d+)?(?: s=\d+)?$/);
      if (cm && lastLoc) {
        lastLoc.push({ name: cm[1]!, file: cm[2]!, line: Number(cm[3]) });
        continue;
      }
      throw new Error(`unparsed -raw location line: ${JSON.stringify(line)}`);
    }
    out.mappings.push(line);
  }
  return out;
}

export interface GoTopRow { flat: number; cum: number; name: string }

/** Parses the rows of `go tool pprof -top` run with -sample_index=samples, or with -unit=ns (integers). */
export function parseTop(text: string): GoTopRow[] {
  const rows: GoTopRow[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (/^\s+flat\s+flat%\s+sum%\s+cum\s+cum%\s*$/.test(line)) { inTable = true; continue; }
    if (!inTable || line.trim() === '') continue;
    const m = line.match(/^\s*(\d+)(?:ns)?\s+\S+%\s+\S+%\s+(\d+)(?:ns)?\s+\S+%\s{2}(.*)$/);
    if (!m) throw new Error(`unparsed -top line: ${JSON.stringify(line)}`);
    rows.push({ flat: Number(m[1]), cum: Number(m[2]), name: m[3]! });
  }
  return rows;
}

/** Parses `go tool pprof -tags`: tag key -> (value -> number). */
export function parseTags(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  let cur: Map<string, number> | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const h = line.match(/^ (\S.*): Total (.*)$/);
    if (h) {
      cur = new Map();
      out.set(h[1]!, cur);
      continue;
    }
    const v = line.match(/^\s+([\d.]+)\S*\s+\(\s*[\d.]+%\): (.*)$/);
    if (v && cur) {
      cur.set(v[2]!, Number(v[1]));
      continue;
    }
    throw new Error(`unparsed -tags line: ${JSON.stringify(line)}`);
  }
  return out;
}
