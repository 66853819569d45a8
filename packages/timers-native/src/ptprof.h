// ptprof.h: the process-wide state of @ptprof/timers-native and what its translation units share.
//
// The addon is split along signal safety, one mechanism per file:
//   handler.cc     the signal handler: the only code that runs in signal context (async-signal-safe)
//   signals.cc     which signals are ours: installing the handler, the real-time signal of the
//                  per-thread timers, SIGPROF and setitimer only while no one else owns SIGPROF
//   registry.cc    thread slots, isolates, register()/claimThread(), the environment cleanup hook
//   timers.cc      timer_create / timer_settime / timer_delete / timer_getoverrun on thread clocks
//   codeevents.cc  V8's JIT code events: a sequenced log, folded into a snapshot when nobody reads it
//   inline.cc      what optimized code inlined, read from V8's heap when the code is reported
//   v8layout.cc    where V8 keeps it (v8layout.h: postmortem metadata and per-version offsets)
//   drain.cc       the collector thread, bounded backlogs, drain()
//   control.cc     stop signals delivered to a JS thread that may never return to its event loop:
//                  a handler that posts a semaphore, a native thread, a thread-safe function, and
//                  an interrupt of the running JavaScript when the loop does not turn
//   elf.cc         the function symbols of an ELF file, read and sorted (for naming native pcs)
//   binding.cc     module init (the exports), clocks, configuration
//   ring.h         the lock-free rings (no V8, no N-API: unit-tested alone)
//   layout.h       the columns drain() hands to JavaScript
//   compat.h       every call into V8, across the Node versions with prebuilds
//   napi_util.h    errors and arguments for the N-API functions
//
// Locks, and the order they are taken in (never the other way round):
//   drain_mu -> registry_mu
//   drain_mu -> code_mu
//   sig_mu (alone)
//   collect_mu (alone)
//   control.cc's mutex (alone; its state is that file's own)
//   inline_mu (alone: inline.cc's caches, released before the code-event callback takes code_mu)
// No JS value is created while any of them is held: creating one may allocate, allocating may run
// a full GC, and a GC reports code moves to codeevents.cc, on this thread (issue: a deadlock in
// pthread_mutex_lock reached from JitLogger::BytecodeMoveEvent inside Heap::CollectGarbage). The
// code-event callback takes code_mu only, and finds its isolate without a lock.
// See docs/ARCHITECTURE.md for the design these rules serve.
#ifndef PTPROF_PTPROF_H_
#define PTPROF_PTPROF_H_

#include <v8.h>

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "layout.h"
#include "ring.h"

// si_code values (asm-generic/siginfo.h). Kept here so the handler does not depend on libc macros.
#define PTPROF_SI_KERNEL 0x80
#define PTPROF_SI_TIMER (-2)

// The CPU clock of thread `tid`: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) in
// include/linux/posix-timers.h, i.e. (~tid << 3) | CPUCLOCK_PERTHREAD_MASK(4) | CPUCLOCK_SCHED(2).
static inline clockid_t ptprof_thread_clock(pid_t tid) {
  return static_cast<clockid_t>((~static_cast<unsigned int>(tid) << 3) | 6);
}

static inline pid_t ptprof_gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

