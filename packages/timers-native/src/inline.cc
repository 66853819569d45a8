// inline.cc: which functions V8 inlined where, read from optimized code when V8 reports it.
//
// V8 inlines small hot functions into their callers (TurboFan on every Node, Maglev too from Node
// 24), and a sample names a frame by the code object its pc lies in: without this, an inlined
// function's CPU is its caller's. V8's public code events carry nothing about inlining (the line
// information of SetJitCodeEventHandler maps pc offsets to script offsets but drops the inlining
// id, so positions from another function or script cannot be told apart). What V8's own profiler
// uses is in the optimized Code object: its deoptimization data (the inlined SharedFunctionInfos
// and, per inlining id, the call site in the caller) and its source position table (pc offset ->
// script offset + inlining id). This file reads those, once, when the code is reported
// (CODE_ADDED on the isolate's own thread, inside V8's code logging, where V8 forbids GC: nothing
// moves while we read), and copies them out as a table of lines and columns that travels with the
// event through the log and the drain (codeevents.cc, drain.cc). The heap is never read later, and
// never from the signal handler: the sampler expands a sample's pc against the copied table.
//
// Safety. Where things are comes from V8's postmortem metadata and a per-version table
// (v8layout.h). Every pointer followed is read with process_vm_readv on our own pid (or, where
// that is refused, through a pipe), which turns a bad address into an error instead of a crash, and every object is
// checked to have the instance type expected (its map checked to be a map). Anything unexpected fails closed: the code
// gets no table, is counted, and its samples keep today's outer frame. The sampler checks each
// table once more against V8's own names (the code's function, read here through the deopt data,
// must be the function V8 named the code after).
//
// Names. An inlined function is identified by the address of its first bytecode, which V8 named
// in a BYTE_CODE event ("JS:~name file:line:col") that the sampler's code map holds (and follows
// through moves): one name per function however it runs, and no parsing of V8's ScopeInfo.
//
// Lines. Script offsets become lines and columns with the script's line ends: V8's own table when
// the script has one (Script::line_ends), otherwise computed from the script's source as V8 does
// (\n, \r, U+2028, U+2029; \r\n once), plus the script's line and column offsets (vm.Script's
// lineOffset). Kept per (isolate, script id) for the isolate's life; eval, new Function and vm
// scripts have no file but have their source, so they get lines too.
//
// Positions. By default V8 records positions in optimized code only at calls, so the pc of a leaf
// in a loop of inlined arithmetic would be placed at whatever call came before it in the code.
// v8::CpuProfiler::UseDetailedSourcePositionsForProfiling (public API, what V8's profiler turns
// on) makes V8 record them for every instruction of the code it optimizes from then on; it is
// turned on for each isolate before its code events start. Code optimized before that (listed
// by the first enumeration) is marked: its table is used for return addresses (calls) only.
#include "inline.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "compat.h"
#include "layout.h"
#include "ptprof.h"
#include "v8layout.h"

namespace {

PtprofV8Layout L;
std::string disabled_reason;  // written once (init_layout), read after

std::atomic<uint64_t> n_tables{0}, n_failures{0}, n_skipped{0};
std::atomic<uint64_t> n_ns{0};  // thread CPU time spent reading tables (what this costs the program)

// Held for a whole decode and around the caches below; taken alone (the code-event callback takes
// code_mu after it is released). Decodes of different isolates (workers) run one at a time.
std::mutex inline_mu;
std::set<uint32_t> detailed_isolates;
// Line tables of scripts: (isolate id << 32 | script id) -> [line_offset, column_offset, the
// offset of each line's end...]. An empty table: the script's lines could not be read.
std::map<uint64_t, std::vector<int32_t>> scripts;
size_t scripts_bytes = 0;
constexpr size_t kMaxScriptsBytes = 64u << 20;   // dropped whole beyond this, then rebuilt
constexpr size_t kMaxSourceChars = 64u << 20;    // a larger source gets no lines
constexpr int32_t kMaxInlined = 4096;            // more inlined functions than this is not sane
constexpr int32_t kMaxPositionBytes = 16 << 20;  // nor a source position table larger than this

thread_local bool enumerating = false;

void debug(const char* what, uint64_t v) {
  static const bool on = getenv("PTPROF_INLINE_DEBUG") != nullptr;
  if (on) fprintf(stderr, "ptprof inline: %s (0x%llx)\n", what, static_cast<unsigned long long>(v));
}

// The pipe of the fallback read: write() from the address into the pipe fails with EFAULT, instead
// of crashing, where the address is not readable; read() takes the bytes back. Used only when
// process_vm_readv is refused. inline_mu held (one decode at a time), so one pipe serves all.
int read_pipe[2] = {-1, -1};

bool pipe_read(uint64_t addr, void* dst, size_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    size_t chunk = n < 32768 ? n : 32768;
    ssize_t w = write(read_pipe[1], reinterpret_cast<const void*>(addr), chunk);
    if (w > 0 && read(read_pipe[0], out, static_cast<size_t>(w)) != w) return false;
    if (w != static_cast<ssize_t>(chunk)) return false;  // a fault part way: what was written is read back above
    addr += chunk;
    out += chunk;
    n -= chunk;
  }
  return true;
}

