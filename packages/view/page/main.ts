// The page: reads its data, fills the header and the thread selector, and keeps the flame graph,
// the totals, the search and the table in step with the selection.

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** A value in the profile's unit, for people: 1.89 s, 590 ms, 12.5 MiB, 1,234. */
function formatter(unit: string): (v: number) => string {
  const toNs: Record<string, number> = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 };
  const three = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  if (toNs[unit] !== undefined) {
    const k = toNs[unit];
    return (v) => {
      const ns = v * k;
      if (ns >= 1e9) return `${three(ns / 1e9)} s`;
      if (ns >= 1e6) return `${three(ns / 1e6)} ms`;
      if (ns >= 1e3) return `${three(ns / 1e3)} µs`;
      return `${Math.round(ns)} ns`;
    };
  }
  if (unit === 'bytes') {
    return (v) => {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
      }
      return i === 0 ? `${v} B` : `${three(v)} ${units[i]}`;
    };
  }
  return (v) => `${Math.round(v).toLocaleString('en-US')}${unit && unit !== 'count' ? ` ${unit}` : ''}`;
}

function renderFacts(raw: RawData, el: HTMLElement): void {
  for (const p of raw.processes) {
    const div = document.createElement('div');
    div.className = 'process';
    if (raw.processes.length > 1) {
      const name = document.createElement('span');
      name.className = 'process-name';
      name.textContent = p.label;
      div.appendChild(name);
    }
    for (const f of p.facts) {
      const k = f[0];
      if (k === 'command' && raw.processes.length > 1) continue; // in the label
      const s = document.createElement('span');
      s.className = k === 'command' || k === 'file' ? 'fact wide' : 'fact';
      const b = document.createElement('b');
      b.textContent = k;
      s.append(b, f.length === 3 ? formatter(f[2])(f[1]) : f[1]);
      div.appendChild(s);
    }
    if (p.comments.length) {
      const det = document.createElement('details');
      const sum = document.createElement('summary');
      sum.textContent = 'comments';
      const pre = document.createElement('pre');
      pre.textContent = p.comments.join('\n');
      det.append(sum, pre);
      div.appendChild(det);
    }
    el.appendChild(div);
  }
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '0%';
}

