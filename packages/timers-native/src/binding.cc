// ptprof timers-native: the kernel's CPU timers and a SIGPROF recorder for Node.js.
//
// This layer provides mechanisms and records facts; it decides nothing that JavaScript can decide.
// Which threads get timers, at what rate, with what first expiry, which signals count and how they
// are weighed is all in @ptprof/sampler and @ptprof/sigprof-filter. What must be decided here is
// only what has to be decided inside the signal handler: which ring a record goes to, whether the
// receiving thread may be stack-walked, and passing signals that are not ours to their owner.
//
// Sections:
//   1. Process-wide state (allocated once, never freed: a signal may arrive during teardown)
//   2. Rings (per-thread SPSC byte rings, one shared MPSC ring for threads without a slot)
//   3. The SIGPROF handler
//   4. JIT code events
//   5. Thread slots and registration (with the environment cleanup hook)
//   6. Timers: timer_create / timer_settime / timer_delete / timer_getoverrun, setitimer
//   7. Drain
//   8. Module init

#if !defined(__linux__)
#error "ptprof timers-native supports Linux only (per-thread CPU-clock timers are a Linux feature)"
#endif

#include <node.h>
#include <v8.h>
#include <napi.h>

#include "compat.h"  // every call into V8, across the Node versions with prebuilds

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <cxxabi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <pthread.h>
#include <thread>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

// si_code values (asm-generic/siginfo.h). Kept here so the handler does not depend on libc macros.
#define PTPROF_SI_KERNEL 0x80
#define PTPROF_SI_TIMER (-2)

// The CPU clock of thread `tid`: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) in
// include/linux/posix-timers.h, i.e. (~tid << 3) | CPUCLOCK_PERTHREAD_MASK(4) | CPUCLOCK_SCHED(2).
static inline clockid_t ptprof_thread_clock(pid_t tid) {
  return static_cast<clockid_t>((~static_cast<unsigned int>(tid) << 3) | 6);
}

// The POSIX timer calls, made as raw system calls. glibc moved timer_create & co. from librt into
// libc in 2.34 with new symbol versions, so calling them would make the addon need glibc 2.34
// while Node 20's own binaries run on 2.28. The kernel's interface is older than both.
static inline int ptprof_sys_timer_create(clockid_t clock, struct sigevent* sev, int* kid) {
  return static_cast<int>(syscall(SYS_timer_create, clock, sev, kid));
}
static inline int ptprof_sys_timer_settime(int kid, const struct itimerspec* its) {
  return static_cast<int>(syscall(SYS_timer_settime, kid, 0, its, nullptr));
}
static inline int ptprof_sys_timer_delete(int kid) { return static_cast<int>(syscall(SYS_timer_delete, kid)); }
static inline int ptprof_sys_timer_getoverrun(int kid) { return static_cast<int>(syscall(SYS_timer_getoverrun, kid)); }

static inline pid_t ptprof_gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

static inline uint64_t ptprof_now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
// 1. Process-wide state
// ---------------------------------------------------------------------------------------------

enum PtprofSlotState : int32_t {
  PTPROF_SLOT_FREE = 0,    // reusable (drained, no writer)
  PTPROF_SLOT_ACTIVE = 1,  // the thread is known: signals on it go to this slot's ring
  PTPROF_SLOT_DEAD = 2,    // released; its ring still holds records the next drain must collect
};

// Flags of a record, mirrored in the TypeScript reader (packages/timers-native/src/index.ts).
enum PtprofRecordFlag : uint32_t {
  PTPROF_F_KNOWN = 1,        // the thread had a slot (Go: it has an M)
  PTPROF_F_TIMER_VALID = 2,  // the slot's timer was marked valid at that instant
  PTPROF_F_JS = 4,           // the slot owns an isolate: a JS stack walk was attempted
  PTPROF_F_TRUNCATED = 8,    // the walk filled the frame limit
};

// A record as it sits in a ring: this header, then `nframes` 8-byte frame addresses.
struct PtprofRecord {
  uint32_t bytes;  // header + frames
  int32_t tid;
  int32_t code;
  int32_t overrun;
  uint32_t flags;
  int32_t vm_state;  // v8::StateTag, -1 when no walk
  uint32_t nframes;
  uint32_t isolate_id;  // 0 when none
  uint64_t time_ns;     // CLOCK_MONOTONIC
  uint64_t code_seq;    // JIT code events seen before this sample (for symbolizing)
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
static_assert(sizeof(PtprofRecord) == 80, "record header is 80 bytes");

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
  // SPSC ring: the producer is the signal handler on the slot's own thread (SIGPROF is blocked
  // while its handler runs, so there is one producer); the consumer is drain() under drain_mu.
  uint8_t* ring = nullptr;
  uint64_t ring_mask = 0;
  std::atomic<uint64_t> head{0};
  std::atomic<uint64_t> tail{0};
  std::atomic<uint64_t> drops{0};
  void* scratch[kPtprofFramesCap];
  // Records moved out of the ring by the collector thread, oldest first (under drain_mu).
  std::vector<uint8_t> backlog;
};

struct PtprofSharedCell {
  std::atomic<uint64_t> seq;
  PtprofRecord rec;
};

// A timer's id for JavaScript is gen * kPtprofMaxTimers + index: an entry freed by a thread's
// cleanup hook and reused must not be deleted through a stale id held by someone else.
struct PtprofTimer {
  int kid;  // the kernel's timer id
  int32_t tid;
  bool used;
  uint32_t gen;
};

struct PtprofCodeEvent {
  uint64_t seq;
  uint64_t start;
  uint64_t len;
  uint64_t new_start;
  uint32_t isolate_id;
  uint8_t type;       // v8::JitCodeEvent::EventType
  uint8_t code_type;  // v8::JitCodeEvent::CodeType
  std::string name;
};

struct PtprofState {
  PtprofSlot slots[kPtprofMaxSlots];
  std::atomic<int32_t> slot_high{0};  // slots [0, slot_high) may be in use

  // Shared MPSC ring for signals on threads with no slot (Vyukov's bounded queue).
  PtprofSharedCell shared[kPtprofSharedCells];
  std::atomic<uint64_t> shared_enqueue{0};
  uint64_t shared_dequeue = 0;  // consumer only
  std::atomic<uint64_t> shared_dequeue_published{0};  // shared_dequeue, readable without drain_mu
  std::atomic<uint64_t> shared_drops{0};
  uint64_t dead_drops = 0;  // drops of slots already freed (registry_mu)

  std::atomic<bool> enabled{false};
  // The period the process's sampler runs at (0: off). A mailbox, not a decision: a thread that
  // registers while sampling reads it to arm its own timer at once (short-lived workers included).
  std::atomic<double> sampling_period_ns{0};
  std::atomic<uint32_t> frames_limit{128};
  uint64_t ring_bytes = 256 * 1024;

  // Counters of signals that produced no record, by reason.
  std::atomic<uint64_t> foreign{0};   // not SI_KERNEL/SI_TIMER: passed to the previous handler
  std::atomic<uint64_t> disabled{0};  // ours, but arrived while recording was off
  std::atomic<uint64_t> signals{0};   // every SIGPROF the handler saw

  // The handler that was installed before ours, for foreign signals. Written only while our
  // handler is not installed or by ensureHandler under registry_mu; read by the handler.
  struct sigaction prev;
  std::atomic<bool> prev_valid{false};
  std::atomic<bool> installed{false};

