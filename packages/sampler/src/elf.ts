// Names for native code addresses, from the ELF symbol tables of the files mapped in this process
// (/proc/self/maps): .symtab when the file has one (Node's binary does: static functions too),
// else .dynsym. A name is given only when the address lies inside the symbol (value..value+size);
// otherwise only the file is known. Done in TypeScript, at profile time, once per file: the
// native layer records addresses and decides nothing here.
import * as fs from 'node:fs';

export interface Mapping {
  start: number;
  end: number;
  offset: number;
  path: string;
}

/** The file-backed mappings of this process. */
export function readMaps(text = fs.readFileSync('/proc/self/maps', 'utf8')): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    // Files, and the vDSO (clock_gettime for Date.now() runs there): named, but not read.
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(\/.*|\[vdso\])$/.exec(line);
    if (!m) continue;
    out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), offset: parseInt(m[3], 16), path: m[4].replace(/ \(deleted\)$/, '') });
  }
  return out.sort((a, b) => a.start - b.start);
}

interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
}

/** What the addon's elfFunctions returns (the same fields; see @ptprof/timers-native). */
export interface ParsedElf {
  segments: Segment[];
  values: Float64Array;
  sizes: Float64Array;
  names: Uint32Array;
  strtabOffset: number;
  strtabSize: number;
  /** The string table, mapped (the addon's): names are read from it, not from the file. */
  strtab?: Buffer;
}

/**
 * A file's function symbols. Given `parse` (the addon's elfFunctions: 3.5-5 ms for Node's binary in a
 * fresh process, its string table mapped rather than read name by name),
 * it reads them through that; else it parses in TypeScript (40-70 ms for Node's binary: code run
 * once is never optimized), which tests and tools without the addon use.
 */
export class ElfSymbols {
  private values: Float64Array = new Float64Array(0);
  private sizes: Float64Array = new Float64Array(0);
  private nameOffsets: Uint32Array = new Uint32Array(0);
  private strtabOffset = 0;
  private strtabSize = 0;
  private strtab: Buffer | undefined;
  private readonly names = new Map<number, string>();
  private segments: Segment[] = [];
  readonly ok: boolean;

  constructor(readonly path: string, parse?: (path: string) => ParsedElf | null) {
    if (parse) {
      let r: ParsedElf | null = null;
      try {
        r = parse(path);
      } catch {
        r = null;
      }
      this.ok = r !== null;
      if (r) {
        this.segments = r.segments;
        this.values = r.values;
        this.sizes = r.sizes;
        this.nameOffsets = r.names;
        this.strtabOffset = r.strtabOffset;
        this.strtabSize = r.strtabSize;
        if (r.strtab && r.strtab.length === r.strtabSize) this.strtab = r.strtab;
      }
      return;
    }
    let fd = -1;
    try {
      fd = fs.openSync(path, 'r');
      this.ok = this.load(fd);
    } catch {
      this.ok = false;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  private static read(fd: number, offset: number, length: number): Buffer {
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, b, done, length - done, offset + done);
      if (n <= 0) throw new Error('short read');
      done += n;
    }
    return b;
  }

