// CodeMap keeps its ranges in chunks (an insert moves at most a chunk): it must answer every query
// as a plain sorted list of ranges does, through adds that overlap, removals, moves, and chunks
// that split and empty.
import assert from 'node:assert/strict';
import { CodeMap, type FunctionInfo } from '../src/codemap';

/** The reference: every range in one list, overlapped ones dropped at each add. */
class Plain {
  ranges: { start: number; end: number; name: string; data: number }[] = [];
  add(start: number, len: number, name: string, data: number): void {
    const end = start + Math.max(1, len);
    this.ranges = this.ranges.filter((r) => r.end <= start || r.start >= end);
    this.ranges.push({ start, end, name, data });
    this.ranges.sort((a, b) => a.start - b.start);
  }
  find(addr: number): { start: number; end: number; name: string; data: number } | undefined {
    return this.ranges.find((r) => r.start <= addr && addr < r.end);
  }
  remove(start: number): string | undefined {
    const i = this.ranges.findIndex((r) => r.start === start);
    if (i < 0) return undefined;
    return this.ranges.splice(i, 1)[0]!.name;
  }
  move(from: number, to: number): boolean {
    const r = this.ranges.find((x) => x.start === from);
    if (!r) return false;
    this.remove(from);
    this.add(to, r.end - r.start, r.name, r.data);
    return true;
  }
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nameOf = (i: FunctionInfo | undefined): string | undefined => i?.name;

describe('CodeMap: chunked ranges answer as one sorted list', () => {
  for (const [seed, space, ops] of [[1, 4000, 6000], [2, 400_000, 12_000], [3, 60_000, 12_000]] as const) {
    it(`seed ${seed}: ${ops} operations over ${space} addresses`, () => {
      const r = rng(seed);
      const map = new CodeMap<number>();
      const plain = new Plain();
      const addr = (): number => 0x1000 + Math.floor(r() * space);
      const existing = (): number => (plain.ranges.length ? plain.ranges[Math.floor(r() * plain.ranges.length)]!.start : addr());
      let peak = 0;
      for (let k = 0; k < ops; k++) {
        const op = r();
        if (op < 0.6) {
          // Mostly ascending, as V8 allocates, with some anywhere.
          const start = r() < 0.5 ? 0x1000 + Math.floor((k / ops) * space) : addr();
          const len = 1 + Math.floor(r() * 40);
          const name = `JS:*f${k} /a.js:${k}:1`;
          map.add(start, len, name, k);
          plain.add(start, len, name, k);
        } else if (op < 0.7) {
          const at = existing();
          const want = plain.ranges.find((x) => x.start === at);
          assert.equal(nameOf(map.remove(at)), want ? `f${want.data}` : undefined, `remove(${at})`);
          plain.remove(at);
        } else if (op < 0.8) {
          const from = existing();
          const to = addr();
          assert.equal(map.move(from, to), plain.move(from, to), `move ${from} -> ${to}`);
        } else {
          const a = r() < 0.5 ? existing() : addr();
          const want = plain.find(a);
          const got = map.entry(a);
          assert.equal(got?.start, want?.start, `entry(${a}).start`);
          assert.equal(got?.data, want?.data, `entry(${a}).data`);
          assert.equal(nameOf(got?.info), want ? `f${want.data}` : undefined, `entry(${a}).info`);
          assert.equal(nameOf(map.lookup(a)), want ? `f${want.data}` : undefined, `lookup(${a})`);
          assert.equal(nameOf(map.at(a)), want && want.start === a ? `f${want.data}` : undefined, `at(${a})`);
        }
        assert.equal(map.size, plain.ranges.length, `size after operation ${k}`);
        peak = Math.max(peak, map.size);
      }
      // Every range, one by one, at its start and its last byte.
      for (const x of plain.ranges) {
        assert.equal(map.entry(x.start)?.data, x.data);
        assert.equal(map.entry(x.end - 1)?.data, x.data);
        assert.equal(map.entry(x.end)?.start === x.start, false);
      }
      if (seed !== 1) assert.ok(peak > 1024, `enough ranges to split a chunk (peak ${peak})`);
    });
  }
});