  std::mutex registry_mu;  // slots (claim/release), timers, isolates
  PtprofTimer timers[kPtprofMaxTimers];
  v8::Isolate* isolates[kPtprofMaxSlots];
  uint32_t isolate_ids[kPtprofMaxSlots];
  uint32_t next_isolate_id = 1;

  std::mutex drain_mu;  // one consumer at a time (the collector thread or drain())
  std::vector<PtprofRecord> shared_backlog;  // the shared ring's records, collected (drain_mu)
  std::atomic<uint64_t> shared_backlog_size{0};  // shared_backlog.size(), readable without drain_mu
  std::mutex collect_mu;
  std::condition_variable collect_cv;
  bool collector_started = false;  // collect_mu
  std::atomic<uint32_t> collect_interval_ms{20};  // 0: no collection, rings only emptied by drain()

  std::mutex code_mu;  // JIT code events may come from GC helper threads
  std::vector<PtprofCodeEvent> code_events;
  std::atomic<uint64_t> code_seq{0};

  PtprofState() {
    for (uint32_t i = 0; i < kPtprofSharedCells; i++) shared[i].seq.store(i, std::memory_order_relaxed);
    memset(timers, 0, sizeof(timers));
    memset(isolates, 0, sizeof(isolates));
    memset(isolate_ids, 0, sizeof(isolate_ids));
    memset(&prev, 0, sizeof(prev));
  }
};

// Never freed: a SIGPROF or a code event may arrive while the process tears down static objects.
static PtprofState* const g = new PtprofState();

// ---------------------------------------------------------------------------------------------
// 2. Rings
// ---------------------------------------------------------------------------------------------

static inline void ptprof_ring_copy_in(PtprofSlot* s, uint64_t at, const void* src, uint64_t n) {
  uint64_t cap = s->ring_mask + 1;
  uint64_t off = at & s->ring_mask;
  uint64_t first = n < cap - off ? n : cap - off;
  memcpy(s->ring + off, src, first);
  if (n > first) memcpy(s->ring, static_cast<const uint8_t*>(src) + first, n - first);
}

static inline void ptprof_ring_copy_out(PtprofSlot* s, uint64_t at, void* dst, uint64_t n) {
  uint64_t cap = s->ring_mask + 1;
  uint64_t off = at & s->ring_mask;
  uint64_t first = n < cap - off ? n : cap - off;
  memcpy(dst, s->ring + off, first);
  if (n > first) memcpy(static_cast<uint8_t*>(dst) + first, s->ring, n - first);
}

// Producer side, in the signal handler. Drops (and counts) when the record does not fit.
static inline bool ptprof_ring_push(PtprofSlot* s, const PtprofRecord* rec, void* const* frames) {
  uint64_t need = rec->bytes;
  uint64_t h = s->head.load(std::memory_order_relaxed);
  uint64_t t = s->tail.load(std::memory_order_acquire);
  if (s->ring == nullptr || (s->ring_mask + 1) - (h - t) < need) {
    s->drops.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ptprof_ring_copy_in(s, h, rec, sizeof(*rec));
  if (rec->nframes) ptprof_ring_copy_in(s, h + sizeof(*rec), frames, rec->nframes * sizeof(void*));
  s->head.store(h + need, std::memory_order_release);
  return true;
}

// Multi-producer push into the shared ring (Vyukov bounded MPMC queue, used here with one consumer).
static inline bool ptprof_shared_push(const PtprofRecord* rec) {
  uint64_t pos = g->shared_enqueue.load(std::memory_order_relaxed);
  for (;;) {
    PtprofSharedCell* cell = &g->shared[pos & (kPtprofSharedCells - 1)];
    uint64_t seq = cell->seq.load(std::memory_order_acquire);
    int64_t dif = static_cast<int64_t>(seq) - static_cast<int64_t>(pos);
    if (dif == 0) {
      if (g->shared_enqueue.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
        cell->rec = *rec;
        cell->seq.store(pos + 1, std::memory_order_release);
        return true;
      }
    } else if (dif < 0) {
      g->shared_drops.fetch_add(1, std::memory_order_relaxed);
      return false;
    } else {
      pos = g->shared_enqueue.load(std::memory_order_relaxed);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3. The SIGPROF handler
// ---------------------------------------------------------------------------------------------
//
// Async-signal-safe by construction: no allocation, no locks, no V8 handles, no thread_local (a
// dlopen'd library's TLS may allocate on first touch), errno saved and restored. The library is
// linked with -z now so no lazy PLT binding runs in here.

static void ptprof_chain(int sig, siginfo_t* info, void* uctx) {
  if (!g->prev_valid.load(std::memory_order_acquire)) return;
  const struct sigaction& p = g->prev;
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction != nullptr) p.sa_sigaction(sig, info, uctx);
  } else if (p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN && p.sa_handler != nullptr) {
    p.sa_handler(sig);
  }
  // SIG_DFL would terminate the process and SIG_IGN means nothing: neither is called.
}

static inline PtprofSlot* ptprof_enter_slot(pid_t tid) {
  int32_t high = g->slot_high.load(std::memory_order_acquire);
  for (int32_t i = 0; i < high; i++) {
    PtprofSlot* s = &g->slots[i];
    if (s->tid.load(std::memory_order_relaxed) != tid) continue;
    if (s->state.load(std::memory_order_acquire) != PTPROF_SLOT_ACTIVE) continue;
    s->writers.fetch_add(1, std::memory_order_acq_rel);
    // Re-check: release() may have run between the test and the increment.
    if (s->state.load(std::memory_order_acquire) == PTPROF_SLOT_ACTIVE &&
        s->tid.load(std::memory_order_relaxed) == tid)
      return s;
    s->writers.fetch_sub(1, std::memory_order_release);
  }
  return nullptr;
}

static inline void ptprof_regs(void* uctx, v8::RegisterState* regs, uint64_t* pc) {
  ucontext_t* uc = static_cast<ucontext_t*>(uctx);
#if defined(__x86_64__)
  regs->pc = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
  regs->sp = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RSP]);
  regs->fp = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RBP]);
#elif defined(__aarch64__)
  regs->pc = reinterpret_cast<void*>(uc->uc_mcontext.pc);
  regs->sp = reinterpret_cast<void*>(uc->uc_mcontext.sp);
  regs->fp = reinterpret_cast<void*>(uc->uc_mcontext.regs[29]);
  regs->lr = reinterpret_cast<void*>(uc->uc_mcontext.regs[30]);
#else
#error "unsupported architecture"
#endif
  *pc = reinterpret_cast<uint64_t>(regs->pc);
}

