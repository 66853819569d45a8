// Turns drained records into frames.
//
// Code moves during full GCs, so a sample is resolved against the code map as it was when the
// sample was taken: events carry a sequence number, each record carries the last one published
// before it, and events are replayed in order up to each record's number (docs/ARCHITECTURE.md,
// "The life of a sample": against the final map, 0 of 279 samples resolved under forced compaction).
import * as path from 'node:path';
import {
  CODE_ADDED,
  CODE_DROP,
  CODE_LISTED,
  CODE_LISTING,
  CODE_MOVED,
  CODE_REMOVED,
  CODE_RESET,
  CODE_RETIRE,
  EV,
  NUMS_PER_EVENT,
  VM_STATES,
  eventNames,
  readInlineTable,
  type InlineTable,
  type RawDrain,
} from '@ptprof/timers-native';
import { CodeMap, parseCodeName, type FunctionInfo } from './codemap';
import { expandInlined, resolveInlining, type Inlining } from './inlining';
import { NativeResolver, readMaps, remappedRanges, type ParsedElf } from './elf';
import type { Frame } from './profile';

/** What the symbolizer needs from the native layer. */
export interface NativeSymbols {
  demangle(names: string[]): string[];
  /** The addon's ELF symbol reader; without it, the TypeScript parser of elf.ts. */
  elfFunctions?(path: string): ParsedElf | null;
}

export interface CodeEventLog {
  seq: number[];
  type: number[];
  isolateId: number[];
  start: number[];
  len: number[];
  newStart: number[];
  name: string[];
  /** Optimized code: its inlining table (src/inline.cc of @ptprof/timers-native). */
  inline: (InlineTable | undefined)[];
}

/** What became of the frames in optimized code (see inlining.ts). */
export interface InliningStats {
  /** Frames whose pc is in optimized code (TurboFan, Maglev). */
  optimized: number;
  /** Inlined frames added to stacks (functions V8 inlined where a frame's pc was). */
  inlined: number;
  /** Optimized frames left with their outer function alone: no table, a function without a name,
   *  or a leaf pc in code optimized before V8's detailed positions were on. */
  unexpanded: number;
  /** Of those, leaf pcs in code optimized before V8's detailed positions were on (before ptprof
   *  loaded): its table places calls, not a leaf. */
  early: number;
  /** Tables whose code's own function, read from V8's heap, was not the one V8 named the code after. */
  rejected: number;
}

/** v8::StateTag values, from @ptprof/timers-native's VM_STATES (whose numbers compat.h checks). */
const vm = (name: (typeof VM_STATES)[number]): number => VM_STATES.indexOf(name);
export const VM_JS = vm('JS');
export const VM_GC = vm('GC');
export const VM_PARSER = vm('PARSER');
export const VM_BYTECODE_COMPILER = vm('BYTECODE_COMPILER');
export const VM_COMPILER = vm('COMPILER');
export const VM_EXTERNAL = vm('EXTERNAL');
export const VM_ATOMICS_WAIT = vm('ATOMICS_WAIT');
export const VM_IDLE = vm('IDLE');
/** Node 26 (V8 14.6): idle in the embedder's own code; -1 before. */
export const VM_IDLE_EXTERNAL = vm('IDLE_EXTERNAL');

export const PSEUDO = {
  gc: { name: '(garbage collector)' },
  compiler: { name: '(compiler)' },
  program: { name: '(program)' },
  native: { name: '(native)' },
  atomicsWait: { name: '(atomics wait)' },
  idle: { name: '(idle)' },
  unknown: { name: '(unknown)' },
  truncated: { name: '(truncated)' },
  /** The root of the samples taken in ptprof's own code (stacks.ts, OwnCode). */
  ptprof: { name: '(ptprof)' },
  /** A thread's CPU that its samples do not account for (Sampler: unsampledRows). */
  unsampled: { name: '(unsampled)' },
} satisfies Record<string, Frame>;