bool init_layout() {
  L = ptprof_v8_layout();
  if (!L.ok) {
    disabled_reason = L.why;
    return false;
  }
  // A safe read must work: process_vm_readv on ourselves, or where that is refused (a seccomp
  // profile may forbid it; qemu-user does not implement it), a pipe (below).
  uint64_t probe = 0x5054'5052'4f46ull, copy = 0;
  struct iovec local = {&copy, sizeof(copy)}, remote = {&probe, sizeof(probe)};
  if (!L.test_pipe && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof(copy)) &&
      copy == probe)
    return true;
  int why = errno;
  if (pipe2(read_pipe, O_CLOEXEC | O_NONBLOCK) == 0 &&
      pipe_read(reinterpret_cast<uint64_t>(&probe), &copy, sizeof(copy)) && copy == probe)
    return true;
  disabled_reason =
      std::string("neither process_vm_readv (") + strerror(why) + ") nor a pipe can read this process's memory safely";
  L.ok = false;
  return false;
}

// The layout, resolved on first use (a function-local static: std::call_once would need
// pthread_once from glibc 2.34, see compat.h).
bool layout_ok() {
  static const bool ok = init_layout();
  return ok;
}

// Instance types of maps already checked, across decodes. Only the maps of the types read here,
// which are V8's read-only roots (immortal, never moved): an address once found to be such a map
// stays one.
std::unordered_map<uint64_t, int> known_maps;

// Reads of V8's heap for one decode: every read can fail, and a failure ends the decode. A read
// that lies within one 4 KiB block is served from that block, read whole (one system call for an
// object's header and fields, and for the other objects V8 allocated beside it; a block never
// crosses a page, so it is readable exactly when the bytes asked for are), kept for the decode (no
// GC runs meanwhile, so nothing in them changes). Longer reads go to the process directly. The
// system call's cost is per call and per page touched, hardly per byte: with 256-byte blocks, the
// ~15 reads of a table were half of the 62 us each of tsc's 1,532 tables cost (issue 14).
class Heap {
 public:
  Heap() : pid_(getpid()) {}

  bool read(uint64_t addr, void* dst, size_t n) {
    if (addr < 4096 || addr + n < addr) return false;
    uint64_t block = addr & ~static_cast<uint64_t>(kBlock - 1);
    if (addr + n <= block + kBlock && (blocks_.size() < kMaxBlocks || held(block) != nullptr)) {
      const uint8_t* b = this->block(block);
      if (b == nullptr) return false;
      memcpy(dst, b + (addr - block), n);
      return true;
    }
    return direct(addr, dst, n);
  }

  bool direct(uint64_t addr, void* dst, size_t n) {
    if (read_pipe[0] >= 0) return pipe_read(addr, dst, n);
    struct iovec local = {dst, n}, remote = {reinterpret_cast<void*>(addr), n};
    return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
  }

  bool word(uint64_t addr, uint64_t* out) { return read(addr, out, sizeof(*out)); }

  // Reads the blocks of these addresses that are not held yet, in one system call: a table's
  // inlined functions are read field by field, each field a pointer to another object, and one
  // call for all of them at each step costs about half of one call each (measured: 0.65 against
  // 1.46 us a 4 KiB block, 8 at a time). process_vm_readv stops at the first block it cannot read:
  // the blocks read before it are kept, the rest are read (or fail) one by one when asked for.
  void prefetch(const std::vector<uint64_t>& addrs) {
    if (read_pipe[0] >= 0) return;
    std::vector<uint64_t> want;
    for (uint64_t a : addrs) {
      if (a < 4096) continue;
      uint64_t b = a & ~static_cast<uint64_t>(kBlock - 1);
      if (std::find(want.begin(), want.end(), b) != want.end() || held(b) != nullptr) continue;
      want.push_back(b);
    }
    constexpr size_t kMaxIov = 64;  // well under IOV_MAX (1024)
    for (size_t at = 0; at < want.size() && blocks_.size() < kMaxBlocks; at += kMaxIov) {
      size_t n = std::min({kMaxIov, want.size() - at, kMaxBlocks - blocks_.size()});
      std::vector<std::unique_ptr<uint8_t[]>> data(n);
      struct iovec local[kMaxIov], remote[kMaxIov];
      for (size_t k = 0; k < n; k++) {
        data[k].reset(new uint8_t[kBlock]);  // read over: not zeroed
        local[k] = {data[k].get(), kBlock};
        remote[k] = {reinterpret_cast<void*>(want[at + k]), kBlock};
      }
      ssize_t got = process_vm_readv(pid_, local, n, remote, n, 0);
      size_t whole = got > 0 ? static_cast<size_t>(got) / kBlock : 0;
      for (size_t k = 0; k < whole && k < n; k++) blocks_.emplace_back(want[at + k], std::move(data[k]));
      if (whole < n) return;
    }
  }

