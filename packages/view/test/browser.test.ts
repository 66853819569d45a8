// The page in a real browser: headless Chromium (Debian's `chromium`) loads it from file:// and is
// driven as a person would: no console errors, nothing fetched, the functions and threads in the
// DOM, picking a thread changes the totals, search, zoom, icicle, the table. The screenshot of a
// real profile of examples/workers.js is saved as an artifact (ARTIFACTS below; the README's
// docs/view.png is copied from it by `npm run screenshot:view`). Skipped, with the reason, when
// Chromium is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodePprof } from '@ptprof/pprof-writer';
import { Chromium, findChromium, type Page } from './chromium';
import { scratch } from './helpers';
import { ptprofLike } from './fixtures';
import { syntheticProfile } from './synthetic';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'bin', 'ptprof.js');
const EXAMPLE = path.join(ROOT, 'examples', 'workers.js');
/** Where the screenshots go: $PTPROF_ARTIFACTS, else artifacts/ in the repository (git-ignored). */
export const ARTIFACTS = process.env.PTPROF_ARTIFACTS || path.join(ROOT, 'artifacts');

/** Selects the option whose text starts with `label`, as a person picking it does (a change event). */
async function pick(page: Page, label: string): Promise<void> {
  const ok = await page.evaluate<boolean>(`(() => {
    const s = document.getElementById('thread');
    const o = [...s.options].find((o) => o.textContent.startsWith(${JSON.stringify(label)}));
    if (!o) return false;
    s.value = o.value;
    s.dispatchEvent(new Event('change'));
    return true;
  })()`);
  assert.ok(ok, `an option starting with '${label}'`);
}

