// Reading profiles into the view: ptprof's pprof, other producers' pprof (the value type they
// default to, labels or none, inlined frames, addresses), folded stacks, several files.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { encodePprof, mergeProfiles, ProfileReadError, toFolded, toPprof, treeRootFrames, writePprofFileSync, Profile } from '@ptprof/pprof-writer';
import { Function as PFunction, Label, Line, Location, Mapping, Sample, StringTable, ValueType } from 'pprof-format';
import { outputFiles, ProfileFileError, readProfiles, selections, threadKind, threadOrder, toSpeedscope, valueIndex, viewOfPprof, type ViewProfile } from '../src';
import { ptprofLike } from './fixtures';
import { scratch, truth } from './helpers';

function threadsOf(v: ViewProfile): Record<string, { kind: string; total: number }> {
  return Object.fromEntries(v.threads.map((t) => [`${t.name}/${t.tid}`, { kind: t.kind, total: t.total }]));
}

describe('reading profiles into the view', () => {
  it("ptprof's pprof: threads by label, their kinds and totals, frames root first, the process's facts", () => {
    const s = scratch('read');
    try {
      fs.writeFileSync(s.file('a.pb.gz'), encodePprof(ptprofLike()));
      const v = readProfiles([s.file('a.pb.gz')]);
      assert.equal(v.unit, 'nanoseconds');
      assert.equal(v.sampleType, 'cpu');
      assert.deepEqual(threadsOf(v), {
        'main/4242': { kind: 'main', total: 700_000_000 },
        'worker 1/4250': { kind: 'worker', total: 800_000_000 },
        'node/4261': { kind: 'pool', total: 200_000_000 },
        'node/4262': { kind: 'pool', total: 100_000_000 },
        'node/4244': { kind: 'v8', total: 100_000_000 },
      });
      const fibStack = v.stacks.find((x) => x.value === 600_000_000)!;
      assert.deepEqual(fibStack.frames.map((f) => v.frames[f]!.name), ['main', 'fib', 'fib']);
      assert.deepEqual(v.frames[fibStack.frames[1]!], { name: 'fib', file: '/app/fib.js', line: 3 });
      const p = v.processes[0]!;
      assert.equal(p.pid, 4242);
      assert.equal(p.command, 'node /app/index.js');
      assert.equal(p.hz, 100);
      assert.equal(p.mode, 'all');
      assert.equal(p.osCpuNanos, 2_000_000_000);
      assert.equal(p.samples, 190);
      assert.equal(p.durationNanos, 2_000_000_000);
      assert.equal(p.sampleType, 'cpu (nanoseconds)');
    } finally {
      s.remove();
    }
  });

  it('threads by name: libuv-worker is the pool, node-V8Worker V8, main and worker N are JS; `node` by its frames', () => {
    assert.equal(threadKind('main'), 'main');
    assert.equal(threadKind('worker 12'), 'worker');
    assert.equal(threadKind('libuv-worker'), 'pool');
    assert.equal(threadKind('node-V8Worker'), 'v8');
    assert.equal(threadKind('V8 DefaultWorke'), 'v8');
    assert.equal(threadKind('node', 0.9), 'v8');
    assert.equal(threadKind('node', 0.1), 'pool');
    assert.equal(threadKind('node'), 'other');
    assert.equal(threadKind('ptprof-collect'), 'other');
    assert.equal(threadKind('workers'), 'other');
  });

  it("thread_kind wins over the name where the profile has it; without it, the name decides", () => {
    const withKinds = ptprofLike();
    // A JS thread whatever its name, and a native thread that happens to be named like a worker.
    withKinds.samples[2]!.labels = { thread_id: 4250, thread_name: 'renderer', thread_kind: 'js' };
    withKinds.samples[3]!.labels = { thread_id: 4261, thread_name: 'worker 9', thread_kind: 'native' };
    const k = (v: ViewProfile): Record<string, string> => Object.fromEntries(v.threads.map((t) => [`${t.name}/${t.tid}`, t.kind]));
    assert.deepEqual(k(viewOfPprof(toPprof(withKinds), 'x')), {
      'main/4242': 'main', 'renderer/4250': 'worker', 'worker 9/4261': 'other', 'node/4262': 'pool', 'node/4244': 'v8',
    });
    // The same profile without the label (older ptprof, other producers): the names alone.
    for (const smp of withKinds.samples) delete (smp.labels as Record<string, unknown>).thread_kind;
    assert.deepEqual(k(viewOfPprof(toPprof(withKinds), 'x')), {
      'main/4242': 'main', 'renderer/4250': 'other', 'worker 9/4261': 'worker', 'node/4262': 'pool', 'node/4244': 'v8',
    });
    assert.equal(threadKind('main', undefined, false), 'other');
    assert.equal(threadKind('libuv-worker', undefined, false), 'pool');
  });

  it("facts come from parseFacts: key=value comments; free text that looks like one is not read", () => {
    const p = toPprof({ ...ptprofLike(), facts: undefined, comments: ['cmd=node -e 1', 'pid: 17', 'rate=100Hz'] });
    const v = viewOfPprof(p, 'x').processes[0]!;
    assert.equal(v.command, undefined); // 'node -e 1' unquoted is not a facts line
    assert.equal(v.pid, undefined);
    assert.equal(v.hz, 100); // from the period (10 ms), not from 'rate=100Hz'
    assert.deepEqual(v.comments, ['cmd=node -e 1', 'pid: 17', 'rate=100Hz']);
    const q = viewOfPprof(toPprof({ ...ptprofLike(), facts: { cmd: 'node -e 1', pid: 17, hz: 250, mode: 'js', process_cpu_nanos: 5 } }), 'x').processes[0]!;
    assert.deepEqual([q.command, q.pid, q.hz, q.mode, q.osCpuNanos], ['node -e 1', 17, 250, 'js', 5]);
  });

  it('picks default_sample_type when it names a type, else the last type (as pprof does)', () => {
    const p = toPprof(ptprofLike()); // [samples, cpu], default cpu
    assert.equal(valueIndex(p), 1);
    p.defaultSampleType = p.stringTable.dedup('samples');
    assert.equal(valueIndex(p), 0);
    const bySamples = viewOfPprof(p, 'x');
    assert.equal(bySamples.unit, 'count');
    assert.equal(bySamples.threads.find((t) => t.name === 'main')!.total, 70);
    p.defaultSampleType = 0; // unset: the last
    assert.equal(valueIndex(p), 1);
    p.defaultSampleType = p.stringTable.dedup('no such type');
    assert.equal(valueIndex(p), 1);
  });

  it("another producer's pprof: no labels, inlined frames, an address without a function, bytes", () => {
    // What Go's heap profile looks like: four types, no default, the last (inuse_space) in bytes.
    const st = new StringTable();
    const s = (x: string): number => st.dedup(x);
    const types = ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space'].map((t, i) => new ValueType({ type: s(t), unit: s(i % 2 ? 'bytes' : 'count') }));
    const fn = (id: number, name: string): PFunction => new PFunction({ id, name: s(name), systemName: s(name), filename: s('/go/src/app/main.go'), startLine: 10 * id });
    const p = new Profile({
      sampleType: types,
      mapping: [new Mapping({ id: 1, filename: s('/usr/local/bin/app') })],
      function: [fn(1, 'main.main'), fn(2, 'main.alloc'), fn(3, 'main.inlined')],
      location: [
        new Location({ id: 1, mappingId: 1, line: [new Line({ functionId: 1, line: 12 })] }),
        // main.inlined was inlined into main.alloc: one location, two lines, the inlined one first.
        new Location({ id: 2, mappingId: 1, line: [new Line({ functionId: 3, line: 31 }), new Line({ functionId: 2, line: 22 })] }),
        new Location({ id: 3, mappingId: 1, address: 0x4a3b2c, line: [] }),
      ],
      sample: [
        new Sample({ locationId: [2, 1], value: [1, 100, 1, 4096], label: [new Label({ key: s('bytes'), num: 4096 })] }),
        new Sample({ locationId: [3, 1], value: [1, 50, 1, 1024] }),
        new Sample({ locationId: [1], value: [1, 10, 0, 0] }),
      ],
      stringTable: st,
    });
    const v = viewOfPprof(p, 'heap.pb.gz');
    assert.equal(v.unit, 'bytes');
    assert.equal(v.sampleType, 'inuse_space');
    assert.equal(v.threads.length, 1);
    assert.equal(v.threads[0]!.name, 'all samples');
    assert.equal(v.threads[0]!.total, 5120);
    const names = v.stacks.map((x) => x.frames.map((f) => v.frames[f]!.name).join(';')).sort();
    assert.deepEqual(names, ['main.main;0x4a3b2c', 'main.main;main.alloc;main.inlined']);
    const addr = v.frames.find((f) => f.name === '0x4a3b2c')!;
    assert.equal(addr.file, '/usr/local/bin/app');
    assert.equal(v.frames.find((f) => f.name === 'main.alloc')!.line, 20);
    assert.equal(v.processes[0]!.hz, undefined);
  });

  it("labels written 'thread id' / 'thread name' (with a space) are threads too", () => {
    const st = new StringTable();
    const s = (x: string): number => st.dedup(x);
    const p = new Profile({
      sampleType: [new ValueType({ type: s('cpu'), unit: s('nanoseconds') })],
      function: [new PFunction({ id: 1, name: s('f') })],
      location: [new Location({ id: 1, line: [new Line({ functionId: 1 })] })],
      sample: [
        new Sample({ locationId: [1], value: [5], label: [new Label({ key: s('thread name'), str: s('Main Event Loop') }), new Label({ key: s('thread id'), str: s('77') })] }),
        new Sample({ locationId: [1], value: [7], label: [new Label({ key: s('thread id'), num: 78 })] }),
      ],
      stringTable: st,
    });
    const v = viewOfPprof(p, 'x');
    assert.deepEqual(v.threads.map((t) => [t.name, t.tid, t.total]), [['Main Event Loop', 77, 5], ['thread 78', 78, 7]]);
  });

  it('folded stacks: [thread] roots are threads, ns or counts; several files are several processes', () => {
    const s = scratch('folded');
    try {
      fs.writeFileSync(s.file('a.folded'), toFolded(ptprofLike(), { value: 'cpu', rootLabel: 'thread_name' }));
      fs.writeFileSync(s.file('b.folded'), 'a;b 3\na;c 2\n');
      const v = readProfiles([s.file('a.folded')]);
      assert.equal(v.unit, 'nanoseconds');
      // Folded stacks carry no tid: the three `node` threads are one.
      assert.deepEqual(threadsOf(v), {
        'main/undefined': { kind: 'main', total: 700_000_000 },
        'worker 1/undefined': { kind: 'worker', total: 800_000_000 },
        'node/undefined': { kind: 'pool', total: 400_000_000 },
      });
      assert.equal(truth(v).total, 1_900_000_000);
      const counts = readProfiles([s.file('b.folded')]);
      assert.equal(counts.unit, 'count');
      assert.deepEqual(counts.threads.map((t) => [t.name, t.total]), [['all samples', 5]]);
      assert.throws(() => readProfiles([s.file('a.folded'), s.file('b.folded')]), /holds count values, the files before it nanoseconds/);

      fs.writeFileSync(s.file('c.pb.gz'), encodePprof({ ...ptprofLike(), facts: { ptprof: '0.1.0', pid: 5000, ppid: 4242, process: 'descendant', end: 'exit(0)', cmd: 'node child.js' } }));
      fs.writeFileSync(s.file('a.pb.gz'), encodePprof(ptprofLike()));
      const two = readProfiles([s.file('a.pb.gz'), s.file('c.pb.gz')]);
      assert.deepEqual(two.processes.map((p) => [p.pid, p.command]), [[4242, 'node /app/index.js'], [5000, 'node child.js']]);
      assert.equal(two.threads.length, 10);
      assert.equal(two.threads.filter((t) => t.process === 1).length, 5);
    } finally {
      s.remove();
    }
  });

  it("a merged profile (a process tree): each pid is a process, with its command and OS CPU; pprof and folded alike", () => {
    const child = { ...ptprofLike(), facts: { ...ptprofLike().facts, pid: 5000, ppid: 4242, process_cpu_nanos: 1_000_000_000, cmd: 'node child.js', process_name: 'node child.js' } };
    const merged = mergeProfiles([{ name: 'a', profile: ptprofLike() }, { name: 'b', profile: child }]).profile;
    const v = viewOfPprof(toPprof(merged), '/tmp/tree.pb.gz');
    assert.deepEqual(v.processes.map((p) => [p.pid, p.command, p.osCpuNanos, p.samples]), [
      [4242, 'node /app/index.js', 2_000_000_000, 190], [5000, 'node child.js', 1_000_000_000, 190]]);
    assert.equal(v.threads.length, 10);
    assert.deepEqual(v.threads.filter((t) => t.process === 1).map((t) => t.name).sort(), ['main', 'node', 'node', 'node', 'worker 1']);
    // The thread selector groups them by process, as for several files.
    const labels = selections(v, threadOrder(v)).map((x) => x.label);
    assert.ok(labels.includes('all threads of pid 4242') && labels.includes('all threads of pid 5000'), labels.join(' | '));
    assert.deepEqual(toSpeedscope(v).profiles.slice(0, 2).map((p) => p.name), ['pid 4242 main', 'pid 4242 worker 1']);
    // .cpuprofile: the first process's main thread keeps the name asked for.
    assert.deepEqual(outputFiles(v, 'cpuprofile', '/d/o.cpuprofile').map((f) => f.file),
      ['/d/o.cpuprofile', '/d/o.pid-4242-worker-1.cpuprofile', '/d/o.pid-5000-main.cpuprofile', '/d/o.pid-5000-worker-1.cpuprofile']);
    // Converted to folded stacks, each line begins with its process.
    const folded = outputFiles(v, 'folded', '/d/o.folded')[0]!.data;
    assert.match(folded, /^\[node child\.js \(pid 5000\)\];\[worker 1\];onMessage \(\/app\/worker\.js:5\);hashChunk \(\/app\/worker\.js:42\) 800000000$/m);
    assert.ok(folded.split('\n').filter(Boolean).every((l) => /^\[[^\]]+ \(pid (4242|5000)\)\];\[/.test(l)), folded);
    // Folded stacks with [process (pid N)];[thread] roots: the same processes and threads.
    const s = scratch('merged');
    try {
      fs.writeFileSync(s.file('tree.folded'), toFolded(merged, { value: 'cpu', rootFrames: treeRootFrames }));
      const f = readProfiles([s.file('tree.folded')]);
      assert.deepEqual(f.processes.map((p) => [p.pid, p.command]), [[4242, 'node /app/index.js'], [5000, 'node child.js']]);
      assert.deepEqual(f.threads.map((t) => `${t.process}:${t.name}`).sort(), ['0:main', '0:node', '0:worker 1', '1:main', '1:node', '1:worker 1']);
    } finally {
      s.remove();
    }
  });

  it('says which file is wrong and why: neither pprof nor folded, a corrupt gzip, missing', () => {
    const s = scratch('bad');
    try {
      fs.writeFileSync(s.file('a.folded'), 'a;b 3\n');
      fs.writeFileSync(s.file('x.txt'), 'hello world\n');
      const bad = (files: string[]): ProfileFileError => {
        try {
          readProfiles(files);
        } catch (e) {
          assert.ok(e instanceof ProfileFileError, String(e));
          return e;
        }
        assert.fail('read');
      };
      const x = bad([s.file('a.folded'), s.file('x.txt')]);
      assert.equal(x.file, s.file('x.txt'));
      assert.ok(x.cause instanceof ProfileReadError);
      assert.equal(x.cause.code, 'not-profile');
      assert.match(x.message, /x\.txt: is not folded stacks: line 1 is "hello world"/);
      fs.writeFileSync(s.file('y.pb'), Buffer.from([0x1f, 0x8b, 0x00, 0x01])); // gzip's magic, then nonsense
      assert.equal((bad([s.file('y.pb')]).cause as ProfileReadError).code, 'bad-gzip');
      assert.equal((bad([s.file('none.pb.gz')]).cause as NodeJS.ErrnoException).code, 'ENOENT');
      assert.throws(() => readProfiles([]), /no profile files/);
    } finally {
      s.remove();
    }
  });

  it('reads through readProfileFile: devices and pipes only when allowed, the byte cap, a file replaced since it was written', () => {
    const s = scratch('hardened');
    try {
      const f = s.file('a.pb.gz');
      const id = writePprofFileSync(f, ptprofLike());
      const refused = (fn: () => unknown): string => {
        try {
          fn();
        } catch (e) {
          assert.ok(e instanceof ProfileFileError && e.cause instanceof ProfileReadError, String(e));
          return e.cause.code;
        }
        return 'read';
      };
      assert.equal(refused(() => readProfiles([f], { maxBytes: 100 })), 'too-large');
      assert.equal(refused(() => readProfiles([{ file: f, expect: { ...id, ino: id.ino + 1 } }])), 'changed');
      assert.equal(readProfiles([{ file: f, expect: id }]).threads.length, 5);
      assert.equal(refused(() => readProfiles(['/dev/zero'])), 'not-regular');
      // Allowed, a device is read, up to the cap.
      assert.equal(refused(() => readProfiles(['/dev/zero'], { allowSpecial: true, maxBytes: 1 << 20 })), 'too-large');
      const fifo = s.file('p.fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      assert.equal(refused(() => readProfiles([fifo])), 'not-regular'); // at once: no waiting for a writer
    } finally {
      s.remove();
    }
  });
});
