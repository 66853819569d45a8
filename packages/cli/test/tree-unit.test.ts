// The hand-off without processes: parts written as the agent writes them, read by the CLI's
// collector (in order, merged, removed; a malformed one refused with the reason), and the short
// names of processes.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readProcesses } from '@ptprof/pprof-writer';
import { decodePart, partName, PART_VERSION, readHandoffMs, type Part } from '../src/part';
import { shortCommand } from '../src/process-name';
import { TreeCollector } from '../src/tree';
import { Handoff } from '../src/handoff';
import type { Profile } from '@ptprof/sampler';
import { rmDir, tmpDir } from './helpers';

const hot = { name: 'hot', file: '/app/a.js', line: 3 };
const main = { name: 'main', file: '/app/a.js', line: 1 };

function part(over: Partial<Part>): Part {
  return {
    v: PART_VERSION, pid: 100, ppid: 1, root: true, command: 'node /app/a.js', name: 'node a.js', seq: 0, final: false,
    start: '1700000000000000000', duration: 1e9, frames: [], threads: [[100, 'main', true]], rows: [], facts: { process_cpu_nanos: 0 }, ...over,
  };
}

function write(dir: string, p: Part, nonce = 'n1'): void {
  fs.writeFileSync(path.join(dir, partName(p.pid, nonce, p.seq)), JSON.stringify(p));
}

