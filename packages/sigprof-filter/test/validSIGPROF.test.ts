import assert from 'node:assert/strict';
import {
  SI_KERNEL, SI_TIMER, SI_TKILL, SI_USER, SI_QUEUE,
  validSIGPROF, classify, type SignalSource,
} from '../src/index.js';

// The expectation, written out by hand from Go's runtime/os_linux.go rather than computed, with the
// codes as literal numbers so that a wrong constant fails here too. Two "other" codes sit right
// next to the two profiling codes (0x81, -3 is SI_MESGQ) to catch a comparison that is too wide.
//
//   name          code   known  timerValid  keep
const TABLE: ReadonlyArray<readonly [string, number, boolean, boolean, boolean]> = [
  ['SI_KERNEL',   0x80,  false, false,      true ],
  ['SI_KERNEL',   0x80,  false, true,       true ],
  ['SI_KERNEL',   0x80,  true,  false,      true ],
  ['SI_KERNEL',   0x80,  true,  true,       false],
  ['SI_TIMER',    -2,    false, false,      false],
  ['SI_TIMER',    -2,    false, true,       false],
  ['SI_TIMER',    -2,    true,  false,      false],
  ['SI_TIMER',    -2,    true,  true,       true ],
  ['SI_TKILL',    -6,    false, false,      true ],
  ['SI_TKILL',    -6,    false, true,       true ],
  ['SI_TKILL',    -6,    true,  false,      true ],
  ['SI_TKILL',    -6,    true,  true,       true ],
  ['SI_USER',     0,     false, false,      true ],
  ['SI_USER',     0,     false, true,       true ],
  ['SI_USER',     0,     true,  false,      true ],
  ['SI_USER',     0,     true,  true,       true ],
  ['SI_QUEUE',    -1,    false, false,      true ],
  ['SI_QUEUE',    -1,    false, true,       true ],
  ['SI_QUEUE',    -1,    true,  false,      true ],
  ['SI_QUEUE',    -1,    true,  true,       true ],
  ['other 0x81',  0x81,  false, false,      true ],
  ['other 0x81',  0x81,  false, true,       true ],
  ['other 0x81',  0x81,  true,  false,      true ],
  ['other 0x81',  0x81,  true,  true,       true ],
  ['other -3',    -3,    false, false,      true ],
  ['other -3',    -3,    false, true,       true ],
  ['other -3',    -3,    true,  false,      true ],
  ['other -3',    -3,    true,  true,       true ],
];

const STATES = [
  { known: false, timerValid: false },
  { known: false, timerValid: true },
  { known: true, timerValid: false },
  { known: true, timerValid: true },
] as const;

// A small seeded generator (mulberry32) so that the random codes are the same on every run.
function int32s(seed: number, n: number): number[] {
  const out: number[] = [];
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push((t ^ (t >>> 14)) | 0);
  }
  return out;
}

describe('si_code constants', () => {
  it('have the Linux values', () => {
    assert.equal(SI_KERNEL, 0x80);
    assert.equal(SI_TIMER, -2);
    assert.equal(SI_TKILL, -6);
    assert.equal(SI_USER, 0);
    assert.equal(SI_QUEUE, -1);
  });
});

describe('validSIGPROF truth table', () => {
  it('covers every code × known × timerValid combination exactly once', () => {
    const codes = [...new Set(TABLE.map((r) => r[1]))];
    assert.equal(codes.length, 7);
    assert.equal(TABLE.length, codes.length * STATES.length);
    const seen = new Set(TABLE.map(([, code, known, timerValid]) => `${code}/${known}/${timerValid}`));
    assert.equal(seen.size, TABLE.length);
  });

  for (const [name, code, known, timerValid, keep] of TABLE) {
    it(`${name} (${code}), known=${known}, timerValid=${timerValid} -> ${keep ? 'keep' : 'drop'}`, () => {
      assert.equal(validSIGPROF({ code, known, timerValid }), keep);
    });
  }
});

describe('validSIGPROF properties', () => {
  it('a thread never keeps both setitimer and timer_create signals, in any state', () => {
    for (const s of STATES) {
      const both = validSIGPROF({ code: SI_KERNEL, ...s }) && validSIGPROF({ code: SI_TIMER, ...s });
      assert.equal(both, false, `state ${JSON.stringify(s)} keeps both sources: its CPU counts twice`);
    }
  });

  it('a thread keeps exactly one of the two sources, in any state (none goes unprofiled)', () => {
    for (const s of STATES) {
      const kept = [SI_KERNEL, SI_TIMER].filter((code) => validSIGPROF({ code, ...s }));
      assert.equal(kept.length, 1, `state ${JSON.stringify(s)} keeps ${JSON.stringify(kept)}`);
    }
  });

  it('an unknown thread keeps only setitimer, whatever timerValid says', () => {
    for (const timerValid of [false, true]) {
      assert.equal(validSIGPROF({ code: SI_KERNEL, known: false, timerValid }), true);
      assert.equal(validSIGPROF({ code: SI_TIMER, known: false, timerValid }), false);
    }
  });

  it('a known thread keeps timer_create exactly when its timer is valid, setitimer otherwise', () => {
    assert.equal(validSIGPROF({ code: SI_TIMER, known: true, timerValid: true }), true);
    assert.equal(validSIGPROF({ code: SI_KERNEL, known: true, timerValid: true }), false);
    assert.equal(validSIGPROF({ code: SI_TIMER, known: true, timerValid: false }), false);
    assert.equal(validSIGPROF({ code: SI_KERNEL, known: true, timerValid: false }), true);
  });

  it('foreign codes always pass, in every thread state', () => {
    const codes: number[] = [];
    for (let c = -300; c <= 300; c++) codes.push(c);
    codes.push(-0, 0x7fffffff, -0x80000000, 0x7fffff80, -0x7ffffffe, ...int32s(35057, 2000));
    let checked = 0;
    for (const code of codes) {
      if (code === SI_KERNEL || code === SI_TIMER) continue;
      for (const s of STATES) {
        assert.equal(validSIGPROF({ code, ...s }), true, `code ${code} in ${JSON.stringify(s)}`);
        checked++;
      }
    }
    assert.ok(checked > 4 * 2500, `only ${checked} cases checked`);
  });

  it('ignores fields it does not read and does not modify the event', () => {
    const event = Object.freeze({ code: SI_TIMER, known: true, timerValid: true, tid: 7, stack: [1, 2] });
    assert.equal(validSIGPROF(event), true);
  });
});

