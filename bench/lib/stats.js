'use strict';
// Statistics the benches share.

/** The median of numbers: the middle one, or the mean of the two middle ones. */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

module.exports = { median };
