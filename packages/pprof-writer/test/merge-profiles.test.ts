// mergeProfiles: the processes of a run, or runs of several machines, as one profile whose
// samples keep their labels and gain their process's; the facts list every process with its
// numbers; pprof and folded inputs read back through fromPprof and fromFolded.
import assert from 'node:assert/strict';
import {
  decodePprof, encodePprof, fromFolded, fromPprof, mergeProfiles, parseFacts, parseFolded, readProcesses, stringAt, toFolded, toNumber,
  toPprof, treeRootFrames, type MergeInput, type ProfileInput,
} from '../src';

const hot = { name: 'hot', file: '/app/a.js', line: 3 };
const main = { name: 'main', file: '/app/a.js', line: 1 };

/** A one-process profile as ptprof's agent writes it: thread labels, and the process's facts. */
function processProfile(pid: number, cmd: string, cpu: number, osCpu: number, extra: Record<string, number> = {}): ProfileInput {
  return {
    periodNanos: 1e7,
    startTimeNanos: 1_700_000_000_000_000_000n + BigInt(pid) * 1_000_000n,
    durationNanos: 1e9,
    facts: { ptprof: '0.1.0', pid, ppid: 1, process: 'descendant', end: 'exit(0)', hz: 100, mode: 'all', kept: cpu / 1e7, ...extra,
      process_cpu_nanos: osCpu, process_name: cmd, cmd: `/usr/bin/${cmd}` },
    samples: [
      { frames: [hot, main], count: cpu / 1e7 - 1, cpuNanos: cpu - 1e7, labels: { thread_id: pid, thread_name: 'main', thread_kind: 'js' } },
      { frames: [main], count: 1, cpuNanos: 1e7, labels: { thread_id: pid + 1, thread_name: 'node', thread_kind: 'native' } },
    ],
  };
}

function roundTrip(p: ProfileInput): ReturnType<typeof decodePprof> {
  return decodePprof(encodePprof(p));
}

function labelsOf(p: ReturnType<typeof decodePprof>): Record<string, string | number>[] {
  return p.sample.map((s) => Object.fromEntries(s.label.map((l) => [stringAt(p, l.key), toNumber(l.str) ? stringAt(p, l.str) : toNumber(l.num)])));
}

function cpuTotal(p: ReturnType<typeof decodePprof>): number {
  return p.sample.reduce((a, s) => a + toNumber(s.value[1]), 0);
}