describe('hand-off parts', () => {
  let dir: string;
  beforeEach(() => { dir = tmpDir('parts'); });
  afterEach(() => rmDir(dir));

  it('the collector merges a process\'s parts in order (frames sent once), removes them, and renames frames by the final part\'s map', () => {
    const c = new TreeCollector(dir);
    // Part 1 arrives before part 0: nothing is read until part 0 is there.
    write(dir, part({ seq: 1, frames: [], rows: [0, 3, 30e6, 2, 0, 1], facts: { process_cpu_nanos: 31e6, kept: 3 } }));
    c.poll();
    assert.equal(c.processes().length, 0);
    assert.equal(fs.readdirSync(dir).length, 1);
    write(dir, part({ seq: 0, frames: [hot, main], rows: [0, 2, 20e6, 2, 0, 1, 0, 1, 10e6, 1, 1], facts: { process_cpu_nanos: 32e6, kept: 3 } }));
    c.poll();
    assert.deepEqual(fs.readdirSync(dir), [], 'read parts are removed');
    const [p] = c.processes();
    assert.deepEqual([p!.parts, p!.profiledNanos, p!.osCpuNanos, p!.samples, p!.final, p!.facts.kept], [2, 60e6, 63e6, 6, false, 6]);
    // The final part names frame 0 through its source map; a new thread appears.
    write(dir, part({ seq: 2, final: true, end: 'exit(0)', threads: [[100, 'main', true], [101, 'libuv-worker', false]], rows: [1, 1, 10e6, 1, 1],
      mapped: [[0, { name: 'hotTs', file: 'src/a.ts', line: 9 }]], facts: { process_cpu_nanos: 10e6, 'source_maps.mapped_frames': 1 } }));
    c.poll();
    const live = c.profile({ ended: false });
    const rows = live.profile.samples.map((s) => [s.frames.map((f) => f.name).join('<'), s.labels!.thread_name, s.labels!.pid, s.labels!.process, s.count, s.cpuNanos]);
    assert.deepEqual(rows, [['hotTs<main', 'main', 100, 'node a.js', 5, 50e6], ['main', 'main', 100, 'node a.js', 1, 10e6], ['main', 'libuv-worker', 100, 'node a.js', 1, 10e6]]);
    const procs = readProcesses(live.profile.facts!);
    assert.deepEqual([procs[0]!.pid, procs[0]!.facts.end, procs[0]!.facts.complete, procs[0]!.facts.process_cpu_nanos], [100, 'exit(0)', undefined, 73e6]);
    assert.equal(live.profile.facts!['source_maps.mapped_frames'], 1);
  });

  it('a process without its final part: running while the run goes on, incomplete once it has ended', () => {
    const c = new TreeCollector(dir);
    write(dir, part({ seq: 0, frames: [hot], rows: [0, 1, 10e6, 1, 0], facts: { process_cpu_nanos: 10e6 } }));
    c.poll();
    assert.equal(readProcesses(c.profile({ ended: false }).profile.facts!)[0]!.facts.complete, undefined);
    const ended = c.profile({ ended: true }).profile.facts!;
    assert.equal(readProcesses(ended)[0]!.facts.complete, false);
    assert.equal(ended.incomplete, 1);
  });

  it('two processes with one pid (the kernel reused it) are two processes', () => {
    const c = new TreeCollector(dir);
    write(dir, part({ seq: 0, final: true, frames: [hot], rows: [0, 1, 10e6, 1, 0] }), 'aaa');
    write(dir, part({ seq: 0, final: true, root: false, frames: [main], rows: [0, 2, 20e6, 1, 0] }), 'bbb');
    c.poll();
    assert.equal(c.processes().length, 2);
    const merged = c.profile({ ended: true });
    assert.equal(merged.collided, true, 'told apart by the profile label');
    assert.deepEqual(merged.profile.samples.map((s) => s.frames[0]!.name).sort(), ['hot', 'main']);
  });

  it('a malformed part is refused with the reason, and the process\'s later parts are not read', () => {
    const c = new TreeCollector(dir);
    write(dir, part({ seq: 0, frames: [hot], rows: [0, 1, 10e6, 1, 5] }));
    write(dir, part({ seq: 1, rows: [] }));
    c.poll();
    const [p] = c.processes();
    assert.match(p!.error!, /^malformed part: row at 0: frame 5 was never sent$/);
    assert.equal(p!.parts, 0);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('decodePart checks every field', () => {
    const ok = part({ frames: [hot], rows: [0, 1, 10e6, 1, 0] });
    assert.equal(decodePart(JSON.stringify(ok), 0).pid, 100);
    const bad: [unknown, RegExp][] = [
      ['{', /not JSON/],
      [{ ...ok, v: 2 }, /version 2/],
      [{ ...ok, pid: -1 }, /pid is not an integer/],
      [{ ...ok, start: '1e9' }, /start is not a time/],
      [{ ...ok, frames: [{ name: 3 }] }, /frame 0 has no name/],
      [{ ...ok, frames: [{ name: 'x', line: 1.5 }] }, /frame 0\.line is not a line number/],
      [{ ...ok, threads: [[1, 'main']] }, /a thread is not \[tid, name, js\]/],
      [{ ...ok, rows: [1, 1, 10, 0] }, /row at 0: no such thread/],
      [{ ...ok, rows: [0, 1, -10, 0] }, /row at 0: the CPU is not a number of ns/],
      [{ ...ok, rows: [0, 1, 10, 3, 0] }, /row at 0: its depth runs past the rows/],
      [{ ...ok, facts: { 'a b': 1 } }, /the fact name "a b"/],
      [{ ...ok, facts: { a: [1] } }, /the fact a/],
      [{ ...ok, mapped: [[7, hot]] }, /a mapped frame names no frame/],
    ];
    for (const [x, re] of bad) assert.throws(() => decodePart(typeof x === 'string' ? x : JSON.stringify(x), 0), re);
    // A number the agent could not compute (NaN: JSON writes null) is left out; the part is read.
    assert.deepEqual(decodePart(JSON.stringify({ ...ok, facts: { kept: 3, records: NaN } }), 0).facts, { kept: 3 });
  });

  it('an idle process hands no part over while nothing was sampled, except its first; a busy window is handed over', () => {
    let quiet = true;
    let windows = 0;
    const empty = (): Profile => ({ samples: [], startTimeNanos: 1700000000000000000n, durationNanos: 1e9, facts: {} } as unknown as Profile);
    const source = { window: () => (windows++, empty()), stop: empty, quiet: () => quiet };
    const h = new Handoff(source, dir, { pid: 100, ppid: 1, root: true, command: 'node a.js', name: 'node a.js' });
    h.window();
    h.window();
    h.window();
    assert.deepEqual([windows, fs.readdirSync(dir).length], [1, 1], 'the first part only');
    quiet = false;
    h.window();
    assert.deepEqual([windows, fs.readdirSync(dir).length], [2, 2]);
  });

  it('PTPROF_HANDOFF_MS: the default, a value, and a refusal that says the range', () => {
    assert.equal(readHandoffMs({}), 2000);
    assert.equal(readHandoffMs({ PTPROF_HANDOFF_MS: '500' }), 500);
    assert.throws(() => readHandoffMs({ PTPROF_HANDOFF_MS: '5' }), /PTPROF_HANDOFF_MS=5 is not an integer from 100 to 600000/);
  });
});

describe('short names of processes (the process label)', () => {
  const cwd = '/home/me/app';
  const cases: [string, string[], string[], string][] = [
    ['/usr/bin/node', [], ['/usr/bin/node', '/home/me/app/test/a.test.js'], 'node test/a.test.js'],
    ['node', ['--test'], ['/usr/bin/node', '/home/me/app/test/a.test.js', '--x'], 'node --test test/a.test.js --x'],
    ['node', ['--test'], ['/usr/bin/node'], 'node --test'],
    ['node', [], ['node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'test'], 'npm test'],
    ['node', [], ['node', '/usr/lib/node_modules/npm/bin/npx-cli.js', 'tsx', 'a.ts'], 'npx tsx a.ts'],
    ['node', [], ['node', '/home/me/app/node_modules/mocha/bin/mocha.js', '--parallel'], 'mocha --parallel'],
    ['node', [], ['node', '/home/me/app/node_modules/mocha/lib/nodejs/worker.js'], 'mocha/lib/nodejs/worker.js'],
    ['node', [], ['node', '/home/me/app/node_modules/@scope/tool/dist/run.js'], '@scope/tool/dist/run.js'],
    ['node', ['-e', 'console.log(1)\n  + 2'], ['node'], "node -e 'console.log(1) + 2'"],
    ['node', [], ['node', '/elsewhere/x.js', 'a b'], "node /elsewhere/x.js 'a b'"],
  ];
  for (const [argv0, execArgv, argv, want] of cases) {
    it(`${JSON.stringify([...execArgv, ...argv.slice(1)])} -> ${want}`, () => assert.equal(shortCommand(argv0, execArgv, argv, cwd), want));
  }
  it('is cut to 80 characters', () => {
    const long = shortCommand('node', [], ['node', '/home/me/app/x.js', 'y'.repeat(200)], cwd);
    assert.equal(long.length, 80);
    assert.ok(long.endsWith('...'));
  });
});
