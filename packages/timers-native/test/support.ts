// Shared by the timers-native tests: CPU burners, a JIT code map replayed in sequence order, the
// process's POSIX timer count, and bookkeeping so that every test leaves no timer armed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { binding, decodeDrain, CODE_ADDED, CODE_MOVED, CODE_REMOVED, type CodeEvent } from '../src/index';

/** si_code of a timer_create timer's signal and of setitimer's (asm-generic/siginfo.h). */
export const SI_TIMER = -2;
export const SI_KERNEL = 0x80;

/** The compiled package entry, by absolute path: what workers and child processes require. */
export const INDEX_JS = path.resolve(__dirname, '..', 'src', 'index.js');
/** Compiled fixture scripts run in child processes. */
export const FIXTURES = path.join(__dirname, 'fixtures');

/** Burns `ms` of this thread's CPU time (not wall time) and returns a value so nothing is elided. */
export function burnCpu(ms: number): number {
  const end = binding.threadCpuNs() + ms * 1e6;
  let x = 0;
  while (binding.threadCpuNs() < end) {
    for (let i = 0; i < 5000; i++) x += (i * 31) % 7;
  }
  return x;
}

/**
 * Burns at least `minMs` of this thread's CPU and until the handler has seen `signals` more
 * SIGPROFs, up to `maxMs` (then throws). On a busy machine a thread preempted often gets fewer,
 * heavier signals (more overrun each) for the same CPU: a test that needs n records burns until
 * it has them, not for a fixed time.
 */
export function burnUntilSignals(signals: number, minMs = 0, maxMs = 5000): number {
  const start = binding.signalCount();
  const t0 = binding.threadCpuNs();
  let x = 0;
  for (;;) {
    const used = (binding.threadCpuNs() - t0) / 1e6;
    if (used >= minMs && binding.signalCount() - start >= signals) return x;
    if (used > maxMs) throw new Error(`${binding.signalCount() - start} of ${signals} signals in ${maxMs} ms of CPU`);
    x += burnCpu(2);
  }
}