export class Symbolizer {
  private readonly maps = new Map<number, CodeMap<Inlining>>();
  /** Isolates whose map is stale (a CODE_DROP not yet followed by its CODE_RESET). */
  private readonly stale = new Set<number>();
  private readonly frames = new WeakMap<FunctionInfo, Frame>();
  /** Frames at an executing line: function -> line (negative: inlined) -> frame. */
  private readonly lineFrames = new WeakMap<FunctionInfo, Map<number, Frame>>();
  private readonly nativeFrames = new Map<number, Frame>();
  private readonly canonical = new Map<string, Frame>();
  private readonly demangled = new Map<string, string>();
  private mapsReadAt = 0;
  private readonly resolver: NativeResolver;
  private remaps: { start: number; end: number; delta: number }[] = [];
  private readonly threadFrames = new Map<string, Frame>();
  private events: CodeEventLog = emptyLog();
  private next = 0;
  /** The highest event sequence number received so far. */
  maxSeq = 0;
  /** Code events replayed, and how many of them were moves (full GCs compacting code). */
  codeEvents = 0;
  codeMoves = 0;
  readonly inlining: InliningStats = { optimized: 0, inlined: 0, unexpanded: 0, early: 0, rejected: 0 };
  /**
   * Tables of a listing not yet resolved (CODE_LISTING, CODE_LISTED: V8 lists code objects before
   * bytecode, so an optimized function's table comes before the BYTE_CODE events that name it and
   * its inlined functions), by isolate; resolved at the listing's end, against the map as it is
   * then (no GC runs within a listing, so the table's addresses still hold).
   */
  private readonly pending = new Map<number, { inl: Inlining; own: FunctionInfo }[]>();

  constructor(private readonly native: NativeSymbols) {
    this.resolver = new NativeResolver(native.elfFunctions ? (p) => native.elfFunctions!(p) : undefined);
  }

  /** Queues a drain's code events (in sequence order) for replay. */
  addEvents(raw: Pick<RawDrain, 'events' | 'nameText' | 'inline'>): void {
    const e = raw.events;
    const names = eventNames(raw);
    for (let i = 0; i < names.length; i++) {
      const o = i * NUMS_PER_EVENT;
      this.events.seq.push(e[o + EV.seq]);
      this.events.type.push(e[o + EV.type]);
      this.events.isolateId.push(e[o + EV.isolateId]);
      this.events.start.push(e[o + EV.start]);
      this.events.len.push(e[o + EV.len]);
      this.events.newStart.push(e[o + EV.newStart]);
      this.events.name.push(names[i]);
      this.events.inline.push(readInlineTable(raw.inline, e[o + EV.inlineAt]));
      if (e[o + EV.seq] > this.maxSeq) this.maxSeq = e[o + EV.seq];
    }
  }

