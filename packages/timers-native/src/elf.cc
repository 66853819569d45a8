// elf.cc: the function symbols of an ELF file, read and sorted in C++.
//
// Naming a native pc needs the symbol table of the file it is in (/proc/self/maps says which).
// Parsing Node's (110k symbols, 2.6 MB) in JavaScript took 40-70 ms in every profiled process, most
// of it in code run once and never optimized; here it is a few milliseconds. The addon only
// reads and sorts: which addresses get named, and how, stays in @ptprof/sampler (elf.ts).
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "napi_util.h"

namespace {

// A function symbol, 16 bytes (Elf64_Sym is 24), so that the sort moves less memory: its size is
// kept in 32 bits, which no function's exceeds (one that did would be cut to 4 GiB, still
// containing every address that a process could run in it).
struct Sym {
  uint64_t value;
  uint32_t name;
  uint32_t size;
};

bool ptprof_pread_all(int fd, void* buf, size_t n, uint64_t off) {
  uint8_t* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

// Sorts by value, stable (aliases keep the order of the table, as elf.ts does): a least-significant
// digit radix sort, a byte at a time, skipping the bytes every value shares. Node's 86k function
// symbols took ~5 ms with std::stable_sort, in every profiled process's first drain (issue 14);
// their addresses differ in 3-4 bytes, so this is 3-4 passes over the array.
// false when its buffer cannot be had (see PtprofElfFunctions: no symbols then).
bool ptprof_sort_syms(Sym* syms, size_t n) {
  if (n < 2) return true;
  size_t counts[8][256] = {};
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 8; b++) counts[b][(syms[i].value >> (8 * b)) & 0xff]++;
  std::unique_ptr<Sym[]> tmp(new (std::nothrow) Sym[n]);  // not zeroed: every element is written before it is read
  if (!tmp) return false;
  Sym* from = syms;
  Sym* to = tmp.get();
  for (int b = 0; b < 8; b++) {
    if (counts[b][(syms[0].value >> (8 * b)) & 0xff] == n) continue;  // one value for this byte: nothing to do
    size_t at[256];
    size_t sum = 0;
    for (int d = 0; d < 256; d++) {
      at[d] = sum;
      sum += counts[b][d];
    }
    for (size_t i = 0; i < n; i++) to[at[(from[i].value >> (8 * b)) & 0xff]++] = from[i];
    std::swap(from, to);
  }
  if (from != syms) std::copy(from, from + n, syms);
  return true;
}

// Whether path is this process's own executable, as the kernel names it and as /proc/self/maps
// does (the path given comes from there): " (deleted)" follows it once the file was replaced, and
// then it is not this one. (No stat: its glibc 2.33 symbols would keep the prebuilds from loading
// on older systems.)
bool ptprof_is_own_exe(const std::string& path) {
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe));
  return len > 0 && static_cast<size_t>(len) < sizeof(exe) && path == std::string(exe, static_cast<size_t>(len));
}

// A read-only private mapping of [off, off + size) of the file, page-aligned: base and length to
// unmap, and the first byte. Only for the process's own executable (see ptprof_map_strtab).
struct PtprofRange {
  void* base = nullptr;
  size_t length = 0;
  const uint8_t* data = nullptr;
};

bool ptprof_map_range(int fd, uint64_t off, uint64_t size, PtprofRange* out) {
  if (size == 0 || size > (1ull << 31)) return false;
  off_t end = lseek(fd, 0, SEEK_END);
  if (end < 0 || off + size > static_cast<uint64_t>(end)) return false;
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return false;
  uint64_t start = off - off % static_cast<uint64_t>(page);
  size_t length = static_cast<size_t>(off - start + size);
  void* base = mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(start));
  if (base == MAP_FAILED) return false;
  out->base = base;
  out->length = length;
  out->data = static_cast<const uint8_t*>(base) + (off - start);
  return true;
}

// The string table, mapped read-only from the file rather than read: a profile names a few
// hundred symbols scattered over Node's 7.5 MB table, each one a pread before (9.5 ms at the end of
// tsc's run). Only the pages touched are read. The mapping is the buffer's (unmapped when it is
// collected), and no descriptor is kept. Only for the process's own executable: a mapped file that
// shrinks makes a read past its new end SIGBUS, and the kernel refuses to write to or truncate a
// running executable (ETXTBSY) but not a library. nullptr when it is not mapped.
struct PtprofMapped {
  void* base;
  size_t length;
};