static void ptprof_handler(int sig, siginfo_t* info, void* uctx) {
  int saved_errno = errno;
  g->signals.fetch_add(1, std::memory_order_relaxed);
  int code = info->si_code;
  if (code != PTPROF_SI_KERNEL && code != PTPROF_SI_TIMER) {
    // SI_TKILL / SI_USER / SI_QUEUE: someone else's SIGPROF (V8's own profiler for --cpu-prof
    // sends SI_TKILL). Not ours to record or to judge: its owner gets it.
    g->foreign.fetch_add(1, std::memory_order_relaxed);
    ptprof_chain(sig, info, uctx);
    errno = saved_errno;
    return;
  }
  if (!g->enabled.load(std::memory_order_acquire)) {
    // A timer signal queued before stop, or another setitimer user's while we are off.
    g->disabled.fetch_add(1, std::memory_order_relaxed);
    ptprof_chain(sig, info, uctx);
    errno = saved_errno;
    return;
  }

  PtprofRecord rec;
  rec.tid = ptprof_gettid();
  rec.code = code;
  rec.overrun = code == PTPROF_SI_TIMER ? info->si_overrun : 0;
  rec.flags = 0;
  rec.vm_state = -1;
  rec.nframes = 0;
  rec.isolate_id = 0;
  rec.time_ns = ptprof_now_ns();
  rec.code_seq = g->code_seq.load(std::memory_order_acquire);
  rec.external_callback = 0;
  rec.timer_tag = code == PTPROF_SI_TIMER ? reinterpret_cast<uint64_t>(info->si_value.sival_ptr) : 0;
  {
    struct timespec ts;  // clock_gettime is async-signal-safe
    rec.thread_cpu_ns = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0
                            ? static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec)
                            : 0;
  }

  v8::RegisterState regs;
  ptprof_regs(uctx, &regs, &rec.pc);

  PtprofSlot* s = ptprof_enter_slot(rec.tid);
  if (s == nullptr) {
    rec.bytes = sizeof(rec);
    ptprof_shared_push(&rec);
    errno = saved_errno;
    return;
  }
  rec.flags |= PTPROF_F_KNOWN;
  if (s->timer_valid.load(std::memory_order_acquire)) rec.flags |= PTPROF_F_TIMER_VALID;
  v8::Isolate* isolate = s->isolate.load(std::memory_order_acquire);
  if (isolate != nullptr) {
    // Only on the isolate's own thread (a slot hit by tid): with another thread's isolate
    // GetStackSample walks the wrong stack and returns garbage.
    uint32_t limit = g->frames_limit.load(std::memory_order_relaxed);
    PtprofStackSample si = ptprof_stack_sample(isolate, regs, s->scratch, limit);
    rec.flags |= PTPROF_F_JS;
    rec.nframes = static_cast<uint32_t>(si.frames);
    if (rec.nframes >= limit) rec.flags |= PTPROF_F_TRUNCATED;
    rec.vm_state = si.vm_state;
    rec.external_callback = si.external_callback;
    rec.isolate_id = s->isolate_id.load(std::memory_order_relaxed);
  }
  rec.bytes = static_cast<uint32_t>(sizeof(rec) + rec.nframes * sizeof(void*));
  ptprof_ring_push(s, &rec, s->scratch);
  s->writers.fetch_sub(1, std::memory_order_release);
  errno = saved_errno;
}

// ---------------------------------------------------------------------------------------------
// Errors: every failing call becomes `call(args): ENAME` with .code, .errno and .syscall
// ---------------------------------------------------------------------------------------------

static const char* ptprof_errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOTSUP: return "ENOTSUP";
    case EOVERFLOW: return "EOVERFLOW";
    default: return nullptr;
  }
}

static Napi::Value ptprof_throw_errno(Napi::Env env, const std::string& call, int e) {
  const char* name = ptprof_errno_name(e);
  std::string ename = name ? name : ("errno " + std::to_string(e));
  Napi::Error err = Napi::Error::New(env, call + ": " + ename + " (" + strerror(e) + ")");
  err.Set("code", Napi::String::New(env, ename));
  err.Set("errno", Napi::Number::New(env, e));
  std::string syscall = call.substr(0, call.find('('));
  err.Set("syscall", Napi::String::New(env, syscall));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

static Napi::Value ptprof_throw_type(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Reads argument i as a non-negative integer (a tid, a count, nanoseconds).
static bool ptprof_arg_uint(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what,
                            double* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    ptprof_throw_type(info.Env(), std::string(fn) + ": " + what + " must be a number");
    return false;
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v != static_cast<double>(static_cast<uint64_t>(v))) {
    ptprof_throw_type(info.Env(), std::string(fn) + ": " + what + " must be a non-negative integer, got " +
                                      std::to_string(v));
    return false;
  }
  *out = v;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Handler installation
// ---------------------------------------------------------------------------------------------

static bool ptprof_is_ours(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == ptprof_handler;
}

static const char* ptprof_describe(const struct sigaction& sa) {
  if (ptprof_is_ours(sa)) return "ptprof";
  if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL) return "default";
  if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN) return "ignore";
  return "other";
}

// Installs our handler unless it is already the current one. The handler found becomes the one
// foreign signals are passed to, except our own (never chain to ourselves). Returns what was there.
static const char* ptprof_install_locked(int* err) {
  struct sigaction cur;
  if (sigaction(SIGPROF, nullptr, &cur) != 0) { *err = errno; return nullptr; }
  if (ptprof_is_ours(cur)) return "ptprof";
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = ptprof_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  // Publish the previous handler before ours can run.
  g->prev_valid.store(false, std::memory_order_release);
  g->prev = cur;
  g->prev_valid.store(true, std::memory_order_release);
  struct sigaction old;
  if (sigaction(SIGPROF, &sa, &old) != 0) { *err = errno; return nullptr; }
  g->installed.store(true, std::memory_order_release);
  return ptprof_describe(cur);
}

// installHandler() -> 'ptprof' (already ours) | 'default' | 'ignore' | 'other': what it replaced.
static Napi::Value PtprofInstallHandler(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g->registry_mu);
  int err = 0;
  const char* was = ptprof_install_locked(&err);
  if (!was) return ptprof_throw_errno(info.Env(), "sigaction(SIGPROF)", err);
  return Napi::String::New(info.Env(), was);
}

// currentHandler() -> who owns SIGPROF now: 'ptprof' | 'default' | 'ignore' | 'other'.
static Napi::Value PtprofCurrentHandler(const Napi::CallbackInfo& info) {
  struct sigaction cur;
  if (sigaction(SIGPROF, nullptr, &cur) != 0) return ptprof_throw_errno(info.Env(), "sigaction(SIGPROF)", errno);
  return Napi::String::New(info.Env(), ptprof_describe(cur));
}

// ---------------------------------------------------------------------------------------------
// 4. JIT code events
// ---------------------------------------------------------------------------------------------
//
// Names come from CODE_ADDED, e.g. "JS:*fib /path/x.js:3:13". Code moves during full GCs, so a
// sample must be resolved against the map as it was when the sample was taken: each event gets a
// sequence number, each record notes the last sequence number published before it, and the
// reader replays events up to that number before resolving the record.

static uint32_t ptprof_isolate_id_locked(v8::Isolate* isolate) {
  for (int i = 0; i < kPtprofMaxSlots; i++)
    if (g->isolates[i] == isolate) return g->isolate_ids[i];
  return 0;
}

