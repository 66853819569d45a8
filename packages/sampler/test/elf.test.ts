// Native frames are named from the ELF symbol tables of the mapped files. The addon reads and
// sorts a file's function symbols (elfFunctions: milliseconds); elf.ts can parse them in
// TypeScript too (tens of milliseconds for Node's binary). Both must name every address alike.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { binding } from '@ptprof/timers-native';
import { ElfSymbols, readMaps } from '../src/elf';

describe('ELF symbols', () => {
  const exe = fs.realpathSync(process.execPath);
  const files = [...new Set(readMaps().filter((m) => m.path === exe || /\/libc\.so/.test(m.path)).map((m) => m.path))];

  it('the addon and the TypeScript parser name the same addresses of node and libc', () => {
    assert.ok(files.includes(exe), 'node is mapped');
    for (const file of files) {
      const t0 = process.hrtime.bigint();
      const ts = new ElfSymbols(file);
      const t1 = process.hrtime.bigint();
      const nat = new ElfSymbols(file, (p) => binding.elfFunctions(p));
      const t2 = process.hrtime.bigint();
      assert.ok(ts.ok && nat.ok, file);
      console.log(`      ${file}: TypeScript ${(Number(t1 - t0) / 1e6).toFixed(1)} ms, addon ${(Number(t2 - t1) / 1e6).toFixed(1)} ms`);
      // The same order, aliases (one address, several names) included: the addon's sort is stable.
      type Tables = { values: Float64Array; nameOffsets: Uint32Array };
      const [a, b] = [ts as unknown as Tables, nat as unknown as Tables];
      assert.equal(b.values.length, a.values.length);
      assert.ok(b.values.every((v, i) => v === a.values[i] && b.nameOffsets[i] === a.nameOffsets[i]), `${file}: the addon's order differs`);
      const text = readMaps().filter((m) => m.path === file);
      let named = 0;
      for (let i = 0; i < 2000; i++) {
        const m = text[i % text.length];
        const off = m.offset + Math.floor(((i * 2654435761) % 1000003) / 1000003 * (m.end - m.start));
        const a = ts.symbolAtFileOffset(off);
        assert.equal(nat.symbolAtFileOffset(off), a, `${file} at file offset 0x${off.toString(16)}`);
        if (a) named++;
      }
      assert.ok(named > 100, `${named} of 2000 addresses in ${file} named`);
    }
  });

  it('the addon maps the string table: names are read from memory, no descriptor kept', () => {
    const fds = (): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === exe;
      } catch {
        return false;
      }
    }).length;
    // The symbol table is mapped too while it is read (no copy of Node's 2.6 MB), and unmapped
    // before the call returns: one mapping more after it, the string table's.
    const mappings = (): number => readMaps().filter((m) => m.path === exe).length;
    const before = fds();
    const mapped = mappings();
    const parsed = binding.elfFunctions(exe)!;
    assert.equal(mappings(), mapped + 1, 'the string table mapped, the symbol table unmapped');
    assert.ok(Buffer.isBuffer(parsed.strtab), 'the string table is mapped');
    assert.equal(parsed.strtab!.length, parsed.strtabSize);
    assert.equal(parsed.strtab![0], 0, 'an ELF string table begins with NUL');
    assert.equal(fds(), before, 'no descriptor kept');
    // A library is not mapped: unlike a running executable (ETXTBSY) it can be truncated, and a
    // read past the new end of a mapping would be SIGBUS.
    const libc = files.find((f) => f !== exe);
    if (libc) assert.equal(binding.elfFunctions(libc)!.strtab, undefined, `${libc} is read, not mapped`);
    // The mapping is the file's bytes at the table's offset.
    const fd = fs.openSync(exe, 'r');
    try {
      const probe = Buffer.alloc(4096);
      const at = Math.floor(parsed.strtabSize / 2);
      fs.readSync(fd, probe, 0, probe.length, parsed.strtabOffset + at);
      assert.ok(probe.equals(parsed.strtab!.subarray(at, at + probe.length)));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('without the mapping, names are read through one open file per batch, closed at its end (no descriptor kept)', () => {
    const fdsTo = (file: string): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    }).length;
    const cjsFs = require('node:fs') as { openSync: typeof fs.openSync }; // the module object elf.ts opens through
    const realOpen = cjsFs.openSync;
    let opens = 0;
    cjsFs.openSync = ((...a: Parameters<typeof fs.openSync>) => {
      if (a[0] === exe) opens++;
      return realOpen(...a);
    }) as typeof fs.openSync;
    const before = fdsTo(exe);
    const elf = new ElfSymbols(exe, (p) => {
      const r = binding.elfFunctions(p);
      if (r) delete r.strtab; // as where external buffers are refused
      return r;
    });
    let named = 0;
    try {
      const text = readMaps().filter((m) => m.path === exe);
      for (let i = 0; i < 300; i++) {
        const m = text[i % text.length]!;
        if (elf.symbolAtFileOffset(m.offset + Math.floor(((i * 2654435761) % 1000003) / 1000003 * (m.end - m.start)))) named++;
      }
      assert.ok(named > 20, `${named} of 300 addresses named`);
      assert.equal(opens, 1, 'one open for the batch');
      assert.equal(fdsTo(exe), before + 1, 'open during the batch');
      elf.release();
      assert.equal(fdsTo(exe), before, 'closed at its end');
    } finally {
      cjsFs.openSync = realOpen;
      elf.release();
    }
  });

  it('a file that is not ELF, or missing, gives no symbols and no error', () => {
    assert.equal(binding.elfFunctions('/etc/hostname'), null);
    assert.equal(binding.elfFunctions('/nonexistent/file'), null);
    assert.equal(new ElfSymbols('/etc/hostname', (p) => binding.elfFunctions(p)).ok, false);
    assert.equal(new ElfSymbols('/etc/hostname').ok, false);
  });
});
