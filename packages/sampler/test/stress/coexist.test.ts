// Coexistence with V8's own profiler: `node --cpu-prof` and the inspector's Profiler.start running
// at the same time as ptprof. Both produce samples; V8's SIGPROFs (SI_TKILL) are passed on to it;
// the handler is put back when another replaces it; no SIGPROF kills the process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const samplerIndex = path.resolve(__dirname, '..', '..', 'src', 'index.js');
const registerPath = path.resolve(__dirname, '..', '..', '..', 'register.js');

const hog = `function coexistHog(ms) { const t = Date.now(); let x = 0; while (Date.now() - t < ms) for (let i = 0; i < 1e4; i++) x += Math.sqrt(i); return x; }`;
const report = `
function ptprofReport(p) {
  const hogCpu = p.samples.filter((s) => s.frames.some((f) => f.name === 'coexistHog')).reduce((a, s) => a + s.cpuNanos, 0);
  return { kept: p.stats.kept, hogCpu, foreign: p.stats.foreign, restored: p.stats.handlerRestored };
}`;

function runScript(src: string, args: string[] = []): { out: any; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-coexist-'));
  const file = path.join(dir, 'script.js');
  fs.writeFileSync(file, src);
  const r = spawnSync(process.execPath, [...args, file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `exit ${r.status} signal ${r.signal}\n${r.stderr}`);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop()!), dir };
}

function cpuprofileHits(file: string, fn: string): number {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const ids = new Set(prof.nodes.filter((n: any) => n.callFrame.functionName === fn).map((n: any) => n.id));
  return prof.samples.filter((id: number) => ids.has(id)).length;
}

describe('stress: coexistence with V8\'s profiler', function () {
  this.timeout(120_000);

  it('node --cpu-prof and ptprof at 1000 Hz both see the hog', () => {
    const { out, dir } = runScript(`${hog}${report}
      const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
      coexistHog(600);
      console.log(JSON.stringify(ptprofReport(s.stop())));`, ['--cpu-prof', '--cpu-prof-interval', '1000']);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    assert.equal(files.length, 1, 'node --cpu-prof wrote its profile');
    const hits = cpuprofileHits(path.join(dir, files[0]), 'coexistHog');
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(`      ptprof ${JSON.stringify(out)}; --cpu-prof samples in coexistHog: ${hits}`);
    assert.ok(hits > 100, `--cpu-prof saw ${hits} samples in the hog`);
    assert.ok(out.hogCpu > 300e6, `ptprof saw ${out.hogCpu} ns in the hog`);
  });

  it("the inspector's Profiler.start during sampling: both profile, ptprof's handler comes back", () => {
    const { out, dir } = runScript(`${hog}${report}
      const inspector = require('node:inspector');
      const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
      const session = new inspector.Session(); session.connect();
      session.post('Profiler.enable'); session.post('Profiler.setSamplingInterval', { interval: 1000 });
      session.post('Profiler.start');
      coexistHog(300);
      // Let ptprof's poll run while V8's handler is in place: it puts its own back and passes
      // V8's signals on.
      setTimeout(() => {
        coexistHog(300);
        session.post('Profiler.stop', (err, { profile }) => {
          const ids = new Set(profile.nodes.filter((n) => n.callFrame.functionName === 'coexistHog').map((n) => n.id));
          const inspectorHits = profile.samples.filter((id) => ids.has(id)).length;
          coexistHog(100);
          console.log(JSON.stringify({ ...ptprofReport(s.stop()), inspectorHits }));
        });
      }, 50);`);
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(`      ${JSON.stringify(out)}`);
    assert.ok(out.inspectorHits > 50, 'the inspector profiled the hog');
    // While V8's handler holds SIGPROF, ptprof's own timer signals go to V8's handler and are
    // lost, until a poll of ptprof's puts its handler back: the first 300 ms here (the main thread
    // was busy, so no poll ran). After that, ptprof samples again.
    assert.ok(out.hogCpu > 250e6, `ptprof profiled the hog after taking SIGPROF back (${out.hogCpu} ns)`);
    assert.ok(out.restored >= 1, "ptprof's handler was put back");
    assert.ok(out.foreign > 0, "V8's own SIGPROFs were passed on");
  });

  it('the inspector started before sampling (after registration) and stopped during it: the process survives', () => {
    const { out, dir } = runScript(`${hog}${report}
      require(${JSON.stringify(registerPath)});
      const inspector = require('node:inspector');
      const session = new inspector.Session(); session.connect();
      session.post('Profiler.enable'); session.post('Profiler.start');
      const s = require(${JSON.stringify(samplerIndex)}).start({ hz: 1000, threads: 'all' });
      coexistHog(200);
      session.post('Profiler.stop', () => {
        coexistHog(300); // timer signals keep coming after V8 put back the handler it found
        console.log(JSON.stringify(ptprofReport(s.stop())));
      });`);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(out.hogCpu > 300e6, `ptprof saw ${out.hogCpu} ns`);
  });
});