static void ptprof_code_event(const v8::JitCodeEvent* ev) {
  if (ev->type != v8::JitCodeEvent::CODE_ADDED && ev->type != v8::JitCodeEvent::CODE_MOVED &&
      ev->type != v8::JitCodeEvent::CODE_REMOVED)
    return;
  uint32_t iso;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    iso = ptprof_isolate_id_locked(ev->isolate);
  }
  std::lock_guard<std::mutex> lock(g->code_mu);
  PtprofCodeEvent e;
  e.seq = g->code_seq.load(std::memory_order_relaxed) + 1;
  e.start = reinterpret_cast<uint64_t>(ev->code_start);
  e.len = ev->code_len;
  e.new_start = ev->type == v8::JitCodeEvent::CODE_MOVED ? reinterpret_cast<uint64_t>(ev->new_code_start) : 0;
  e.isolate_id = iso;
  e.type = static_cast<uint8_t>(ev->type);
  e.code_type = static_cast<uint8_t>(ev->code_type);
  if (ev->type == v8::JitCodeEvent::CODE_ADDED && ev->name.str != nullptr) e.name.assign(ev->name.str, ev->name.len);
  g->code_events.push_back(std::move(e));
  // Published after the event is in the log: a record that reads seq N finds events 1..N.
  g->code_seq.store(e.seq, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// 5. Thread slots and registration
// ---------------------------------------------------------------------------------------------

static int ptprof_find_slot_locked(pid_t tid, int32_t state) {
  int32_t high = g->slot_high.load(std::memory_order_relaxed);
  for (int i = 0; i < high; i++)
    if (g->slots[i].tid.load(std::memory_order_relaxed) == tid && g->slots[i].state.load() == state) return i;
  return -1;
}

// Claims a free slot for tid (registry_mu held). Its ring is allocated here, outside any handler.
static int ptprof_claim_locked(pid_t tid, v8::Isolate* isolate, uint32_t isolate_id) {
  int found = ptprof_find_slot_locked(tid, PTPROF_SLOT_ACTIVE);
  if (found >= 0) {
    // Claimed earlier as a plain thread (threads: 'all' rescans /proc/self/task) and now
    // registering as a JS thread: the slot gains its isolate.
    if (isolate != nullptr) {
      g->slots[found].isolate_id.store(isolate_id, std::memory_order_relaxed);
      g->slots[found].isolate.store(isolate, std::memory_order_release);
    }
    return found;
  }
  for (int i = 0; i < kPtprofMaxSlots; i++) {
    PtprofSlot* s = &g->slots[i];
    if (s->state.load(std::memory_order_acquire) != PTPROF_SLOT_FREE) continue;
    if (s->writers.load(std::memory_order_acquire) != 0) continue;
    if (s->ring == nullptr || s->ring_mask + 1 != g->ring_bytes) {
      uint8_t* ring = static_cast<uint8_t*>(malloc(g->ring_bytes));
      if (ring == nullptr) return -2;
      free(s->ring);
      s->ring = ring;
      s->ring_mask = g->ring_bytes - 1;
    }
    s->head.store(0, std::memory_order_relaxed);
    s->tail.store(0, std::memory_order_relaxed);
    s->drops.store(0, std::memory_order_relaxed);
    s->timer_valid.store(false, std::memory_order_relaxed);
    s->isolate.store(isolate, std::memory_order_relaxed);
    s->isolate_id.store(isolate_id, std::memory_order_relaxed);
    s->name[0] = 0;
    s->tid.store(tid, std::memory_order_relaxed);
    s->state.store(PTPROF_SLOT_ACTIVE, std::memory_order_release);
    if (i + 1 > g->slot_high.load(std::memory_order_relaxed)) g->slot_high.store(i + 1, std::memory_order_release);
    return i;
  }
  return -1;
}

// The slot stops receiving records at once; its ring is collected (and the slot freed) by drain.
static void ptprof_release_slot_locked(int i) {
  PtprofSlot* s = &g->slots[i];
  s->timer_valid.store(false, std::memory_order_release);
  s->isolate.store(nullptr, std::memory_order_release);
  s->state.store(PTPROF_SLOT_DEAD, std::memory_order_release);
}

static void ptprof_delete_timers_of_locked(pid_t tid) {
  for (int i = 0; i < kPtprofMaxTimers; i++) {
    if (g->timers[i].used && g->timers[i].tid == tid) {
      ptprof_sys_timer_delete(g->timers[i].kid);
      g->timers[i].used = false;
    }
  }
}

struct PtprofThreadReg {
  pid_t tid;
  v8::Isolate* isolate;
  bool code_events;
};

// Runs when the environment (main thread or a worker) is torn down, on that thread: the thread's
// timer must die with it (Go leaks it; measured here: 10 worker rounds leaked 20 timers).
static void ptprof_env_cleanup(void* arg) {
  PtprofThreadReg* reg = static_cast<PtprofThreadReg*>(arg);
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    int i = ptprof_find_slot_locked(reg->tid, PTPROF_SLOT_ACTIVE);
    if (i >= 0 && g->slots[i].isolate.load() == reg->isolate) ptprof_release_slot_locked(i);
    ptprof_delete_timers_of_locked(reg->tid);
    for (int k = 0; k < kPtprofMaxSlots; k++)
      if (g->isolates[k] == reg->isolate) { g->isolates[k] = nullptr; g->isolate_ids[k] = 0; }
  }
  if (reg->code_events) ptprof_code_events_stop(reg->isolate);
  delete reg;
}

struct PtprofAddonData {
  PtprofThreadReg* reg = nullptr;  // this environment's registration, if any
};

// register({ codeEvents = true }) -> { tid, isolateId, slot }: makes the calling JS thread known.
// With codeEvents, V8 reports existing and future code (5-20 ms in a fresh process, hundreds of ms
// with a large heap: it is done once per thread, not on every start).
static Napi::Value PtprofRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool code_events = true;
  std::string name;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Value v = info[0].As<Napi::Object>().Get("codeEvents");
    if (v.IsBoolean()) code_events = v.As<Napi::Boolean>().Value();
    Napi::Value nv = info[0].As<Napi::Object>().Get("name");
    if (nv.IsString()) name = nv.As<Napi::String>().Utf8Value();
  }
  PtprofAddonData* data = env.GetInstanceData<PtprofAddonData>();
  v8::Isolate* isolate = ptprof_current_isolate();
  pid_t tid = ptprof_gettid();
  uint32_t iso_id;
  int slot;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    if (data->reg != nullptr) {
      int i = ptprof_find_slot_locked(tid, PTPROF_SLOT_ACTIVE);
      Napi::Object out = Napi::Object::New(env);
      out.Set("tid", Napi::Number::New(env, tid));
      out.Set("isolateId", Napi::Number::New(env, i >= 0 ? g->slots[i].isolate_id.load() : 0));
      out.Set("slot", Napi::Number::New(env, i));
      return out;
    }
    iso_id = g->next_isolate_id++;
    for (int k = 0; k < kPtprofMaxSlots; k++)
      if (g->isolates[k] == nullptr) { g->isolates[k] = isolate; g->isolate_ids[k] = iso_id; break; }
    slot = ptprof_claim_locked(tid, isolate, iso_id);
    if (slot >= 0) {
      snprintf(g->slots[slot].name, sizeof(g->slots[slot].name), "%s", name.c_str());
    }
    if (slot == -2) return ptprof_throw_errno(env, "register(tid=" + std::to_string(tid) + ")", ENOMEM);
    if (slot < 0) return ptprof_throw_errno(env, "register(tid=" + std::to_string(tid) + "): no free slot", EAGAIN);
    data->reg = new PtprofThreadReg{tid, isolate, code_events};
  }
  napi_add_env_cleanup_hook(env, ptprof_env_cleanup, data->reg);
  if (code_events) ptprof_code_events_start(isolate, ptprof_code_event);
  Napi::Object out = Napi::Object::New(env);
  out.Set("tid", Napi::Number::New(env, tid));
  out.Set("isolateId", Napi::Number::New(env, iso_id));
  out.Set("slot", Napi::Number::New(env, slot));
  return out;
}

// unregister(): the calling thread forgets its registration now (its timers are deleted).
static Napi::Value PtprofUnregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PtprofAddonData* data = env.GetInstanceData<PtprofAddonData>();
  if (data->reg == nullptr) return Napi::Boolean::New(env, false);
  PtprofThreadReg* reg = data->reg;
  data->reg = nullptr;
  napi_remove_env_cleanup_hook(env, ptprof_env_cleanup, reg);
  ptprof_env_cleanup(reg);
  return Napi::Boolean::New(env, true);
}

