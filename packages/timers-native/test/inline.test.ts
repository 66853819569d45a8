// What optimized code inlined, as the addon reads it from V8's heap when the code is reported
// (src/inline.cc): the table of a known chain (outer -> mid -> leaf, leaf called twice from mid),
// every function named by V8's own BYTE_CODE event, every line where the source has it.
import assert from 'node:assert/strict';
import { runFixture } from './support';

interface Table {
  name: string;
  len: number;
  detailed: boolean;
  outer: string | null;
  functions: (string | null)[];
  sites: number[][]; // line, column, caller, function
  entries: number[][]; // pcOffset, line, column, site
}

describe('inlining tables of optimized code', function () {
  this.timeout(60_000);

  it('a chain outer -> mid -> leaf: its functions named by their bytecode, its call sites at their lines, its positions in order', () => {
    const out = runFixture('inline-chain.js');
    assert.deepEqual(out.status, { enabled: true, reason: '' });
    assert.equal(out.counters.failures, 0);
    const tables = out.tables as Table[];
    assert.ok(tables.length > 0, `no table for an optimized outer: ${JSON.stringify(out.counters)}`);
    const { leaf, mid, outer } = out.lines;
    for (const t of tables) {
      const msg = JSON.stringify(t);
      assert.match(t.outer ?? '', /^JS:~outer .*inline-chain\.js:\d+:\d+$/, msg);
      assert.equal(t.detailed, true, 'compiled after register(): positions at every instruction');
      // The inlined functions are mid and leaf, each named by V8's event for its bytecode.
      const names = t.functions.map((f) => (f ?? '').replace(/^JS:~(\w+) .*$/, '$1'));
      assert.deepEqual([...names].sort(), ['leaf', 'mid'], msg);
      // Sites: mid called from outer at mid's call line; leaf twice from mid (two sites) at its call line.
      const fnOf = (site: number): string => names[t.sites[site][3]];
      const midSites = t.sites.map((s, i) => i).filter((i) => fnOf(i) === 'mid');
      const leafSites = t.sites.map((s, i) => i).filter((i) => fnOf(i) === 'leaf');
      assert.ok(midSites.length >= 1 && leafSites.length >= 2, msg);
      // Each site in its caller's lines, and the call's own line among them: V8 records it there
      // (Maglev's on-stack-replacement code of Node 24 and 26 also inlines mid a second time, at
      // the loop statement's line: V8's position for that copy, 52:5 here).
      const within = (line: number, r: { first: number; last: number }): boolean => line >= r.first && line <= r.last;
      for (const i of midSites) {
        assert.equal(t.sites[i][2], -1, 'mid is called by outer itself');
        assert.ok(within(t.sites[i][0], outer), `mid's call at line ${t.sites[i][0]}, outside outer`);
      }
      assert.ok(midSites.some((i) => outer.at.includes(t.sites[i][0])), `mid's call in outer at line ${outer.at}: ${msg}`);
      for (const i of leafSites) {
        assert.ok(midSites.includes(t.sites[i][2]), 'leaf is called by an inlined mid');
        assert.ok(mid.at.includes(t.sites[i][0]), `leaf's call in mid at line ${t.sites[i][0]}, expected ${mid.at}`);
        assert.ok(t.sites[i][1] > 0, 'with its column');
      }
      // Two calls on one line, told apart by their columns.
      for (const m of midSites) {
        const mine = leafSites.filter((i) => t.sites[i][2] === m);
        assert.equal(new Set(mine.map((i) => `${t.sites[i][0]}:${t.sites[i][1]}`)).size, 2, `mid's two calls of leaf, each its own column: ${msg}`);
      }
      // Entries: pc offsets ascending within the code; each position inside its function.
      let pc = -1;
      for (const [off, line, , site] of t.entries) {
        assert.ok(off >= pc && off < t.len, `pc offset ${off} after ${pc}, code length ${t.len}`);
        pc = off;
        const fn = site < 0 ? 'outer' : fnOf(site);
        const range = { leaf, mid, outer }[fn as 'leaf' | 'mid' | 'outer'];
        assert.ok(line >= range.first && line <= range.last, `${fn} at line ${line}, outside ${range.first}-${range.last}`);
      }
      const sitesSeen = new Set(t.entries.map((e) => e[3]));
      assert.ok(leafSites.some((i) => sitesSeen.has(i)), 'some instructions are leaf\'s');
    }
  });
});
