'use strict';
// A small HTTP server for ptprof's "Long-running programs": GET / renders a page (about 2 ms of
// CPU in renderPage), GET /spin never returns (a bug: the event loop is stuck for good).
//
//   npx ptprof -- node examples/server.js                     Ctrl-C: the profile, even after /spin
//   npx ptprof --signal SIGUSR2 -- node examples/server.js    kill -USR2 <ptprof pid>: start, end a window
//   npx ptprof --listen 6060 -- node examples/server.js       go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10
//   npx ptprof --push http://localhost:4040 --app shop -- node examples/server.js
const http = require('node:http');

function renderPage(n) {
  let s = 0;
  const end = process.hrtime.bigint() + 2_000_000n;
  while (process.hrtime.bigint() < end) for (let i = 0; i < 1000; i++) s = (s * 31 + i + n) % 1000003;
  return `<p>${s}</p>\n`;
}

function spinForever() {
  let x = 0;
  for (;;) x = (x * 17 + 3) % 1000033;
}

const port = Number(process.env.PORT) || 8080;
http.createServer((req, res) => {
  if (req.url === '/spin') spinForever();
  res.end(renderPage(req.url.length));
}).listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