const text = (page: Page, selector: string): Promise<string> => page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)}).textContent`);
const tableNames = (page: Page): Promise<string[]> => page.evaluate<string[]>(`[...document.querySelectorAll('#table td.name')].map((td) => td.textContent)`);

/**
 * Where (viewport px) the flame graph draws a frame named `name`: found by hovering over the
 * canvas until the tooltip names it; the middle of its widest rectangle.
 */
async function findFrame(page: Page, name: string): Promise<{ x: number; y: number }> {
  const at = await page.evaluate<{ x: number; y: number } | null>(`(() => {
    const c = document.getElementById('flame');
    const tip = document.getElementById('tooltip');
    c.scrollIntoView({ block: 'center' });
    const r = c.getBoundingClientRect();
    let best = null;
    for (let y = r.top + 9; y < r.bottom; y += 18) {
      let run = 0;
      for (let x = r.left + 2; x < r.right; x += 3) {
        c.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: y, bubbles: true }));
        run = !tip.hidden && tip.querySelector('.name').textContent === ${JSON.stringify(name)} ? run + 1 : 0;
        if (run && (!best || run > best.run)) best = { run, x: x - (run - 1) * 1.5, y };
      }
    }
    return best && { x: Math.round(best.x), y: Math.round(best.y) };
  })()`);
  assert.ok(at, `the flame graph draws ${name}`);
  return at;
}

describe('the page in headless Chromium', function () {
  this.timeout(120000);
  let browser: Chromium | undefined;
  const s = scratch('browser');

  before(function () {
    const exe = findChromium();
    if (!exe) {
      console.log('      skipped: no Chromium (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chrome)');
      this.skip();
    }
    browser = Chromium.launch(exe!);
  });
  after(async () => {
    await browser?.close();
    s.remove();
  });

  it('a real profile of examples/workers.js (ptprof --html): no errors, names in the DOM, a thread changes the totals, a screenshot', async () => {
    // As a person runs it: `node` from PATH.
    const r = spawnSync(process.execPath, [CLI, '--html', '-o', s.file('w.pb.gz'), '--', 'node', EXAMPLE], { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, r.stderr);
    const html = s.file('w.html');
    assert.match(r.stderr, /wrote the page .*w\.html/);
    const page = await browser!.newPage(1280, 800);
    await page.goto(pathToFileURL(html).href);
    await page.waitFor('document.body.dataset.rendered');
    assert.deepEqual(page.problems, [], 'no console errors or warnings');
    assert.deepEqual(page.requests, [pathToFileURL(html).href], 'nothing fetched but the page');

    const options = await page.evaluate<string[]>(`[...document.querySelectorAll('#thread option')].map((o) => o.textContent)`);
    for (const label of ['All threads', 'main', 'worker 1', 'worker 2']) assert.ok(options.some((o) => o.startsWith(`${label} \u2014`)), `option ${label}: ${options.join(' | ')}`);
    assert.ok(options.some((o) => /^libuv's pool \(\d threads?\)/.test(o)), `the pool: ${options.join(' | ')}`);
    const all = await text(page, '#total');
    assert.match(all, /^All threads: [\d.]+ m?s CPU, 100\.0% of all$/);
    const names = await tableNames(page);
    for (const fn of ['mainHog', 'workerHog']) assert.ok(names.includes(fn), `${fn} in the table`);
    assert.match(await text(page, '#facts'), /command.*examples\/workers\.js.*duration[\d.]+ s.*rate100 Hz.*CPU profiled[\d.]+ s.*profiled ÷ OS[01]\.\d{3}/s);

    await pick(page, 'worker 1');
    const w1 = await text(page, '#total');
    const share = Number(/^worker 1: [\d.]+ m?s CPU, ([\d.]+)% of all$/.exec(w1)?.[1]);
    assert.ok(share > 5 && share < 60, `worker 1's share of all: ${w1}`);
    assert.ok((await tableNames(page)).includes('workerHog'));
    assert.ok(!(await tableNames(page)).includes('mainHog'), 'worker 1 never ran mainHog');
    await pick(page, 'main');
    assert.match(await text(page, '#total'), /^main: /);
    assert.ok((await tableNames(page)).includes('mainHog'));
    assert.ok(!(await tableNames(page)).includes('workerHog'));

    await pick(page, 'All threads');
    assert.equal(await text(page, '#total'), all);
    await page.evaluate(`(() => { const s = document.getElementById('search'); s.value = 'Hog'; s.dispatchEvent(new Event('input')); })()`);
    assert.match(await text(page, '#matched'), /^matched: [\d.]+ m?s, [\d.]+% of the selection$/);

    // The tooltip over mainHog (a real mouse), then the screenshot with it.
    const at = await findFrame(page, 'mainHog');
    await page.hover(at.x, at.y);
    const tip = await text(page, '#tooltip');
    assert.match(tip, /^mainHog.*examples\/workers\.js:\d+[\d.]+ m?s CPU \([\d.]+% of the selection\)/);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'view-workers.png');
    await page.screenshot(shot);
    assert.ok(fs.statSync(shot).size > 10000);
    console.log(`      screenshot: ${shot}`);

    // A click zooms into mainHog; Reset zoom comes back.
    await page.click(at.x, at.y);
    assert.equal(await page.evaluate<boolean>(`document.getElementById('reset').disabled`), false);
    assert.deepEqual(page.problems, []);
  });

  it('two processes, 3000 stacks: a group per process, sorting and filtering the table, icicle, zoom', async () => {
    fs.writeFileSync(s.file('a.pb.gz'), encodePprof(syntheticProfile(2000, 11, 300)));
    const child = syntheticProfile(1000, 12, 300);
    child.facts = { ptprof: '0.1.0', pid: 4343, ppid: 4242, process: 'descendant', end: 'exit(0)', hz: 100, cmd: 'node child.js' };
    fs.writeFileSync(s.file('a.4343.pb.gz'), encodePprof(child));
    const r = spawnSync(process.execPath, [CLI, 'view', s.file('a.pb.gz'), s.file('a.4343.pb.gz'), '-o', s.file('two.html')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${s.file('two.html')}\n`);
    const page = await browser!.newPage(1280, 800);
    await page.goto(pathToFileURL(s.file('two.html')).href);
    await page.waitFor('document.body.dataset.rendered');
    assert.deepEqual(page.problems, []);
    const groups = await page.evaluate<string[]>(`[...document.querySelectorAll('#thread optgroup')].map((g) => g.label)`);
    assert.deepEqual(groups, ['pid 4242: node synthetic.js --stacks 2000', 'pid 4343: node child.js']);
    assert.match(await text(page, '#facts'), /pid 4242: node synthetic\.js.*pid 4343: node child\.js/s);
    await pick(page, 'all threads of pid 4343');
    assert.match(await text(page, '#total'), /^all threads of pid 4343: [\d.]+ s CPU, 3\d\.\d% of all$/);
    await pick(page, 'worker 2');
    assert.match(await text(page, '#total'), /^pid 4242 worker 2: [\d.]+ s CPU, [\d.]+% of all$/);
    await pick(page, 'All processes');

    // Sorting by name, then by cum; filtering.
    await page.evaluate(`document.querySelector('th[data-key=name]').click()`);
    const byName = await tableNames(page);
    assert.deepEqual(byName, [...byName].sort());
    await page.evaluate(`document.querySelector('th[data-key=cum]').click()`);
    const cums = await page.evaluate<string[]>(`[...document.querySelectorAll('#table tbody tr td:nth-child(4)')].map((td) => td.textContent)`);
    const pcts = cums.map((c) => Number(c.replace('%', '')));
    assert.deepEqual(pcts, [...pcts].sort((a, b) => b - a));
    await page.evaluate(`(() => { const f = document.getElementById('filter'); f.value = 'v8::internal'; f.dispatchEvent(new Event('input')); })()`);
    const filtered = await tableNames(page);
    assert.ok(filtered.length > 0 && filtered.every((n) => n.includes('v8::internal')), filtered.slice(0, 3).join(', '));
    assert.match(await text(page, '#table-note'), /^\d+ of \d+ functions/);

    // Icicle: the root row moves from the bottom to the top.
    const rootRow = (): Promise<number> => page.evaluate<number>(`(() => {
      const c = document.getElementById('flame'), tip = document.getElementById('tooltip'), r = c.getBoundingClientRect();
      c.scrollIntoView({ block: 'center' });
      const rr = c.getBoundingClientRect();
      for (let y = rr.top + 9; y < rr.bottom; y += 18) {
        c.dispatchEvent(new MouseEvent('mousemove', { clientX: rr.left + 5, clientY: y, bubbles: true }));
        if (!tip.hidden && tip.querySelector('.name').textContent === 'all') return (y - rr.top) / rr.height;
      }
      return -1;
    })()`);
    assert.ok((await rootRow()) > 0.9, 'flame graph: the root at the bottom');
    await page.evaluate(`document.getElementById('icicle').click()`);
    const top = await rootRow();
    assert.ok(top >= 0 && top < 0.1, `icicle: the root at the top (${top})`);

    // A real click on a thread's tower zooms to it.
    const at = await findFrame(page, 'worker 1 (tid 101)');
    await page.click(at.x, at.y);
    assert.equal(await page.evaluate<boolean>(`document.getElementById('reset').disabled`), false);
    assert.deepEqual(page.problems, []);
  });

  it('a profile without samples: the page says so, without errors', async () => {
    fs.writeFileSync(s.file('empty.pb.gz'), encodePprof({ samples: [], periodNanos: 1e7, facts: { cmd: 'node -e 1' } }));
    const r = spawnSync(process.execPath, [CLI, 'view', s.file('empty.pb.gz')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const page = await browser!.newPage(1280, 800);
    await page.goto(pathToFileURL(s.file('empty.html')).href);
    await page.waitFor('document.body.dataset.rendered');
    assert.deepEqual(page.problems, []);
    assert.equal(await page.evaluate<boolean>(`document.getElementById('empty').hidden`), false);
    assert.match(await text(page, '#total'), /^All threads: 0 ns CPU, 0% of all$/);
  });

  it('names that are markup or script stay text: no element made, nothing run, shown as written', async () => {
    // Every place the page shows profile text: a function and its file, a thread, the command (the
    // title and the facts), a free comment. Each would run if it were ever parsed as HTML.
    const hook = (where: string): string => `<img src=x onerror="document.body.dataset.pwned='${where}'">`;
    const input = ptprofLike();
    input.samples[0]!.frames[0] = { name: `${hook('fn')}</script><!--`, file: `/app/${hook('file')}.js`, line: 1 };
    input.samples[2]!.labels = { thread_id: 4250, thread_name: `${hook('thread')}`, thread_kind: 'js' };
    input.facts = { ...input.facts, cmd: `node </title><script>document.body.dataset.pwned='title'</script>${hook('cmd')}` };
    input.comments = [`${hook('comment')}`];
    fs.writeFileSync(s.file('evil.pb.gz'), encodePprof(input));
    const r = spawnSync(process.execPath, [CLI, 'view', s.file('evil.pb.gz')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const page = await browser!.newPage(1280, 800);
    await page.goto(pathToFileURL(s.file('evil.html')).href);
    await page.waitFor('document.body.dataset.rendered');
    assert.ok((await tableNames(page)).includes(`${hook('fn')}</script><!--`), 'the function, in the table as written');
    await page.evaluate<void>(`document.querySelectorAll('details').forEach((d) => { d.open = true; })`);
    const body = await page.evaluate<string>('document.body.textContent');
    for (const w of ['file', 'thread', 'comment', 'cmd']) assert.ok(body.includes(hook(w)), `${w}: shown as written`);
    await pick(page, hook('thread'));
    await new Promise((res) => setTimeout(res, 300)); // time for an image's error to fire, were there one
    assert.equal(await page.evaluate<string | null>('document.body.dataset.pwned ?? null'), null);
    assert.equal(await page.evaluate<number>(`document.querySelectorAll('img').length`), 0);
    assert.equal(await page.evaluate<number>(`document.querySelectorAll('script').length`), 2, "only the page's data and code");
    assert.equal(await page.evaluate<string>('document.title'), `ptprof: ${input.facts.cmd}`);
    assert.deepEqual(page.problems, []);
  });

  it("speedscope reads ptprof convert --format speedscope: its profile list has every thread, with its CPU", async function () {
    let index: string;
    try {
      index = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release', 'index.html');
    } catch {
      console.log('      skipped: the speedscope package is not installed (a devDependency: npm ci)');
      this.skip();
    }
    fs.writeFileSync(s.file('p.pb.gz'), encodePprof(ptprofLike()));
    const r = spawnSync(process.execPath, [CLI, 'convert', s.file('p.pb.gz'), '--format', 'speedscope'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${s.file('p.speedscope.json')}\n`);
    // speedscope's own way in from a file: a script that hands it the file (what its CLI writes).
    const loader = s.file('load.js');
    fs.writeFileSync(loader, `speedscope.loadFileFromBase64('p.speedscope.json', ${JSON.stringify(fs.readFileSync(s.file('p.speedscope.json')).toString('base64'))});\n`);
    const page = await browser!.newPage(1280, 800);
    await page.goto(`${pathToFileURL(index).href}#localProfilePath=${encodeURIComponent(loader)}`);
    await page.waitFor(String.raw`/\(\d+\/\d+\)/.test(document.body.innerText)`);
    assert.match(await page.evaluate<string>('document.body.innerText'), /\bworker 1 \(2\/5\)/, 'the busiest JS thread first, 5 profiles');
    // Its profile list opens on a click on the title.
    const at = await page.evaluate<{ x: number; y: number }>(String.raw`(() => {
      const el = [...document.querySelectorAll('div,span')].filter((e) => /^worker 1 \(\d+\/\d+\)$/.test(e.textContent.trim())).pop();
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    await page.click(at.x, at.y);
    await page.waitFor(`document.body.innerText.includes('Total Weight')`);
    const rows = (await page.evaluate<string>('document.body.innerText')).split('\n').filter((l) => /^\d+\t/.test(l)).map((l) => l.split('\t').slice(1));
    assert.deepEqual(rows, [['main', '700.00ms'], ['worker 1', '800.00ms'], ['node (tid 4261)', '200.00ms'], ['node (tid 4262)', '100.00ms'], ['node (tid 4244)', '100.00ms']]);
  });
});