  static bool is_object(uint64_t p) { return (p & 3) == 1; }

  // The instance type of tagged object p, or -1: its map must be a map (whose own map is a meta
  // map: a map whose map is itself).
  int type(uint64_t p) {
    if (!is_object(p)) return -1;
    uint64_t map;
    if (!word(p - 1, &map) || !is_object(map)) return -1;
    auto hit = known_maps.find(map);
    if (hit != known_maps.end()) return hit->second;
    uint64_t meta, meta_map;
    uint16_t map_type, t;
    if (!word(map - 1, &meta) || !is_object(meta) || !word(meta - 1, &meta_map) || meta_map != meta) return -1;
    if (!read(meta - 1 + L.map_instance_type, &map_type, 2) || map_type != L.t_map) return -1;
    if (!read(map - 1 + L.map_instance_type, &t, 2)) return -1;
    if (known_maps.size() < 256 && is_read_type(t)) known_maps.emplace(map, t);
    return t;
  }

  // One of the types this file reads (their maps are read-only roots).
  static bool is_read_type(int t) {
    for (int k : {L.t_code, L.t_istream, L.t_sfi, L.t_sfi_wrapper, L.t_script, L.t_fixed, L.t_trusted_fixed,
                  L.t_protected_fixed, L.t_weak_fixed, L.t_trusted_weak_fixed, L.t_protected_weak_fixed, L.t_bytes,
                  L.t_trusted_bytes, L.t_bytecode, L.t_bytecode_wrapper, L.t_interpreter_data})
      if (k >= 0 && t == k) return true;
    return false;
  }

  bool is(uint64_t p, int t1, int t2 = -2, int t3 = -2) {
    int t = type(p);
    return t >= 0 && (t == t1 || t == t2 || t == t3);
  }

  // A tagged field of object p.
  bool field(uint64_t p, int offset, uint64_t* out) { return offset >= 0 && word(p - 1 + offset, out); }

  // A Smi field (64-bit Smis: the value is the upper half).
  bool smi(uint64_t p, int offset, int64_t* out) {
    uint64_t v;
    if (!field(p, offset, &v) || (v & 1) != 0) return false;
    *out = static_cast<int64_t>(v) >> 32;
    return true;
  }

  // Element i of a (trusted, protected, weak) fixed array; the caller checked its type.
  bool element(uint64_t array, int64_t i, uint64_t* out) {
    int64_t len;
    if (!smi(array, L.array_length, &len) || i < 0 || i >= len) return false;
    return field(array, L.array_data + static_cast<int>(i) * 8, out);
  }

  // The bytes of a (trusted) byte array (an inlining positions array, a few dozen bytes, comes
  // from the block its header was read in).
  bool bytes(uint64_t array, int64_t cap, std::vector<uint8_t>* out) {
    int64_t len;
    if (!is(array, L.t_bytes, L.t_trusted_bytes) || !smi(array, L.array_length, &len) || len < 0 || len > cap)
      return false;
    out->resize(static_cast<size_t>(len));
    return len == 0 || read(array - 1 + L.array_data, out->data(), static_cast<size_t>(len));
  }

 private:
  static constexpr size_t kBlock = 4096;
  // A decode holds at most this many blocks (8 MiB; a table of typical code touches 50-200 pages);
  // past it, reads go to the process directly.
  static constexpr size_t kMaxBlocks = 2048;

  const uint8_t* held(uint64_t at) {
    for (auto& b : blocks_)
      if (b.first == at) return b.second.get();
    return nullptr;
  }

  const uint8_t* block(uint64_t at) {
    if (const uint8_t* b = held(at)) return b;
    std::unique_ptr<uint8_t[]> data(new uint8_t[kBlock]);  // read over: not zeroed
    if (!direct(at, data.get(), kBlock)) return nullptr;
    blocks_.emplace_back(at, std::move(data));
    return blocks_.back().second.get();
  }

  pid_t pid_;
  std::vector<std::pair<uint64_t, std::unique_ptr<uint8_t[]>>> blocks_;
};

// First bytecodes already found, across decodes: SharedFunctionInfo -> (its function data then,
// the first bytecode). A hot helper is inlined into many functions, and each table read it again
// (the data object's header: one more process_vm_readv per function and table, issue 14). Kept
// only while the function's data field still holds the same object: the data (a BytecodeArray,
// or baseline Code, InterpreterData or a BytecodeWrapper holding one) is alive and unchanged
// while that field refers to it, so its bytecode is where it was. Any other value (bytecode
// flushed, the function collected and its address reused) is read again. inline_mu held.
struct FirstBytecode {
  uint64_t data;
  uint64_t bytecode;
};
std::unordered_map<uint64_t, FirstBytecode> first_bytecodes;
constexpr size_t kMaxFirstBytecodes = 1u << 16;  // dropped whole beyond this, then rebuilt