// claimThread(tid) -> slot: makes another OS thread (libuv's pool, V8's helpers) known, without a
// JS stack. Its records go to its own ring from now on.
static Napi::Value PtprofClaimThread(const Napi::CallbackInfo& info) {
  double tid;
  if (!ptprof_arg_uint(info, 0, "claimThread", "tid", &tid)) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  int slot = ptprof_claim_locked(static_cast<pid_t>(tid), nullptr, 0);
  if (slot == -2) return ptprof_throw_errno(info.Env(), "claimThread(tid=" + std::to_string((long)tid) + ")", ENOMEM);
  if (slot < 0) return ptprof_throw_errno(info.Env(), "claimThread(tid=" + std::to_string((long)tid) + "): no free slot", EAGAIN);
  return Napi::Number::New(info.Env(), slot);
}

// releaseThread(tid) -> bool: the thread is no longer known (a JS thread's isolate too).
static Napi::Value PtprofReleaseThread(const Napi::CallbackInfo& info) {
  double tid;
  if (!ptprof_arg_uint(info, 0, "releaseThread", "tid", &tid)) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  int i = ptprof_find_slot_locked(static_cast<pid_t>(tid), PTPROF_SLOT_ACTIVE);
  if (i < 0) return Napi::Boolean::New(info.Env(), false);
  ptprof_release_slot_locked(i);
  return Napi::Boolean::New(info.Env(), true);
}

// setTimerValid(tid, valid): the flag the handler reads to fill PTPROF_F_TIMER_VALID (Go's
// mp.profileTimerValid). Turning a timer off: clear it first, then timerDelete.
static Napi::Value PtprofSetTimerValid(const Napi::CallbackInfo& info) {
  double tid;
  if (!ptprof_arg_uint(info, 0, "setTimerValid", "tid", &tid)) return info.Env().Undefined();
  if (info.Length() < 2 || !info[1].IsBoolean()) return ptprof_throw_type(info.Env(), "setTimerValid: valid must be a boolean");
  std::lock_guard<std::mutex> lock(g->registry_mu);
  int i = ptprof_find_slot_locked(static_cast<pid_t>(tid), PTPROF_SLOT_ACTIVE);
  if (i < 0) return Napi::Boolean::New(info.Env(), false);
  g->slots[i].timer_valid.store(info[1].As<Napi::Boolean>().Value(), std::memory_order_release);
  return Napi::Boolean::New(info.Env(), true);
}

// ---------------------------------------------------------------------------------------------
// 6. Timers
// ---------------------------------------------------------------------------------------------

// timerCreate(tid[, exclusive[, tag]]) -> id: (tag: an integer every SIGPROF of this timer carries
// in its record's timerTag, through sigev_value) a POSIX timer on thread tid's CPU clock that sends SIGPROF
// to tid (SIGEV_THREAD_ID), disarmed. Go issue 35057: the signal goes to the thread that burned
// the CPU. With exclusive, returns -1 instead when this addon already holds a timer for tid: two
// threads (the thread itself and the sampler's thread) may race to arm it, and two timers on one
// thread would count its CPU twice.
static Napi::Value PtprofTimerCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double tidd;
  if (!ptprof_arg_uint(info, 0, "timerCreate", "tid", &tidd)) return env.Undefined();
  pid_t tid = static_cast<pid_t>(tidd);
  bool exclusive = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  double tag = 0;
  if (info.Length() > 2 && !info[2].IsUndefined() && !ptprof_arg_uint(info, 2, "timerCreate", "tag", &tag)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  if (exclusive)
    for (int i = 0; i < kPtprofMaxTimers; i++)
      if (g->timers[i].used && g->timers[i].tid == tid) return Napi::Number::New(env, -1);
  int slot = -1;
  for (int i = 0; i < kPtprofMaxTimers; i++)
    if (!g->timers[i].used) { slot = i; break; }
  if (slot < 0) return ptprof_throw_errno(env, "timer_create(tid=" + std::to_string(tid) + "): table full", EAGAIN);
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev.sigev_value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(tag));
#ifdef sigev_notify_thread_id
  sev.sigev_notify_thread_id = tid;
#else
  sev._sigev_un._tid = tid;
#endif
  int kid = 0;
  if (ptprof_sys_timer_create(ptprof_thread_clock(tid), &sev, &kid) != 0)
    return ptprof_throw_errno(env, "timer_create(tid=" + std::to_string(tid) + ")", errno);
  g->timers[slot].kid = kid;
  g->timers[slot].tid = tid;
  g->timers[slot].used = true;
  g->timers[slot].gen++;
  return Napi::Number::New(env, static_cast<double>(g->timers[slot].gen) * kPtprofMaxTimers + slot);
}

static PtprofTimer* ptprof_timer_arg(const Napi::CallbackInfo& info, const char* fn) {
  double id;
  if (!ptprof_arg_uint(info, 0, fn, "timer id", &id)) return nullptr;
  uint64_t full = static_cast<uint64_t>(id);
  uint64_t index = full % kPtprofMaxTimers;
  PtprofTimer* t = &g->timers[index];
  if (!t->used || t->gen != full / kPtprofMaxTimers) {
    ptprof_throw_errno(info.Env(), std::string(fn) + "(id=" + std::to_string(full) + "): no such timer", EINVAL);
    return nullptr;
  }
  return t;
}

static inline struct timespec ptprof_ts(double ns) {
  struct timespec ts;
  uint64_t n = static_cast<uint64_t>(ns);
  ts.tv_sec = static_cast<time_t>(n / 1000000000ull);
  ts.tv_nsec = static_cast<long>(n % 1000000000ull);
  return ts;
}

// timerSettime(id, firstNs, periodNs): first expiry after firstNs of the thread's CPU time, then
// every periodNs. (0, 0) disarms.
static Napi::Value PtprofTimerSettime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double first, period;
  if (!ptprof_arg_uint(info, 1, "timerSettime", "firstNs", &first)) return env.Undefined();
  if (!ptprof_arg_uint(info, 2, "timerSettime", "periodNs", &period)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  PtprofTimer* t = ptprof_timer_arg(info, "timer_settime");
  if (!t) return env.Undefined();
  struct itimerspec its;
  its.it_value = ptprof_ts(first);
  its.it_interval = ptprof_ts(period);
  if (ptprof_sys_timer_settime(t->kid, &its) != 0)
    return ptprof_throw_errno(env, "timer_settime(tid=" + std::to_string(t->tid) + ", first=" +
                                       std::to_string(static_cast<uint64_t>(first)) + "ns, period=" +
                                       std::to_string(static_cast<uint64_t>(period)) + "ns)", errno);
  return env.Undefined();
}

// timerDelete(id)
static Napi::Value PtprofTimerDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  PtprofTimer* t = ptprof_timer_arg(info, "timer_delete");
  if (!t) return env.Undefined();
  t->used = false;
  if (ptprof_sys_timer_delete(t->kid) != 0) return ptprof_throw_errno(env, "timer_delete(tid=" + std::to_string(t->tid) + ")", errno);
  return env.Undefined();
}

// timerGetoverrun(id) -> number
static Napi::Value PtprofTimerGetoverrun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  PtprofTimer* t = ptprof_timer_arg(info, "timer_getoverrun");
  if (!t) return env.Undefined();
  int n = ptprof_sys_timer_getoverrun(t->kid);
  if (n < 0) return ptprof_throw_errno(env, "timer_getoverrun(tid=" + std::to_string(t->tid) + ")", errno);
  return Napi::Number::New(env, n);
}

