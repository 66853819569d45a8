'use strict';
// The profiler's share of a short program's profile (issue 14): about 1 s of CPU, a worker hashing
// and the main thread with crypto and zlib. Run it under ptprof and read the summary's
// "ptprof's own X (Y%, under (ptprof))", the ptprof_nanos fact over the profile's CPU:
//
//   npx ptprof -o self.pb.gz -- node bench/workloads/self-share.js
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { Worker } = require('node:worker_threads');
const w = new Worker(`const c=require('node:crypto');const t=Date.now();let h;while(Date.now()-t<400)h=c.createHash('sha256').update('x'.repeat(1e4)).digest();`, { eval: true });
const t0 = process.cpuUsage();
const buf = crypto.randomBytes(1 << 20);
while ((process.cpuUsage(t0).user + process.cpuUsage(t0).system) < 600e3) {
  crypto.pbkdf2Sync('pw', 'salt', 2000, 32, 'sha256');
  zlib.gzipSync(buf.subarray(0, 1 << 16));
}
w.on('exit', () => {});