  private load(fd: number): boolean {
    const h = ElfSymbols.read(fd, 0, 64);
    // 64-bit little-endian ELF only (x64 and arm64).
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return false;
    const phoff = Number(h.readBigUInt64LE(0x20));
    const shoff = Number(h.readBigUInt64LE(0x28));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const shentsize = h.readUInt16LE(0x3a);
    const shnum = h.readUInt16LE(0x3c);
    const ph = ElfSymbols.read(fd, phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (ph.readUInt32LE(o) !== 1) continue; // PT_LOAD
      this.segments.push({
        offset: Number(ph.readBigUInt64LE(o + 8)),
        vaddr: Number(ph.readBigUInt64LE(o + 16)),
        filesz: Number(ph.readBigUInt64LE(o + 32)),
      });
    }
    if (shoff === 0 || shnum === 0) return false;
    const sh = ElfSymbols.read(fd, shoff, shentsize * shnum);
    const section = (i: number) => ({
      type: sh.readUInt32LE(i * shentsize + 4),
      offset: Number(sh.readBigUInt64LE(i * shentsize + 24)),
      size: Number(sh.readBigUInt64LE(i * shentsize + 32)),
      link: sh.readUInt32LE(i * shentsize + 40),
    });
    let symIdx = -1;
    for (let i = 0; i < shnum; i++) if (section(i).type === 2) symIdx = i; // SHT_SYMTAB
    if (symIdx < 0) for (let i = 0; i < shnum; i++) if (section(i).type === 11) symIdx = i; // SHT_DYNSYM
    if (symIdx < 0) return false;
    const sym = section(symIdx);
    const str = section(sym.link);
    const syms = ElfSymbols.read(fd, sym.offset, sym.size);
    const n = Math.floor(sym.size / 24);
    // Elf64_Sym as six 32-bit words: name, info/other/shndx, value (lo, hi), size (lo, hi).
    // (Buffer.alloc's memory is 8-byte aligned: a word view is exact.)
    const w = new Uint32Array(syms.buffer, syms.byteOffset, n * 6);
    // Functions (STT_FUNC 2, STT_GNU_IFUNC 10), defined (shndx != SHN_UNDEF), with a size.
    let count = 0;
    for (let i = 0; i < n; i++) {
      const info = w[i * 6 + 1];
      const type = info & 0xf;
      if ((type === 2 || type === 10) && info >>> 16 !== 0 && (w[i * 6 + 4] | w[i * 6 + 5]) !== 0) count++;
    }
    // Sorted by address with the native numeric sort of a Float64Array (a comparator sort of Node's
    // ~100k functions was most of the 65-78 ms this took): each key is address * 2^20 + index,
    // exact while addresses stay below 2^32 (a binary's, and its libraries'); else a comparator.
    const idx = new Uint32Array(count);
    const val = new Float64Array(count);
    let k = 0;
    let small = true;
    for (let i = 0; i < n; i++) {
      const info = w[i * 6 + 1];
      const type = info & 0xf;
      if ((type === 2 || type === 10) && info >>> 16 !== 0 && (w[i * 6 + 4] | w[i * 6 + 5]) !== 0) {
        idx[k] = i;
        val[k] = w[i * 6 + 2] + w[i * 6 + 3] * 0x100000000;
        if (w[i * 6 + 3] !== 0) small = false;
        k++;
      }
    }
    let order: Uint32Array;
    if (small && count < 1 << 20) {
      const keys = new Float64Array(count);
      for (let j = 0; j < count; j++) keys[j] = val[j] * 0x100000 + j;
      keys.sort();
      order = new Uint32Array(count);
      for (let j = 0; j < count; j++) order[j] = keys[j] % 0x100000;
    } else {
      order = new Uint32Array(count);
      for (let j = 0; j < count; j++) order[j] = j;
      order.sort((x, y) => val[x] - val[y]);
    }
    this.values = new Float64Array(count);
    this.sizes = new Float64Array(count);
    this.nameOffsets = new Uint32Array(count);
    for (let j = 0; j < count; j++) {
      const i = idx[order[j]];
      this.values[j] = val[order[j]];
      this.sizes[j] = w[i * 6 + 4] + w[i * 6 + 5] * 0x100000000;
      this.nameOffsets[j] = w[i * 6];
    }
    // Names are read one at a time when a symbol is first named (a profile names a few hundred of
    // them): the string table of Node's binary is megabytes.
    this.strtabOffset = str.offset;
    this.strtabSize = str.size;
    return true;
  }

  /** The file, open while names are being read (release() closes it). */
  private fd = -1;

