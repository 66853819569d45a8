'use strict';
// Where the committed prebuilds of @ptprof/timers-native live, by name: one definition for the
// prebuild script, the cross-version test and the package's own prebuild test.
const fs = require('node:fs');
const path = require('node:path');

const PKG_DIR = path.resolve(__dirname, '..', '..', 'packages', 'timers-native');
const PREBUILDS_DIR = path.join(PKG_DIR, 'prebuilds');
const PLATFORM = 'linux';

/** prebuildify's file name for an ABI: `@ptprof+timers-native.abi115.glibc.node`. */
function prebuildName(abi) {
  const name = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8')).name.replace(/\//g, '+');
  return `${name}.abi${abi}.glibc.node`;
}

/** The committed prebuild for an architecture and ABI. */
function prebuildFile(arch, abi) {
  return path.join(PREBUILDS_DIR, `${PLATFORM}-${arch}`, prebuildName(abi));
}

module.exports = { PKG_DIR, PREBUILDS_DIR, PLATFORM, prebuildName, prebuildFile };
