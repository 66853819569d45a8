// Unsigned integers as LEB128 varints (7 bits a byte, low first), then base64: the page's arrays.
// A call tree of 100,000 stacks is a few hundred thousand small numbers; as JSON text each would
// cost its digits and a comma, here most cost one or two bytes (and base64's third). The page
// decodes them (page/decode.ts) into typed arrays in one pass.

/** Appends varints to a growing byte buffer. Values must be integers in [0, 2^53). */
export class VarintWriter {
  private buf = new Uint8Array(1 << 16);
  private len = 0;

  push(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v))) {
      throw new RangeError(`varint: ${v} is not an integer in [0, 2^53)`);
    }
    if (this.len + 8 > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    // Division, not shifts: shifts work on 32 bits and values go up to 2^53.
    while (v >= 128) {
      this.buf[this.len++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  base64(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len).toString('base64');
  }
}

/** Varints of `values`, base64. */
export function encodeVarints(values: Iterable<number>): string {
  const w = new VarintWriter();
  for (const v of values) w.push(v);
  return w.base64();
}