// timerCount() -> POSIX timers this addon holds (the process's count is in /proc/self/timers).
static Napi::Value PtprofTimerCount(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g->registry_mu);
  int n = 0;
  for (int i = 0; i < kPtprofMaxTimers; i++) n += g->timers[i].used ? 1 : 0;
  return Napi::Number::New(info.Env(), n);
}

// setitimer(periodNs): ITIMER_PROF for the whole process, first expiry = period; 0 disables.
// The kernel checks it once per tick and sends one SIGPROF (SI_KERNEL) per check at most.
static Napi::Value PtprofSetitimer(const Napi::CallbackInfo& info) {
  double period;
  if (!ptprof_arg_uint(info, 0, "setitimer", "periodNs", &period)) return info.Env().Undefined();
  struct itimerval it;
  uint64_t us = static_cast<uint64_t>(period) / 1000;
  if (period > 0 && us == 0) us = 1;
  it.it_interval.tv_sec = static_cast<time_t>(us / 1000000);
  it.it_interval.tv_usec = static_cast<suseconds_t>(us % 1000000);
  it.it_value = it.it_interval;
  if (setitimer(ITIMER_PROF, &it, nullptr) != 0)
    return ptprof_throw_errno(info.Env(), "setitimer(ITIMER_PROF, " + std::to_string(us) + "us)", errno);
  return info.Env().Undefined();
}

// getitimer() -> { valueNs, intervalNs }
static Napi::Value PtprofGetitimer(const Napi::CallbackInfo& info) {
  struct itimerval it;
  if (getitimer(ITIMER_PROF, &it) != 0) return ptprof_throw_errno(info.Env(), "getitimer(ITIMER_PROF)", errno);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("valueNs", Napi::Number::New(info.Env(), (it.it_value.tv_sec * 1e6 + it.it_value.tv_usec) * 1000.0));
  out.Set("intervalNs", Napi::Number::New(info.Env(), (it.it_interval.tv_sec * 1e6 + it.it_interval.tv_usec) * 1000.0));
  return out;
}

// gettid() -> the calling thread's kernel tid
static Napi::Value PtprofGettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ptprof_gettid());
}

static Napi::Value ptprof_clock_ns(Napi::Env env, clockid_t clk, const std::string& what) {
  struct timespec ts;
  if (clock_gettime(clk, &ts) != 0) return ptprof_throw_errno(env, "clock_gettime(" + what + ")", errno);
  return Napi::Number::New(env, static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec));
}

// threadCpuNs([tid]) -> CPU time of a thread of this process (the caller by default), in ns.
static Napi::Value PtprofThreadCpuNs(const Napi::CallbackInfo& info) {
  if (info.Length() == 0 || info[0].IsUndefined())
    return ptprof_clock_ns(info.Env(), CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID");
  double tid;
  if (!ptprof_arg_uint(info, 0, "threadCpuNs", "tid", &tid)) return info.Env().Undefined();
  return ptprof_clock_ns(info.Env(), ptprof_thread_clock(static_cast<pid_t>(tid)),
                         "tid=" + std::to_string(static_cast<long>(tid)));
}

// processCpuNs() -> CPU time of the whole process, in ns.
static Napi::Value PtprofProcessCpuNs(const Napi::CallbackInfo& info) {
  return ptprof_clock_ns(info.Env(), CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID");
}

// monotonicNs() -> CLOCK_MONOTONIC in ns, the clock of the records' timeNs.
static Napi::Value PtprofMonotonicNs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ptprof_now_ns()));
}

// setEnabled(bool): whether timer signals are recorded. Off, they are counted and dropped.
static void ptprof_collector();

static Napi::Value PtprofSetEnabled(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) return ptprof_throw_type(info.Env(), "setEnabled: expected a boolean");
  bool on = info[0].As<Napi::Boolean>().Value();
  {
    std::lock_guard<std::mutex> lk(g->collect_mu);
    g->enabled.store(on, std::memory_order_release);
    if (on && !g->collector_started) {
      g->collector_started = true;
      std::thread(ptprof_collector).detach();
    }
  }
  g->collect_cv.notify_all();
  return info.Env().Undefined();
}

// configure({ framesLimit, ringBytes, collectIntervalMs }): frames kept per JS stack (1..512), ring
// size for slots claimed from now on (a power of two, 4 KiB..64 MiB), and how often the collector
// thread empties the rings into their backlogs (0..1000 ms, default 20; 0: only drain() does).
static Napi::Value PtprofConfigure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ptprof_throw_type(env, "configure: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value fl = o.Get("framesLimit");
  if (!fl.IsUndefined()) {
    double v = fl.IsNumber() ? fl.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 1 && v <= kPtprofFramesCap) || v != static_cast<int>(v))
      return ptprof_throw_type(env, "configure: framesLimit must be an integer in 1.." + std::to_string(kPtprofFramesCap));
    g->frames_limit.store(static_cast<uint32_t>(v));
  }
  Napi::Value ci = o.Get("collectIntervalMs");
  if (!ci.IsUndefined()) {
    double v = ci.IsNumber() ? ci.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0 && v <= 1000) || v != static_cast<int>(v))
      return ptprof_throw_type(env, "configure: collectIntervalMs must be an integer in 0..1000");
    {
      std::lock_guard<std::mutex> lk(g->collect_mu);
      g->collect_interval_ms.store(static_cast<uint32_t>(v));
    }
    g->collect_cv.notify_all();
  }
  Napi::Value rb = o.Get("ringBytes");
  if (!rb.IsUndefined()) {
    double v = rb.IsNumber() ? rb.As<Napi::Number>().DoubleValue() : -1;
    uint64_t n = static_cast<uint64_t>(v);
    if (!(v >= 4096 && v <= 64.0 * 1024 * 1024) || static_cast<double>(n) != v || (n & (n - 1)) != 0)
      return ptprof_throw_type(env, "configure: ringBytes must be a power of two in 4096..67108864");
    std::lock_guard<std::mutex> lock(g->registry_mu);
    g->ring_bytes = n;
  }
  return env.Undefined();
}

// demangle(names) -> names: C++ symbol names demangled (unchanged when not mangled). Native
// frames are named in TypeScript from the ELF symbol tables of the mapped files; only the
// demangler is C++'s.
static Napi::Value PtprofDemangle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return ptprof_throw_type(env, "demangle: expected an array of strings");
  Napi::Array in = info[0].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, in.Length());
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Value v = in.Get(i);
    if (!v.IsString()) return ptprof_throw_type(env, "demangle: expected an array of strings");
    std::string name = v.As<Napi::String>().Utf8Value();
    int status = -1;
    char* dem = name.compare(0, 2, "_Z") == 0 ? abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status) : nullptr;
    out.Set(i, Napi::String::New(env, status == 0 && dem ? dem : name.c_str()));
    free(dem);
  }
  return out;
}

// threads() -> [{ tid, slot, isolateId, js, name, timerValid }] for every known thread.
static Napi::Value PtprofThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  int32_t high = g->slot_high.load();
  for (int32_t i = 0; i < high; i++) {
    PtprofSlot* s = &g->slots[i];
    if (s->state.load() != PTPROF_SLOT_ACTIVE) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, s->tid.load()));
    o.Set("slot", Napi::Number::New(env, i));
    o.Set("isolateId", Napi::Number::New(env, s->isolate_id.load()));
    o.Set("js", Napi::Boolean::New(env, s->isolate.load() != nullptr));
    o.Set("name", Napi::String::New(env, s->name));
    o.Set("timerValid", Napi::Boolean::New(env, s->timer_valid.load()));
    out.Set(n++, o);
  }
  return out;
}