uint64_t first_bytecode_read(Heap& h, uint64_t d);

// The first bytecode of a SharedFunctionInfo's bytecode, or 0. Its function data is the
// BytecodeArray, or holds it: baseline (Sparkplug) Code, InterpreterData (with
// --interpreted-frames-native-stack), or a BytecodeWrapper.
uint64_t first_bytecode(Heap& h, uint64_t sfi) {
  uint64_t d;
  if (!h.field(sfi, L.sfi_data, &d)) return 0;
  auto hit = first_bytecodes.find(sfi);
  if (hit != first_bytecodes.end() && hit->second.data == d) return hit->second.bytecode;
  uint64_t bytecode = first_bytecode_read(h, d);
  if (first_bytecodes.size() >= kMaxFirstBytecodes) first_bytecodes.clear();
  first_bytecodes[sfi] = {d, bytecode};
  return bytecode;
}

uint64_t first_bytecode_read(Heap& h, uint64_t d) {
  for (int depth = 0; depth < 3; depth++) {
    int t = h.type(d);
    if (t < 0) return 0;
    if (t == L.t_bytecode) return d - 1 + L.bytecode_data;
    int next = -1;
    if (t == L.t_code)
      next = L.code_bytecode;
    else if (t == L.t_interpreter_data)
      next = L.interpreter_data_bytecode;
    else if (t == L.t_bytecode_wrapper)
      next = 8;
    if (next < 0 || !h.field(d, next, &d)) return 0;
  }
  return 0;
}

// V8's line ends of a source (String::CalculateLineEnds): the offset of each line terminator
// (\n, \r not followed by \n, U+2028, U+2029), then the source's length.
template <typename C>
void line_ends_of(const C* s, size_t n, std::vector<int32_t>* out) {
  for (size_t i = 0; i < n; i++) {
    C c = s[i];
    bool end = c == '\n' || (c == '\r' && (i + 1 == n || s[i + 1] != '\n'));
    if (sizeof(C) == 2) end = end || c == 0x2028 || c == 0x2029;
    if (end) out->push_back(static_cast<int32_t>(i));
  }
  out->push_back(static_cast<int32_t>(n));
}

// The characters of string object s (any representation), into one or two bytes per character.
bool string_chars(Heap& h, uint64_t s, std::vector<uint8_t>* one, std::vector<uint16_t>* two, int depth = 0) {
  int t = h.type(s);
  if (t < 0 || t >= L.first_nonstring || depth > 8) return false;
  int32_t len;
  if (!h.read(s - 1 + L.string_length, &len, 4) || len < 0 || static_cast<size_t>(len) > kMaxSourceChars) return false;
  bool one_byte = (t & L.string_encoding_mask) == L.one_byte_tag;
  int repr = t & L.string_repr_mask;
  uint64_t p;
  if (repr == L.seq_tag) {
    if (one_byte) {
      one->resize(static_cast<size_t>(len));
      return len == 0 || h.read(s - 1 + L.seq_chars, one->data(), static_cast<size_t>(len));
    }
    two->resize(static_cast<size_t>(len));
    return len == 0 || h.read(s - 1 + L.seq_chars, two->data(), static_cast<size_t>(len) * 2);
  }
  if (repr == L.thin_tag) return h.field(s, L.thin_actual, &p) && string_chars(h, p, one, two, depth + 1);
  if (repr == L.cons_tag) {
    // A source is flattened before it is parsed: the first part then holds it all.
    uint64_t second;
    int32_t second_len;
    if (!h.field(s, L.cons_second, &second) || !h.read(second - 1 + L.string_length, &second_len, 4) || second_len != 0)
      return false;
    return h.field(s, L.cons_first, &p) && string_chars(h, p, one, two, depth + 1);
  }
  if (repr == L.sliced_tag) {
    int64_t off;
    if (!h.field(s, L.sliced_parent, &p) || !h.smi(s, L.sliced_offset, &off)) return false;
    std::vector<uint8_t> o;
    std::vector<uint16_t> w;
    if (!string_chars(h, p, &o, &w, depth + 1)) return false;
    size_t total = o.empty() ? w.size() : o.size();
    if (off < 0 || static_cast<size_t>(off) + static_cast<size_t>(len) > total) return false;
    if (!o.empty() || w.empty())
      one->assign(o.begin() + off, o.begin() + off + len);
    else
      two->assign(w.begin() + off, w.begin() + off + len);
    return true;
  }
  if (repr == L.external_tag) {
    // The resource is the embedder's (Node's built-in modules): its data() is public API.
    uint64_t r;
    if (!h.word(s - 1 + L.external_resource, &r) || r == 0) return false;
    if (one_byte) {
      auto* res = reinterpret_cast<v8::String::ExternalOneByteStringResource*>(r);
      if (res->length() != static_cast<size_t>(len) || res->data() == nullptr) return false;
      one->resize(static_cast<size_t>(len));
      return len == 0 || h.read(reinterpret_cast<uint64_t>(res->data()), one->data(), static_cast<size_t>(len));
    }
    auto* res = reinterpret_cast<v8::String::ExternalStringResource*>(r);
    if (res->length() != static_cast<size_t>(len) || res->data() == nullptr) return false;
    two->resize(static_cast<size_t>(len));
    return len == 0 || h.read(reinterpret_cast<uint64_t>(res->data()), two->data(), static_cast<size_t>(len) * 2);
  }
  return false;
}

