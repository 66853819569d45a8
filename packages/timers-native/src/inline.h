// inline.h: the inlined functions of optimized code, copied out of V8's heap when the code is made.
#ifndef PTPROF_INLINE_H_
#define PTPROF_INLINE_H_

#include <v8.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ptprof.h"

// One optimized code object's inlining table (layout.h, PTPROF_INLINE_*, says what JavaScript
// gets). Positions are 1-based line and column in the function's own script (0: unknown).
struct PtprofInline {
  // The source position table, in pc order: pc offset, line, column, site (the inlining id whose
  // function the position is in; -1: the code's own function).
  std::vector<int32_t> entries;
  // Per inlining id: the call's line and column in its caller, the caller's site (-1: the code's
  // own function), and the index of the inlined function in `functions`.
  std::vector<int32_t> sites;
  // Per inlined function: the address of its first bytecode, which V8's BYTE_CODE events named
  // (0: unknown). JavaScript names the function by looking it up in the code map.
  std::vector<uint64_t> functions;
  // The code's own function's first bytecode (checked in JavaScript against the code's own name).
  uint64_t outer = 0;
  // The positions cover every instruction (V8's detailed source positions were on when the code
  // was compiled), not only calls: only then is the pc of a leaf frame placed exactly.
  bool detailed = false;
  size_t bytes() const { return sizeof(*this) + (entries.size() + sites.size()) * 4 + functions.size() * 8; }
};

// Owned by the code event that carries it. A unique_ptr with a deleter declared in ptprof.h and
// defined in inline.cc: every file can hold one without this header, and std::shared_ptr's atomics would make the addon
// need glibc 2.32 (__libc_single_threaded, see compat.h).
using PtprofInlinePtr = std::unique_ptr<PtprofInline, PtprofInlineDelete>;

// The table of the code a CODE_ADDED event reports, when it is optimized code (Maglev, TurboFan)
// and its inlining could be read; nullptr otherwise (counted, see ptprof_inline_counters).
// Only on the isolate's own thread (V8 reports new optimized code there, with no GC running).
PtprofInlinePtr ptprof_inline_decode(const v8::JitCodeEvent* ev, uint32_t isolate_id);

// Before an isolate's code events start: V8 records source positions for every instruction of
// the code it optimizes from now on. `first`: the first time for this isolate (code listed by the
// enumeration that follows was optimized before, with positions at calls only).
bool ptprof_inline_positions_on(v8::Isolate* isolate, uint32_t isolate_id);
// Marks the code events delivered on this thread while `on` as listed code (see above).
void ptprof_inline_enumerating(bool on);
// The isolate is gone: its scripts' line tables go.
void ptprof_inline_retire(uint32_t isolate_id);

// Appends table t to drain()'s `inline` column in layout.h's PTPROF_INLINE_* order.
void ptprof_inline_emit(const PtprofInline& t, std::vector<double>* out);

struct PtprofInlineCounters {
  uint64_t tables;    // optimized code objects whose table was read
  uint64_t failures;  // optimized code objects whose table could not be read (validation failed)
  uint64_t skipped;   // optimized code objects not read (expansion off, or not on the isolate's thread)
  uint64_t ns;        // CPU time spent reading them, on the threads V8 reported the code on
};
PtprofInlineCounters ptprof_inline_counters();
// "" when expansion is on; otherwise why not (for the profile and the user).
std::string ptprof_inline_disabled_reason();

#endif  // PTPROF_INLINE_H_
