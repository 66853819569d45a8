// Text from a profile, made safe to print on a terminal. Function names, file names, labels and
// comments come from whoever wrote the file: printed as they are, an escape sequence in a name
// can clear the screen, retitle the terminal or rewrite what was printed before it.

// C0 controls, DEL, C1 controls (ESC's 8-bit twins, e.g. U+009B CSI), and the invisible
// characters that reorder or hide text: bidirectional overrides and isolates, line and
// paragraph separators, zero-width joiners and the byte-order mark.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `s` with every control and invisible formatting character written as an escape (`\x1b`,
 * `\n`, `\u202e`), and cut to `max` characters (`...(+N chars)` says how many were left out).
 */
export function printable(s: string, max = Infinity): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  const out = cut.replace(UNSAFE, escapeChar);
  return s.length > max ? `${out}...(+${s.length - max} chars)` : out;
}

/** Whether `s` holds a character that printable() would escape. */
export function hasControlChars(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const r = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return r;
}
