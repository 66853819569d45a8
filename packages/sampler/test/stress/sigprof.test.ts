// Programs that take SIGPROF, stop V8's profiler under ptprof's feet, flood it with code and reuse
// thread ids (issue: never crash, hang or grow). Each runs in a child process: before its fix it
// was killed by SIGPROF's default action (exit 155), lost its samples, or misattributed them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// PTPROF_TEST_PACKAGES may name another checkout's packages/ folder (built), to show a scenario
// failing before its fix.
const packages = process.env.PTPROF_TEST_PACKAGES ?? path.resolve(__dirname, '..', '..', '..', '..');
const samplerIndex = path.join(packages, 'sampler', 'dist', 'src', 'index.js');
const registerPath = path.join(packages, 'sampler', 'register.js');
const nativeIndex = path.join(packages, 'timers-native', 'dist', 'src', 'index.js');

// Burns ms of the calling thread's CPU time (the machine may be busy: wall time would lie).
const prelude = `
const { binding: ptprofCpu } = require(${JSON.stringify(nativeIndex)});
function burn(ms) { const end = ptprofCpu.threadCpuNs() + ms * 1e6; let x = 0; while (ptprofCpu.threadCpuNs() < end) for (let i = 0; i < 1e4; i++) x += Math.sqrt(i); return x; }
function cpuOf(p, pred) { return p.samples.filter(pred).reduce((a, s) => a + s.cpuNanos, 0); }
const named = (name) => (s) => s.frames.some((f) => f.name === name);
`;

interface Run { status: number | null; signal: NodeJS.Signals | null; out: any; stderr: string; dir: string }

function runScript(src: string, args: string[] = [], wrapper: string[] = []): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-sigprof-'));
  const file = path.join(dir, 'script.js');
  fs.writeFileSync(file, prelude + src);
  const cmd = [...wrapper, process.execPath, ...args, file];
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: dir, encoding: 'utf8', timeout: 90_000 });
  const last = r.stdout.trim().split('\n').pop();
  let out: any;
  try {
    out = last ? JSON.parse(last) : undefined;
  } catch {
    out = undefined;
  }
  return { status: r.status, signal: r.signal, out, stderr: r.stderr, dir };
}

function assertAlive(r: Run, what: string): void {
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  assert.ok(r.status === 0 && r.out !== undefined, `${what}: ${how}\n${r.stderr.slice(-1500)}`);
}

