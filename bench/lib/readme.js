'use strict';
// Replaces the text between <!-- bench:NAME --> and <!-- /bench:NAME --> in the root README.
const fs = require('node:fs');
const { replaceSection } = require('../../scripts/lib/readme.js');

function writeSection(name, body) {
  replaceSection(`<!-- bench:${name} -->`, `<!-- /bench:${name} -->`, body);
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
