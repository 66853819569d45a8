'use strict';
// A helper module of the inlined workload: its functions are inlined into another module's code.

/** One step of a multiplicative hash: the character in, then the bits mixed. */
function mix(h, c) {
  h = Math.imul(h ^ c, 16777619);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

module.exports = { mix };