// timers() -> [{ id, tid }] for every timer this process's addon holds (any thread created it).
static Napi::Value PtprofTimers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(g->registry_mu);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (int i = 0; i < kPtprofMaxTimers; i++) {
    if (!g->timers[i].used) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, static_cast<double>(g->timers[i].gen) * kPtprofMaxTimers + i));
    o.Set("tid", Napi::Number::New(env, g->timers[i].tid));
    out.Set(n++, o);
  }
  return out;
}

// sharedPending() -> records waiting in the shared ring: a thread with no slot is burning CPU.
// One atomic read, cheap enough to poll often; the sampler drains and arms that thread at once.
static Napi::Value PtprofSharedPending(const Napi::CallbackInfo& info) {
  uint64_t enq = g->shared_enqueue.load(std::memory_order_relaxed);
  uint64_t deq = g->shared_dequeue_published.load(std::memory_order_relaxed);
  // Records the collector thread moved to the backlog are still waiting for drain().
  uint64_t backlog = g->shared_backlog_size.load(std::memory_order_relaxed);
  return Napi::Number::New(info.Env(), static_cast<double>((enq > deq ? enq - deq : 0) + backlog));
}

// signalCount() -> SIGPROFs the handler has seen since load (one atomic read). CPU-clock timers
// do not fire in an idle process, so an unchanged count means nothing is burning CPU.
static Napi::Value PtprofSignalCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g->signals.load(std::memory_order_relaxed)));
}

// setSamplingPeriod(ns) / samplingPeriod(): the process-wide mailbox described in PtprofState.
static Napi::Value PtprofSetSamplingPeriod(const Napi::CallbackInfo& info) {
  double ns;
  if (!ptprof_arg_uint(info, 0, "setSamplingPeriod", "periodNs", &ns)) return info.Env().Undefined();
  g->sampling_period_ns.store(ns, std::memory_order_release);
  return info.Env().Undefined();
}

static Napi::Value PtprofSamplingPeriod(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), g->sampling_period_ns.load(std::memory_order_acquire));
}

// ---------------------------------------------------------------------------------------------
// 7. Drain
// ---------------------------------------------------------------------------------------------
//
// drain() -> { count, ints, nums, frames, events, names, threads, counters }
//   ints   Int32Array   count x 8: tid, code, overrun, flags, vmState, nframes, isolateId, 0
//   nums   Float64Array count x 6: timeNs, codeSeq, pc, externalCallback, threadCpuNs, timerTag
//   frames Float64Array all frame addresses, record after record (user-space addresses are below
//          2^48, exact in a double)
//   events Float64Array eventCount x 7: seq, type, codeType, isolateId, start, len, newStart
//   names  string[]     one per event ('' unless CODE_ADDED)
//   threads {tid, isolateId, js, name}[] for every slot drained (live or exited)
// One copy per drain and no object per record or frame.

static constexpr int kPtprofInts = 8;
static constexpr int kPtprofNums = 6;
static constexpr int kPtprofEv = 7;

struct PtprofDrainSlot {
  int32_t tid;
  uint32_t isolate_id;
  bool js;
  std::string name;
};

struct PtprofDrainOut {
  std::vector<PtprofDrainSlot> slots;
  std::vector<int32_t> ints;
  std::vector<double> nums;
  std::vector<double> frames;
};

static void ptprof_emit(PtprofDrainOut* out, const PtprofRecord& r, const uint64_t* frames) {
  out->ints.insert(out->ints.end(), {r.tid, r.code, r.overrun, static_cast<int32_t>(r.flags), r.vm_state,
                                     static_cast<int32_t>(r.nframes), static_cast<int32_t>(r.isolate_id), 0});
  out->nums.insert(out->nums.end(), {static_cast<double>(r.time_ns), static_cast<double>(r.code_seq),
                                     static_cast<double>(r.pc), static_cast<double>(r.external_callback),
                                     static_cast<double>(r.thread_cpu_ns), static_cast<double>(r.timer_tag)});
  for (uint32_t i = 0; i < r.nframes; i++) out->frames.push_back(static_cast<double>(frames[i]));
}

// Moves what the ring holds into the slot's backlog (drain_mu held). The ring is then free for the
// handler again: a thread whose records nobody reads (the main thread busy in synchronous code,
// where the sampler's drain timer cannot run) would otherwise fill its ring and drop.
static void ptprof_collect_slot(PtprofSlot* s) {
  if (s->ring == nullptr) return;
  uint64_t t = s->tail.load(std::memory_order_relaxed);
  uint64_t h = s->head.load(std::memory_order_acquire);
  if (t == h) return;
  size_t at = s->backlog.size();
  s->backlog.resize(at + (h - t));
  ptprof_ring_copy_out(s, t, s->backlog.data() + at, h - t);
  s->tail.store(h, std::memory_order_release);
}

static void ptprof_collect_shared() {
  for (;;) {
    PtprofSharedCell* cell = &g->shared[g->shared_dequeue & (kPtprofSharedCells - 1)];
    uint64_t seq = cell->seq.load(std::memory_order_acquire);
    if (static_cast<int64_t>(seq) - static_cast<int64_t>(g->shared_dequeue + 1) < 0) break;
    g->shared_backlog.push_back(cell->rec);
    cell->seq.store(g->shared_dequeue + kPtprofSharedCells, std::memory_order_release);
    g->shared_dequeue++;
  }
  g->shared_backlog_size.store(g->shared_backlog.size(), std::memory_order_relaxed);
  g->shared_dequeue_published.store(g->shared_dequeue, std::memory_order_relaxed);
}

static void ptprof_collect_all() {
  int32_t high = g->slot_high.load(std::memory_order_acquire);
  for (int32_t i = 0; i < high; i++)
    if (g->slots[i].state.load(std::memory_order_acquire) != PTPROF_SLOT_FREE) ptprof_collect_slot(&g->slots[i]);
  ptprof_collect_shared();
}

// The collector: a native thread ("ptprof-collect") that empties the rings into the backlogs
// every 20 ms while recording is on, and sleeps otherwise. It decides nothing and drops nothing:
// the backlog grows until drain() reads it.
static void ptprof_collector() {
  ptprof_set_thread_name("ptprof-collect");
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(g->collect_mu);
      g->collect_cv.wait(lk, [] {
        return g->enabled.load(std::memory_order_acquire) && g->collect_interval_ms.load(std::memory_order_relaxed) > 0;
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(g->collect_interval_ms.load(std::memory_order_relaxed)));
    std::lock_guard<std::mutex> dl(g->drain_mu);
    ptprof_collect_all();
  }
}

static void ptprof_drain_slot(PtprofSlot* s, PtprofDrainOut* out, std::vector<uint64_t>* tmp) {
  ptprof_collect_slot(s);
  size_t t = 0;
  const std::vector<uint8_t>& b = s->backlog;
  while (t + sizeof(PtprofRecord) <= b.size()) {
    PtprofRecord r;
    memcpy(&r, b.data() + t, sizeof(r));
    tmp->resize(r.nframes);
    if (r.nframes) memcpy(tmp->data(), b.data() + t + sizeof(r), r.nframes * sizeof(uint64_t));
    ptprof_emit(out, r, tmp->data());
    t += r.bytes;
  }
  s->backlog.clear();
  if (s->backlog.capacity() > (1u << 20)) s->backlog.shrink_to_fit();
}