/** A thread's CPU time, read after getrusage() so that a running thread's accounting is current. */
export function cpuNowNs(tid?: number): number {
  process.cpuUsage();
  return tid === undefined ? binding.threadCpuNs() : binding.threadCpuNs(tid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** POSIX timers of this process: every timer in /proc/self/timers starts with an "ID:" line. */
export function posixTimerCount(): number {
  return fs.readFileSync('/proc/self/timers', 'utf8').split('\n').filter((l) => l.startsWith('ID:')).length;
}

/** Timer ids created by a test, deleted by `cleanup()` whatever the test did. */
const live = new Set<number>();

export function createTimer(tid: number, tag?: number): number {
  const id = binding.timerCreate(tid, false, tag);
  live.add(id);
  return id;
}

export function deleteTimer(id: number): void {
  live.delete(id);
  binding.timerDelete(id);
}

/**
 * Every code event drained through these helpers, in order. Events are drained once (the first
 * drain after register() holds the enumeration of existing code), so a test that resolves frames
 * needs all of them, not only its own drain's.
 */
export const eventLog: CodeEvent[] = [];

/** drain(), decoded, with its code events appended to `eventLog`. */
export function drainAll() {
  const d = decodeDrain(binding.drain());
  for (const e of d.events) eventLog.push(e);
  return d;
}

/** afterEach: recording off, setitimer off, the test's timers disarmed and deleted, rings emptied. */
export function cleanup(): void {
  binding.setEnabled(false);
  binding.setitimer(0);
  for (const id of live) {
    try {
      binding.timerSettime(id, 0, 0);
      binding.timerDelete(id);
    } catch {
      // already deleted by the addon (e.g. unregister() or a thread's exit)
    }
  }
  live.clear();
  drainAll();
}

/**
 * Samples the calling thread with its own CPU timer while `work` runs. The thread must be
 * registered. Returns the decoded drain (records of this run only), every code event so far
 * (`allEvents`) and the thread's CPU time from arming to disarming.
 */
export function sampleSelf(tid: number, periodNs: number, work: () => void) {
  drainAll();
  const id = createTimer(tid);
  binding.setTimerValid(tid, true);
  binding.setEnabled(true);
  const cpu0 = cpuNowNs();
  binding.timerSettime(id, periodNs, periodNs);
  work();
  binding.timerSettime(id, 0, 0); // a signal still queued is delivered on return, while enabled
  const cpu1 = cpuNowNs();
  binding.setEnabled(false);
  binding.setTimerValid(tid, false);
  deleteTimer(id);
  const d = drainAll();
  return { ...d, allEvents: eventLog.slice(), cpuNs: cpu1 - cpu0 };
}

/** Samples' weight: each signal stands for 1 + si_overrun periods. */
export function weight(records: { overrun: number }[]): number {
  let w = 0;
  for (const r of records) w += 1 + r.overrun;
  return w;
}

export interface CodeEntry {
  start: number;
  len: number;
  name: string;
  codeType: number;
}

/**
 * The JIT code map as it was at a given event sequence number. Records carry `codeSeq`, the last
 * event published before the sample; `advanceTo(codeSeq)` replays events up to it (adds, moves,
 * removes) so that code that moved later still resolves to the name it had when sampled.
 */
export class CodeMap {
  private readonly events: CodeEvent[];
  private readonly byStart = new Map<number, CodeEntry>();
  private next = 0;
  moves = 0;

  constructor(events: CodeEvent[], isolateId?: number) {
    this.events = events
      .filter((e) => isolateId === undefined || e.isolateId === isolateId)
      .sort((a, b) => a.seq - b.seq);
  }

  advanceTo(seq: number): void {
    while (this.next < this.events.length && this.events[this.next].seq <= seq) {
      const e = this.events[this.next++];
      if (e.type === CODE_ADDED) {
        this.byStart.set(e.start, { start: e.start, len: e.len, name: e.name, codeType: e.codeType });
      } else if (e.type === CODE_MOVED) {
        const v = this.byStart.get(e.start);
        if (v) {
          this.byStart.delete(e.start);
          this.byStart.set(e.newStart, { ...v, start: e.newStart });
          this.moves++;
        }
      } else if (e.type === CODE_REMOVED) {
        this.byStart.delete(e.start);
      }
    }
  }

  resolve(addr: number): CodeEntry | undefined {
    for (const v of this.byStart.values()) if (addr >= v.start && addr < v.start + v.len) return v;
    return undefined;
  }
}

/**
 * A JS record's stack, leaf first, as names. V8 reports the executing function's code by the pc
 * when it is compiled code (its frame is not in `frames`), and an interpreted function by its
 * frame (bytecode array + offset) with the pc in a bytecode handler: both are resolved.
 */
export function stackNames(map: CodeMap, rec: { pc: number; frames: number[] }): string[] {
  return [rec.pc, ...rec.frames].map((a) => map.resolve(a)?.name ?? `0x${a.toString(16)}`);
}

/**
 * The executable mappings of this process's node binary: its C++, bytecode handlers and embedded
 * builtins, and V8's copy of the builtins next to the JIT code (--short-builtin-calls maps the same
 * file range a second time; code events name builtins at their original address only).
 */
export function nodeTextMappings(): { start: number; end: number; offset: number }[] {
  const exe = fs.realpathSync(process.execPath);
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((f) => f.length >= 6 && f[1].includes('x') && f.slice(5).join(' ') === exe)
    .map((f) => {
      const [start, end] = f[0].split('-').map((h) => parseInt(h, 16));
      return { start, end, offset: parseInt(f[2], 16) };
    });
}

/** Runs a compiled fixture in a fresh node and returns its stdout parsed as JSON. */
export function runFixture(name: string, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}): any {
  const r = spawnSync(process.execPath, [...nodeArgs, path.join(FIXTURES, name)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`fixture ${name} exited ${r.status ?? r.signal}\n${r.stderr}`);
  }
  return JSON.parse(r.stdout);
}
