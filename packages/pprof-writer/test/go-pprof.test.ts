// The real client: `go tool pprof` (Debian's golang-go) reads what we write, and its numbers are
// the input's. Without go these tests are skipped, saying so (CI installs golang-go).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { writePprofFileSync, type ProfileInput } from '../src';
import {
  findGo, goPprof, handMadeProfile, inputTotals, parseRaw, parseTags, parseTop, randomProfile, rmDir, tmpDir,
} from './helpers';

/** Go's time.Time.String() in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
function goTime(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const iso = new Date(Number(secs) * 1000).toISOString(); // 2023-11-14T22:13:20.000Z
  const fracText = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fracText} +0000 UTC`;
}

/** Go's time.Duration.String() for 1s <= d < 1min: "2.500000123s". */
function goSeconds(ns: number): string {
  assert.ok(ns >= 1e9 && ns < 60e9);
  const s = Math.floor(ns / 1e9);
  const frac = ns % 1e9;
  return frac === 0 ? `${s}s` : `${s}.${String(frac).padStart(9, '0').replace(/0+$/, '')}s`;
}

/** Canonical text of a row as -raw shows it: values, frames (leaf first), labels sorted. */
function canon(values: number[], frames: { name: string; file: string; line: number }[], labels: [string, string][]): string {
  const l = [...labels].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return JSON.stringify([values, frames.map((f) => `${f.name}|${f.file}|${f.line}`), l]);
}

const timings: { args: string; ms: number }[] = [];
function pprof(args: string[], file: string): string {
  const r = goPprof(args, file);
  timings.push({ args: args.join(' '), ms: r.ms });
  return r.stdout;
}