describe('stress: SIGPROF taken by others, code floods, reused tids', function () {
  this.timeout(180_000);

  it("the inspector's profiler started before ptprof and stopped while a synchronous loop runs: the program lives, ptprof samples throughout", () => {
    const r = runScript(`
      const inspector = require('node:inspector');
      const session = new inspector.Session(); session.connect();
      session.post('Profiler.enable', () => session.post('Profiler.start', () => {
        // V8 saved SIG_DFL: its stop puts it back. A timer signal on SIGPROF after that killed.
        const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
        burn(100);
        session.post('Profiler.stop', () => {
          burn(500); // synchronous: no poll of the sampler's can run here
          const p = s.stop();
          console.log(JSON.stringify({ burnCpu: cpuOf(p, named('burn')), facts: p.facts }));
        });
      }));`);
    fs.rmSync(r.dir, { recursive: true, force: true });
    assertAlive(r, 'inspector first');
    assert.ok(r.out.burnCpu > 0.8 * 600e6, `ptprof saw ${r.out.burnCpu} ns of 600 ms in burn`);
  });

  it('node --cpu-prof with the sampler still running at exit: exit 0 and both profiles written (3 runs)', () => {
    for (let i = 0; i < 3; i++) {
      const r = runScript(`
        require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
        burn(300);
        console.log(JSON.stringify({ done: true }));`, ['--cpu-prof']);
      const profiles = fs.readdirSync(r.dir).filter((f) => f.endsWith('.cpuprofile'));
      fs.rmSync(r.dir, { recursive: true, force: true });
      assertAlive(r, `--cpu-prof run ${i + 1}`);
      assert.equal(profiles.length, 1, `run ${i + 1}: --cpu-prof wrote ${profiles.length} profiles`);
    }
  });

  for (const loop of ['synchronous', 'setImmediate'] as const) {
    it(`a program that adds and removes its own SIGPROF listener (${loop} loop): it hears none of ptprof's signals and is not killed`, () => {
      const work = loop === 'synchronous'
        ? `process.removeListener('SIGPROF', listener); burn(400); finish();`
        : `process.removeListener('SIGPROF', listener); let n = 0; const spin = () => { burn(20); if (++n < 20) setImmediate(spin); else finish(); }; setImmediate(spin);`;
      const r = runScript(`
        const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
        burn(100);
        let heard = 0;
        const listener = () => { heard++; };
        process.on('SIGPROF', listener);
        burn(300); // setitimer would have signalled the listener
        const heardWhileListening = heard;
        function finish() {
          const p = s.stop();
          console.log(JSON.stringify({ heardWhileListening, burnCpu: cpuOf(p, named('burn')), facts: p.facts }));
        }
        ${work}`);
      fs.rmSync(r.dir, { recursive: true, force: true });
      assertAlive(r, `SIGPROF listener, ${loop}`);
      assert.equal(r.out.heardWhileListening, 0, "the program heard ptprof's signals");
      assert.ok(r.out.burnCpu > 0.8 * 800e6, `ptprof saw ${r.out.burnCpu} ns of 800 ms in burn`);
    });
  }

  it('code compiled while no sampler runs (events past the bound are dropped): a sampler started later names it, on the main thread and in a waiting worker', () => {
    const r = runScript(`
      require(${JSON.stringify(registerPath)});
      const { Worker } = require('node:worker_threads');
      const storm = (tag) => { const fns = []; for (let i = 0; i < 60000; i++) fns.push(new Function('n', 'let x = 0; for (let i = 0; i < n; i++) x += i % ' + (i + 2) + '; return x; // ' + tag + i)); return fns; };
      // The worker registers (the preload does this in every worker), compiles, then waits.
      const w = new Worker(\`
        require(${JSON.stringify(registerPath)});
        const { parentPort } = require('node:worker_threads');
        ${prelude.replace(/`/g, '\\`')}
        const fns = (\${storm.toString()})('w');
        const late = new Function('ms', 'return burn(ms);');
        parentPort.postMessage('compiled');
        parentPort.on('message', () => { const t = ptprofCpu.threadCpuNs(); workerStormHot(400); parentPort.postMessage(ptprofCpu.threadCpuNs() - t); });
        function workerStormHot(ms) { return burn(ms); }\`, { eval: true });
      const fns = storm('m');
      w.once('message', () => {
        // Main: a function compiled after its events were dropped.
        const mainStormHot = new Function('burn', 'return function mainStormHot(ms) { return burn(ms); }')(burn);
        const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
        mainStormHot(400);
        setTimeout(() => {
          w.postMessage('go');
          w.once('message', () => {
            const p = s.stop();
            w.terminate();
            console.log(JSON.stringify({
              main: cpuOf(p, named('mainStormHot')), worker: cpuOf(p, named('workerStormHot')),
              dropped: ptprofCpu.drain().counters.codeDrops, unresolved: p.stats.unresolvedFrames, frames: p.stats.jsFrames,
            }));
          });
        }, 200);
      });`);
    fs.rmSync(r.dir, { recursive: true, force: true });
    assertAlive(r, 'code flood');
    console.log(`      ${JSON.stringify(r.out)}`);
    assert.ok(r.out.dropped > 60000, `the flood went past the log's bound (${r.out.dropped} events not logged)`);
    assert.ok(r.out.main > 0.8 * 400e6, `main: ${r.out.main} ns of 400 ms named mainStormHot`);
    assert.ok(r.out.worker > 0.8 * 400e6, `worker: ${r.out.worker} ns of 400 ms named workerStormHot`);
  });

  it("a thread that gets a dead thread's tid is sampled once the sampler sees it (tid keyed with its start time)", function () {
    if (spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status !== 0) {
      console.log('      skipped: needs a PID namespace (unshare --pid --fork --mount-proc, as root) to make the kernel reuse a tid');
      this.skip();
    }
    const r = runScript(`
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      // Plain threads (no ptprof in them): the sampler claims them by tid in threads: 'all'.
      const src = \`const { parentPort } = require('node:worker_threads');
        const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
        ${prelude.replace(/`/g, '\\`')}
        parentPort.postMessage({ tid });
        parentPort.on('message', (m) => { if (m === 'exit') process.exit(0); const t = ptprofCpu.threadCpuNs(); reusedTidHot(m); parentPort.postMessage({ cpu: ptprofCpu.threadCpuNs() - t }); });
        function reusedTidHot(ms) { return burn(ms); }\`;
      const start = (w) => new Promise((resolve) => w.once('message', resolve));
      (async () => {
        const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all', drainIntervalMs: 10000 });
        const a = new Worker(src, { eval: true });
        const ta = (await start(a)).tid;
        a.postMessage(300); await start(a);   // claimed and armed meanwhile (its setitimer records)
        s.drain();
        const armed = s.armedThreads.has(ta);
        a.postMessage('exit'); await new Promise((r) => a.once('exit', r));
        // The next tid the kernel hands out is ta, unless another thread takes it first (then
        // that worker goes before it burns anything, and we try again).
        let b, tb;
        for (let i = 0; i < 5 && tb !== ta; i++) {
          if (b) { b.postMessage('exit'); await new Promise((r) => b.once('exit', r)); }
          fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(ta - 1));
          b = new Worker(src, { eval: true });
          tb = (await start(b)).tid;
        }
        s.drain(); // the refresh that must notice
        b.postMessage(600);
        const cpu = (await start(b)).cpu;
        const p = s.stop();
        b.postMessage('exit');
        console.log(JSON.stringify({ ta, tb, armed, cpu, sampled: cpuOf(p, named('reusedTidHot')), sampledB: cpuOf(p, (x) => x.labels.thread_id === tb) }));
      })();`, [], ['unshare', '--pid', '--fork', '--mount-proc']);
    fs.rmSync(r.dir, { recursive: true, force: true });
    assertAlive(r, 'tid reuse');
    console.log(`      ${JSON.stringify(r.out)}`);
    assert.equal(r.out.tb, r.out.ta, "the kernel gave the second thread the first one's tid");
    assert.ok(r.out.armed, 'the first thread was claimed and armed');
    // Plain threads have no JS stack: what counts is the CPU on that tid, 300 ms on the first thread
    // and 600 ms on the second. Before, the second kept the first's dead timer and a "valid" flag
    // that filtered its setitimer signals: it got nothing.
    assert.ok(r.out.sampledB > 0.8 * (300e6 + r.out.cpu), `tid ${r.out.tb}: ${r.out.sampledB} ns of ${300 + r.out.cpu / 1e6} ms`);
  });

  it('timerSignal picks the real-time signal of the timers; out of range is refused by name', () => {
    const r = runScript(`
      const { Sampler } = require(${JSON.stringify(samplerIndex)});
      let refused = '';
      try { new Sampler({ timerSignal: 31 }); } catch (e) { refused = e.message; }
      const s = new Sampler({ hz: 1000, timerSignal: 9 }).start();
      burn(200);
      const p = s.stop();
      console.log(JSON.stringify({ refused, signal: ptprofCpu.signalInfo().timerSignalName, burnCpu: cpuOf(p, named('burn')), facts: p.facts }));`);
    fs.rmSync(r.dir, { recursive: true, force: true });
    assertAlive(r, 'timerSignal');
    assert.match(r.out.refused, /timerSignal must be an integer from 1 to 30/);
    assert.equal(r.out.signal, 'SIGRTMIN+9');
    assert.equal(r.out.facts.timer_signal, 'SIGRTMIN+9');
    assert.ok(r.out.burnCpu > 0.8 * 200e6, `${r.out.burnCpu} ns of 200 ms`);
  });
});