describe('mergeProfiles', () => {
  it('two processes: samples gain pid and process, the facts list each with its own OS CPU and ratio, totals add up', () => {
    const a = processProfile(100, 'node a.js', 50e7, 52e7);
    const b = processProfile(200, 'node b.js', 30e7, 30e7, { 'dropped.ring': 2 });
    const r = mergeProfiles([{ name: 'a.pb.gz', profile: a }, { name: 'b.pb.gz', profile: b }],
      { facts: { ptprof: '0.1.0' }, sum: ['kept', 'dropped.ring'], same: ['hz', 'mode', 'end'] });
    assert.equal(r.collided, false);
    const p = roundTrip(r.profile);
    assert.equal(cpuTotal(p), 80e7);
    const labels = labelsOf(p);
    assert.ok(labels.every((l) => (l.pid === 100 && l.process === 'node a.js') || (l.pid === 200 && l.process === 'node b.js')), JSON.stringify(labels));
    assert.ok(labels.every((l) => typeof l.thread_name === 'string' && l.profile === undefined));
    const facts = parseFacts(p.comment.map((i) => stringAt(p, i)));
    assert.equal(facts.processes, 2);
    assert.equal(facts.process_cpu_nanos, 82e7);
    assert.equal(facts.kept, 80);
    assert.equal(facts['dropped.ring'], 2);
    assert.equal(facts.hz, 100);
    assert.equal(facts.end, 'exit(0)');
    assert.equal(facts.incomplete, undefined);
    const procs = readProcesses(facts);
    assert.deepEqual(procs.map((x) => [x.pid, x.name, x.facts.process_cpu_nanos, x.facts.profiled_nanos, x.facts.ratio, x.facts.cmd]), [
      [100, 'node a.js', 52e7, 50e7, 0.962, '/usr/bin/node a.js'],
      [200, 'node b.js', 30e7, 30e7, 1, '/usr/bin/node b.js'],
    ]);
    // The span: from the first start to the last end.
    assert.equal(BigInt(p.timeNanos), 1_700_000_000_000_000_000n + 100_000_000n);
    assert.equal(toNumber(p.durationNanos), 1e9 + 100e6);
  });

  it('a process without a sample (it burned less than a period) is listed with 0 profiled and ratio 0', () => {
    const a = processProfile(100, 'node a.js', 50e7, 52e7);
    const idle = { ...processProfile(200, 'node idle.js', 2e7, 4e6), samples: [] };
    const procs = readProcesses(mergeProfiles([{ name: 'a.pb.gz', profile: a }, { name: 'idle.pb.gz', profile: idle }]).profile.facts!);
    assert.deepEqual(procs.map((x) => [x.pid, x.facts.process_cpu_nanos, x.facts.profiled_nanos, x.facts.ratio]), [
      [100, 52e7, 50e7, 0.962],
      [200, 4e6, 0, 0],
    ]);
  });

  it('the same pid in two inputs (two machines): every sample gets the profile label, each process its input', () => {
    const a = processProfile(100, 'node a.js', 20e7, 20e7);
    const b = processProfile(100, 'node a.js', 40e7, 40e7);
    const r = mergeProfiles([{ name: 'm1.pb.gz', profile: a }, { name: 'm2.pb.gz', profile: b }]);
    assert.equal(r.collided, true);
    const p = roundTrip(r.profile);
    const byProfile = new Map<string, number>();
    p.sample.forEach((s, i) => {
      const prof = String(labelsOf(p)[i]!.profile);
      byProfile.set(prof, (byProfile.get(prof) ?? 0) + toNumber(s.value[1]));
    });
    assert.deepEqual([...byProfile].sort(), [['m1.pb.gz', 20e7], ['m2.pb.gz', 40e7]]);
    const procs = readProcesses(parseFacts(p.comment.map((i) => stringAt(p, i))));
    assert.deepEqual(procs.map((x) => [x.pid, x.profile, x.facts.profiled_nanos]), [[100, 'm1.pb.gz', 20e7], [100, 'm2.pb.gz', 40e7]]);
  });

  it('a merged profile merged again keeps its processes (a tree and one more process: three)', () => {
    const tree = mergeProfiles([{ name: 'a', profile: processProfile(100, 'npm test', 10e7, 11e7) },
      { name: 'b', profile: processProfile(101, 'node t.js', 20e7, 20e7) }]).profile;
    const again = fromPprof(roundTrip(tree));
    const r = mergeProfiles([{ name: 'tree.pb.gz', profile: again.profile }, { name: 'c.pb.gz', profile: processProfile(300, 'node c.js', 30e7, 30e7) }]);
    assert.equal(r.collided, false);
    assert.deepEqual(r.processes.map((x) => [x.pid, x.name, x.facts.profiled_nanos]), [[100, 'npm test', 10e7], [101, 'node t.js', 20e7], [300, 'node c.js', 30e7]]);
    const p = roundTrip(r.profile);
    assert.equal(cpuTotal(p), 60e7);
    assert.equal(parseFacts(p.comment.map((i) => stringAt(p, i))).process_cpu_nanos, 61e7);
  });

  it('groups of facts are combined: numbers added, strings joined, booleans kept when all agree', () => {
    const a = processProfile(1, 'a', 1e7, 1e7);
    const b = processProfile(2, 'b', 1e7, 1e7);
    a.facts = { ...a.facts, 'source_maps.mapped_frames': 3, 'source_maps.failed.missing.detail': 'x.js (ENOENT)', 'source_maps.enabled': false, 'other.n': 1 };
    b.facts = { ...b.facts, 'source_maps.mapped_frames': 4, 'source_maps.failed.missing.detail': 'y.js (ENOENT)', 'source_maps.enabled': true };
    const facts = mergeProfiles([{ name: 'a', profile: a }, { name: 'b', profile: b }], { groups: ['source_maps.'] }).profile.facts!;
    assert.equal(facts['source_maps.mapped_frames'], 7);
    assert.equal(facts['source_maps.failed.missing.detail'], 'x.js (ENOENT); y.js (ENOENT)');
    assert.equal(facts['source_maps.enabled'], undefined);
    assert.equal(facts['other.n'], undefined);
  });

  it('a process that ended without its final part is counted as incomplete', () => {
    const a = processProfile(100, 'node a.js', 10e7, 10e7);
    const b = processProfile(200, 'node b.js', 10e7, 10e7);
    b.facts = { ...b.facts, complete: false, end: 'lost' };
    const facts = mergeProfiles([{ name: 'a', profile: a }, { name: 'b', profile: b }]).profile.facts!;
    assert.equal(facts.incomplete, 1);
    assert.equal(facts['proc.2.complete'], false);
    assert.equal(facts['proc.2.end'], 'lost');
    assert.equal(facts['proc.1.complete'], undefined);
  });

  it('refuses inputs of CPU time with inputs of counts, and two inputs with one name', () => {
    const folded = fromFolded(parseFolded('a;b 3\n'));
    assert.equal(folded.values, 'samples');
    assert.throws(() => mergeProfiles([{ name: 'x', profile: processProfile(1, 'a', 1e7, 1e7) }, { name: 'y.folded', ...folded }]),
      /y\.folded holds sample counts and the others CPU time/);
    assert.throws(() => mergeProfiles([{ name: 'x', profile: processProfile(1, 'a', 1e7, 1e7) }, { name: 'x', profile: processProfile(2, 'b', 1e7, 1e7) }]),
      /two inputs are named "x"/);
  });

  it('inputs without pids (another profiler\'s, folded stacks) are told apart by the profile label', () => {
    const f1 = fromFolded(parseFolded('[main];a;b 5000000\n'));
    const f2 = fromFolded(parseFolded('[main];a;c 7000000\n'));
    const r = mergeProfiles([{ name: 'one.folded', ...f1 }, { name: 'two.folded', ...f2 }]);
    assert.equal(r.collided, true);
    const text = toFolded(r.profile, { value: 'cpu', rootLabel: 'profile' });
    assert.equal(text, '[one.folded];a;b 5000000\n[two.folded];a;c 7000000\n');
  });
});

