// Shared by the stress scenarios (issue: reliability). Each runs at 1000 Hz, threads: 'all'.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { Profile } from '../../src/index';

/** POSIX timers of this process (/proc/self/timers lists one "ID:" block per timer). */
export function posixTimers(): number {
  return fs.readFileSync('/proc/self/timers', 'utf8').split('\n').filter((l) => l.startsWith('ID:')).length;
}

/** A profile is valid: every row has frames with names, whole positive counts, finite CPU, labels. */
export function assertValidProfile(p: Profile): void {
  assert.ok(p.samples.length > 0, 'no samples');
  let total = 0;
  for (const s of p.samples) {
    assert.ok(s.frames.length > 0, 'a row without frames');
    for (const f of s.frames) assert.ok(typeof f.name === 'string' && f.name.length > 0, 'a frame without a name');
    assert.ok(Number.isInteger(s.count) && s.count > 0, `count ${s.count}`);
    assert.ok(Number.isFinite(s.cpuNanos) && s.cpuNanos > 0, `cpuNanos ${s.cpuNanos}`);
    assert.ok(Number.isInteger(s.labels.thread_id) && s.labels.thread_id > 0);
    assert.ok(s.labels.thread_name.length > 0);
    total += s.cpuNanos;
  }
  const threads = p.threads.reduce((a, t) => a + t.cpuNanos, 0);
  assert.ok(Math.abs(threads - total) < 1, 'thread totals add up to the samples');
  assert.ok(total <= p.processCpuNanos * 1.05, `profile ${total} ns exceeds the process's CPU ${p.processCpuNanos} ns`);
}