describe('classify', () => {
  const names: ReadonlyArray<readonly [number, SignalSource]> = [
    [0x80, 'setitimer'],
    [-2, 'timer_create'],
    [-6, 'tkill'],
    [0, 'user'],
    [-1, 'queue'],
    [0x81, 'other'],
    [-3, 'other'],
    [1, 'other'],
    [0x7fffffff, 'other'],
    [-0x80000000, 'other'],
  ];
  for (const [code, name] of names) {
    it(`names ${code} '${name}'`, () => assert.equal(classify(code), name));
  }

  it('agrees with validSIGPROF: only setitimer and timer_create codes are ever dropped', () => {
    for (const code of [-7, -6, -5, -4, -3, -2, -1, 0, 1, 0x7f, 0x80, 0x81, ...int32s(8, 200)]) {
      const droppable = STATES.some((s) => !validSIGPROF({ code, ...s }));
      assert.equal(droppable, classify(code) === 'setitimer' || classify(code) === 'timer_create', `code ${code}`);
    }
  });

  it('rejects a code that is not an integer', () => {
    assert.throws(() => classify('128' as unknown as number), { name: 'TypeError', message: /^classify: code must be an integer.*string "128"/ });
    assert.throws(() => classify(NaN), { name: 'TypeError', message: /code must be an integer/ });
  });
});

describe('validSIGPROF input validation', () => {
  const good = { code: SI_TIMER, known: true, timerValid: true };
  type Case = readonly [string, unknown, 'TypeError' | 'RangeError', RegExp];
  const cases: ReadonlyArray<Case> = [
    ['no event', undefined, 'TypeError', /expected an object \{ code, known, timerValid \}, got undefined/],
    ['null event', null, 'TypeError', /expected an object .* got null/],
    ['a bare code', 128, 'TypeError', /expected an object .* got number 128/],
    ['missing code', { known: true, timerValid: true }, 'TypeError', /code must be an integer .*got undefined/],
    ['string code', { ...good, code: '128' }, 'TypeError', /code must be an integer .*got string "128"/],
    ['fractional code', { ...good, code: 1.5 }, 'TypeError', /code must be an integer .*got number 1\.5/],
    ['NaN code', { ...good, code: NaN }, 'TypeError', /code must be an integer .*got number NaN/],
    ['infinite code', { ...good, code: Infinity }, 'TypeError', /code must be an integer .*got number Infinity/],
    ['bigint code', { ...good, code: 128n }, 'TypeError', /code must be an integer .*got bigint 128n/],
    ['boxed code', { ...good, code: new Number(128) }, 'TypeError', /code must be an integer .*got object/],
    ['unsigned SI_TIMER', { ...good, code: 0xfffffffe }, 'RangeError', /code must be a signed 32-bit integer .*4294967294 \(read as unsigned\? as int32 it is -2\)/],
    ['too small code', { ...good, code: -0x80000001 }, 'RangeError', /code must be a signed 32-bit integer .*-2147483649$/],
    ['huge code', { ...good, code: 2 ** 53 }, 'RangeError', /code must be a signed 32-bit integer/],
    ['missing known', { code: SI_TIMER, timerValid: true }, 'TypeError', /known must be a boolean .*got undefined/],
    ['numeric known', { ...good, known: 1 }, 'TypeError', /known must be a boolean .*got number 1/],
    ['string known', { ...good, known: 'true' }, 'TypeError', /known must be a boolean .*got string "true"/],
    ['null known', { ...good, known: null }, 'TypeError', /known must be a boolean .*got null/],
    ['missing timerValid', { code: SI_TIMER, known: true }, 'TypeError', /timerValid must be a boolean .*got undefined/],
    ['numeric timerValid', { ...good, timerValid: 0 }, 'TypeError', /timerValid must be a boolean .*got number 0/],
    // Required even where Go would not read it (no M), so that a record missing it is caught.
    ['unknown thread, missing timerValid', { code: SI_KERNEL, known: false }, 'TypeError', /timerValid must be a boolean/],
    // Foreign codes are validated too: the flags are checked before the code decides.
    ['foreign code, bad flag', { code: SI_USER, known: 'yes', timerValid: false }, 'TypeError', /known must be a boolean/],
  ];
  for (const [what, input, name, message] of cases) {
    it(`rejects ${what} with a ${name} naming the field`, () => {
      assert.throws(() => validSIGPROF(input as never), (err: unknown) => {
        assert.ok(err instanceof Error, 'not an Error');
        assert.equal(err.name, name);
        assert.match(err.message, /^validSIGPROF: /);
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('accepts -0 as SI_USER', () => {
    assert.equal(validSIGPROF({ code: -0, known: true, timerValid: true }), true);
    assert.equal(classify(-0), 'user');
  });
});