  /**
   * Closes the file names were read from: a batch of samples names many symbols of one binary, and
   * opening it once per name cost more than the reads (issue 14); no descriptor is kept between
   * batches, in a program that may count its own.
   */
  release(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed: nothing to release
      }
      this.fd = -1;
    }
  }

  /** The NUL-terminated name at `offset` of the string table, read from the file (and kept). */
  private nameAt(offset: number): string | undefined {
    const hit = this.names.get(offset);
    if (hit !== undefined) return hit;
    if (offset >= this.strtabSize) return undefined;
    const mapped = this.strtab;
    if (mapped) {
      const end = mapped.indexOf(0, offset);
      const text = mapped.toString('utf8', offset, end < 0 ? mapped.length : end);
      this.names.set(offset, text);
      return text;
    }
    try {
      if (this.fd < 0) this.fd = fs.openSync(this.path, 'r');
      let text = '';
      for (let at = offset, chunk = 256; at < this.strtabSize; at += chunk, chunk = Math.min(chunk * 4, 65536)) {
        const b = ElfSymbols.read(this.fd, this.strtabOffset + at, Math.min(chunk, this.strtabSize - at));
        const end = b.indexOf(0);
        text += b.toString('utf8', 0, end < 0 ? b.length : end);
        if (end >= 0) break;
      }
      this.names.set(offset, text);
      return text;
    } catch {
      this.release();
      return undefined;
    }
  }

  /** The symbol (raw, possibly mangled) containing the file offset, if any. */
  symbolAtFileOffset(fileOffset: number): string | undefined {
    const seg = this.segments.find((s) => fileOffset >= s.offset && fileOffset < s.offset + s.filesz);
    if (!seg) return undefined;
    const vaddr = seg.vaddr + (fileOffset - seg.offset);
    let lo = 0;
    let hi = this.values.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.values[mid] <= vaddr) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Symbols may nest (aliases, local labels): look back a little for one that covers vaddr.
    for (let j = k; j >= 0 && j > k - 8; j--) {
      if (vaddr < this.values[j] + this.sizes[j]) return this.nameAt(this.nameOffsets[j]);
    }
    return undefined;
  }
}

/** Address -> { name?, file } over this process's mappings, loading each file's symbols once. */
export class NativeResolver {
  private maps: Mapping[] = [];
  private readonly files = new Map<string, ElfSymbols>();

  constructor(private readonly parse?: (path: string) => ParsedElf | null) {}

  refreshMaps(): void {
    this.maps = readMaps();
  }

  /** Closes the files opened to read names (ElfSymbols.release): at the end of each batch. */
  release(): void {
    for (const f of this.files.values()) f.release();
  }

  resolve(addr: number): { name?: string; file: string } | undefined {
    let lo = 0;
    let hi = this.maps.length - 1;
    let m: Mapping | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.maps[mid].start <= addr) {
        m = this.maps[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!m || addr >= m.end) return undefined;
    if (m.path.startsWith('[')) return { file: m.path };
    let elf = this.files.get(m.path);
    if (!elf) {
      elf = new ElfSymbols(m.path, this.parse);
      this.files.set(m.path, elf);
    }
    const name = elf.ok ? elf.symbolAtFileOffset(addr - m.start + m.offset) : undefined;
    return { name, file: m.path };
  }
}

/**
 * Address ranges that are a second mapping of a file range mapped before at another address, with
 * the offset back to the first. V8 copies its embedded builtins next to the JIT code
 * (--short-builtin-calls, on by default on x64 with enough memory): the copy is a mapping of the
 * same file and offset, and code events name the builtins at their original addresses, so a pc in
 * the copy is found in the code map only once translated.
 */
export function remappedRanges(maps: Mapping[]): { start: number; end: number; delta: number }[] {
  const out: { start: number; end: number; delta: number }[] = [];
  const byPath = new Map<string, Mapping[]>();
  for (const m of maps) {
    let l = byPath.get(m.path);
    if (!l) byPath.set(m.path, (l = []));
    l.push(m);
  }
  for (const list of byPath.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const m = list[i];
      const first = list.slice(0, i).find((o) => m.offset >= o.offset && m.offset + (m.end - m.start) <= o.offset + (o.end - o.start));
      if (!first) continue;
      const original = first.start + (m.offset - first.offset);
      if (original !== m.start) out.push({ start: m.start, end: m.end, delta: original - m.start });
    }
  }
  return out.sort((a, b) => a.start - b.start);
}
