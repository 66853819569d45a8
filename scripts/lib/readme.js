'use strict';
// The README's generated sections: the text between an opening and a closing marker comment is
// replaced, atomically (a temporary file, then a rename). Every script that writes into the README
// (the benchmarks, the support matrix) goes through here.
const fs = require('node:fs');
const path = require('node:path');

const README = path.resolve(__dirname, '..', '..', 'README.md');

/**
 * Replaces what stands between `open` and `close` in `file` with `body`. When the markers are
 * missing and `insertBefore` is given (a heading such as '\n## Development'), the section is
 * inserted before it with `heading`; otherwise it throws.
 */
function replaceSection(open, close, body, { file = README, insertBefore, heading } = {}) {
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  let next;
  if (a >= 0 && b > a) {
    next = text.slice(0, a + open.length) + '\n' + body.trim() + '\n' + text.slice(b);
  } else if (insertBefore !== undefined && text.includes(insertBefore)) {
    const at = text.indexOf(insertBefore);
    next = `${text.slice(0, at)}\n${heading ? `${heading}\n\n` : ''}${open}\n${body.trim()}\n${close}\n${text.slice(at)}`;
  } else {
    throw new Error(`${path.basename(file)} has no ${open} ... ${close} section to write into`);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, next);
  fs.renameSync(tmp, file);
}

module.exports = { README, replaceSection };
