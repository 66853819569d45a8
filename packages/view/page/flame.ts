// The flame graph on a canvas: one rectangle per node wide enough to see, drawn in pre-order and
// skipping whole subtrees once a node is narrower than a pixel, so that a tree of a million nodes
// draws as fast as what is visible. Zoom: the clicked node fills the width, its ancestors span it.

const ROW = 18;
const MIN_WIDTH = 0.35; // px: narrower nodes (and everything above them) are not drawn
const LABEL_MIN = 22; // px: narrower rectangles get no text

/** Colours by frame kind (KIND_NAMES), varied a little per name so that neighbours differ. */
const KIND_COLOR: Record<string, [number, number, number, number]> = {
  // hue, hue spread, saturation %, lightness %
  js: [18, 26, 82, 62],
  node: [44, 12, 62, 70],
  native: [196, 22, 44, 70],
  v8: [268, 18, 38, 76],
  meta: [0, 0, 0, 82],
};
const LEGEND: [string, string][] = [
  ['js', 'JS'], ['node', "Node's own JS"], ['native', 'native (C/C++)'], ['v8', 'V8 builtins'], ['meta', 'thread / pseudo-frames'],
];

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 1000) / 1000;
}

function kindColor(kind: string, name: string): string {
  const [h, spread, s, l] = KIND_COLOR[kind] ?? KIND_COLOR.meta;
  const r = hashName(name);
  return `hsl(${(h + r * spread).toFixed(1)}, ${s}%, ${(l + (r - 0.5) * 8).toFixed(1)}%)`;
}

function legendHtml(el: HTMLElement): void {
  for (const [kind, text] of LEGEND) {
    const s = document.createElement('span');
    s.style.setProperty('--c', kindColor(kind, ''));
    s.textContent = text;
    el.appendChild(s);
  }
  const m = document.createElement('span');
  m.style.setProperty('--c', MATCH_COLOR);
  m.textContent = 'search match';
  el.appendChild(m);
}

const MATCH_COLOR = 'hsl(318, 80%, 58%)';

class FlameGraph {
  tree: Tree | null = null;
  icicle = false;
  match: Uint8Array | null = null;
  zoom = 0;
  private widthPx = 0;
  private charWidth = 7;
  private readonly ctx: CanvasRenderingContext2D;
  private colorCache = new Map<number, string>();

  constructor(
    private readonly d: Decoded,
    private readonly canvas: HTMLCanvasElement,
    private readonly wrap: HTMLElement,
  ) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser gives no 2D canvas');
    this.ctx = ctx;
  }

  setTree(t: Tree): void {
    this.tree = t;
    this.zoom = 0;
  }

  label(j: number): string {
    const t = this.tree!;
    const f = t.frame[j];
    if (f >= 0) return this.d.raw.strings[this.d.frameName[f]];
    if (f === ROOT) return 'all';
    const th = this.d.raw.threads[-2 - f];
    return th.tid !== undefined ? `${th.name} (tid ${th.tid})` : th.name;
  }

  private color(j: number): string {
    const t = this.tree!;
    const f = t.frame[j];
    if (f < 0) return f === ROOT ? 'hsl(220, 10%, 86%)' : 'hsl(212, 22%, 80%)';
    if (this.match && this.match[f]) return MATCH_COLOR;
    let c = this.colorCache.get(f);
    if (c === undefined) {
      c = kindColor(KIND_NAMES[this.d.frameKind[f]] ?? 'meta', this.d.raw.strings[this.d.frameName[f]]);
      this.colorCache.set(f, c);
    }
    return c;
  }

  /** Row of depth `depth`, from the top of the canvas. */
  private rowY(depth: number): number {
    const rows = this.tree!.maxDepth + 1;
    return this.icicle ? depth * ROW : (rows - 1 - depth) * ROW;
  }

  draw(): void {
    const t = this.tree;
    if (!t) return;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(200, this.wrap.clientWidth - 2);
    const height = (t.maxDepth + 1) * ROW;
    this.widthPx = width;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px system-ui, "DejaVu Sans", sans-serif';
    ctx.textBaseline = 'middle';
    this.charWidth = ctx.measureText('abcdefghijklmnopqrstuvwxyz_ABCDEF').width / 32;
    const z = this.zoom;
    const zs = t.pos[z];
    const ze = t.end[zs];
    const x0 = t.x[z];
    const w = t.total[z] || 1;
    for (let i = 0; i < t.n; ) {
      const j = t.order[i];
      if (i < zs) {
        // Before the zoomed node in pre-order: an ancestor of it (drawn across) or another subtree.
        if (t.end[i] > zs) {
          this.rect(j, 0, width, true);
          i++;
        } else {
          i = t.end[i];
        }
        continue;
      }
      if (i >= ze) break;
      const px = ((t.x[j] - x0) / w) * width;
      const pw = (t.total[j] / w) * width;
      if (pw < MIN_WIDTH) {
        i = t.end[i];
        continue;
      }
      this.rect(j, px, pw, false);
      i++;
    }
  }

  private rect(j: number, px: number, pw: number, dim: boolean): void {
    const ctx = this.ctx;
    const y = this.rowY(this.tree!.depth[j]);
    ctx.globalAlpha = dim ? 0.55 : 1;
    ctx.fillStyle = this.color(j);
    ctx.fillRect(px, y, Math.max(pw - (pw > 3 ? 1 : 0), 0.5), ROW - 1);
    ctx.globalAlpha = 1;
    if (pw >= LABEL_MIN) {
      const max = Math.floor((pw - 6) / this.charWidth);
      let text = this.label(j);
      if (text.length > max) text = max > 2 ? text.slice(0, max - 1) + '\u2026' : '';
      if (text) {
        ctx.fillStyle = '#1b1b1b';
        ctx.fillText(text, px + 3, y + ROW / 2);
      }
    }
  }

  /** The node drawn at (px, py) in canvas pixels, or -1. */
  nodeAt(px: number, py: number): number {
    const t = this.tree;
    if (!t || this.widthPx === 0) return -1;
    const rows = t.maxDepth + 1;
    const row = Math.floor(py / ROW);
    const depth = this.icicle ? row : rows - 1 - row;
    if (depth < 0 || depth > t.maxDepth) return -1;
    const z = this.zoom;
    const dz = t.depth[z];
    if (depth <= dz) {
      // An ancestor of the zoomed node (or itself): the one at that depth on its path.
      let j = z;
      while (t.depth[j] > depth) j = t.parent[j];
      return j;
    }
    const v = t.x[z] + (px / this.widthPx) * (t.total[z] || 1);
    let j = z;
    while (t.depth[j] < depth) {
      // Children are laid out left to right: the last one starting at or before v.
      let lo = t.childStart[j];
      let hi = t.childStart[j + 1] - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (t.x[t.childList[mid]] <= v) {
          found = t.childList[mid];
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (found < 0 || v >= t.x[found] + t.total[found]) return -1;
      j = found;
    }
    const pw = (t.total[j] / (t.total[z] || 1)) * this.widthPx;
    return pw >= MIN_WIDTH ? j : -1;
  }

  /** The node's frame: name, file:line. */
  where(j: number): { name: string; where: string } {
    const f = this.tree!.frame[j];
    if (f < 0) return { name: this.label(j), where: f === ROOT ? 'every selected thread' : 'thread' };
    const file = this.d.raw.strings[this.d.frameFile[f]];
    const line = this.d.frameLine[f];
    return { name: this.label(j), where: file ? (line > 0 ? `${file}:${line}` : file) : '' };
  }
}
