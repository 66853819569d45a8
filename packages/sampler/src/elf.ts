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

export class ElfSymbols {
  private values: Float64Array = new Float64Array(0);
  private sizes: Float64Array = new Float64Array(0);
  private nameOffsets: Uint32Array = new Uint32Array(0);
  private strtab: Buffer = Buffer.alloc(0);
  private segments: Segment[] = [];
  readonly ok: boolean;

  constructor(readonly path: string) {
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
    this.strtab = ElfSymbols.read(fd, str.offset, str.size);
    const n = Math.floor(sym.size / 24);
    // 64-bit fields read as two 32-bit halves: BigInt reads made this 140 ms for Node's binary.
    const u64 = (o: number) => syms.readUInt32LE(o) + syms.readUInt32LE(o + 4) * 0x100000000;
    const vals: number[] = [];
    const offs: number[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * 24;
      const type = syms[o + 4] & 0xf;
      // STT_FUNC (2) or STT_GNU_IFUNC (10), defined (shndx != SHN_UNDEF), with a size.
      if ((type === 2 || type === 10) && syms.readUInt16LE(o + 6) !== 0 && (syms.readUInt32LE(o + 16) | syms.readUInt32LE(o + 20)) !== 0) {
        vals.push(u64(o + 8));
        offs.push(o);
      }
    }
    const order = new Uint32Array(vals.length);
    for (let k = 0; k < order.length; k++) order[k] = k;
    const v = Float64Array.from(vals);
    order.sort((x, y) => v[x] - v[y]);
    this.values = new Float64Array(order.length);
    this.sizes = new Float64Array(order.length);
    this.nameOffsets = new Uint32Array(order.length);
    for (let k = 0; k < order.length; k++) {
      const o = offs[order[k]];
      this.values[k] = v[order[k]];
      this.sizes[k] = u64(o + 16);
      this.nameOffsets[k] = syms.readUInt32LE(o);
    }
    return true;
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
      if (vaddr < this.values[j] + this.sizes[j]) {
        const start = this.nameOffsets[j];
        const end = this.strtab.indexOf(0, start);
        return this.strtab.toString('utf8', start, end < 0 ? undefined : end);
      }
    }
    return undefined;
  }
}

/** Address -> { name?, file } over this process's mappings, loading each file's symbols once. */
export class NativeResolver {
  private maps: Mapping[] = [];
  private readonly files = new Map<string, ElfSymbols>();

  refreshMaps(): void {
    this.maps = readMaps();
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
      elf = new ElfSymbols(m.path);
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