// The line table of a script: [line_offset, column_offset, line ends...], from V8's own line ends
// when it has them, else from the source. Empty when neither can be read.
bool read_lines(Heap& h, uint64_t script, std::vector<int32_t>* out) {
  int64_t line_offset, column_offset;
  if (!h.smi(script, L.script_line_offset, &line_offset) || !h.smi(script, L.script_column_offset, &column_offset))
    return false;
  out->push_back(static_cast<int32_t>(line_offset));
  out->push_back(static_cast<int32_t>(column_offset));
  uint64_t ends;
  if (h.field(script, L.script_line_ends, &ends) && h.is(ends, L.t_fixed)) {
    int64_t n;
    if (!h.smi(ends, L.array_length, &n) || n <= 0 || static_cast<size_t>(n) > kMaxSourceChars) return false;
    std::vector<uint64_t> raw(static_cast<size_t>(n));
    if (!h.read(ends - 1 + L.array_data, raw.data(), raw.size() * 8)) return false;
    int64_t prev = -1;
    for (uint64_t v : raw) {
      int64_t e = static_cast<int64_t>(v) >> 32;
      if ((v & 1) != 0 || e <= prev) return false;  // Smis, strictly increasing
      out->push_back(static_cast<int32_t>(e));
      prev = e;
    }
    return true;
  }
  uint64_t source;
  std::vector<uint8_t> one;
  std::vector<uint16_t> two;
  if (!h.field(script, L.script_source, &source) || !string_chars(h, source, &one, &two)) return false;
  if (!two.empty())
    line_ends_of(two.data(), two.size(), out);
  else
    line_ends_of(one.data(), one.size(), out);
  return true;
}

// Script offset -> 1-based line and column, as V8's Script::GetPositionInfo (with offsets).
// *hint is the line end found last in this table (a source position table's entries follow the
// code, mostly a line or two apart): tried first, and the search is over the whole table only when
// the offset is not on that line (a large script's lines are searched thousands of times a table).
void position(const std::vector<int32_t>* lines, int64_t offset, int32_t* line, int32_t* column, size_t* hint) {
  *line = *column = 0;
  if (lines == nullptr || lines->size() < 3 || offset < 0) return;
  auto first = lines->begin() + 2;
  if (offset > lines->back()) return;
  auto it = lines->end();
  size_t h = *hint;
  if (h >= 2 && h < lines->size() && (*lines)[h] >= offset && (h == 2 || (*lines)[h - 1] < offset))
    it = lines->begin() + static_cast<std::ptrdiff_t>(h);
  else
    it = std::lower_bound(first, lines->end(), static_cast<int32_t>(offset));
  *hint = static_cast<size_t>(it - lines->begin());
  int32_t l = static_cast<int32_t>(it - first);
  int32_t start = l == 0 ? 0 : *(it - 1) + 1;
  int32_t c = static_cast<int32_t>(offset) - start;
  if (l == 0) c += (*lines)[1];
  *line = l + (*lines)[0] + 1;
  *column = c + 1;
}

// A function's script: its id and its line table (read once per script; inline_mu held, and the
// cache is only ever trimmed before a decode, so the pointer stays valid through it).
struct ScriptRef {
  int64_t id = -1;
  const std::vector<int32_t>* lines = nullptr;
};

bool script_of(Heap& h, uint32_t isolate_id, uint64_t sfi, ScriptRef* out) {
  uint64_t script;
  if (!h.field(sfi, L.sfi_script, &script) || !h.is(script, L.t_script)) return false;
  int64_t id;
  if (!h.smi(script, L.script_id, &id) || id < 0) return false;
  out->id = id;
  uint64_t key = static_cast<uint64_t>(isolate_id) << 32 | static_cast<uint32_t>(id);
  auto hit = scripts.find(key);
  if (hit == scripts.end()) {
    std::vector<int32_t> lines;
    if (!read_lines(h, script, &lines)) lines.clear();  // positions in it then have no line
    scripts_bytes += lines.size() * 4 + 64;
    hit = scripts.emplace(key, std::move(lines)).first;
  }
  out->lines = &hit->second;
  return true;
}