  /** Applies queued events with seq <= upTo. */
  replay(upTo: number): void {
    const ev = this.events;
    let i = this.next;
    while (i < ev.seq.length && ev.seq[i] <= upTo) {
      const iso = ev.isolateId[i];
      const type = ev.type[i];
      if (type === CODE_LISTING || type === CODE_LISTED) {
        if (type === CODE_LISTING && !this.stale.has(iso)) this.pending.set(iso, []);
        else if (type === CODE_LISTED) this.resolveListing(iso);
        i++;
        continue;
      }
      if (type === CODE_RETIRE || type === CODE_RESET || type === CODE_DROP) {
        this.pending.delete(iso);
        // RETIRE: the isolate is gone, and every record before this one is resolved. DROP: the
        // native log stopped taking this isolate's events (it was past its bound): the map is
        // stale, so its addresses resolve to nothing rather than to a wrong name, until the RESET
        // whose CODE_ADDED events (the isolate's code enumerated again) rebuild it.
        this.maps.delete(iso);
        if (type === CODE_DROP) this.stale.add(iso);
        else this.stale.delete(iso);
        if (type === CODE_RESET) this.maps.set(iso, new CodeMap<Inlining>());
        this.codeEvents++;
        i++;
        continue;
      }
      if (this.stale.has(iso)) {
        i++;
        continue;
      }
      let map = this.maps.get(iso);
      if (!map) {
        map = new CodeMap<Inlining>();
        this.maps.set(iso, map);
      }
      if (type === CODE_ADDED) {
        const table = ev.inline[i];
        let inl: Inlining | undefined;
        if (table) {
          const own = parseCodeName(ev.name[i]);
          inl = resolveInlining(table, own, map);
          const listing = inl ? undefined : this.pending.get(iso);
          if (listing && table.outer > 0 && !map.at(table.outer)) {
            // Its own function is not named yet: resolved at the listing's end (see pending).
            inl = { table, functions: [], cache: new Map(), unresolved: true };
            listing.push({ inl, own });
          } else if (!inl) this.inlining.rejected++;
        }
        // The name is parsed when a sample first looks the code up (CodeMap).
        map.add(ev.start[i], ev.len[i], ev.name[i], inl);
      }
      else if (type === CODE_MOVED) {
        map.move(ev.start[i], ev.newStart[i]);
        this.codeMoves++;
      }
      else if (type === CODE_REMOVED) map.remove(ev.start[i]);
      this.codeEvents++;
      i++;
    }
    this.next = i;
    if (i > 4096 && i === ev.seq.length) {
      this.events = emptyLog();
      this.next = 0;
    } else if (i > 65536) {
      for (const k of Object.keys(ev) as (keyof CodeEventLog)[]) (ev[k] as unknown[]).splice(0, i);
      this.next = 0;
    }
  }

  /**
   * The end of an isolate's listing: its tables left unresolved are resolved now, or rejected as
   * at once (fail closed: their frames keep their outer function).
   */
  private resolveListing(iso: number): void {
    const listed = this.pending.get(iso);
    this.pending.delete(iso);
    const map = this.maps.get(iso);
    if (!listed) return;
    for (const p of listed) {
      const done = map ? resolveInlining(p.inl.table, p.own, map) : undefined;
      if (done) {
        p.inl.functions = done.functions;
        p.inl.unresolved = false;
      } else this.inlining.rejected++;
    }
  }

  /** Isolates whose code map is held (a retired isolate's is freed: see replay). */
  get isolateCount(): number {
    return this.maps.size;
  }

  /** Re-reads the mappings, and which file ranges are mapped twice (V8's copy of its builtins). */
  refreshRemaps(): void {
    try {
      this.remaps = remappedRanges(readMaps());
      this.resolver.refreshMaps();
      this.mapsReadAt = Date.now();
    } catch {
      this.remaps = [];
    }
  }

  /**
   * Pushes the frames of a JS code address, leaf first: the functions V8 inlined there (inlining.ts),
   * then the code's own. `call`: addr is a return address (a caller's frame: the call is the
   * instruction before it), else the pc the CPU was at. `expand` false: the code's own frame only.
   * False when no code event covers addr.
   */
  jsFrames(isolateId: number, addr: number, call: boolean, expand: boolean, out: Frame[]): boolean {
    const map = this.maps.get(isolateId);
    if (!map) return false;
    let at = addr;
    let hit = map.entry(at);
    if (!hit) {
      for (const r of this.remaps) {
        if (addr >= r.start && addr < r.end) {
          at = addr + r.delta;
          hit = map.entry(at);
          break;
        }
      }
    }
    if (!hit) return false;
    const info = hit.info;
    const optimized = info.tier === '*' || info.tier === '+';
    if (optimized) {
      this.inlining.optimized++;
      const inl = hit.data;
      // A table with positions at calls only places return addresses, not a leaf pc.
      const usable = expand && inl !== undefined && !inl.unresolved;
      const frames = usable && (call || inl.table.detailed) ? expandInlined(inl, info, at - hit.start - (call ? 1 : 0), this.lineFrame) : null;
      if (frames) {
        for (const f of frames) out.push(f);
        this.inlining.inlined += frames.length - 1;
        return true;
      }
      this.inlining.unexpanded++;
      if (usable && !call && !inl.table.detailed) this.inlining.early++;
    }
    let f = this.frames.get(info);
    if (!f) {
      f = info.file ? { name: info.name, file: info.file, line: info.line, column: info.column } : { name: info.name };
      this.frames.set(info, f);
    }
    out.push(f);
    return true;
  }

