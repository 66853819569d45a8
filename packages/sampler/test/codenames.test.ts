// parseCodeName on the JIT code-event names of every supported Node version. The tier marker
// before a function's name changed between V8 versions; the names below were recorded from
// CODE_ADDED events of Node 20.20.2 (V8 11.3), 22.23.3 (12.4), 24.21.0 (13.6) and 26.10.0 (14.6).
import assert from 'node:assert/strict';
import { CodeMap, parseCodeName } from '../src/index';

describe('code-event names of every supported V8', () => {
  const cases: [raw: string, name: string, tier: string, file: string][] = [
    // Node 20 and later: interpreted, Sparkplug, TurboFan.
    ['JS:~getNewKey node:internal/per_context/primordials:54:19', 'getNewKey', '~', 'node:internal/per_context/primordials'],
    ['JS:^next node:internal/per_context/primordials:330:9', 'next', '^', 'node:internal/per_context/primordials'],
    ['JS:*hot /tmp/names.js:3:13', 'hot', '*', '/tmp/names.js'],
    // Node 22 and later: private methods keep their '#'.
    ['JS:~#compare node:internal/priority_queue:10:14', '#compare', '~', 'node:internal/priority_queue'],
    // Node 24 and later: Maglev, and "'" for code specialized to its context.
    ['JS:+hot /tmp/names.js:3:13', 'hot', '+', '/tmp/names.js'],
    ["JS:*'warm /tmp/names.js:4:14", 'warm', '*', '/tmp/names.js'],
    ["JS:+'normalizeString node:path:92:25", 'normalizeString', '+', 'node:path'],
    // Node 26: 'o' for on-stack-replacement code.
    ['JS:o*hot /tmp/names.js:3:13', 'hot', '*', '/tmp/names.js'],
    ['JS:o+ptprofHotLoop /x/workload.js:12:23', 'ptprofHotLoop', '+', '/x/workload.js'],
    // Names that merely look like markers stay whole.
    ['JS:~outer /tmp/names.js:5:15', 'outer', '~', '/tmp/names.js'],
    ["JS:~'quoted' /tmp/q.js:1:1", "'quoted'", '~', '/tmp/q.js'],
    ['JS:o /tmp/o.js:1:1', 'o', '', '/tmp/o.js'],
    ['JS:^o /tmp/o.js:1:1', 'o', '^', '/tmp/o.js'],
    ['JS: :1:1', '(anonymous)', '', ''],
  ];
  for (const [raw, name, tier, file] of cases) {
    it(raw, () => {
      const f = parseCodeName(raw);
      assert.deepEqual({ name: f.name, tier: f.tier, file: f.file, kind: f.kind, systemName: f.systemName }, { name, tier, file, kind: 'js', systemName: raw });
    });
  }
  it('names of other code are kept whole', () => {
    assert.deepEqual([parseCodeName('Builtin:MathSqrt').kind, parseCodeName('BytecodeHandler:WideHandler').kind], ['builtin', 'builtin']);
  });

  it('a CodeMap given raw names answers with them parsed, through moves and removals, as when given parsed ones', () => {
    const raw = ['JS:*hot /tmp/names.js:3:13', "JS:+'fib /tmp/m.js:2:1", 'Builtin:MathSqrt', 'JS:~ /tmp/anon.js:1:1'];
    const lazy = new CodeMap<string>();
    const eager = new CodeMap<string>();
    raw.forEach((r, i) => {
      lazy.add(0x1000 * (i + 1), 0x100, r, `data ${i}`);
      eager.add(0x1000 * (i + 1), 0x100, parseCodeName(r), `data ${i}`);
    });
    const answers = (m: CodeMap<string>): unknown[] => [
      m.lookup(0x1010), m.entry(0x2050), m.at(0x3000), m.lookup(0x3100), m.move(0x4000, 0x9000), m.entry(0x9001), m.lookup(0x4001),
      m.remove(0x2000), m.lookup(0x2050), m.size,
    ];
    const got = answers(lazy);
    assert.deepEqual(got, answers(eager));
    assert.equal((got[0] as { name: string }).name, 'hot');
    assert.equal((got[5] as { info: { name: string }; data: string }).info.name, '(anonymous)');
    assert.equal((got[5] as { data: string }).data, 'data 3');
  });
});
