'use strict';
// Replaces the text between <!-- bench:NAME --> and <!-- /bench:NAME --> in the root README.
const fs = require('node:fs');
const path = require('node:path');

const README = path.resolve(__dirname, '..', '..', 'README.md');

function writeSection(name, body) {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const text = fs.readFileSync(README, 'utf8');
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} ... ${close} section to write into`);
  const next = text.slice(0, a + open.length) + '\n' + body.trim() + '\n' + text.slice(b);
  const tmp = README + '.tmp';
  fs.writeFileSync(tmp, next);
  fs.renameSync(tmp, README);
}

function machine() {
  const os = require('node:os');
  let hz = 'unknown';
  try {
    // CONFIG_HZ from the kernel config, when readable.
    const cfg = fs.readFileSync(`/boot/config-${os.release()}`, 'utf8');
    hz = /^CONFIG_HZ=(\d+)/m.exec(cfg)?.[1] ?? hz;
  } catch {
    /* not readable: reported as measured by the caller, if it measured it */
  }
  return { cores: os.cpus().length, kernel: os.release(), node: process.version, hz, date: new Date().toISOString().slice(0, 10) };
}

module.exports = { writeSection, machine };
