// A small profile as ptprof writes it, shared by the tests.
import type { ProfileInput } from '@ptprof/pprof-writer';

/**
 * A profile as ptprof writes it: a main thread, a worker, two pool threads and a V8 helper all
 * named `node` (Node 20); facts as the agent writes them, a thread_kind label on every sample.
 */
export function ptprofLike(): ProfileInput {
  const main = { name: 'main', file: '/app/index.js', line: 10 };
  const fib = { name: 'fib', file: '/app/fib.js', line: 3 };
  const hash = { name: 'hashChunk', file: '/app/worker.js', line: 42 };
  return {
    periodNanos: 1e7,
    durationNanos: 2_000_000_000,
    facts: {
      ptprof: '0.1.0', pid: 4242, ppid: 1, process: 'root', end: 'exit(0)', hz: 100, period_nanos: 10_000_000, mode: 'all',
      process_cpu_nanos: 2_000_000_000, cmd: 'node /app/index.js',
    },
    samples: [
      { frames: [fib, fib, main], count: 60, cpuNanos: 600_000_000, labels: { thread_id: 4242, thread_name: 'main', thread_kind: 'js' } },
      { frames: [main], count: 10, cpuNanos: 100_000_000, labels: { thread_id: 4242, thread_name: 'main', thread_kind: 'js' } },
      { frames: [hash, { name: 'onMessage', file: '/app/worker.js', line: 5 }], count: 80, cpuNanos: 800_000_000, labels: { thread_id: 4250, thread_name: 'worker 1', thread_kind: 'js' } },
      { frames: [{ name: 'sha512_block_data_order_avx2', file: '/usr/bin/node' }, { name: '(thread node)' }], count: 20, cpuNanos: 200_000_000, labels: { thread_id: 4261, thread_name: 'node', thread_kind: 'native' } },
      { frames: [{ name: 'deflate_slow', file: '/usr/bin/node' }, { name: '(thread node)' }], count: 10, cpuNanos: 100_000_000, labels: { thread_id: 4262, thread_name: 'node', thread_kind: 'native' } },
      { frames: [{ name: 'v8::internal::compiler::GraphReducer::ReduceNode(v8::internal::compiler::Node*)', file: '/usr/bin/node' }, { name: '(thread node)' }],
        count: 10, cpuNanos: 100_000_000, labels: { thread_id: 4244, thread_name: 'node', thread_kind: 'native' } },
    ],
  };
}
