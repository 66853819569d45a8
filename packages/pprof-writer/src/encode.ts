// A pprof Profile (pprof-format's model) -> protobuf bytes, each message measured once.
//
// Why not Profile.encode(): pprof-format measures a nested message each time an enclosing one is
// measured and once more when it is written (a Line three times, a Sample twice, every number of
// a packed field at each measure). On a process tree's profile (tsc: 556 samples 38 frames deep,
// 1452 locations) that was 37 ms of the `ptprof` command's ~100 ms of work after the run, most of it
// in code that runs once and so never gets optimized (issue 14). This writes the same bytes, field
// for field in pprof-format's order (test/encode.test.ts compares them), in one measuring pass and
// one writing pass. pprof-format stays the model and the decoder.
import type { Profile } from 'pprof-format';

type Numeric = number | bigint;

/** Bytes of the varint of n (a negative number takes 10: its 64-bit two's complement). */
function varintSize(n: Numeric): number {
  if (typeof n === 'bigint') {
    let size = 1;
    for (let v = BigInt.asUintN(64, n) >> 7n; v > 0n; v >>= 7n) size++;
    return size;
  }
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  for (let v = Math.floor(n / 0x10000000); v > 0; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** A varint field of tag (one byte) and value n: nothing when n is 0, as proto3 omits it. */
const fieldSize = (n: Numeric): number => (n === 0 || n === 0n ? 0 : 1 + varintSize(n));

/** Bytes of a packed array's elements (zeros kept: positions matter). */
function packedSize(list: readonly Numeric[]): number {
  let total = 0;
  for (let i = 0; i < list.length; i++) total += varintSize(list[i]!);
  return total;
}

class Out {
  readonly buf: Uint8Array;
  at = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  varint(n: Numeric): void {
    const b = this.buf;
    let i = this.at;
    if (typeof n === 'number' && n >= 0 && n < 0x80000000) {
      while (n >= 0x80) {
        b[i++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      b[i++] = n;
    } else {
      // Large, negative (protobuf's int64: ten bytes of two's complement) or a bigint.
      let v = BigInt.asUintN(64, typeof n === 'bigint' ? n : BigInt(Math.trunc(n)));
      while (v >= 0x80n) {
        b[i++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      b[i++] = Number(v);
    }
    this.at = i;
  }

  field(tag: number, n: Numeric): void {
    if (n === 0 || n === 0n) return;
    this.buf[this.at++] = tag;
    this.varint(n);
  }

  packed(tag: number, list: readonly Numeric[], size: number): void {
    if (list.length === 0) return;
    this.buf[this.at++] = tag;
    this.varint(size);
    for (let i = 0; i < list.length; i++) this.varint(list[i]!);
  }

  /** A length-delimited field's tag and length. */
  open(tag: number, length: number): void {
    this.buf[this.at++] = tag;
    this.varint(length);
  }
}

const delimited = (length: number): number => 1 + varintSize(length) + length;

/**
 * The protobuf bytes of profile: the bytes pprof-format's profile.encode() writes, measured once.
 */
export function encodeProfile(p: Profile): Uint8Array {
  // Measure: each message once, kept for the writing pass.
  const valueTypes = p.sampleType.map((t) => fieldSize(t.type) + fieldSize(t.unit));
  let total = 0;
  for (const s of valueTypes) total += delimited(s);

  const sampleSizes = new Array<number>(p.sample.length);
  const locSizes = new Array<number>(p.sample.length);
  const valSizes = new Array<number>(p.sample.length);
  const labelSizes: number[][] = new Array<number[]>(p.sample.length);
  for (let i = 0; i < p.sample.length; i++) {
    const s = p.sample[i]!;
    const loc = packedSize(s.locationId);
    const val = packedSize(s.value);
    let size = (loc ? delimited(loc) : 0) + (val ? delimited(val) : 0);
    const labels = s.label.map((l) => fieldSize(l.key) + fieldSize(l.str) + fieldSize(l.num) + fieldSize(l.numUnit));
    for (const l of labels) size += delimited(l);
    locSizes[i] = loc;
    valSizes[i] = val;
    labelSizes[i] = labels;
    sampleSizes[i] = size;
    total += delimited(size);
  }

  const mappingSizes = p.mapping.map((m) => fieldSize(m.id) + fieldSize(m.memoryStart) + fieldSize(m.memoryLimit)
    + fieldSize(m.fileOffset) + fieldSize(m.filename) + fieldSize(m.buildId)
    + (m.hasFunctions ? 2 : 0) + (m.hasFilenames ? 2 : 0) + (m.hasLineNumbers ? 2 : 0) + (m.hasInlineFrames ? 2 : 0));
  for (const s of mappingSizes) total += delimited(s);

  const lineSizes: number[][] = new Array<number[]>(p.location.length);
  const locationSizes = new Array<number>(p.location.length);
  for (let i = 0; i < p.location.length; i++) {
    const l = p.location[i]!;
    const lines = new Array<number>(l.line.length);
    let size = fieldSize(l.id) + fieldSize(l.mappingId) + fieldSize(l.address) + (l.isFolded ? 2 : 0);
    for (let j = 0; j < l.line.length; j++) {
      const x = l.line[j]!;
      lines[j] = fieldSize(x.functionId) + fieldSize(x.line) + fieldSize(x.column);
      size += delimited(lines[j]!);
    }
    lineSizes[i] = lines;
    locationSizes[i] = size;
    total += delimited(size);
  }

  const functionSizes = p.function.map((f) => fieldSize(f.id) + fieldSize(f.name) + fieldSize(f.systemName)
    + fieldSize(f.filename) + fieldSize(f.startLine));
  for (const s of functionSizes) total += delimited(s);

  total += p.stringTable.encodedLength;
  const periodType = p.periodType ? fieldSize(p.periodType.type) + fieldSize(p.periodType.unit) : -1;
  const comments = packedSize(p.comment);
  total += fieldSize(p.dropFrames) + fieldSize(p.keepFrames) + fieldSize(p.timeNanos) + fieldSize(p.durationNanos)
    + (periodType >= 0 ? delimited(periodType) : 0) + fieldSize(p.period) + (comments ? delimited(comments) : 0)
    + fieldSize(p.defaultSampleType) + fieldSize(p.docUrl);

  // Write, in pprof-format's order of fields.
  const o = new Out(total);
  p.sampleType.forEach((t, i) => {
    o.open(10, valueTypes[i]!);
    o.field(8, t.type);
    o.field(16, t.unit);
  });
  for (let i = 0; i < p.sample.length; i++) {
    const s = p.sample[i]!;
    o.open(18, sampleSizes[i]!);
    o.packed(10, s.locationId, locSizes[i]!);
    o.packed(18, s.value, valSizes[i]!);
    const labels = labelSizes[i]!;
    for (let j = 0; j < s.label.length; j++) {
      const l = s.label[j]!;
      o.open(26, labels[j]!);
      o.field(8, l.key);
      o.field(16, l.str);
      o.field(24, l.num);
      o.field(32, l.numUnit);
    }
  }
  p.mapping.forEach((m, i) => {
    o.open(26, mappingSizes[i]!);
    o.field(8, m.id);
    o.field(16, m.memoryStart);
    o.field(24, m.memoryLimit);
    o.field(32, m.fileOffset);
    o.field(40, m.filename);
    o.field(48, m.buildId);
    o.field(56, m.hasFunctions ? 1 : 0);
    o.field(64, m.hasFilenames ? 1 : 0);
    o.field(72, m.hasLineNumbers ? 1 : 0);
    o.field(80, m.hasInlineFrames ? 1 : 0);
  });
  for (let i = 0; i < p.location.length; i++) {
    const l = p.location[i]!;
    o.open(34, locationSizes[i]!);
    o.field(8, l.id);
    o.field(16, l.mappingId);
    o.field(24, l.address);
    const lines = lineSizes[i]!;
    for (let j = 0; j < l.line.length; j++) {
      const x = l.line[j]!;
      o.open(34, lines[j]!);
      o.field(8, x.functionId);
      o.field(16, x.line);
      o.field(24, x.column);
    }
    o.field(40, l.isFolded ? 1 : 0);
  }
  p.function.forEach((f, i) => {
    o.open(42, functionSizes[i]!);
    o.field(8, f.id);
    o.field(16, f.name);
    o.field(24, f.systemName);
    o.field(32, f.filename);
    o.field(40, f.startLine);
  });
  o.at = p.stringTable._encodeToBuffer(o.buf, o.at);
  o.field(56, p.dropFrames);
  o.field(64, p.keepFrames);
  o.field(72, p.timeNanos);
  o.field(80, p.durationNanos);
  if (p.periodType) {
    o.open(90, periodType);
    o.field(8, p.periodType.type);
    o.field(16, p.periodType.unit);
  }
  o.field(96, p.period);
  o.packed(106, p.comment, comments);
  o.field(112, p.defaultSampleType);
  o.field(120, p.docUrl);
  if (o.at !== total) throw new Error(`encodeProfile: wrote ${o.at} bytes of the ${total} measured`);
  return o.buf;
}
