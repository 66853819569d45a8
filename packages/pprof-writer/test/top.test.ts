// Reading back: topFunctions, formatTop, threadTotals, sampleTotal. Expected numbers are computed
// from the input rows directly.
import assert from 'node:assert/strict';
import {
  decodePprof, encodePprof, formatTop, formatValue, sampleTotal, threadTotals, topFunctions, type ProfileInput,
} from '../src';
import { handMadeProfile, inputTotals, randomProfile } from './helpers';

/** flat/cum per "name\0file" straight from the input (a function counted once per row for cum). */
function expectedTop(input: ProfileInput, which: 'cpu' | 'samples') {
  const flat = new Map<string, number>();
  const cum = new Map<string, number>();
  for (const s of input.samples) {
    const v = which === 'cpu' ? Math.round(s.cpuNanos) : s.count;
    const frames = s.frames.length ? s.frames : [{ name: '(no stack)' }];
    const leaf = `${frames[0]!.name}\0${frames[0]!.file ?? ''}`;
    flat.set(leaf, (flat.get(leaf) ?? 0) + v);
    for (const k of new Set(frames.map((f) => `${f.name}\0${f.file ?? ''}`))) cum.set(k, (cum.get(k) ?? 0) + v);
  }
  return { flat, cum };
}

describe('topFunctions / formatTop / threadTotals', () => {
  for (const which of ['cpu', 'samples'] as const) {
    it(`ranks functions by flat ${which}, with cum counting recursion once (random profile)`, () => {
      const input = randomProfile(2024, 400);
      const p = decodePprof(encodePprof(input));
      const total = which === 'cpu' ? inputTotals(input).cpu : inputTotals(input).count;
      const { flat, cum } = expectedTop(input, which);
      const rows = topFunctions(p, { sampleType: which });
      assert.equal(rows.length, cum.size);
      for (const r of rows) {
        const k = `${r.name}\0${r.file}`;
        assert.equal(r.flat, flat.get(k) ?? 0, `flat of ${r.name}`);
        assert.equal(r.cum, cum.get(k), `cum of ${r.name}`);
        assert.ok(Math.abs(r.flatPct - (100 * r.flat) / total) < 1e-9);
        assert.ok(Math.abs(r.cumPct - (100 * r.cum) / total) < 1e-9);
        assert.ok(r.cum >= r.flat);
      }
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.flat >= rows[i]!.flat, 'sorted by flat');
      assert.equal(rows.reduce((a, r) => a + r.flat, 0), total, 'flat sums to the total');
      assert.equal(sampleTotal(p, which), total);
    });
  }

  it('counts a recursive function once per sample in cum', () => {
    const input = handMadeProfile(); // fib;fib;main x301
    const rows = topFunctions(toProfile(input), { sampleType: 'samples' });
    const fib = rows.find((r) => r.name === 'fib')!;
    assert.equal(fib.flat, 301);
    assert.equal(fib.cum, 301);
    const main = rows.find((r) => r.name === 'main')!;
    assert.equal(main.flat, 7);
    assert.equal(main.cum, 308);
  });

  it('keeps n rows and defaults to cpu', () => {
    const p = toProfile(handMadeProfile());
    const rows = topFunctions(p, { n: 2 });
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.map((r) => [r.name, r.flat]), [['fib', 1_204_000_017], ['hashChunk', 492_000_011]]);
    assert.equal(topFunctions(p, { n: 0 }).length, 0);
  });

  it('throws for a sample type the profile lacks', () => {
    assert.throws(() => topFunctions(toProfile(handMadeProfile()), { sampleType: 'wall' as any }), /no sample type 'wall'/);
  });

  it('formats a table like go tool pprof -top', () => {
    const p = toProfile(handMadeProfile());
    const total = sampleTotal(p, 'cpu');
    const rows = topFunctions(p, { n: 3 });
    const text = formatTop(rows, total);
    const lines = text.trimEnd().split('\n');
    const shown = rows[0]!.flat + rows[1]!.flat + rows[2]!.flat;
    assert.equal(lines[0], `Showing nodes accounting for ${formatValue(shown)}, ${(100 * shown / total).toFixed(2)}% of ${formatValue(total)} total`);
    assert.match(lines[1]!, /^\s+flat\s+flat%\s+sum%\s+cum\s+cum%$/);
    assert.equal(lines.length, 2 + rows.length);
    let sum = 0;
    rows.forEach((r, i) => {
      sum += r.flat;
      const cols = lines[2 + i]!.trim().split(/\s+/);
      assert.equal(cols[0], formatValue(r.flat));
      assert.equal(cols[1], `${(100 * r.flat / total).toFixed(2)}%`);
      assert.equal(cols[2], `${(100 * sum / total).toFixed(2)}%`);
      assert.equal(cols[3], formatValue(r.cum));
      assert.ok(lines[2 + i]!.endsWith(r.file ? `  ${r.name} (${r.file})` : `  ${r.name}`), lines[2 + i]);
    });
    const pct = `${((100 * 301) / 447).toFixed(2)}%`.replace('.', '\\.'); // fib: 301 of 447 samples
    assert.match(formatTop(topFunctions(p, { sampleType: 'samples' }), sampleTotal(p, 'samples'), { unit: 'count' }),
      new RegExp(`^\\s+301\\s+${pct}\\s+${pct}\\s+301\\s+${pct}  fib \\(/app/fib\\.js\\)$`, 'm'));
  });

  it('formats values like pprof: ns, us, ms, s, mins, hrs', () => {
    assert.equal(formatValue(0), '0ns');
    assert.equal(formatValue(999), '999ns');
    assert.equal(formatValue(1500), '1.5us');
    assert.equal(formatValue(20_000_000), '20ms');
    assert.equal(formatValue(1_204_000_017), '1.2s');
    assert.equal(formatValue(90e9), '1.5mins');
    assert.equal(formatValue(7200e9), '2hrs');
    assert.equal(formatValue(12345, 'count'), '12345');
  });

  it('totals samples and cpu per thread (thread_id + thread_name), busiest first', () => {
    const input = randomProfile(77, 300, 10, 5);
    const want = new Map<string, { samples: number; cpuNanos: number }>();
    for (const s of input.samples) {
      const k = `${s.labels!.thread_id}/${s.labels!.thread_name}`;
      const e = want.get(k) ?? { samples: 0, cpuNanos: 0 };
      e.samples += s.count;
      e.cpuNanos += s.cpuNanos;
      want.set(k, e);
    }
    const got = threadTotals(decodePprof(encodePprof(input)));
    assert.equal(got.length, want.size);
    for (const t of got) {
      assert.deepEqual({ samples: t.samples, cpuNanos: t.cpuNanos }, want.get(`${t.threadId}/${t.threadName}`));
    }
    for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.cpuNanos >= got[i]!.cpuNanos);
  });

  it('groups samples without thread labels under one entry with no id and no name', () => {
    const got = threadTotals(toProfile({ periodNanos: 1, samples: [
      { frames: [], count: 1, cpuNanos: 10 },
      { frames: [{ name: 'f' }], count: 2, cpuNanos: 20, labels: { other: 'x' } },
      { frames: [], count: 4, cpuNanos: 5, labels: { thread_id: '12' } },
    ] }));
    assert.deepEqual(got, [{ samples: 3, cpuNanos: 30 }, { threadId: 12, samples: 4, cpuNanos: 5 }]);
  });
});

function toProfile(input: ProfileInput) {
  return decodePprof(encodePprof(input));
}