// The varint of V8's source position tables (src/codegen/source-position-table.cc): 7 bits per
// byte, the high bit says more follow, zig-zag signed.
bool uvarint(const std::vector<uint8_t>& b, size_t* i, int64_t* out) {
  uint64_t v = 0;
  int shift = 0;
  for (;;) {
    if (*i >= b.size() || shift > 63) return false;
    uint8_t c = b[(*i)++];
    v |= static_cast<uint64_t>(c & 0x7f) << shift;
    shift += 7;
    if ((c & 0x80) == 0) break;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

bool varint(const std::vector<uint8_t>& b, size_t* i, int64_t* out) {
  int64_t v;
  if (!uvarint(b, i, &v)) return false;
  uint64_t u = static_cast<uint64_t>(v);
  *out = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return true;
}

// A SourcePosition (src/codegen/source-position.h): bit 0 external (wasm), bits 1-30 the script
// offset + 1, bits 31-46 the inlining id + 1 (0: the code's own function).
struct Pos {
  int64_t offset;  // -1: none
  int32_t site;    // -1: the code's own function
  bool external;
};
Pos pos_of(uint64_t raw) {
  return {static_cast<int64_t>((raw >> 1) & 0x3fffffff) - 1, static_cast<int32_t>((raw >> 31) & 0xffff) - 1,
          (raw & 1) != 0};
}

PtprofInlinePtr fail(const char* what, uint64_t v) {
  debug(what, v);
  n_failures.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

}  // namespace

void PtprofInlineDelete::operator()(PtprofInline* t) const { delete t; }

static PtprofInlinePtr ptprof_inline_read(const v8::JitCodeEvent* ev, uint32_t isolate_id);

PtprofInlinePtr ptprof_inline_decode(const v8::JitCodeEvent* ev, uint32_t isolate_id) {
  if (ev->type != v8::JitCodeEvent::CODE_ADDED || ev->code_type != v8::JitCodeEvent::JIT_CODE ||
      ev->code_start == nullptr)
    return nullptr;
  // Optimized code by its name ("JS:*f" TurboFan, "JS:+f" Maglev, "JS:o*f" on-stack replacement in
  // V8 14, codemap.ts): builtins, stubs, baseline code and bytecode are never read.
  const char* n = ev->name.str;
  size_t nl = n == nullptr ? 0 : ev->name.len;
  size_t m = nl > 4 && n[3] == 'o' ? 4 : 3;
  if (nl <= m + 1 || strncmp(n, "JS:", 3) != 0 || (n[m] != '*' && n[m] != '+')) return nullptr;
  uint64_t t0 = ptprof_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  PtprofInlinePtr t = ptprof_inline_read(ev, isolate_id);
  n_ns.fetch_add(ptprof_clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0, std::memory_order_relaxed);
  return t;
}

static PtprofInlinePtr ptprof_inline_read(const v8::JitCodeEvent* ev, uint32_t isolate_id) {
  // Only on the isolate's own thread, where V8 reports the code it just made (or lists what
  // exists) with no GC running.
  if (!layout_ok() || v8::Isolate::TryGetCurrent() != ev->isolate) {
    n_skipped.fetch_add(1, std::memory_order_relaxed);
    debug(L.ok ? "not on the isolate's thread" : "off", 0);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(inline_mu);
  if (scripts_bytes > kMaxScriptsBytes) {  // dropped whole, then read again as needed
    scripts.clear();
    scripts_bytes = 0;
  }
  Heap h;
  uint64_t start = reinterpret_cast<uint64_t>(ev->code_start);
  uint64_t istream = start - L.istream_header + 1;  // tagged
  if (!h.is(istream, L.t_istream)) return fail("InstructionStream", start);
  uint64_t code;
  if (!h.field(istream, L.istream_code, &code) || !h.is(code, L.t_code))
    return fail("InstructionStream -> Code", start);
  uint64_t istart;
  if (!h.field(code, L.code_istart, &istart) || istart != start) return fail("Code::instruction_start", istart);
  uint64_t back;
  if (L.code_istream >= 0 && (!h.field(code, L.code_istream, &back) || back != istream))
    return fail("Code::instruction_stream", back);
  uint32_t flags;
  if (!h.read(code - 1 + L.code_flags, &flags, 4)) return fail("Code::flags", code);
  int kind = static_cast<int>((flags >> L.kind_shift) & static_cast<uint32_t>(L.kind_mask));
  if (kind != L.kind_maglev && kind != L.kind_turbofan) return fail("code kind", static_cast<uint64_t>(kind));

  // Deoptimization data: the inlined functions and, per inlining id, where it was inlined. It and
  // the source position table are read in one call, then the three objects it points to (see
  // Heap::prefetch).
  uint64_t dd, hint;
  if (h.field(code, L.code_deopt, &dd) && h.field(code, L.code_positions, &hint)) h.prefetch({dd - 1, hint - 1});
  if (!h.field(code, L.code_deopt, &dd) || !h.is(dd, L.t_fixed, L.t_trusted_fixed, L.t_protected_fixed))
    return fail("Code::deoptimization_data", dd);
  int64_t dd_len;
  if (!h.smi(dd, L.array_length, &dd_len)) return fail("DeoptimizationData length", dd);
  if (dd_len == 0) return fail("empty DeoptimizationData", code);  // optimized code always has some
  {
    std::vector<uint64_t> next;
    for (int slot : {L.dd_literals, L.dd_positions, L.dd_sfi})
      if (h.element(dd, slot, &hint)) next.push_back(hint - 1);
    h.prefetch(next);
  }
  int64_t count;
  uint64_t literals, positions, outer_ref, outer;
  if (!h.element(dd, L.dd_count, &outer_ref) || (outer_ref & 1) != 0) return fail("inlined function count", dd);
  count = static_cast<int64_t>(outer_ref) >> 32;
  if (count < 0 || count > kMaxInlined) return fail("inlined function count", static_cast<uint64_t>(count));
  if (!h.element(dd, L.dd_literals, &literals) ||
      !h.is(literals, L.t_weak_fixed, L.t_trusted_weak_fixed, L.t_protected_weak_fixed))
    return fail("literal array", literals);
  if (!h.element(dd, L.dd_positions, &positions)) return fail("inlining positions", dd);
  if (!h.element(dd, L.dd_sfi, &outer_ref)) return fail("SharedFunctionInfo slot", dd);
  if (L.dd_sfi_wrapped) {
    if (!h.is(outer_ref, L.t_sfi_wrapper) || !h.field(outer_ref, L.sfi_wrapper_sfi, &outer))
      return fail("SharedFunctionInfoWrapper", outer_ref);
  } else {
    outer = outer_ref;
  }
  if (!h.is(outer, L.t_sfi)) return fail("own SharedFunctionInfo", outer);

  // The inlined functions, then what each one's fields point to, read a step at a time for all
  // of them (Heap::prefetch); the reads below then find their blocks held.
  std::vector<uint64_t> sfis(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i++) {
    uint64_t sfi;
    if (!h.element(literals, i, &sfi)) return fail("literal", static_cast<uint64_t>(i));
    if ((sfi & 3) == 3) sfi &= ~static_cast<uint64_t>(2);  // a weak reference (cleared: 0x3, not an object)
    sfis[static_cast<size_t>(i)] = sfi;
  }
  if (count > 0) {
    std::vector<uint64_t> next;
    for (uint64_t sfi : sfis)
      if (Heap::is_object(sfi)) next.push_back(sfi - 1);
    h.prefetch(next);
    next.clear();
    sfis.push_back(outer);  // its own function's fields too
    for (uint64_t sfi : sfis) {
      uint64_t v;
      if (!Heap::is_object(sfi)) continue;
      if (h.field(sfi, L.sfi_data, &v) && Heap::is_object(v)) {
        auto hit = first_bytecodes.find(sfi);
        if (hit == first_bytecodes.end() || hit->second.data != v) next.push_back(v - 1);  // else not read
      }
      if (h.field(sfi, L.sfi_script, &v) && Heap::is_object(v)) next.push_back(v - 1);
    }
    h.prefetch(next);
    sfis.pop_back();
  }
  PtprofInlinePtr t(new PtprofInline());
  t->detailed = !enumerating && detailed_isolates.count(isolate_id) > 0;
  // Functions: 0 is the code's own, 1 + i the i-th inlined one.
  std::vector<ScriptRef> fscripts(static_cast<size_t>(count) + 1);
  if (!script_of(h, isolate_id, outer, &fscripts[0])) return fail("own Script", outer);
  // The script V8 itself says the code is from (public API) must be the one read from its heap.
  if (!ev->script.IsEmpty() && ev->script->GetId() != fscripts[0].id)
    return fail("Script::id", static_cast<uint64_t>(fscripts[0].id));
  t->outer = first_bytecode(h, outer);
  t->functions.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i++) {
    uint64_t sfi = sfis[static_cast<size_t>(i)];
    if (!h.is(sfi, L.t_sfi)) continue;  // collected: its sites stay unnamed
    t->functions[static_cast<size_t>(i)] = first_bytecode(h, sfi);
    if (!script_of(h, isolate_id, sfi, &fscripts[static_cast<size_t>(i) + 1])) t->functions[static_cast<size_t>(i)] = 0;
  }

  // Inlining positions: 16 bytes each (u64 SourcePosition of the call, i32 inlined function id).
  std::vector<uint8_t> raw;
  if (!h.bytes(positions, static_cast<int64_t>(kMaxInlined) * 16, &raw) || raw.size() % 16 != 0)
    return fail("inlining positions", positions);
  size_t nsites = raw.size() / 16;
  std::vector<int32_t> site_fn(nsites);
  for (size_t k = 0; k < nsites; k++) {
    uint64_t p;
    int32_t fn;
    memcpy(&p, raw.data() + k * 16, 8);
    memcpy(&fn, raw.data() + k * 16 + 8, 4);
    if (fn < 0 || fn >= count) return fail("inlined function id", static_cast<uint64_t>(fn));
    site_fn[k] = fn;
  }
  auto script_of_site = [&](int32_t site) -> const std::vector<int32_t>* {
    if (site < 0) return fscripts[0].lines;
    return fscripts[static_cast<size_t>(site_fn[static_cast<size_t>(site)]) + 1].lines;
  };
  // Each script's line found last (see position): a table's positions are in a few scripts.
  std::vector<std::pair<const std::vector<int32_t>*, size_t>> hints;
  auto locate = [&](int32_t site, int64_t offset, int32_t* line, int32_t* column) {
    const std::vector<int32_t>* lines = script_of_site(site);
    size_t* hint = nullptr;
    for (auto& e : hints)
      if (e.first == lines) hint = &e.second;
    if (hint == nullptr) {
      hints.emplace_back(lines, 0);
      hint = &hints.back().second;
    }
    position(lines, offset, line, column, hint);
  };
  for (size_t k = 0; k < nsites; k++) {
    uint64_t p;
    memcpy(&p, raw.data() + k * 16, 8);
    Pos call = pos_of(p);
    if (call.external || call.site >= static_cast<int32_t>(nsites) || call.site >= static_cast<int32_t>(k))
      return fail("inlining position", p);  // a caller is inlined before its callees
    int32_t line, column;
    locate(call.site, call.offset, &line, &column);
    t->sites.insert(t->sites.end(), {line, column, call.site, site_fn[k]});
  }

  // The source position table: pc offset -> position, as deltas from (-1, 0).
  uint64_t spt;
  if (!h.field(code, L.code_positions, &spt) || !h.bytes(spt, kMaxPositionBytes, &raw))
    return fail("source positions", spt);
  int64_t pc = -1, sp = 0;
  for (size_t i = 0; i < raw.size();) {
    int64_t dpc, dsp;
    if (!(L.positions_flag_bits ? uvarint(raw, &i, &dpc) : varint(raw, &i, &dpc)) || !varint(raw, &i, &dsp))
      return fail("source position entry", i);
    // The pc delta carries whether the position is a statement: as its sign up to V8 13 (negative:
    // not one), in its low 2 bits (statement, breakable) from V8 14.
    if (L.positions_flag_bits)
      pc += dpc >> 2;
    else
      pc += dpc >= 0 ? dpc : -(dpc + 1);
    sp += dsp;
    if (pc < 0) return fail("source position pc", static_cast<uint64_t>(-pc));
    // V8 14.6 records a position or two past the instructions (in the code's metadata, measured):
    // no pc is sampled there.
    if (static_cast<uint64_t>(pc) >= ev->code_len) break;
    Pos at = pos_of(static_cast<uint64_t>(sp));
    if (at.external || at.site >= static_cast<int32_t>(nsites))
      return fail("source position", static_cast<uint64_t>(sp));
    int32_t line, column;
    locate(at.site, at.offset, &line, &column);
    t->entries.insert(t->entries.end(), {static_cast<int32_t>(pc), line, column, at.site});
  }
  n_tables.fetch_add(1, std::memory_order_relaxed);
  return t;
}

bool ptprof_inline_positions_on(v8::Isolate* isolate, uint32_t isolate_id) {
  ptprof_detailed_source_positions(isolate);
  std::lock_guard<std::mutex> lock(inline_mu);
  return detailed_isolates.insert(isolate_id).second;
}

void ptprof_inline_enumerating(bool on) { enumerating = on; }

void ptprof_inline_retire(uint32_t isolate_id) {
  std::lock_guard<std::mutex> lock(inline_mu);
  detailed_isolates.erase(isolate_id);
  first_bytecodes.clear();  // keyed by address alone: the isolate's heap is going away
  auto lo = scripts.lower_bound(static_cast<uint64_t>(isolate_id) << 32);
  auto hi = scripts.lower_bound(static_cast<uint64_t>(isolate_id + 1) << 32);
  for (auto it = lo; it != hi; ++it) scripts_bytes -= it->second.size() * 4 + 64;
  scripts.erase(lo, hi);
}

PtprofInlineCounters ptprof_inline_counters() {
  return {n_tables.load(std::memory_order_relaxed), n_failures.load(std::memory_order_relaxed),
          n_skipped.load(std::memory_order_relaxed), n_ns.load(std::memory_order_relaxed)};
}

std::string ptprof_inline_disabled_reason() {
  layout_ok();
  return disabled_reason;
}

void ptprof_inline_emit(const PtprofInline& t, std::vector<double>* out) {
  static_assert(
      kPtprofInlineHeader == 5 && kPtprofInlineEntry == 4 && kPtprofInlineSite == 4 && kPtprofInlineFunction == 1,
      "layout.h's PTPROF_INLINE_* changed: write them here in their order");
  out->push_back(static_cast<double>(t.entries.size() / kPtprofInlineEntry));
  out->push_back(static_cast<double>(t.sites.size() / kPtprofInlineSite));
  out->push_back(static_cast<double>(t.functions.size()));
  out->push_back(static_cast<double>(t.outer));
  out->push_back(t.detailed ? 1 : 0);
  for (int32_t v : t.entries) out->push_back(v);
  for (int32_t v : t.sites) out->push_back(v);
  for (uint64_t f : t.functions) out->push_back(static_cast<double>(f));
}
