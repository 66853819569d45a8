'use strict';
// The arguments of a bench that runs one program under ptprof: its own options before `--`, the
// program after it (default: bench/workloads/self-share.js, a worker, crypto and zlib, ~1 s).
const path = require('node:path');

/** { opt(name, default), command } from argv (process.argv.slice(2)). */
function programArgs(argv) {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const opt = (name, dflt) => (own.includes(name) ? own[own.indexOf(name) + 1] : dflt);
  const command = dash < 0 ? [process.execPath, path.join(__dirname, '..', 'workloads', 'self-share.js')] : argv.slice(dash + 1);
  return { opt, command };
}

module.exports = { programArgs };