void ptprof_unmap(napi_env, void*, void* hint) {
  PtprofMapped* m = static_cast<PtprofMapped*>(hint);
  munmap(m->base, m->length);
  delete m;
}

napi_value ptprof_map_strtab(napi_env env, bool own_exe, int fd, uint64_t off, uint64_t size) {
  PtprofRange r;
  if (!own_exe || !ptprof_map_range(fd, off, size, &r)) return nullptr;
  void* base = r.base;
  size_t length = r.length;
  PtprofMapped* m = new PtprofMapped{base, length};
  napi_value buf = nullptr;
  // Refused where external buffers are not allowed (a V8 sandbox): the names are read then.
  if (napi_create_external_buffer(env, static_cast<size_t>(size), const_cast<uint8_t*>(r.data), ptprof_unmap, m,
                                  &buf) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    munmap(base, length);
    delete m;
    return nullptr;
  }
  return buf;
}

template <typename T>
T ptprof_get(const uint8_t* p) {
  T v;
  memcpy(&v, p, sizeof(v));
  return v;  // little-endian only (x64, arm64): checked by the caller's EI_DATA test
}

}  // namespace

// elfFunctions(path) -> { segments: [{ offset, vaddr, filesz }], values: Float64Array,
// sizes: Float64Array, names: Uint32Array, strtabOffset, strtabSize, strtab?: Buffer (the string
// table, mapped) } | null: the defined function
// symbols (STT_FUNC, STT_GNU_IFUNC) with a size, of .symtab (else .dynsym), sorted by address;
// null for anything that is not a readable 64-bit little-endian ELF file with symbols.
static Napi::Value PtprofElfFunctions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ptprof_throw_type(env, "elfFunctions: path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return env.Null();
  bool own_exe = ptprof_is_own_exe(path);
  struct Segment {
    uint64_t offset, vaddr, filesz;
  };
  std::vector<Segment> segments;
  // The symbol table: mapped for the process's own executable (its pages are in the page cache
  // already, and a copy of Node's 2.6 MB into fresh memory cost page faults and zeroing: most of
  // this call's ~5 ms, issue 14), read into memory for any other file (see ptprof_map_strtab).
  PtprofRange mapped;
  std::unique_ptr<uint8_t[]> owned;
  const uint8_t* table = nullptr;
  std::unique_ptr<Sym[]> syms;
  size_t count = 0;
  uint64_t str_off = 0, str_size = 0;
  bool ok = false;
  do {
    uint8_t h[64];
    if (!ptprof_pread_all(fd, h, sizeof(h), 0)) break;
    if (memcmp(h,
               "\x7f"
               "ELF",
               4) != 0 ||
        h[4] != 2 /* ELFCLASS64 */ || h[5] != 1 /* little-endian */)
      break;
    uint64_t phoff = ptprof_get<uint64_t>(h + 0x20), shoff = ptprof_get<uint64_t>(h + 0x28);
    uint16_t phentsize = ptprof_get<uint16_t>(h + 0x36), phnum = ptprof_get<uint16_t>(h + 0x38);
    uint16_t shentsize = ptprof_get<uint16_t>(h + 0x3a), shnum = ptprof_get<uint16_t>(h + 0x3c);
    if (phentsize < 56 || shentsize < 64 || shoff == 0 || shnum == 0) break;
    std::vector<uint8_t> ph(static_cast<size_t>(phentsize) * phnum);
    if (!ptprof_pread_all(fd, ph.data(), ph.size(), phoff)) break;
    for (uint16_t i = 0; i < phnum; i++) {
      const uint8_t* p = ph.data() + static_cast<size_t>(i) * phentsize;
      if (ptprof_get<uint32_t>(p) != 1) continue;  // PT_LOAD
      segments.push_back({ptprof_get<uint64_t>(p + 8), ptprof_get<uint64_t>(p + 16), ptprof_get<uint64_t>(p + 32)});
    }
    std::vector<uint8_t> sh(static_cast<size_t>(shentsize) * shnum);
    if (!ptprof_pread_all(fd, sh.data(), sh.size(), shoff)) break;
    auto type_of = [&](int i) { return ptprof_get<uint32_t>(sh.data() + static_cast<size_t>(i) * shentsize + 4); };
    int sym_idx = -1;
    for (int i = 0; i < shnum; i++)
      if (type_of(i) == 2) sym_idx = i;  // SHT_SYMTAB
    if (sym_idx < 0)
      for (int i = 0; i < shnum; i++)
        if (type_of(i) == 11) sym_idx = i;  // SHT_DYNSYM
    if (sym_idx < 0) break;
    const uint8_t* s = sh.data() + static_cast<size_t>(sym_idx) * shentsize;
    uint64_t sym_off = ptprof_get<uint64_t>(s + 24), sym_size = ptprof_get<uint64_t>(s + 32);
    uint32_t link = ptprof_get<uint32_t>(s + 40);
    if (link >= shnum || sym_size > (1ull << 31)) break;
    const uint8_t* l = sh.data() + static_cast<size_t>(link) * shentsize;
    str_off = ptprof_get<uint64_t>(l + 24);
    str_size = ptprof_get<uint64_t>(l + 32);
    if (!own_exe || !ptprof_map_range(fd, sym_off, sym_size, &mapped)) {
      owned.reset(new (std::nothrow) uint8_t[static_cast<size_t>(sym_size)]);  // read over: not zeroed
      if (!owned || !ptprof_pread_all(fd, owned.get(), static_cast<size_t>(sym_size), sym_off)) break;
      table = owned.get();
    } else {
      table = mapped.data;
    }
    size_t n = static_cast<size_t>(sym_size) / 24;
    // Functions (STT_FUNC, STT_GNU_IFUNC), defined (shndx != SHN_UNDEF), with a size. The array
    // has room for every symbol but is not zeroed: the pages past the functions are never touched.
    // Memory that cannot be had (a table of millions of symbols) means no symbols, not an
    // exception through V8 into the profiled program: the addon is built without C++ exceptions.
    syms.reset(new (std::nothrow) Sym[n > 0 ? n : 1]);
    if (!syms) break;
    for (size_t i = 0; i < n; i++) {
      const uint8_t* e = table + i * 24;  // Elf64_Sym
      uint8_t type = e[4] & 0xf;
      uint64_t size = ptprof_get<uint64_t>(e + 16);
      if ((type == 2 || type == 10) && ptprof_get<uint16_t>(e + 6) != 0 && size != 0)
        syms[count++] = {ptprof_get<uint64_t>(e + 8), ptprof_get<uint32_t>(e),
                         static_cast<uint32_t>(size > 0xffffffffull ? 0xffffffffull : size)};
    }
    if (!ptprof_sort_syms(syms.get(), count)) break;
    ok = true;
  } while (false);
  if (mapped.base != nullptr) munmap(mapped.base, mapped.length);
  napi_value strtab = ok ? ptprof_map_strtab(env, own_exe, fd, str_off, str_size) : nullptr;
  close(fd);
  if (!ok) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array segs = Napi::Array::New(env, segments.size());
  for (size_t i = 0; i < segments.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("offset", Napi::Number::New(env, static_cast<double>(segments[i].offset)));
    o.Set("vaddr", Napi::Number::New(env, static_cast<double>(segments[i].vaddr)));
    o.Set("filesz", Napi::Number::New(env, static_cast<double>(segments[i].filesz)));
    segs.Set(static_cast<uint32_t>(i), o);
  }
  Napi::Float64Array values = Napi::Float64Array::New(env, count);
  Napi::Float64Array sizes = Napi::Float64Array::New(env, count);
  Napi::Uint32Array names = Napi::Uint32Array::New(env, count);
  double* vp = values.Data();
  double* sp = sizes.Data();
  uint32_t* np = names.Data();
  for (size_t i = 0; i < count; i++) {
    vp[i] = static_cast<double>(syms[i].value);
    sp[i] = static_cast<double>(syms[i].size);
    np[i] = syms[i].name;
  }
  out.Set("segments", segs);
  out.Set("values", values);
  out.Set("sizes", sizes);
  out.Set("names", names);
  out.Set("strtabOffset", Napi::Number::New(env, static_cast<double>(str_off)));
  out.Set("strtabSize", Napi::Number::New(env, static_cast<double>(str_size)));
  if (strtab != nullptr) out.Set("strtab", Napi::Value(env, strtab));
  return out;
}

void ptprof_init_elf(Napi::Env env, Napi::Object exports) {
  exports.Set("elfFunctions", Napi::Function::New(env, PtprofElfFunctions, "elfFunctions"));
}