template <typename T, typename A>
static A ptprof_typed(Napi::Env env, const std::vector<T>& v) {
  A arr = A::New(env, v.size());
  if (!v.empty()) memcpy(arr.Data(), v.data(), v.size() * sizeof(T));
  return arr;
}

static Napi::Value PtprofDrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PtprofDrainOut out;
  std::vector<PtprofCodeEvent> events;
  uint64_t slot_drops = 0;
  {
    std::lock_guard<std::mutex> dl(g->drain_mu);
    // Code events first: every record drained below was taken after the events it refers to.
    {
      std::lock_guard<std::mutex> cl(g->code_mu);
      events.swap(g->code_events);
    }
    std::vector<uint64_t> tmp;
    int32_t high = g->slot_high.load(std::memory_order_acquire);
    for (int32_t i = 0; i < high; i++) {
      PtprofSlot* s = &g->slots[i];
      int32_t st = s->state.load(std::memory_order_acquire);
      if (st == PTPROF_SLOT_FREE) continue;
      // Names travel with the drain: a worker that exited since the last drain is gone from
      // threads() by the time its records are read.
      out.slots.push_back({s->tid.load(), s->isolate_id.load(), s->isolate_id.load() != 0, s->name});
      ptprof_drain_slot(s, &out, &tmp);
      slot_drops += s->drops.load(std::memory_order_relaxed);
      if (st == PTPROF_SLOT_DEAD) {
        std::lock_guard<std::mutex> rl(g->registry_mu);
        if (s->writers.load(std::memory_order_acquire) == 0) {
          ptprof_drain_slot(s, &out, &tmp);  // anything written before the last writer left
          g->dead_drops += s->drops.exchange(0);
          s->tid.store(0, std::memory_order_relaxed);
          s->state.store(PTPROF_SLOT_FREE, std::memory_order_release);
        }
      }
    }
    ptprof_collect_shared();
    for (const PtprofRecord& r : g->shared_backlog) ptprof_emit(&out, r, nullptr);
    g->shared_backlog.clear();
    g->shared_backlog_size.store(0, std::memory_order_relaxed);
  }
  size_t n = out.ints.size() / kPtprofInts;
  Napi::Object res = Napi::Object::New(env);
  res.Set("count", Napi::Number::New(env, static_cast<double>(n)));
  res.Set("ints", ptprof_typed<int32_t, Napi::Int32Array>(env, out.ints));
  res.Set("nums", ptprof_typed<double, Napi::Float64Array>(env, out.nums));
  res.Set("frames", ptprof_typed<double, Napi::Float64Array>(env, out.frames));
  std::vector<double> ev;
  ev.reserve(events.size() * kPtprofEv);
  Napi::Array names = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); i++) {
    const PtprofCodeEvent& e = events[i];
    ev.insert(ev.end(), {static_cast<double>(e.seq), static_cast<double>(e.type), static_cast<double>(e.code_type),
                         static_cast<double>(e.isolate_id), static_cast<double>(e.start), static_cast<double>(e.len),
                         static_cast<double>(e.new_start)});
    names.Set(static_cast<uint32_t>(i), Napi::String::New(env, e.name));
  }
  res.Set("events", ptprof_typed<double, Napi::Float64Array>(env, ev));
  Napi::Array slots = Napi::Array::New(env, out.slots.size());
  for (size_t i = 0; i < out.slots.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, out.slots[i].tid));
    o.Set("isolateId", Napi::Number::New(env, out.slots[i].isolate_id));
    o.Set("js", Napi::Boolean::New(env, out.slots[i].js));
    o.Set("name", Napi::String::New(env, out.slots[i].name));
    slots.Set(static_cast<uint32_t>(i), o);
  }
  res.Set("threads", slots);
  res.Set("names", names);
  Napi::Object c = Napi::Object::New(env);
  c.Set("signals", Napi::Number::New(env, static_cast<double>(g->signals.load())));
  c.Set("foreign", Napi::Number::New(env, static_cast<double>(g->foreign.load())));
  c.Set("disabled", Napi::Number::New(env, static_cast<double>(g->disabled.load())));
  c.Set("ringDrops", Napi::Number::New(env, static_cast<double>(slot_drops + g->dead_drops)));
  c.Set("sharedDrops", Napi::Number::New(env, static_cast<double>(g->shared_drops.load())));
  res.Set("counters", c);
  return res;
}

// ---------------------------------------------------------------------------------------------
// 8. Module init (context-aware: loaded once per thread, state shared by the process)
// ---------------------------------------------------------------------------------------------

static Napi::Object PtprofInit(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new PtprofAddonData());
  exports.Set("installHandler", Napi::Function::New(env, PtprofInstallHandler, "installHandler"));
  exports.Set("currentHandler", Napi::Function::New(env, PtprofCurrentHandler, "currentHandler"));
  exports.Set("register", Napi::Function::New(env, PtprofRegister, "register"));
  exports.Set("unregister", Napi::Function::New(env, PtprofUnregister, "unregister"));
  exports.Set("claimThread", Napi::Function::New(env, PtprofClaimThread, "claimThread"));
  exports.Set("releaseThread", Napi::Function::New(env, PtprofReleaseThread, "releaseThread"));
  exports.Set("setTimerValid", Napi::Function::New(env, PtprofSetTimerValid, "setTimerValid"));
  exports.Set("timerCreate", Napi::Function::New(env, PtprofTimerCreate, "timerCreate"));
  exports.Set("timerSettime", Napi::Function::New(env, PtprofTimerSettime, "timerSettime"));
  exports.Set("timerDelete", Napi::Function::New(env, PtprofTimerDelete, "timerDelete"));
  exports.Set("timerGetoverrun", Napi::Function::New(env, PtprofTimerGetoverrun, "timerGetoverrun"));
  exports.Set("timerCount", Napi::Function::New(env, PtprofTimerCount, "timerCount"));
  exports.Set("setitimer", Napi::Function::New(env, PtprofSetitimer, "setitimer"));
  exports.Set("getitimer", Napi::Function::New(env, PtprofGetitimer, "getitimer"));
  exports.Set("gettid", Napi::Function::New(env, PtprofGettid, "gettid"));
  exports.Set("threadCpuNs", Napi::Function::New(env, PtprofThreadCpuNs, "threadCpuNs"));
  exports.Set("processCpuNs", Napi::Function::New(env, PtprofProcessCpuNs, "processCpuNs"));
  exports.Set("monotonicNs", Napi::Function::New(env, PtprofMonotonicNs, "monotonicNs"));
  exports.Set("setEnabled", Napi::Function::New(env, PtprofSetEnabled, "setEnabled"));
  exports.Set("configure", Napi::Function::New(env, PtprofConfigure, "configure"));
  exports.Set("demangle", Napi::Function::New(env, PtprofDemangle, "demangle"));
  exports.Set("threads", Napi::Function::New(env, PtprofThreads, "threads"));
  exports.Set("timers", Napi::Function::New(env, PtprofTimers, "timers"));
  exports.Set("setSamplingPeriod", Napi::Function::New(env, PtprofSetSamplingPeriod, "setSamplingPeriod"));
  exports.Set("samplingPeriod", Napi::Function::New(env, PtprofSamplingPeriod, "samplingPeriod"));
  exports.Set("signalCount", Napi::Function::New(env, PtprofSignalCount, "signalCount"));
  exports.Set("sharedPending", Napi::Function::New(env, PtprofSharedPending, "sharedPending"));
  exports.Set("drain", Napi::Function::New(env, PtprofDrain, "drain"));
  return exports;
}

NODE_API_MODULE(ptprof_timers, PtprofInit)