describe('fromPprof and fromFolded', () => {
  it('a pprof read back is the same profile: frames (inlined, system names, columns), labels, facts, comments', () => {
    const input: ProfileInput = {
      periodNanos: 4e6,
      startTimeNanos: 1_700_000_000_123_456_789n,
      durationNanos: 2e9,
      facts: { hz: 250, cmd: 'node x.js' },
      comments: ['free text'],
      mappingFile: '/usr/bin/node',
      samples: [
        { frames: [{ name: 'inner', file: '/a.ts', line: 5, column: 3, inlined: true }, { name: 'outer', file: '/a.ts', line: 9, startLine: 8, systemName: 'outer2' }],
          count: 3, cpuNanos: 12e6, labels: { thread_id: 7, thread_name: 'main' } },
        { frames: [], count: 1, cpuNanos: 4e6, labels: { thread_name: 'libuv-worker' } },
      ],
    };
    const back = fromPprof(toPprof(input));
    assert.equal(back.values, 'cpu');
    assert.deepEqual(back.profile.samples[0]!.frames, input.samples[0]!.frames);
    assert.deepEqual(back.profile.samples[0]!.labels, { thread_id: 7, thread_name: 'main' });
    assert.deepEqual(back.profile.samples[1]!.frames, [{ name: '(no stack)' }]);
    assert.deepEqual(back.profile.facts, { hz: 250, cmd: 'node x.js' });
    assert.deepEqual(back.profile.comments, ['free text']);
    assert.equal(back.profile.startTimeNanos, input.startTimeNanos);
    // Written again, it is byte for byte the same profile.
    assert.deepEqual(Buffer.from(toPprof(back.profile).encode()), Buffer.from(toPprof(input).encode()));
  });

  it('folded stacks of a merged profile: [process (pid N)];[thread] roots, read back as labels', () => {
    const r = mergeProfiles([{ name: 'a', profile: processProfile(100, 'node a.js', 5e7, 5e7) }, { name: 'b', profile: processProfile(200, 'npm test', 2e7, 2e7) }]);
    const text = toFolded(r.profile, { value: 'cpu', rootFrames: treeRootFrames });
    assert.match(text, /^\[node a\.js \(pid 100\)\];\[main\];main \(\/app\/a\.js:1\);hot \(\/app\/a\.js:3\) 40000000$/m);
    assert.match(text, /^\[npm test \(pid 200\)\];\[node\];main \(\/app\/a\.js:1\) 10000000$/m);
    const back = fromFolded(parseFolded(text));
    const labels = new Set(back.profile.samples.map((s) => JSON.stringify(s.labels)));
    assert.deepEqual([...labels].sort(), [
      { thread_name: 'main', process: 'node a.js', pid: 100 }, { thread_name: 'main', process: 'npm test', pid: 200 },
      { thread_name: 'node', process: 'node a.js', pid: 100 }, { thread_name: 'node', process: 'npm test', pid: 200 },
    ].map((l) => JSON.stringify(l)).sort());
    // Merged with another folded file of another run: no pid in common, no profile label needed.
    const other = fromFolded(parseFolded('[node c.js (pid 300)];[main];c 9000000\n'));
    const m = mergeProfiles([{ name: 'x.folded', ...back }, { name: 'y.folded', ...other }]);
    assert.equal(m.collided, false);
    assert.deepEqual(m.processes.map((p) => p.pid), [100, 200, 300]);
  });

  it('refuses a pprof without CPU or sample values', () => {
    const p = toPprof(processProfile(1, 'a', 1e7, 1e7));
    p.sampleType = [p.sampleType[0]!];
    p.sampleType[0]!.type = p.stringTable.dedup('alloc_space');
    for (const s of p.sample) s.value = [s.value[0]!];
    assert.throws(() => fromPprof(p), /neither a 'cpu' nor a 'samples' sample type/);
  });

  it('readProcesses ignores entries past `processes` and a profile that lists none', () => {
    assert.deepEqual(readProcesses({ 'proc.1.pid': 5 }), []);
    assert.deepEqual(readProcesses({ processes: 1, 'proc.1.pid': 5, 'proc.2.pid': 6, 'proc.x.pid': 7 }).map((p) => p.pid), [5]);
  });
});

// The inputs as the CLI builds them: kept here so that the type stays exported.
export type { MergeInput };
