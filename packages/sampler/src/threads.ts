// OS threads of this process, and their names.
import * as fs from 'node:fs';

/** Every thread of this process (/proc/self/task), rescanned at each drain in threads: 'all'. */
export function listTids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc/self/task')) {
    const tid = Number(name);
    if (Number.isInteger(tid) && tid > 0) out.push(tid);
  }
  return out;
}

/** The kernel's name of a thread (/proc/self/task/<tid>/comm), or undefined once it is gone. */
export function threadComm(tid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * When a thread started (field 22 of /proc/self/task/<tid>/stat, in clock ticks since boot), or
 * undefined once it is gone. A tid names a thread only together with its start time: the kernel
 * reuses tids, and a new thread that got a dead one's tid must not inherit its slot and timer.
 */
export function threadStartTime(tid: number): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The name (field 2) is in parentheses and may itself contain ')' or spaces.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const v = Number(rest[22 - 3]);
  return Number.isFinite(v) ? v : undefined;
}
