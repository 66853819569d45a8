// handler.cc: the signal handler, the only code of the addon that runs in signal context.
//
// Async-signal-safe by construction: no allocation, no locks, no V8 handles, no thread_local (a
// dlopen'd library's TLS may allocate on first touch), errno saved and restored. The library is
// linked with -z now, so no lazy PLT binding runs in here, and with -z nodelete, so this code
// stays mapped for as long as the process lives: the handler is never removed (a timer signal
// may still be queued), and Node unloads an addon whose last environment is gone (a worker that
// loaded it and exited), which left the handler pointing into unmapped memory (SIGSEGV).
//
// Nothing in this file may call anything that is not on signal-safety(7)'s list, or V8's
// GetStackSample, which V8 documents for use from a signal handler on the isolate's own thread.
#include "compat.h"
#include "ptprof.h"

#include <errno.h>
#include <ucontext.h>

// The slot of thread tid, with this handler counted among its writers (so drain() does not free
// it under us), or nullptr when the thread has none. The increment and the re-check are seq_cst:
// release() stores DEAD and then reads `writers`; either it sees our increment or we see DEAD.
static inline PtprofSlot* ptprof_enter_slot(pid_t tid) {
  int32_t high = g->slot_high.load(std::memory_order_acquire);
  for (int32_t i = 0; i < high; i++) {
    PtprofSlot* s = &g->slots[i];
    if (s->tid.load(std::memory_order_relaxed) != tid) continue;
    if (s->state.load(std::memory_order_acquire) != PTPROF_SLOT_ACTIVE) continue;
    s->writers.fetch_add(1, std::memory_order_seq_cst);
    if (s->state.load(std::memory_order_seq_cst) == PTPROF_SLOT_ACTIVE && s->tid.load(std::memory_order_relaxed) == tid)
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

static void ptprof_handle(int sig, siginfo_t* info, void* uctx, uint64_t now_ns);

// Installed for the timers' real-time signal and, while no one else owns it, for SIGPROF
// (signals.cc). It is only ever installed over SIG_DFL or SIG_IGN, so there is no previous handler
// to pass a foreign signal to: two handlers passing a signal to each other (two copies of the
// addon in one process) cannot happen. It times ptprof_handle, the work, into handler_ns.
void ptprof_handler(int sig, siginfo_t* info, void* uctx) {
  int saved_errno = errno;
  uint64_t t0 = ptprof_clock_ns(CLOCK_MONOTONIC);
  ptprof_handle(sig, info, uctx, t0);
  uint64_t t1 = ptprof_clock_ns(CLOCK_MONOTONIC);
  if (t0 != 0 && t1 > t0) g->handler_ns.fetch_add(t1 - t0, std::memory_order_relaxed);
  errno = saved_errno;
}

// The handler's work (now_ns: CLOCK_MONOTONIC at its entry); ptprof_handler times it and keeps
// errno.
static void ptprof_handle(int sig, siginfo_t* info, void* uctx, uint64_t now_ns) {
  g->signals.fetch_add(1, std::memory_order_relaxed);
  int code = info->si_code;
  if (code != PTPROF_SI_KERNEL && code != PTPROF_SI_TIMER) {
    // SI_TKILL / SI_USER / SI_QUEUE: someone's kill(2), tgkill(2) or sigqueue(3). Not ours to
    // record or to judge; the action it would have had without us was to be ignored or to kill,
    // and we do not kill.
    g->foreign.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!g->enabled.load(std::memory_order_acquire)) {
    // A timer signal queued before stop.
    g->disabled.fetch_add(1, std::memory_order_relaxed);
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
  rec.signo = sig;
  rec.reserved = 0;
  rec.time_ns = now_ns;
  rec.code_seq = g->code_seq.load(std::memory_order_acquire);
  rec.external_callback = 0;
  rec.timer_tag = code == PTPROF_SI_TIMER ? reinterpret_cast<uint64_t>(info->si_value.sival_ptr) : 0;
  rec.thread_cpu_ns = ptprof_clock_ns(CLOCK_THREAD_CPUTIME_ID);  // clock_gettime is async-signal-safe

  v8::RegisterState regs;
  ptprof_regs(uctx, &regs, &rec.pc);

  PtprofSlot* s = ptprof_enter_slot(rec.tid);
  bool known = s != nullptr;
  bool valid = known && s->timer_valid.load(std::memory_order_acquire);
  // The reader's decision for this (source, known, valid), from its table: a signal it would drop
  // is counted and costs no stack walk and no ring space (half of all signals in threads: 'all',
  // where each thread has a timer and setitimer's signals are not its source).
  uint32_t bit = (code == PTPROF_SI_TIMER ? 4u : 0u) | (known ? 2u : 0u) | (valid ? 1u : 0u);
  if (!((g->keep_table.load(std::memory_order_relaxed) >> bit) & 1u)) {
    (code == PTPROF_SI_TIMER ? g->filtered_timer : g->filtered_setitimer).fetch_add(1, std::memory_order_relaxed);
    if (s != nullptr) s->writers.fetch_sub(1, std::memory_order_release);
    return;
  }
  if (s == nullptr) {
    rec.bytes = sizeof(rec);
    g->shared.push(rec);
    return;
  }
  rec.flags |= PTPROF_F_known;
  if (valid) rec.flags |= PTPROF_F_timerValid;
  v8::Isolate* isolate = s->isolate.load(std::memory_order_acquire);
  if (isolate != nullptr) {
    // Only on the isolate's own thread (a slot hit by tid): with another thread's isolate
    // GetStackSample walks the wrong stack and returns garbage.
    uint32_t limit = g->frames_limit.load(std::memory_order_relaxed);
    // A record must fit in an empty ring (4 KiB rings and 512 frames do not): keep the frames
    // nearest the leaf and mark the stack truncated.
    uint64_t cap = s->ring.capacity();
    uint64_t room = cap > sizeof(rec) ? (cap - sizeof(rec)) / sizeof(void*) : 0;
    if (room < limit) limit = static_cast<uint32_t>(room);
    PtprofStackSample si = ptprof_stack_sample(isolate, regs, s->scratch, limit);
    rec.flags |= PTPROF_F_js;
    rec.nframes = static_cast<uint32_t>(si.frames);
    if (rec.nframes >= limit) rec.flags |= PTPROF_F_truncated;
    rec.vm_state = si.vm_state;
    rec.external_callback = si.external_callback;
    rec.isolate_id = s->isolate_id.load(std::memory_order_relaxed);
  }
  rec.bytes = static_cast<uint32_t>(sizeof(rec) + rec.nframes * sizeof(void*));
  s->ring.push(&rec, sizeof(rec), s->scratch, rec.nframes * sizeof(void*));
  s->writers.fetch_sub(1, std::memory_order_release);
}
