// layout.h: the one definition of what drain() hands to JavaScript.
//
// Each list below is the column order of one typed array; JavaScript reads the columns by the
// names in src/index.ts (RECORD_INTS, RECORD_NUMS, EVENT_NUMS, INLINE_*, FLAGS), and the addon exports these
// lists as `layout` so that src/index.ts checks, when it loads the binary, that both sides agree
// (a prebuild from another commit fails there, by name, rather than reading the wrong column).
// Adding a column: add it here, fill it in drain.cc, add its name in src/index.ts.
#ifndef PTPROF_LAYOUT_H_
#define PTPROF_LAYOUT_H_

#include <cstdint>

// Int32Array, one row per record.
#define PTPROF_RECORD_INTS(X)                            \
  X(tid)                                                 \
  X(code)    /* si_code */                               \
  X(overrun) /* si_overrun (SI_TIMER), else 0 */         \
  X(flags)   /* PTPROF_F_* */                            \
  X(vmState) /* v8::StateTag widened, -1 when no walk */ \
  X(nframes)                                             \
  X(isolateId) /* 0 when none */                         \
  X(signo)     /* the signal's number: the timers' real-time signal or SIGPROF */

// Float64Array, one row per record (user-space addresses are below 2^48: exact in a double).
#define PTPROF_RECORD_NUMS(X)                                   \
  X(timeNs)  /* CLOCK_MONOTONIC */                              \
  X(codeSeq) /* JIT code events published before it */          \
  X(pc)                                                         \
  X(externalCallback) /* SampleInfo::external_callback_entry */ \
  X(threadCpuNs)      /* the receiving thread's CPU clock */    \
  X(timerTag)         /* SI_TIMER: the timer's sigev_value (its tag) */

// Float64Array, one row per JIT code event.
#define PTPROF_EVENT_NUMS(X)                                              \
  X(seq)                                                                  \
  X(type)     /* v8::JitCodeEvent::EventType, or PTPROF_EV_RESET */       \
  X(codeType) /* v8::JitCodeEvent::CodeType */                            \
  X(isolateId)                                                            \
  X(start)                                                                \
  X(len)                                                                  \
  X(newStart)                                                             \
  X(inlineAt) /* where its inlining table starts in `inline`, -1: none */ \
  X(nameEnd)  /* where its name ends in `nameText`; it starts where the row before's ends */

// Float64Array `inline`: the inlining tables of optimized code (inline.cc), one after another. A
// table is a header (PTPROF_INLINE_HEADER), then `entries` rows of PTPROF_INLINE_ENTRY (the
// source position table, in pc order), `sites` rows of PTPROF_INLINE_SITE (one per inlining id)
// and `functions` rows of PTPROF_INLINE_FUNCTION. Lines and columns are 1-based, 0: unknown; a
// site or caller of -1 is the code's own function.
#define PTPROF_INLINE_HEADER(X)                                            \
  X(entries)                                                               \
  X(sites)                                                                 \
  X(functions)                                                             \
  X(outer)    /* first bytecode of the code's own function (0: unknown) */ \
  X(detailed) /* 1: positions at every instruction; 0: at calls only */
#define PTPROF_INLINE_ENTRY(X) X(pcOffset) X(line) X(column) X(site)
#define PTPROF_INLINE_SITE(X)                                         \
  X(line)                                                             \
  X(column)                                                           \
  X(caller)                                   /* the caller's site */ \
  X(function)                                 /* row in the table's functions */
#define PTPROF_INLINE_FUNCTION(X) X(bytecode) /* its first bytecode: V8 named it in a BYTE_CODE event; 0: unknown */

// Record flags.
#define PTPROF_RECORD_FLAGS(X)                                                   \
  X(known, 1)      /* the thread had a slot (Go: it has an M) */                 \
  X(timerValid, 2) /* the slot's timer was marked valid at that instant */       \
  X(js, 4)         /* the slot owns an isolate: a JS stack walk was attempted */ \
  X(truncated, 8)  /* the walk filled the frame limit (or the ring's room) */

#define PTPROF_RI_ENUM(name) PTPROF_RI_##name,
#define PTPROF_RN_ENUM(name) PTPROF_RN_##name,
#define PTPROF_EV_ENUM(name) PTPROF_EV_##name,
#define PTPROF_COUNT(name) +1
enum PtprofRecordInt { PTPROF_RECORD_INTS(PTPROF_RI_ENUM) kPtprofRecordInts };
enum PtprofRecordNum { PTPROF_RECORD_NUMS(PTPROF_RN_ENUM) kPtprofRecordNums };
enum PtprofEventNum { PTPROF_EVENT_NUMS(PTPROF_EV_ENUM) kPtprofEventNums };
static constexpr int kPtprofInlineHeader = 0 PTPROF_INLINE_HEADER(PTPROF_COUNT);
static constexpr int kPtprofInlineEntry = 0 PTPROF_INLINE_ENTRY(PTPROF_COUNT);
static constexpr int kPtprofInlineSite = 0 PTPROF_INLINE_SITE(PTPROF_COUNT);
static constexpr int kPtprofInlineFunction = 0 PTPROF_INLINE_FUNCTION(PTPROF_COUNT);
#undef PTPROF_COUNT
#undef PTPROF_RI_ENUM
#undef PTPROF_RN_ENUM
#undef PTPROF_EV_ENUM

#define PTPROF_FLAG_ENUM(name, bit) PTPROF_F_##name = bit,
enum PtprofRecordFlag : uint32_t { PTPROF_RECORD_FLAGS(PTPROF_FLAG_ENUM) };
#undef PTPROF_FLAG_ENUM

// Event types of ours beside V8's CODE_ADDED/MOVED/REMOVED (0..2; compat.h checks them):
// - RESET: the isolate's map starts again: the CODE_ADDED events that follow are all of its code;
// - RETIRE: the isolate is gone; its map may be freed once every record before this seq is read;
// - DROP: the isolate's events are not logged from here (the log was past its bound): its map is
//   stale until its RESET (codeevents.cc);
// - LISTING, LISTED: around V8's listing of the code that exists when the isolate's events start
//   (the first time, and after each RESET). V8 lists code objects before bytecode, so a table
//   there names functions whose BYTE_CODE events come later in the listing; no GC runs within it.
static constexpr int kPtprofEventReset = 100;
static constexpr int kPtprofEventRetire = 101;
static constexpr int kPtprofEventDrop = 102;
static constexpr int kPtprofEventListing = 103;
static constexpr int kPtprofEventListed = 104;

#endif  // PTPROF_LAYOUT_H_
