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

