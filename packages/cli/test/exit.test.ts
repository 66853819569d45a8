// End to end through the real binary: however the program ends, one complete profile is written
// and ptprof exits as the program did.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readProcesses, stringAt } from '@ptprof/pprof-writer';
import { facts, fixture, listDir, ptprof, ptprofSignal, readProfile, rmDir, tmpDir, totals, type Run } from './helpers';

describe('ptprof: exit paths', function () {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('exit');
  });
  afterEach(() => rmDir(dir));

  /**
   * The one profile in dir: decodes, has samples, names hotLoop, is of one root process. By
   * default the run's profile (a tree of one process: its facts under proc.1.*, a pid label on
   * every sample); with `split`, the file the process wrote itself (its facts at the top).
   */
  function checkProfile(file: string, end: RegExp, split = false): void {
    assert.deepEqual(listDir(dir), [path.basename(file)], 'exactly one file, no temporary file left');
    const p = readProfile(file);
    const t = totals(p);
    assert.ok(t.samples > 0 && t.cpuNanos > 0, `samples were taken: ${JSON.stringify(t)}`);
    const names = p.function.map((f) => p.stringTable.strings[Number(f.name)]);
    assert.ok(names.includes('hotLoop'), `hotLoop is in the profile: ${names.slice(0, 20).join(', ')}`);
    const top = facts(p);
    assert.equal(typeof top.ptprof, 'string', JSON.stringify(top));
    let f = top;
    if (!split) {
      const procs = readProcesses(top);
      assert.equal(procs.length, 1, JSON.stringify(top));
      f = { ...procs[0]!.facts, pid: procs[0]!.pid!, process: procs[0]!.facts.root === true ? 'root' : 'descendant' };
      assert.equal(top.process_cpu_nanos, f.process_cpu_nanos, "the tree's OS count is its one process's");
      const pids = new Set(p.sample.map((s) => s.label.find((l) => stringAt(p, l.key) === 'pid')?.num));
      assert.deepEqual([...pids].map(Number), [f.pid], 'every sample is labelled with the pid');
    }
    assert.equal(f.process, 'root', JSON.stringify(f));
    assert.ok(typeof f.pid === 'number' && typeof f.ppid === 'number', JSON.stringify(f));
    assert.match(String(f.end), end, 'the facts say how it ended');
    assert.ok(typeof f.process_cpu_nanos === 'number' && f.process_cpu_nanos > 0, 'the OS count is in the facts');
    assert.match(String(f.cmd), /burn\.js/, 'the command line is in the facts');
  }

  function noAgentErrors(r: Run): void {
    const lines = r.stderr.split('\n').filter((l) => /^ptprof: (could not|not profiling|sampling error|on SIG)/.test(l));
    assert.deepEqual(lines, [], 'the agent reported no error');
  }

  it('normal exit: 0, the default file name ptprof.<ptprof pid>.pb.gz, a summary on stderr', () => {
    const r = ptprof([fixture('burn.js'), 'normal'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'done true\n', 'the program\'s stdout is untouched');
    const file = path.join(dir, `ptprof.${r.pid}.pb.gz`);
    checkProfile(file, /^exit\(0\)$/);
    noAgentErrors(r);
    assert.match(r.stderr, new RegExp(`ptprof: wrote ptprof\\.${r.pid}\\.pb\\.gz \\(pid \\d+, `));
    assert.match(r.stderr, /CPU \S+ profiled \/ \S+ used by the process \(OS count\) = \d\.\d{3}; 100 Hz, threads=all, \d+ samples, \d+ dropped, \d+ filtered/);
    assert.match(r.stderr, /top 10 functions by flat CPU/);
    assert.match(r.stderr, /flat {2}flat% {3}sum% {8}cum {3}cum%\n.*hotLoop/);
  });

  it('--split, normal exit: the process writes its own file, ptprof.<ptprof pid>.pb.gz, the summary names it', () => {
    const r = ptprof(['--split', fixture('burn.js'), 'normal'], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    checkProfile(path.join(dir, `ptprof.${r.pid}.pb.gz`), /^exit\(0\)$/, true);
    noAgentErrors(r);
    assert.match(r.stderr, new RegExp(`ptprof: wrote ptprof\\.${r.pid}\\.pb\\.gz \\(pid \\d+, `));
  });

  it('--split, SIGTERM: the process writes its own file as it dies by the signal', async () => {
    const file = path.join(dir, 'term.pb.gz');
    const r = await ptprofSignal(['--split', '-o', file, fixture('burn.js'), 'wait'], 'SIGTERM', { cwd: dir });
    assert.equal(r.status, 143, r.stderr);
    checkProfile(file, /^SIGTERM$/, true);
  });

  it('process.exit(3): exit code 3, profile written', () => {
    const file = path.join(dir, 'exit.pb.gz');
    const r = ptprof(['-q', '-o', file, fixture('burn.js'), 'exit'], { cwd: dir });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stderr, '', '-q: nothing on stderr');
    checkProfile(file, /^exit\(3\)$/);
  });

  it("uncaught exception: exit code 1, profile written (Node emits 'exit' after printing the error)", () => {
    const file = path.join(dir, 'throw.pb.gz');
    const r = ptprof(['-q', '-o', file, '--', 'node', fixture('burn.js'), 'throw'], { cwd: dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Error: deliberate failure/);
    checkProfile(file, /^exit\(1\)$/);
    noAgentErrors(r);
  });

  it('SIGTERM sent to ptprof is forwarded: the program dies by it, ptprof exits 143, profile written', async () => {
    const file = path.join(dir, 'term.pb.gz');
    const r = await ptprofSignal(['-o', file, fixture('burn.js'), 'wait'], 'SIGTERM', { cwd: dir });
    assert.equal(r.signal, null, 'ptprof itself survives the signal');
    assert.equal(r.status, 143, r.stderr);
    assert.match(r.stderr, /killed by SIGTERM \(exit code 143\)/);
    checkProfile(file, /^SIGTERM$/);
    noAgentErrors(r);
  });

  it('SIGINT sent to ptprof: 130, profile written', async () => {
    const file = path.join(dir, 'int.pb.gz');
    const r = await ptprofSignal(['-q', '-o', file, fixture('burn.js'), 'wait'], 'SIGINT', { cwd: dir });
    assert.equal(r.status, 130, r.stderr);
    checkProfile(file, /^SIGINT$/);
  });

  it("a program with its own SIGINT listener decides (here: exit 5); 'exit' writes the profile", async () => {
    const file = path.join(dir, 'own.pb.gz');
    const r = await ptprofSignal(['-q', '-o', file, fixture('burn.js'), 'own'], 'SIGINT', { cwd: dir });
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stdout, /own handler/);
    checkProfile(file, /^exit\(5\)$/);
  });

  it('a program using signal-exit (re-raises only when alone) still dies by SIGTERM, profile written', async () => {
    const file = path.join(dir, 'se.pb.gz');
    const r = await ptprofSignal(['-q', '-o', file, fixture('burn.js'), 'signal-exit'], 'SIGTERM', { cwd: dir });
    assert.equal(r.status, 143, r.stderr);
    assert.match(r.stdout, /signal-exit handler/);
    checkProfile(file, /^SIGTERM$/);
  });

  it('--hz 1000 --threads js reach the agent', () => {
    const file = path.join(dir, 'js.pb.gz');
    const r = ptprof(['-q', '--hz', '1000', '--threads=js', '-o', file, fixture('burn.js')], { cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const f = facts(readProfile(file));
    assert.equal(f.hz, 1000, JSON.stringify(f));
    assert.equal(f.period_nanos, 1_000_000);
    assert.equal(f.mode, 'js');
  });

  it('the command not found: 127, one line', () => {
    const r = ptprof(['--', 'ptprof-no-such-command-xyz'], { cwd: dir });
    assert.equal(r.status, 127);
    assert.equal(r.stderr, "ptprof: cannot run 'ptprof-no-such-command-xyz': command not found\n");
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