describe('go tool pprof reads the profiles', () => {
  let dir: string;
  before(function () {
    findGo(this);
    dir = tmpDir('gopprof');
  });
  after(() => {
    if (dir) rmDir(dir);
    if (timings.length) {
      const ms = timings.map((t) => t.ms).sort((a, b) => a - b);
      console.log(`      go tool pprof: ${ms.length} calls, median ${ms[ms.length >> 1]!.toFixed(0)} ms, `
        + `max ${ms[ms.length - 1]!.toFixed(0)} ms per call`);
    }
  });

  function write(name: string, input: ProfileInput): string {
    const file = path.join(dir, name);
    writePprofFileSync(file, input);
    return file;
  }


  it('-raw shows every sample with its values, frames and labels, and the header fields', () => {
    const input = handMadeProfile();
    const raw = parseRaw(pprof(['-raw'], write('hand.pb.gz', input)));
    assert.deepEqual(raw.comments, input.comments);
    assert.equal(raw.periodType, 'cpu nanoseconds');
    assert.equal(raw.period, input.periodNanos);
    assert.equal(raw.time, goTime(input.startTimeNanos as bigint));
    // Go's Profile.String() prints the duration with "%.4v": the first 4 characters of Duration.String().
    assert.equal(raw.duration, goSeconds(input.durationNanos!).slice(0, 4));
    assert.deepEqual(raw.sampleTypes.map((t) => t.replace('[dflt]', '')), ['samples/count', 'cpu/nanoseconds']);
    assert.ok(raw.sampleTypes[1]!.endsWith('[dflt]'), 'cpu is the default sample type');
    assert.equal(raw.mappings.length, 1);
    assert.ok(raw.mappings[0]!.includes(input.mappingFile!), raw.mappings[0]);

    const got = raw.samples.map((s) => canon(
      s.values,
      s.locations.flatMap((id) => {
        const lines = raw.locations.get(id);
        assert.ok(lines, `location ${id} is listed`);
        return lines;
      }),
      [...s.labels].map(([k, v]) => [k, v[0]!]),
    ));
    const want = input.samples.map((s) => canon(
      [s.count, Math.round(s.cpuNanos)],
      s.frames.map((f) => ({ name: f.name, file: f.file ?? '', line: f.line ?? 0 })),
      Object.entries(s.labels ?? {}).map(([k, v]) => [k, String(v)]),
    ));
    assert.deepEqual([...got].sort(), [...want].sort());
  });

  it('-raw totals of a random 1000-row profile equal the input totals', () => {
    const input = randomProfile(31337, 1000);
    const raw = parseRaw(pprof(['-raw'], write('random.pb.gz', input)));
    const totals = inputTotals(input);
    assert.equal(raw.samples.reduce((a, s) => a + s.values[0]!, 0), totals.count);
    assert.equal(raw.samples.reduce((a, s) => a + s.values[1]!, 0), totals.cpu);
  });

  for (const [index, unitArgs] of [['samples', []], ['cpu', ['-unit=ns']]] as const) {
    it(`-top (${index}) lists every function with the input's flat and cum`, () => {
      const input = randomProfile(555, 600, 20, 3);
      const rows = parseTop(pprof(['-top', `-sample_index=${index}`, ...unitArgs, '-nodefraction=0', '-nodecount=100000'],
        write(`top-${index}.pb.gz`, input)));
      // go tool pprof groups by function name (the random profile's names are unique per function).
      const flat = new Map<string, number>();
      const cum = new Map<string, number>();
      for (const s of input.samples) {
        const v = index === 'samples' ? s.count : s.cpuNanos;
        flat.set(s.frames[0]!.name, (flat.get(s.frames[0]!.name) ?? 0) + v);
        for (const n of new Set(s.frames.map((f) => f.name))) cum.set(n, (cum.get(n) ?? 0) + v);
      }
      assert.deepEqual(rows.map((r) => r.name).sort(), [...cum.keys()].sort());
      for (const r of rows) {
        assert.equal(r.flat, flat.get(r.name) ?? 0, `flat of ${r.name}`);
        assert.equal(r.cum, cum.get(r.name), `cum of ${r.name}`);
      }
      const totals = inputTotals(input);
      assert.equal(rows.reduce((a, r) => a + r.flat, 0), index === 'samples' ? totals.count : totals.cpu);
    });
  }

  it('-top shows the hand-made function names, the synthetic frames included', () => {
    const input = handMadeProfile();
    input.samples.push({ frames: [], count: 2, cpuNanos: 8e6, labels: { thread_id: 4270, thread_name: 'V8 worker' } });
    const text = pprof(['-top', '-sample_index=samples', '-nodefraction=0'], write('names.pb.gz', input));
    const names = parseTop(text).map((r) => r.name);
    for (const n of ['fib', 'main', 'hashChunk', 'onMessage', '(garbage collector)', 'uv_work', '(no stack)']) {
      assert.ok(names.includes(n), `${n} in -top:\n${text}`);
    }
    for (const c of input.comments!) assert.ok(text.includes(c), `comment ${c} shown`);
  });

  it('-tags shows every thread_name and thread_id with the input\'s sample counts and cpu ns', () => {
    const input = randomProfile(8080, 500, 10, 4);
    input.samples.push({ frames: [], count: 3, cpuNanos: 30_000_000, labels: { thread_id: 2000, thread_name: 'libuv-worker' } });
    const file = write('tags.pb.gz', input);
    const counts = parseTags(pprof(['-tags', '-sample_index=samples'], file));
    const cpu = parseTags(pprof(['-tags', '-unit=ns'], file));
    const want = { name: new Map<string, [number, number]>(), id: new Map<string, [number, number]>() };
    for (const s of input.samples) {
      for (const [m, k] of [[want.name, String(s.labels!.thread_name)], [want.id, String(s.labels!.thread_id)]] as const) {
        const e = m.get(k) ?? [0, 0];
        m.set(k, [e[0] + s.count, e[1] + s.cpuNanos]);
      }
    }
    for (const [tag, m] of [['thread_name', want.name], ['thread_id', want.id]] as const) {
      assert.deepEqual([...counts.get(tag)!.keys()].sort(), [...m.keys()].sort(), `${tag} values`);
      // with -unit=ns, numeric tag values are shown with the unit too (4242ns)
      assert.deepEqual([...cpu.get(tag)!.keys()].map((k) => k.replace(/ns$/, '')).sort(), [...m.keys()].sort());
      for (const [k, [c, ns]] of m) {
        assert.equal(counts.get(tag)!.get(k), c, `${tag}=${k} samples`);
        const cpuKey = cpu.get(tag)!.has(k) ? k : `${k}ns`;
        assert.equal(cpu.get(tag)!.get(cpuKey), ns, `${tag}=${k} cpu ns`);
      }
    }
  });

  it('reads names with spaces, semicolons, unicode and a profile with no samples', () => {
    const evil: ProfileInput = { periodNanos: 1e6, samples: [
      { frames: [{ name: 'a;b c', file: '/x_y/ü.js', line: 1 }, { name: 'Klass.<computed> [as ƒ]' }], count: 2, cpuNanos: 2e6,
        labels: { thread_name: 'wörker #1' } },
    ] };
    const raw = parseRaw(pprof(['-raw'], write('evil.pb.gz', evil)));
    assert.equal(raw.samples.length, 1);
    const names = raw.samples[0]!.locations.map((id) => raw.locations.get(id)![0]!.name);
    assert.deepEqual(names, ['a;b c', 'Klass.<computed> [as ƒ]']);
    assert.deepEqual(raw.samples[0]!.labels.get('thread_name'), ['wörker #1']);

    const empty = write('empty.pb.gz', { periodNanos: 1e7, samples: [], comments: ['empty'] });
    const eraw = parseRaw(pprof(['-raw'], empty));
    assert.equal(eraw.samples.length, 0);
    assert.deepEqual(eraw.comments, ['empty']);
  });

  it('-traces shows inlined frames as "(inline)" under their location, -raw keeps each line and start line', () => {
    const input: ProfileInput = { periodNanos: 1e6, samples: [{ frames: [
      { name: 'leaf', file: '/a.js', line: 3, startLine: 1, inlined: true },
      { name: 'mid', file: '/b.js', line: 12, startLine: 10, inlined: true },
      { name: 'outer', file: '/a.js', line: 22, startLine: 20 },
      { name: 'main', file: '/a.js', line: 40, startLine: 30, systemName: 'main2' },
    ], count: 3, cpuNanos: 3e6 }] };
    const file = write('inlined.pb.gz', input);
    const traces = pprof(['-traces'], file).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('-'));
    const at = traces.findIndex((l) => l.endsWith('leaf (inline)'));
    assert.ok(at >= 0, traces.join('\n'));
    assert.deepEqual(traces.slice(at + 1, at + 4), ['mid (inline)', 'outer', 'main']);
    const raw = pprof(['-raw'], file);
    assert.match(raw, /leaf \/a\.js:3 s=1\n\s+mid \/b\.js:12 s=10\n\s+outer \/a\.js:22 s=20/);
    assert.match(raw, /main \/a\.js:40 s=30\(main2\)/);
  });
});
