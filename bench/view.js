#!/usr/bin/env node
'use strict';
// How fast `ptprof view`'s page is on a big profile, and how big it is: a synthetic pprof with
// 100,000 distinct stacks (8 threads, 4000 functions; packages/view/test/synthetic.ts) is read and
// written as the page, which headless Chromium then loads from file://; the time to the first
// drawn flame graph is the page's own performance mark ('ptprof-rendered', set once the flame
// graph, the totals and the function table are there), measured from navigation start.
//
//   npm run bench:view [-- --write-readme] [--stacks 100000] [--reps 5]
//
// Needs the compiled TypeScript (npm run build:ts) and Chromium (Debian: apt-get install chromium).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { encodePprof } = require('../packages/pprof-writer');
const { readProfiles, outputFiles, writeOutputFiles } = require('../packages/view');
const { syntheticProfile } = require('../packages/view/dist/test/synthetic.js');
const { Chromium, findChromium } = require('../packages/view/dist/test/chromium.js');
const { writeSection, machine } = require('./lib/readme');
const { median } = require('./lib/stats');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const STACKS = Number(opt('--stacks', 100000));
const REPS = Number(opt('--reps', 5));

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;

async function main() {
  const chromium = findChromium();
  if (!chromium) throw new Error('no Chromium found (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chrome)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptprof-bench-view-'));
  try {
    const input = syntheticProfile(STACKS, 7);
    const pb = path.join(dir, 'big.pb.gz');
    fs.writeFileSync(pb, encodePprof(input));
    const html = path.join(dir, 'big.html');
    const builds = [];
    let view;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      view = readProfiles([pb]);
      writeOutputFiles(outputFiles(view, 'html', html));
      builds.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const htmlBytes = fs.statSync(html).size;
    const pbBytes = fs.statSync(pb).size;
    const data = JSON.parse(/<script id="ptprof-data" type="application\/json">(.*?)<\/script>/s.exec(fs.readFileSync(html, 'utf8'))[1]);
    const nodes = Buffer.from(data.nodes, 'base64').reduce((a, b) => a + (b < 128 ? 1 : 0), 0) / 2;
    console.error(`${STACKS} stacks: pprof ${kib(pbBytes)}, page ${mib(htmlBytes)}, ${nodes} call-tree nodes, built in ${median(builds).toFixed(0)} ms`);

    const rendered = [];
    const loaded = [];
    const switched = [];
    const version = require('node:child_process').execFileSync(chromium, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    for (let r = 0; r < REPS; r++) {
      // A fresh browser each time: no cache, no warm JIT from the previous load.
      const b = Chromium.launch(chromium);
      try {
        const page = await b.newPage();
        const t0 = Date.now();
        await page.goto(`file://${html}`, 120000);
        await page.waitFor('document.body.dataset.rendered', 120000);
        const wall = Date.now() - t0;
        const mark = await page.evaluate("performance.getEntriesByName('ptprof-rendered')[0].startTime");
        if (page.problems.length) throw new Error(`the page reported: ${page.problems.map((p) => p.text).join('; ')}`);
        const total = await page.evaluate("document.getElementById('total').textContent");
        // Picking one thread, then all of them again: the call trees merged anew, the graph and the table redrawn.
        const sw = await page.evaluate(`(() => {
          const s = document.getElementById('thread');
          const t0 = performance.now();
          s.value = [...s.options].find((o) => o.textContent.startsWith('main')).value;
          s.dispatchEvent(new Event('change'));
          s.value = s.options[0].value;
          s.dispatchEvent(new Event('change'));
          return (performance.now() - t0) / 2;
        })()`);
        rendered.push(mark);
        loaded.push(wall);
        switched.push(sw);
        console.error(`  run ${r + 1}: drawn ${mark.toFixed(0)} ms after navigation start (${wall} ms from the navigate command), a thread picked in ${sw.toFixed(0)} ms; ${total}`);
      } finally {
        await b.close();
      }
    }
    const m = machine();
    const text = [
      '| profile | distinct stacks | call-tree nodes | pprof file | page (HTML, all inline) | page built by `ptprof view` | first flame graph drawn in Chromium | picking a thread |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      `| synthetic: 8 threads, 4000 functions | ${STACKS.toLocaleString('en-US')} | ${nodes.toLocaleString('en-US')} | ${kib(pbBytes)} | ${mib(htmlBytes)} | ${median(builds).toFixed(0)} ms | ${median(rendered).toFixed(0)} ms (${Math.min(...rendered).toFixed(0)}–${Math.max(...rendered).toFixed(0)}) | ${median(switched).toFixed(0)} ms |`,
      '',
      `Median of ${REPS} loads, each in a fresh headless ${version} (\`--headless=new --disable-gpu\`), from file://; ` +
        'the time is the page\'s own mark once the flame graph, the totals and the function table are there, from navigation start ' +
        '(reading the file, parsing the data, merging the threads\' call trees, drawing). "Built": reading the pprof file and writing the page, median of 3. ' +
        '"Picking a thread": the page\'s work when one is chosen in the selector (merging its call tree, drawing the graph, rebuilding the table; the paint follows), the mean of main and of all threads again. ' +
        `Measured ${m.date} with \`npm run bench:view\` on ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}.`,
    ].join('\n');
    console.log(text);
    if (args.includes('--write-readme')) writeSection('view', text);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench:view: ${e.message}`);
  process.exit(1);
});