static inline uint64_t ptprof_clock_ns(clockid_t clk) {
  struct timespec ts;
  if (clock_gettime(clk, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

enum PtprofSlotState : int32_t {
  PTPROF_SLOT_FREE = 0,    // reusable (drained, no writer)
  PTPROF_SLOT_ACTIVE = 1,  // the thread is known: signals on it go to this slot's ring
  PTPROF_SLOT_DEAD = 2,    // released; its ring still holds records the next drain must collect
};

// A record as it sits in a ring: this header, then `nframes` 8-byte frame addresses. drain.cc
// turns it into the columns of layout.h.
struct PtprofRecord {
  uint32_t bytes;  // header + frames
  int32_t tid;
  int32_t code;
  int32_t overrun;
  uint32_t flags;
  int32_t vm_state;  // v8::StateTag, -1 when no walk
  uint32_t nframes;
  uint32_t isolate_id;  // 0 when none
  int32_t signo;
  uint32_t reserved;
  uint64_t time_ns;   // CLOCK_MONOTONIC
  uint64_t code_seq;  // JIT code events seen before this sample (for symbolizing)
  uint64_t pc;
  uint64_t external_callback;
  // The receiving thread's own CPU clock at the signal. setitimer's SIGPROF is process-directed:
  // the kernel may hand it to a thread that did not burn the CPU (measured: 42% of them at
  // 1000 Hz went to an idle thread while the busy one handled its own timer's signal). With this
  // the reader can credit a setitimer sample with no more than the CPU its thread really burned.
  uint64_t thread_cpu_ns;
  // For SI_TIMER: the sigev_value the timer was created with (timerCreate's tag; the sampler
  // gives its period). A signal queued before a rate change and delivered after it still says
  // which period its si_overrun counts.
  uint64_t timer_tag;
};
static_assert(sizeof(PtprofRecord) == 88, "record header is 88 bytes");

static constexpr int kPtprofMaxSlots = 1024;
static constexpr int kPtprofMaxTimers = 1024;
static constexpr uint32_t kPtprofFramesCap = 512;
static constexpr uint32_t kPtprofSharedCells = 4096;  // power of two

struct PtprofSlot {
  std::atomic<int32_t> tid{0};
  std::atomic<int32_t> state{PTPROF_SLOT_FREE};
  std::atomic<int32_t> writers{0};  // handlers inside this slot right now
  std::atomic<bool> timer_valid{false};
  std::atomic<v8::Isolate*> isolate{nullptr};
  std::atomic<uint32_t> isolate_id{0};
  char name[64] = {0};  // given at register() (e.g. "main", "worker 3"); written under registry_mu
  // The thread's CPU clock when it called register(), before V8 listed its code; 0 for a thread
  // claimed without registering. Written under registry_mu.
  std::atomic<uint64_t> register_cpu_ns{0};
  PtprofByteRing ring;  // producer: the handler on this thread; consumer: under drain_mu
  void* scratch[kPtprofFramesCap];
  // Records moved out of the ring by the collector thread, oldest first, and the records that did
  // not fit under the backlog's cap (drain_mu).
  std::vector<uint8_t> backlog;
  uint64_t backlog_drops = 0;
};

// A timer's id for JavaScript is gen * kPtprofMaxTimers + index: an entry freed by a thread's
// cleanup hook and reused must not be deleted through a stale id held by someone else.
struct PtprofTimer {
  int kid;  // the kernel's timer id
  int32_t tid;
  bool used;
  uint32_t gen;
};

// The isolate of each registered JS thread, found without a lock by the code-event callback
// (which may run inside a GC, on the JS thread or a GC helper). Written under registry_mu: the
// id is stored before the isolate is published, and the isolate is withdrawn before the id.
struct PtprofIsolateEntry {
  std::atomic<v8::Isolate*> isolate{nullptr};
  std::atomic<uint32_t> id{0};
  // Its code events are not logged (the log was past its bound): its map is stale until the
  // isolate enumerates its code again (codeevents.cc).
  std::atomic<bool> dropping{false};
};

struct PtprofInline;  // inline.h
struct PtprofInlineDelete {
  void operator()(PtprofInline* t) const;  // inline.cc
};

struct PtprofCodeEvent {
  uint64_t seq;
  uint64_t start;
  uint64_t len;
  uint64_t new_start;
  uint32_t isolate_id;
  uint8_t type;       // v8::JitCodeEvent::EventType, or kPtprofEvent* (layout.h)
  uint8_t code_type;  // v8::JitCodeEvent::CodeType
  std::string name;
  std::unique_ptr<PtprofInline, PtprofInlineDelete> inl;  // optimized code: what it inlined (inline.cc)
};

struct PtprofState {
  PtprofSlot slots[kPtprofMaxSlots];
  std::atomic<int32_t> slot_high{0};  // slots [0, slot_high) may be in use

  // Records of threads with no slot.
  PtprofSharedRing<PtprofRecord, kPtprofSharedCells> shared;
  uint64_t dead_drops = 0;  // ring drops of slots already freed (drain_mu)

  std::atomic<bool> enabled{false};
  // The period the process's sampler runs at (0: off). A mailbox, not a decision: a thread that
  // registers while sampling reads it to arm its own timer at once (short-lived workers included).
  std::atomic<double> sampling_period_ns{0};
  std::atomic<uint32_t> frames_limit{128};
  uint64_t ring_bytes = 256 * 1024;  // registry_mu

  // Which (source, known, timer valid) combinations the reader keeps, bit (code == SI_TIMER) << 2 |
  // known << 1 | timer_valid; set by the sampler from @ptprof/sigprof-filter (the one place the
  // decision is made), so that the handler walks no stack for a signal that will be filtered.
  // Default: keep all.
  std::atomic<uint32_t> keep_table{0xFF};
  std::atomic<uint64_t> filtered_setitimer{0};
  std::atomic<uint64_t> filtered_timer{0};

  // Counters of signals that produced no record, by reason.
  std::atomic<uint64_t> foreign{0};   // not SI_KERNEL/SI_TIMER (someone's kill/tgkill/sigqueue)
  std::atomic<uint64_t> disabled{0};  // ours, but arrived while recording was off
  std::atomic<uint64_t> signals{0};   // every signal the handler saw
  // Time spent in the handler, ns (CLOCK_MONOTONIC at its entry and exit, both vDSO reads: the
  // handler never blocks, so this is the CPU it took from the threads it interrupted). ptprof's
  // own CPU counts it (issue 14); the kernel's delivery of the signal and its return are not in it.
  std::atomic<uint64_t> handler_ns{0};

  // Signals (signals.cc). timer_signo: the real-time signal the per-thread timers deliver (0 until
  // the handler is installed). SIGPROF serves setitimer alone, and only while it is ours.
  std::atomic<int> timer_signo{0};
  int timer_signo_wanted = 0;  // configure({ signal }), 0: the default (sig_mu)
  std::mutex sig_mu;
  std::atomic<uint64_t> itimer_period_ns{0};    // what the sampler asked setitimer for
  std::atomic<bool> itimer_armed{false};        // what setitimer is now
  std::atomic<bool> sigprof_yielded{false};     // the program takes SIGPROF (a JS listener)
  std::atomic<uint64_t> itimer_suspensions{0};  // times setitimer went off because SIGPROF was not ours
  std::atomic<uint64_t> sigprof_reinstalls{0};  // times ours went back after SIG_DFL/SIG_IGN was found

  std::mutex registry_mu;  // slots (claim/release), timers, isolates
  PtprofTimer timers[kPtprofMaxTimers];
  PtprofIsolateEntry isolates[kPtprofMaxSlots];
  uint32_t next_isolate_id = 1;

  std::mutex drain_mu;                           // one consumer at a time (the collector thread or drain())
  std::vector<PtprofRecord> shared_backlog;      // the shared ring's records, collected
  std::atomic<uint64_t> shared_backlog_size{0};  // its size, readable without drain_mu
  uint64_t shared_backlog_drops = 0;
  uint64_t backlog_bytes_cap = 16 * 1024 * 1024;  // per slot (drain_mu)

  std::mutex collect_mu;
  std::condition_variable collect_cv;
  bool collector_started = false;                 // collect_mu
  int collector_error = 0;                        // collect_mu: pthread_create's error, 0 if none
  std::atomic<uint32_t> collect_interval_ms{20};  // 0: no collection, rings only emptied by drain()

  // JIT code events (codeevents.cc).
  std::mutex code_mu;
  std::vector<PtprofCodeEvent> code_log;  // events not yet handed out
  size_t code_log_bytes = 0;
  std::atomic<uint64_t> code_seq{0};
  std::atomic<uint64_t> seq_at_disable{0};  // code_seq when recording last stopped
  std::atomic<uint64_t> code_drops{0};      // events not logged (their isolate was dropping)
  std::atomic<int32_t> code_dropping{0};    // isolates dropping now: they enumerate again when asked

  PtprofState() { memset(timers, 0, sizeof(timers)); }
};

// Never freed: a signal or a code event may arrive while the process tears down static objects.
extern PtprofState* const g;

// ---------------------------------------------------------------------------------------------
// Across translation units
// ---------------------------------------------------------------------------------------------

// handler.cc
void ptprof_handler(int sig, siginfo_t* info, void* uctx);

// signals.cc
void ptprof_sigprof_guard();  // SIGPROF and setitimer as they may be now (any thread)
int ptprof_timer_signal(int* err, std::string* why);
bool ptprof_set_timer_signal(int offset, std::string* why);

// codeevents.cc
void ptprof_code_events_on(v8::Isolate* isolate);
void ptprof_code_events_off(v8::Isolate* isolate);
void ptprof_code_retire(uint32_t isolate_id);
void ptprof_code_resync(v8::Isolate* isolate);  // on the isolate's thread
void ptprof_code_take(std::vector<PtprofCodeEvent>* out);

// registry.cc
PtprofIsolateEntry* ptprof_isolate_entry(v8::Isolate* isolate);  // lock-free
void ptprof_code_resync_all();                   // asks every dropping isolate to enumerate its code again
void ptprof_delete_timers_of_locked(pid_t tid);  // timers.cc

// drain.cc
void ptprof_collector_ensure(int* err);

#endif  // PTPROF_PTPROF_H_
