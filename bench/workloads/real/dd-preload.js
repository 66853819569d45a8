'use strict';
// bench/real.js: @datadog/pprof as its users run it: the time profiler with CPU time, started at
// preload, stopped and written (gzipped pprof) at exit. PTPROF_BENCH_DD_OUT names the file.
const fs = require('node:fs');
const { time, encodeSync } = require('@datadog/pprof');
const hz = Number(process.env.PTPROF_BENCH_HZ || 100);
time.start({ intervalMicros: Math.round(1e6 / hz), collectCpuTime: true, withContexts: true, durationMillis: 3600e3 });
let done = false;
const finish = () => {
  if (done) return;
  done = true;
  const p = time.stop();
  fs.writeFileSync(process.env.PTPROF_BENCH_DD_OUT || `dd.${process.pid}.pb.gz`, encodeSync(p));
};
process.on('exit', finish);
process.on('SIGTERM', () => { finish(); process.exit(0); });
