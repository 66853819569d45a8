// Shared by the stress scenarios (issue: reliability). Each runs at 1000 Hz, threads: 'all'.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { Profile } from '../../src/index';

/** POSIX timers of this process (/proc/self/timers lists one "ID:" block per timer). */
export function posixTimers(): number {
  return fs.readFileSync('/proc/self/timers', 'utf8').split('\n').filter((l) => l.startsWith('ID:')).length;
}

/**
 * A profile is valid: every row has frames with names, finite positive CPU, labels; a row of
 * samples has a whole positive count, an `(unsampled)` row (a thread's CPU its samples do not
 * stand for) none, and thread_id 0 only for the threads that exited. The threads' totals are their
 * samples'; with the (unsampled) rows the profile is the process's CPU plus what was oversampled.
 */
export function assertValidProfile(p: Profile): void {
  assert.ok(p.samples.length > 0, 'no samples');
  let total = 0;
  let sampled = 0;
  for (const s of p.samples) {
    assert.ok(s.frames.length > 0, 'a row without frames');
    for (const f of s.frames) assert.ok(typeof f.name === 'string' && f.name.length > 0, 'a frame without a name');
    const unsampled = s.frames.length === 1 && s.frames[0].name === '(unsampled)';
    assert.ok(Number.isInteger(s.count) && (unsampled ? s.count === 0 : s.count > 0), `count ${s.count}`);
    assert.ok(Number.isFinite(s.cpuNanos) && s.cpuNanos > 0, `cpuNanos ${s.cpuNanos}`);
    assert.ok(Number.isInteger(s.labels.thread_id) && (s.labels.thread_id > 0 || (unsampled && s.labels.thread_name === 'exited threads')));
    assert.ok(s.labels.thread_name.length > 0);
    total += s.cpuNanos;
    if (!unsampled) sampled += s.cpuNanos;
  }
  const threads = p.threads.reduce((a, t) => a + t.cpuNanos, 0);
  assert.ok(Math.abs(threads - sampled) < 1, 'thread totals add up to the samples');
  const expected = p.processCpuNanos + (p.facts.oversampled_nanos as number);
  assert.ok(Math.abs(total - expected) < 1e6, `profile ${total} ns, the process's CPU ${p.processCpuNanos} ns + oversampled ${p.facts.oversampled_nanos} ns`);
}