  /**
   * The frame of a function executing at a line (0: unknown, the function's first). Lines only,
   * not columns: a frame per column would make a row per expression sampled, and the rows are
   * what the profile's memory grows with (the stress test of memory).
   */
  private readonly lineFrame = (info: FunctionInfo, line: number, inlined: boolean): Frame => {
    let byLine = this.lineFrames.get(info);
    if (!byLine) {
      byLine = new Map();
      this.lineFrames.set(info, byLine);
    }
    // An unknown line (0) is the function's own position (its start, with its column), as the
    // frames of unoptimized code have it; a known one is the executing line, with the function's
    // start beside it (startLine/startColumn: @ptprof/sourcemaps maps both).
    const key = inlined ? -Math.max(line, 0) - 1 : Math.max(line, 0);
    let f = byLine.get(key);
    if (!f) {
      const file = info.file ? { file: info.file } : {};
      f = line <= 0
        ? { name: info.name, ...file, line: info.line, ...(info.column !== undefined ? { column: info.column } : {}), ...(inlined ? { inlined } : {}) }
        : { name: info.name, ...file, line, startLine: info.line, ...(info.column !== undefined ? { startColumn: info.column } : {}), ...(inlined ? { inlined } : {}) };
      byLine.set(key, f);
    }
    return f;
  };

  /** The end of a batch of samples: files opened to name native frames are closed. */
  endBatch(): void {
    this.resolver.release();
  }

  /**
   * A native code address as a frame: its function (ELF symbol, demangled) when a symbol of the
   * mapped file covers it, else `[library]`, else the address in hex. Resolved now, to one frame
   * object per function, so that the profile's rows grow with distinct stacks and not with the
   * distinct addresses sampled. Reading a file's symbols happens once, on its first address (78 ms
   * for Node's binary, in the drain that first meets it).
   */
  nativeFrame(addr: number): Frame {
    let f = this.nativeFrames.get(addr);
    if (f) return f;
    let r = this.resolver.resolve(addr);
    if (!r && Date.now() - this.mapsReadAt > 1000) {
      // A library mapped since the maps were read (dlopen).
      this.resolver.refreshMaps();
      this.mapsReadAt = Date.now();
      r = this.resolver.resolve(addr);
    }
    let name: string;
    let file: string | undefined;
    if (!r) name = `0x${addr.toString(16)}`;
    else if (r.name) {
      let dem = this.demangled.get(r.name);
      if (dem === undefined) {
        dem = r.name.startsWith('_Z') ? this.native.demangle([r.name])[0] : r.name;
        this.demangled.set(r.name, dem);
      }
      name = dem;
      file = r.file;
    } else {
      name = r.file.startsWith('[') ? r.file : `[${path.basename(r.file)}]`;
      file = r.file.startsWith('[') ? undefined : r.file;
    }
    const key = `${name}\u0000${file ?? ''}`;
    f = this.canonical.get(key);
    if (!f) {
      f = file ? { name, file } : { name };
      this.canonical.set(key, f);
    }
    if (this.nativeFrames.size > 200_000) this.nativeFrames.clear();
    this.nativeFrames.set(addr, f);
    return f;
  }

  /** The root frame that names a thread without a JS stack. */
  threadFrame(name: string): Frame {
    let f = this.threadFrames.get(name);
    if (!f) {
      f = { name: `(thread ${name})` };
      this.threadFrames.set(name, f);
    }
    return f;
  }
}

function emptyLog(): CodeEventLog {
  return { seq: [], type: [], isolateId: [], start: [], len: [], newStart: [], name: [], inline: [] };
}