function start(): void {
  const raw = JSON.parse(byId('ptprof-data').textContent ?? '') as RawData;
  const d = decodeData(raw);
  const fmt = formatter(raw.unit);
  const allTotal = raw.threads.reduce((a, t) => a + t.total, 0);
  const valueWord = raw.unit === 'nanoseconds' && raw.sampleType === 'cpu' ? 'CPU' : raw.sampleType;

  byId('title').textContent = raw.title;
  document.title = raw.title;
  renderFacts(raw, byId('facts'));
  byId('generator').textContent = `${raw.generator}; ${raw.threads.length} threads, ${d.nFrames} functions, ${d.nNodes} call-tree nodes`;
  legendHtml(byId('legend'));

  // The thread selector: one option per selection, in groups.
  const select = byId<HTMLSelectElement>('thread');
  const groups = new Map<string, HTMLElement>();
  raw.selections.forEach((s, i) => {
    const total = s.threads.reduce((a, t) => a + raw.threads[t].total, 0);
    const opt = document.createElement('option');
    opt.value = String(i);
    opt.textContent = `${s.label} \u2014 ${fmt(total)} (${pct(total, allTotal)})`;
    let parent: HTMLElement = select;
    if (s.group) {
      let g = groups.get(s.group);
      if (!g) {
        g = document.createElement('optgroup');
        (g as HTMLOptGroupElement).label = s.group;
        select.appendChild(g);
        groups.set(s.group, g);
      }
      parent = g;
    }
    parent.appendChild(opt);
  });

  const flame = new FlameGraph(d, byId<HTMLCanvasElement>('flame'), byId('flame-wrap'));
  const table = new FunctionTable(d, byId<HTMLTableElement>('table').tBodies[0], byId<HTMLTableElement>('table').tHead!, byId('table-note'),
    byId<HTMLButtonElement>('more'), fmt, (name) => {
      search.value = `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
      applySearch();
      byId('flame-wrap').scrollIntoView({ block: 'nearest' });
    });
  const split = byId<HTMLInputElement>('split');
  const search = byId<HTMLInputElement>('search');
  const matched = byId('matched');
  const totalEl = byId('total');
  const reset = byId<HTMLButtonElement>('reset');
  const icicle = byId<HTMLButtonElement>('icicle');
  const tooltip = byId('tooltip');
  const wrap = byId('flame-wrap');

  function applySearch(): void {
    const q = search.value.trim();
    const t = flame.tree;
    if (!q || !t) {
      flame.match = null;
      matched.textContent = '';
    } else {
      flame.match = matchFrames(d, q);
      const m = matchedTotal(t, flame.match);
      matched.textContent = `matched: ${fmt(m)}, ${pct(m, t.total[0])} of the selection`;
    }
    flame.draw();
  }

  function update(): void {
    const sel = raw.selections[Number(select.value)] ?? raw.selections[0];
    const mask = new Uint8Array(d.nThreads);
    for (const t of sel.threads) mask[t] = 1;
    const tree = buildTree(d, mask, split.checked && sel.threads.length > 1);
    flame.setTree(tree);
    reset.disabled = true;
    const total = tree.total[0];
    byId('empty').hidden = total > 0;
    // With several processes, a thread's name says which process it is of.
    const name = raw.processes.length > 1 && sel.group && !sel.label.includes('pid ') ? `${sel.group.replace(/:.*/, '')} ${sel.label}` : sel.label;
    totalEl.textContent = `${name}: ${fmt(total)} ${valueWord}, ${pct(total, allTotal)} of all`;
    table.setRows(functionRows(tree, d.nFrames), total);
    applySearch(); // draws
    if (!flame.icicle) wrap.scrollTop = wrap.scrollHeight;
  }

  select.addEventListener('change', update);
  split.addEventListener('change', update);
  search.addEventListener('input', applySearch);
  byId<HTMLInputElement>('filter').addEventListener('input', (e) => table.setFilter((e.target as HTMLInputElement).value));
  icicle.addEventListener('click', () => {
    flame.icicle = !flame.icicle;
    icicle.setAttribute('aria-pressed', String(flame.icicle));
    flame.draw();
    wrap.scrollTop = flame.icicle ? 0 : wrap.scrollHeight;
  });
  const zoomTo = (j: number): void => {
    flame.zoom = j;
    reset.disabled = j === 0;
    flame.draw();
  };
  reset.addEventListener('click', () => zoomTo(0));
  const canvas = byId<HTMLCanvasElement>('flame');
  const at = (e: MouseEvent): number => {
    const r = canvas.getBoundingClientRect();
    return flame.nodeAt(e.clientX - r.left, e.clientY - r.top);
  };
  canvas.addEventListener('click', (e) => {
    const j = at(e);
    if (j >= 0) zoomTo(j === flame.zoom ? Math.max(0, flame.tree!.parent[j]) : j);
  });
  canvas.addEventListener('mousemove', (e) => {
    const j = at(e);
    const t = flame.tree;
    if (j < 0 || !t) {
      tooltip.hidden = true;
      return;
    }
    const w = flame.where(j);
    const name = document.createElement('div');
    name.className = 'name';
    name.textContent = w.name;
    const where = document.createElement('div');
    where.className = 'where';
    where.textContent = w.where;
    const val = document.createElement('div');
    val.textContent = `${fmt(t.total[j])} ${valueWord} (${pct(t.total[j], t.total[0])} of the selection)` +
      (t.self[j] > 0 ? `; self ${fmt(t.self[j])}` : '');
    tooltip.replaceChildren(name, where, val);
    tooltip.hidden = false;
    const x = Math.min(e.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    const y = e.clientY + 16 + tooltip.offsetHeight > window.innerHeight ? e.clientY - tooltip.offsetHeight - 10 : e.clientY + 16;
    tooltip.style.left = `${Math.max(0, x)}px`;
    tooltip.style.top = `${Math.max(0, y)}px`;
  });
  canvas.addEventListener('mouseleave', () => {
    tooltip.hidden = true;
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') zoomTo(0);
    else if (e.key === '/' && document.activeElement !== search) {
      e.preventDefault();
      search.focus();
    }
  });
  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => flame.draw());
  });

  update();
  // For the benchmark (bench/view.js) and the tests: the first picture is on the screen (the
  // frame after the one the drawing went into has begun: that one was painted).
  requestAnimationFrame(() => setTimeout(() => {
    performance.mark('ptprof-rendered');
    document.body.dataset.rendered = 'true';
  }, 0));
}

try {
  start();
} catch (e) {
  const el = document.getElementById('error');
  if (el) {
    el.hidden = false;
    el.textContent = `This page could not show the profile: ${(e as Error).message}`;
  }
  throw e;
}
