// The table of functions: real DOM text (it can be read, searched with the browser's find and
// copied), sortable by any column, filtered by name or file. The first ROWS rows are shown, all of
// them on request.

const ROWS = 300;

type SortKey = 'flat' | 'cum' | 'name' | 'file';

class FunctionTable {
  private rows: FunctionRow[] = [];
  private total = 0;
  private key: SortKey = 'flat';
  private filter = '';
  private showAll = false;

  constructor(
    private readonly d: Decoded,
    private readonly body: HTMLTableSectionElement,
    private readonly head: HTMLTableSectionElement,
    private readonly note: HTMLElement,
    private readonly more: HTMLButtonElement,
    private readonly fmt: (v: number) => string,
    onPick: (name: string) => void,
  ) {
    head.addEventListener('click', (e) => {
      const th = (e.target as HTMLElement).closest('th');
      const k = th?.dataset.key as SortKey | undefined;
      if (!k) return;
      this.key = k;
      this.render();
    });
    body.addEventListener('click', (e) => {
      const tr = (e.target as HTMLElement).closest('tr');
      if (!tr || window.getSelection()?.toString()) return; // selecting text to copy is not a pick
      const f = Number(tr.dataset.frame);
      if (Number.isInteger(f)) onPick(this.name(f));
    });
    more.addEventListener('click', () => {
      this.showAll = true;
      this.render();
    });
  }

  private name(f: number): string {
    return this.d.raw.strings[this.d.frameName[f]];
  }

  private file(f: number): string {
    const file = this.d.raw.strings[this.d.frameFile[f]];
    const line = this.d.frameLine[f];
    return file && line > 0 ? `${file}:${line}` : file;
  }

  setRows(rows: FunctionRow[], total: number): void {
    this.rows = rows;
    this.total = total;
    this.showAll = false;
    this.render();
  }

  setFilter(text: string): void {
    this.filter = text.toLowerCase();
    this.showAll = false;
    this.render();
  }

  private sorted(): FunctionRow[] {
    const f = this.filter;
    const rows = f ? this.rows.filter((r) => this.name(r.frame).toLowerCase().includes(f) || this.file(r.frame).toLowerCase().includes(f)) : this.rows.slice();
    const byName = (a: FunctionRow, b: FunctionRow): number => (this.name(a.frame) < this.name(b.frame) ? -1 : this.name(a.frame) > this.name(b.frame) ? 1 : 0);
    const k = this.key;
    if (k === 'flat') rows.sort((a, b) => b.flat - a.flat || b.cum - a.cum || byName(a, b));
    else if (k === 'cum') rows.sort((a, b) => b.cum - a.cum || b.flat - a.flat || byName(a, b));
    else if (k === 'name') rows.sort((a, b) => byName(a, b) || b.flat - a.flat);
    else rows.sort((a, b) => (this.file(a.frame) < this.file(b.frame) ? -1 : this.file(a.frame) > this.file(b.frame) ? 1 : 0) || byName(a, b));
    return rows;
  }

  render(): void {
    const first = this.head.querySelector(`th[data-key="${this.key}"]`);
    for (const th of Array.from(this.head.querySelectorAll('th'))) th.classList.toggle('sorted', th === first);
    const rows = this.sorted();
    const shown = this.showAll ? rows : rows.slice(0, ROWS);
    const pct = (v: number): string => (this.total > 0 ? `${((v / this.total) * 100).toFixed(2)}%` : '');
    const frag = document.createDocumentFragment();
    for (const r of shown) {
      const tr = document.createElement('tr');
      tr.dataset.frame = String(r.frame);
      const cells: [string, string][] = [
        [this.fmt(r.flat), 'num'], [pct(r.flat), 'num'], [this.fmt(r.cum), 'num'], [pct(r.cum), 'num'],
        [this.name(r.frame), 'name'], [this.file(r.frame), 'file'],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement('td');
        td.className = cls;
        td.textContent = text;
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    this.body.replaceChildren(frag);
    const all = this.rows.length;
    this.note.textContent = `${rows.length === all ? `${all}` : `${rows.length} of ${all}`} functions` +
      (shown.length < rows.length ? `, the first ${shown.length} shown` : '');
    this.more.hidden = shown.length >= rows.length;
    if (!this.more.hidden) this.more.textContent = `Show all ${rows.length}`;
  }
}
