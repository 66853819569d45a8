'use strict';
// ptprof/api from inside a program, no command needed: the profile of a stretch you choose.
//
//   node examples/api.js          writes before.pb.gz and during.pb.gz, then: go tool pprof -top during.pb.gz
const ptprof = require('ptprof/api');

function slowSort(n) {
  const a = Array.from({ length: n }, (_, i) => (i * 7919) % n);
  for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) if (a[j] < a[i]) [a[i], a[j]] = [a[j], a[i]];
  return a[0];
}

async function main() {
  ptprof.start();                                  // the timers on: every thread of this process
  slowSort(12000);                                 // 0.1 s of CPU or more: 10 samples at 100 Hz
  const before = ptprof.stop();                    // the timers off; the profile of that stretch
  ptprof.writeProfile('before.pb.gz', before);     // gzipped pprof (or 'folded', 'speedscope', 'cpuprofile')

  const running = setInterval(() => slowSort(1500), 20);
  const during = await ptprof.profileFor(2);       // the next two seconds
  clearInterval(running);
  ptprof.writeProfile('during.pb.gz', during);
  const cpuMs = during.samples.reduce((s, x) => s + x.cpuNanos, 0) / 1e6;
  console.log(`before.pb.gz: ${before.samples.length} stacks; during.pb.gz: ${cpuMs.toFixed(0)} ms of CPU in 2 s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
