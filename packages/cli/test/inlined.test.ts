// Inlined functions through the real command: an HTTP service whose escapeHtml V8 inlines into its
// renderer. `go tool pprof` must show escapeHtml with its own CPU (an inlined frame: one location,
// a line per function), and where reading V8's inlining is off the summary must say so.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { inliningLine } from '../src/summary';
import { cleanEnv, facts, fixture, goPprof, ptprof, readProfile, rmDir, tmpDir } from './helpers';

describe('ptprof: inlined functions', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = tmpDir('inlined');
  });
  after(() => rmDir(dir));

  it('an HTTP service: escapeHtml, inlined by V8 into its renderer, has its own CPU in go tool pprof', () => {
    const file = path.join(dir, 'app.pb.gz');
    const r = ptprof(['-o', file, '--hz', '1000', '--', 'node', fixture('inlined-app.js'), '1500'], { cwd: dir, env: cleanEnv() });
    assert.equal(r.status, 0, r.stderr);
    const renderNs = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { renderNs: number }).renderNs;
    const f = facts(readProfile(file));
    assert.ok(Number(f['inline.inlined_frames']) > 0, `inlined frames added: ${JSON.stringify(f)}`);
    // -top's cum column: escapeHtml's own share, and renderPage's, which contains it.
    const top = goPprof(['-top', '-cum', '-nodecount=200', file], dir);
    const cum = (fn: string): number => {
      // A function seen only inlined is listed as "escapeHtml (inline)", one seen both inlined and
      // called as "escapeHtml (partial-inline)" (go tool pprof's marks).
      const m = new RegExp(`^\\s*\\S+\\s+\\S+%\\s+\\S+%\\s+(\\S+?)(ms|s)\\s+\\S+%\\s+${fn}( \\((partial-)?inline\\))?$`, 'm').exec(top);
      return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 0;
    };
    const esc = cum('escapeHtml');
    const render = cum('renderPage');
    console.log(`      renderPage ${render} ms (the process's CPU around its calls: ${(renderNs / 1e6).toFixed(0)} ms), escapeHtml ${esc} ms`);
    assert.ok(esc > 0.2 * render, `escapeHtml has its own CPU (${esc} ms of renderPage's ${render} ms):\n${top}`);
    // The inlined frames share a location with their caller: -traces lists them, and the raw
    // profile has locations with more than one line.
    const raw = readProfile(file);
    assert.ok(raw.location.some((l) => l.line.length > 1), 'a location with several lines (inlined calls)');
  });

  it('the summary says how many optimized frames kept their outer function, and how many of them V8 optimized before ptprof loaded', () => {
    assert.equal(inliningLine({ 'inline.optimized_frames': 4210, 'inline.unexpanded_frames': 0 }), undefined);
    assert.equal(inliningLine({ 'inline.optimized_frames': 4210, 'inline.unexpanded_frames': 12, 'inline.early_frames': 0 }),
      'inlined functions: 12 of 4210 frames in optimized code keep their outer function alone (see the inline.* facts in the profile\'s comments)');
    assert.equal(inliningLine({ 'inline.optimized_frames': 4210, 'inline.unexpanded_frames': 12, 'inline.early_frames': 5 }),
      'inlined functions: 12 of 4210 frames in optimized code keep their outer function alone, 5 of them in code V8 optimized '
      + 'before ptprof loaded (see the inline.* facts in the profile\'s comments)');
  });

  it('where the V8 layout is not known, the summary says why inlined functions are not shown', () => {
    const file = path.join(dir, 'off.pb.gz');
    const r = ptprof(['-o', file, '--', 'node', fixture('inlined-app.js'), '300'], { cwd: dir, env: cleanEnv({ PTPROF_TEST_V8LAYOUT: 'off' }) });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /inlined functions not shown: refused for a test/);
    assert.match(String(facts(readProfile(file))['inline.off']), /refused for a test/);
  });
});
