// ptprof's own CPU is counted, outside the profile's window too (issue 14): the agent's start and
// its work at the process's end (ptprof_start_nanos, ptprof_exit_nanos), and the ptprof command's
// own process, said in the summary beside what was sampled under (ptprof).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { Facts } from '@ptprof/pprof-writer';
import { withSourceMaps } from '../src/sourcemaps';
import { formatSeconds, ownLine } from '../src/summary';
import { cleanEnv, facts, ptprof, readProfile, rmDir, tmpDir } from './helpers';

// Prints the process's CPU when the program's first line runs (after the agent's start), then burns ~150 ms.
const PROGRAM = 'const u=process.cpuUsage();console.log((u.user+u.system)*1000);'
  + 'let s=0;const t=process.cpuUsage();while(process.cpuUsage(t).user<150e3)s=(s*31+1)%1000003;';

/** `12.5ms` / `1.2s` back to nanoseconds. */
function nanos(text: string): number {
  const m = /^([\d.]+)(ns|us|µs|ms|s)$/.exec(text);
  assert.ok(m, `a duration: ${text}`);
  const unit = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns' | 'us' | 'µs' | 'ms' | 's'];
  return Number(m[1]) * unit;
}

describe('ptprof\'s own CPU', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = tmpDir('own');
  });
  after(() => rmDir(dir));

  for (const split of [false, true]) {
    it(`${split ? '--split' : 'one profile of the tree'}: the start and the end are facts of the profile, and the summary counts them${split ? '' : ' with the command\'s own'}`, () => {
      const file = path.join(dir, split ? 'split.pb.gz' : 'tree.pb.gz');
      const r = ptprof([...(split ? ['--split'] : []), '-o', file, '--', process.execPath, '-e', PROGRAM], { cwd: dir, env: cleanEnv() });
      assert.equal(r.status, 0, r.stderr);
      const atFirstLine = Number(r.stdout.trim());
      const f = facts(readProfile(file));
      const start = f.ptprof_start_nanos as number;
      const end = f.ptprof_exit_nanos as number;
      // The agent's start is part of what the process used before the program's first line.
      assert.ok(typeof start === 'number' && start > 0 && start < atFirstLine, `start ${start} ns, ${atFirstLine} ns at the first line\n${r.stderr}`);
      assert.ok(typeof end === 'number' && end > 0 && end < 2e9, `end ${end} ns`);
      const line = /ptprof's own CPU: (\S+) = ([\d.]+)% of the (\S+) used: (.*)$/m.exec(r.stderr);
      assert.ok(line, r.stderr);
      const parts = [...line[4].matchAll(/(\S+) (sampled under \(ptprof\)|on ptprof's threads|in the signal handler|reading inlining tables|starting|ending the process|in this command)/g)];
      const said = new Map(parts.map((m) => [m[2], nanos(m[1]!)]));
      assert.equal(said.get('starting'), nanos(formatSeconds(start)));
      assert.equal(said.get('ending the process'), nanos(formatSeconds(end)));
      // The collector's CPU, by its clock (the agent's sampler runs it at the default rate's interval).
      const threads = f.ptprof_threads_nanos as number;
      assert.ok(typeof threads === 'number' && threads > 0, `ptprof_threads_nanos ${threads}`);
      assert.equal(said.get('on ptprof\'s threads'), nanos(formatSeconds(threads)));
      // The signal handler's time, by the addon's count (the program burned ~150 ms at 100 Hz:
      // a dozen or more signals, each some microseconds).
      const handler = f.ptprof_handler_nanos as number;
      assert.ok(typeof handler === 'number' && handler > 0 && handler < 20e6, `ptprof_handler_nanos ${handler}`);
      assert.equal(said.get('in the signal handler'), nanos(formatSeconds(handler)));
      // The parts add up to the whole (each printed to the same precision).
      const sum = [...said.values()].reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - nanos(line[1]!)) <= 0.01 * sum + 1e5, `${line[0]}: parts ${sum} ns`);
      if (split) {
        assert.equal(said.has('in this command'), false);
        const cmd = /this command's own CPU: (\S+)$/m.exec(r.stderr);
        assert.ok(cmd && nanos(cmd[1]!) > 0, r.stderr);
      } else {
        assert.ok((said.get('in this command') ?? 0) > 0, line[0]);
      }
      // The share: of the processes' CPU in the window and all that was counted outside it.
      const used = nanos(line[3]!);
      assert.ok(Math.abs(Number(line[2]) - (100 * nanos(line[1]!)) / used) < 0.2, line[0]);
    });
  }

  it('ownLine: each part said when there is one, their sum, and the share of all CPU used', () => {
    const f = { 'ptprof_nanos': 10e6, 'ptprof_threads_nanos': 2e6, 'ptprof_handler_nanos': 3e6, 'inline.read_nanos': 5e6, 'ptprof_start_nanos': 60e6, 'ptprof_exit_nanos': 25e6 };
    assert.equal(ownLine(f, 915e6, 100e6),
      "ptprof's own CPU: 205ms = 18.6% of the 1.1s used: 10ms sampled under (ptprof), 2ms on ptprof's threads, 3ms in the signal handler, 5ms reading inlining tables, 60ms starting, 25ms ending the process; 100ms in this command");
    assert.equal(ownLine({ ptprof_start_nanos: 60e6 }, 940e6, undefined, 3),
      "ptprof's own CPU: 60ms = 6.0% of the 1s used: 60ms starting");
    assert.equal(ownLine({ ptprof_start_nanos: 60e6, ptprof_exit_nanos: 1e6 }, 940e6, undefined, 3),
      "ptprof's own CPU: 61ms = 6.1% of the 1s used: 60ms starting, 1ms ending the processes (3)");
    assert.equal(ownLine({}, 1e9), undefined);
  });

  it('ptprof\'s own frames are not named through its maps (they sit under (ptprof)); the program\'s are', () => {
    // summary.js has a map (summary.js.map, from tsc): before, every process with a sample in
    // ptprof's code read and decoded such maps at its end.
    const own = path.join(__dirname, '..', 'src', 'summary.js');
    assert.ok(fs.existsSync(`${own}.map`), 'ptprof\'s compiled files have maps');
    const line = fs.readFileSync(own, 'utf8').split('\n').findIndex((l) => l.startsWith('function ownLine(')) + 1;
    const frame = { name: 'ownLine', file: own, line, column: 10 };
    // The same file copied outside ptprof's directories stands for a program's script with a map.
    const copy = path.join(dir, 'summary.js');
    fs.copyFileSync(own, copy);
    fs.writeFileSync(`${copy}.map`, fs.readFileSync(`${own}.map`, 'utf8').replace(/"sources":\["[^"]*"\]/, '"sources":["summary.ts"]'));
    const theirs = { ...frame, file: copy };
    const p = withSourceMaps({ samples: [{ frames: [frame] }, { frames: [theirs] }], facts: {} as Facts }, true);
    assert.equal(p.samples[0]!.frames[0], frame);
    assert.match(String(p.samples[1]!.frames[0]!.file), /summary\.ts$/);
    assert.equal(p.facts?.['source_maps.scripts'], 1);
  });
});
