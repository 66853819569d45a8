'use strict';
// The inlined workload: code as an HTTP service has it (escape HTML, an ETag, a tokenizer, a
// nearest-point search with a class), small functions that V8 inlines into the loops that call
// them, with helpers of their own (one from another module). Each function runs in phases of its
// own, called from a loop that does nothing else, and its CPU is the phases' CPU read from the
// thread's clock: its ground truth. Profilers that name frames by code object (ptprof before it
// expanded inlined frames) give its CPU to the loop.
const { mix } = require('./inlined-lib');

// escape-html's algorithm (the Express dependency).
const matchHtml = /["'&<>]/;
function escapeHtml(string) {
  const str = '' + string;
  const match = matchHtml.exec(str);
  if (!match) return str;
  let escape;
  let html = '';
  let index;
  let lastIndex = 0;
  for (index = match.index; index < str.length; index++) {
    switch (str.charCodeAt(index)) {
      case 34: escape = '&quot;'; break;
      case 38: escape = '&amp;'; break;
      case 39: escape = '&#39;'; break;
      case 60: escape = '&lt;'; break;
      case 62: escape = '&gt;'; break;
      default: continue;
    }
    if (lastIndex !== index) html += str.substring(lastIndex, index);
    lastIndex = index + 1;
    html += escape;
  }
  return lastIndex !== index ? html + str.substring(lastIndex, index) : html;
}

/** A weak ETag of a body: a hash with a helper from another module. */
function etag(body) {
  let h = 2166136261;
  for (let i = 0; i < body.length; i++) h = mix(h, body.charCodeAt(i));
  return `W/"${body.length.toString(16)}-${h.toString(36)}"`;
}

const isWordChar = (c) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
/** Counts the words of a text and the length of the longest. */
function tokenize(text) {
  let words = 0;
  let longest = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    if (isWordChar(text.charCodeAt(i))) run++;
    else if (run > 0) {
      words++;
      if (run > longest) longest = run;
      run = 0;
    }
  }
  return words * 1000 + longest;
}

class Point {
  constructor(x, y, z) {
    this.x = x;
    this.y = y;
    this.z = z;
  }
  dist2(q) {
    return sq(this.x - q.x) + sq(this.y - q.y) + sq(this.z - q.z);
  }
}
const sq = (v) => v * v;
/** The point nearest to q. */
function nearest(points, q) {
  let best = 0;
  let bestD = Infinity;
  for (let i = 0; i < points.length; i++) {
    const d = points[i].dist2(q);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

// Data, made deterministically.
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const cells = Array.from({ length: 256 }, (_, i) => `<td class="c${i % 7}">Tom & Jerry's "${i}" <b>${'x'.repeat(20 + (i % 40))}</b></td>`);
const bodies = Array.from({ length: 32 }, (_, i) => JSON.stringify({ id: i, items: cells.slice(i, i + 8) }));
const texts = Array.from({ length: 32 }, (_, i) => cells.slice(i * 4, i * 4 + 16).join(' ').replace(/[<>"]/g, ' '));
const points = Array.from({ length: 512 }, () => new Point(rnd(), rnd(), rnd()));
const queries = Array.from({ length: 64 }, () => new Point(rnd(), rnd(), rnd()));

// Phase drivers: each calls one function from a loop (where V8 inlines it) and reads its thread's
// clock after a few hundred µs of calls (the clock costs a µs or two); what it keeps is an integer
// in a register.
let sink = 0;
function escapePhase(ns, cpu) {
  const t0 = cpu();
  let acc = 0;
  do for (let i = 0; i < 1024; i++) acc = (acc + escapeHtml(cells[i & 255]).length) | 0;
  while (cpu() - t0 < ns);
  sink ^= acc;
  return cpu() - t0;
}
function etagPhase(ns, cpu) {
  const t0 = cpu();
  let acc = 0;
  do for (let i = 0; i < 256; i++) acc = (acc + etag(bodies[i & 31]).length) | 0;
  while (cpu() - t0 < ns);
  sink ^= acc;
  return cpu() - t0;
}
function tokenizePhase(ns, cpu) {
  const t0 = cpu();
  let acc = 0;
  do for (let i = 0; i < 128; i++) acc = (acc + tokenize(texts[i & 31])) | 0;
  while (cpu() - t0 < ns);
  sink ^= acc;
  return cpu() - t0;
}
function nearestPhase(ns, cpu) {
  const t0 = cpu();
  let acc = 0;
  do for (let i = 0; i < 256; i++) acc = (acc + nearest(points, queries[i & 63])) | 0;
  while (cpu() - t0 < ns);
  sink ^= acc;
  return cpu() - t0;
}

const PHASES = [
  ['escapeHtml', escapePhase],
  ['etag', etagPhase],
  ['tokenize', tokenizePhase],
  ['nearest', nearestPhase],
];

/**
 * Each function `ms` of CPU in all, in `rounds` phases of its own; returns each function's CPU
 * (ns). Phases are long (a kernel tick of CPU may be charged across a switch, whatever the profiler).
 */
function runInlined(ms, cpu, rounds = 4) {
  const fns = Object.fromEntries(PHASES.map(([n]) => [n, 0]));
  for (let r = 0; r < rounds; r++) for (const [name, phase] of PHASES) fns[name] += phase((ms * 1e6) / rounds, cpu);
  return fns;
}

module.exports = { runInlined, fnNames: PHASES.map(([n]) => n), sink: () => sink };
