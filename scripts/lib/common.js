'use strict';
// What the repository's scripts share: finding a tool on PATH, reading a Node's headers, and
// printing a script's header comment as its --help.
const fs = require('node:fs');
const path = require('node:path');

/** The path of an executable `cmd` on PATH, or null. */
function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

/** Node's version, ABI (NODE_MODULE_VERSION) and V8 version, read from `<dir>/include/node`. */
function headerInfo(dir) {
  const read = (f) => fs.readFileSync(path.join(dir, 'include', 'node', f), 'utf8');
  const num = (text, name) => Number(new RegExp(`#define ${name} (\\d+)`).exec(text)[1]);
  const nv = read('node_version.h');
  const v8 = read('v8-version.h');
  return {
    version: `${num(nv, 'NODE_MAJOR_VERSION')}.${num(nv, 'NODE_MINOR_VERSION')}.${num(nv, 'NODE_PATCH_VERSION')}`,
    abi: num(nv, 'NODE_MODULE_VERSION'),
    v8: `${num(v8, 'V8_MAJOR_VERSION')}.${num(v8, 'V8_MINOR_VERSION')}`,
  };
}

/** Prints the `// ` comment block after a script's first two lines (its usage) and exits 0. */
function printUsage(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(2);
  console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}

module.exports = { which, headerInfo, printUsage };
