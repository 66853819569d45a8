'use strict';
// A worker of the parallel workload: burns workerData.ms of its CPU in hogs[workerData.fn], reports,
// and stays alive until the main thread has read every thread's clock and stopped its profiler.
const { parentPort, workerData, threadId } = require('node:worker_threads');
const { registerPath } = require('../lib/workers');

const { fn, ms, register, dd, fnNames } = workerData;
const truth = require('../lib/truth');
const bootNs = truth.threadCpuNs(); // Node's worker bootstrap, and loading the addon
if (register) require(registerPath); // ptprof: this thread's JS stacks and its own timer
const registerNs = truth.threadCpuNs() - bootNs;
const hogs = require('./hogs');
const peers = require('../lib/peers');

if (dd) peers.ddStart(dd.hz); // @datadog/pprof: every worker starts its own
const w0 = truth.threadCpuNs();
const fnNs = hogs[fn](ms, truth.threadCpuNs);
const w1 = truth.threadCpuNs();
const ddFigures = dd ? peers.ddStop(fnNames) : null;
parentPort.postMessage({ tid: truth.binding.gettid(), threadId, bootNs, registerNs, fnNs, windowNs: dd ? w1 - w0 : null, dd: ddFigures });
parentPort.once('message', () => parentPort.close());
