// A record's stack, and the few decisions about stacks the sampler hands the native handler: the
// frames of a JS thread (the VM's state, the leaf at the pc with the functions V8 inlined there,
// the callers' return addresses) or of a thread without JS (its native leaf under its name).
import * as path from 'node:path';
import { SI_KERNEL, SI_TIMER, validSIGPROF } from '@ptprof/sigprof-filter';
import { FLAG_TRUNCATED, keepTableBit } from '@ptprof/timers-native';
import type { Frame, ProfileStats } from './profile';
import {
  PSEUDO,
  VM_ATOMICS_WAIT,
  VM_BYTECODE_COMPILER,
  VM_COMPILER,
  VM_EXTERNAL,
  VM_GC,
  VM_IDLE,
  VM_IDLE_EXTERNAL,
  VM_PARSER,
  type Symbolizer,
} from './symbolizer';

/** One record of a drain, kept while its code events have not arrived yet. */
export interface PendingRecord {
  tid: number;
  code: number;
  overrun: number;
  flags: number;
  vmState: number;
  isolateId: number;
  codeSeq: number;
  pc: number;
  ext: number;
  threadCpuNs: number;
  timerTag: number;
  frames: Float64Array;
  periodNs: number;
}

/**
 * validSIGPROF for every (source, known, timer valid), as the 8 bits the native handler reads: it
 * then walks no stack and takes no ring space for a signal this filter would drop (it counts it).
 * The decision stays @ptprof/sigprof-filter's; the handler only looks it up.
 */
export function keepTable(): number {
  let bits = 0;
  for (const timer of [false, true]) {
    for (const known of [false, true]) {
      for (const timerValid of [false, true]) {
        if (validSIGPROF({ code: timer ? SI_TIMER : SI_KERNEL, known, timerValid })) bits |= 1 << keepTableBit(timer, known, timerValid);
      }
    }
  }
  return bits;
}

/** The frames of a sample on a JS thread, leaf first. */
export function jsStack(sym: Symbolizer, r: PendingRecord, inlinedFrames: boolean, stats: Pick<ProfileStats, 'jsFrames' | 'unresolvedFrames'>): Frame[] {
  const out: Frame[] = [];
  // The VM's own work first; its C++ frames would only be noise under these names.
  switch (r.vmState) {
    case VM_GC:
      out.push(PSEUDO.gc);
      break;
    case VM_PARSER:
    case VM_BYTECODE_COMPILER:
    case VM_COMPILER:
      out.push(PSEUDO.compiler);
      break;
    case VM_ATOMICS_WAIT:
      out.push(PSEUDO.atomicsWait);
      break;
    case VM_IDLE:
    case VM_IDLE_EXTERNAL:
      out.push(PSEUDO.idle);
      break;
  }
  if (out.length === 0) {
    // GetStackSample's frames are the callers' return addresses: the function the CPU was in
    // is at the pc (V8's own profiler resolves sample.pc as the leaf too). In JS code or a
    // builtin, the code map knows it; in C++ (a runtime function, a syscall), the ELF symbols of the
    // mapped file do (nativeFrame). With the functions V8 inlined at the pc: several frames for one
    // address, the innermost (the leaf) last.
    let leaf: Frame | undefined;
    if (sym.jsFrames(r.isolateId, r.pc, false, inlinedFrames, out)) leaf = out[out.length - 1];
    else {
      leaf = sym.nativeFrame(r.pc);
      out.push(leaf);
    }
    if (r.vmState === VM_EXTERNAL) {
      // Native code called from JS: the API callback V8 entered.
      const cb = r.ext ? sym.nativeFrame(r.ext) : undefined;
      if (cb !== leaf) out.push(cb ?? PSEUDO.native);
    }
  }
  for (let i = 0; i < r.frames.length; i++) {
    // Return addresses: the call is the instruction before.
    stats.jsFrames++;
    if (!sym.jsFrames(r.isolateId, r.frames[i], true, inlinedFrames, out)) {
      stats.unresolvedFrames++;
      out.push(PSEUDO.unknown);
    }
  }
  if (out.length === 0) out.push(PSEUDO.program);
  if (r.flags & FLAG_TRUNCATED) out.push(PSEUDO.truncated);
  return out;
}

/** A thread without JS: the native function at its pc, under the thread's own root frame. */
export function threadStack(sym: Symbolizer, r: PendingRecord, thread: string): Frame[] {
const leaf = sym.nativeFrame(r.pc);
const root = sym.threadFrame(thread);
  return leaf ? [leaf, root] : [root];
}

/**
 * Which frames are ptprof's own code, by the directory of their file (a frame object is asked
 * once: the symbolizer hands out one per function and line). A stack that has one is cut above the
 * outermost and put under `(ptprof)`: the profiler's own work is shown honestly, in one place, not
 * mixed into the callers of the program's timers (issue: a profiler that does not profile itself).
 */
export class OwnCode {
  private readonly dirs: string[];
  private readonly known = new WeakMap<Frame, boolean>();

  constructor(dirs: readonly string[]) {
    this.dirs = [...new Set(dirs.map((d) => path.resolve(d) + path.sep))];
  }

  private isOwn(f: Frame): boolean {
    let own = this.known.get(f);
    if (own === undefined) {
      const file = f.file;
      own = file !== undefined && file.startsWith('/') && this.dirs.some((d) => file.startsWith(d));
      this.known.set(f, own);
    }
    return own;
  }

  /** The stack under `(ptprof)` when some frame of it is ptprof's own, else undefined. */
  reroot(frames: Frame[]): Frame[] | undefined {
    for (let i = frames.length - 1; i >= 0; i--) {
      if (this.isOwn(frames[i]!)) {
        frames.length = i + 1;
        frames.push(PSEUDO.ptprof);
        return frames;
      }
    }
    return undefined;
  }
}

/**
 * The compiled sources of packages (their dist/src, and esm where there is one), resolved from
 * `from`: not their tests or fixtures, which are programs like any other. A package that cannot be
 * resolved by name (not installed, or bundled) is left out: its frames count as the program's.
 */
export function packageSources(packages: readonly string[], from: string): string[] {
  const dirs: string[] = [];
  for (const pkg of packages) {
    try {
      const root = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [from] }));
      dirs.push(path.join(root, 'dist', 'src'), path.join(root, 'esm'));
    } catch {
      /* left out */
    }
  }
  return dirs;
}

/** The code that is always the sampler's own: its compiled sources (this directory), the addon's JS and the filter's. */
export function samplerOwnCode(): string[] {
  return [__dirname, ...packageSources(['@ptprof/timers-native', '@ptprof/sigprof-filter'], __dirname)];
}
