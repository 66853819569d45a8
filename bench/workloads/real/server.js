'use strict';
// bench/real.js: an HTTP server as users write one: an HTML table rendered with small helpers
// (escaping, formatting: inlined by V8), a JSON API with an ETag, and a little crypto. It listens
// on 127.0.0.1 (port from argv[2], 0 for any) and prints the port; SIGTERM ends it.
const http = require('node:http');
const crypto = require('node:crypto');

const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item <${i}> & "co"`, price: i * 1.25, tags: ['a', 'b', `t${i % 7}`] }));
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const money = (n) => `$${n.toFixed(2)}`;
function renderRow(r) {
  return `<tr><td>${r.id}</td><td>${escapeHtml(r.name)}</td><td>${money(r.price)}</td><td>${r.tags.map(escapeHtml).join(', ')}</td></tr>`;
}
function renderTable(items) {
  return `<table>${items.map(renderRow).join('')}</table>`;
}
const etag = (body) => `"${crypto.createHash('sha1').update(body).digest('base64')}"`;

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/api')) {
    const body = JSON.stringify(rows.slice(0, 50));
    const tag = etag(body);
    if (req.headers['if-none-match'] === tag) { res.writeHead(304); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/json', etag: tag });
    res.end(body);
    return;
  }
  const html = `<!doctype html><html><body>${renderTable(rows)}</body></html>`;
  res.writeHead(200, { 'content-type': 'text/html', etag: etag(html) });
  res.end(html);
});
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
