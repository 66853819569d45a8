// control.cc: signals for a JS thread that may never return to its event loop.
//
// A program stuck in a loop never turns its event loop, so a JS signal listener (the agent's or
// the program's) never runs: with one installed, Node catches SIGINT and waits for the loop to
// deliver it, and the program no longer dies on Ctrl-C at all. So the stop signals the program
// does not listen to are taken here, and delivered to JavaScript without depending on the loop:
//
//   1. The handler (signal context) sets the signal's bit and posts a semaphore: nothing else.
//   2. A native thread ("ptprof-control") wakes and queues a call of the registered callback
//      through a thread-safe function: it runs on the JS thread, out of any JS frame, as soon as
//      the event loop turns. This is the usual path (a loop that turns: a few ms).
//   3. If the callback has not been entered after graceMs, the loop is stuck: the thread asks V8
//      for an interrupt (Isolate::RequestInterrupt), which runs at the JS thread's next interrupt
//      check (a loop's back-edge, a function's entry; V8 wakes Atomics.wait for it), and the
//      callback is called there, told so (see ptprof_control_interrupt for what that allows).
//   4. If it has still not been entered after deadlineMs (a long native call or system call,
//      where no interrupt check runs), the signal's default action is put back and the signal
//      raised again: the program ends as it would have without us, later, without its profile,
//      and says so on stderr.
//
// Mechanism only: which signals are taken and when (TypeScript watches the program's listeners: a
// program that listens to a signal decides for itself, and while it does libuv's handler is
// there, not ours), graceMs and deadlineMs, and what the callback does (write the profile, end by
// the signal) are TypeScript's. A signal is taken only over SIG_DFL or over the action TypeScript
// names as the process's own default (Node's handler, which restores the terminal and dies by the
// signal), and that action is what is put back.
//
// ctl->mu guards the registration and the request bookkeeping; it is taken alone (ptprof.h,
// "Locks"), and no JS value is made while it is held.
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mutex>

#include "compat.h"
#include "napi_util.h"
#include "ptprof.h"

namespace {

constexpr int kMaxSignal = 64;

// A condition variable whose timed waits are on CLOCK_MONOTONIC. std::condition_variable's
// wait_until(steady_clock) calls pthread_cond_clockwait, which glibc has only since 2.30: the
// prebuilds would no longer load on glibc 2.28 (RHEL 8), which Node 20 supports.
// pthread_cond_timedwait on a condition variable created with CLOCK_MONOTONIC does the same and is
// in every glibc.
class PtprofMonoCond {
 public:
  PtprofMonoCond() {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cond_, &a);
    pthread_condattr_destroy(&a);
  }
  void notify_all() { pthread_cond_broadcast(&cond_); }
  // Waits (lk held) until pred() or CLOCK_MONOTONIC reaches deadline_ns; returns pred().
  template <class Pred>
  bool wait_until_ns(std::unique_lock<std::mutex>& lk, uint64_t deadline_ns, Pred pred) {
    timespec ts;
    ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000u);
    ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000u);
    while (!pred()) {
      if (pthread_cond_timedwait(&cond_, lk.mutex()->native_handle(), &ts) == ETIMEDOUT) return pred();
    }
    return true;
  }

 private:
  pthread_cond_t cond_;
};

struct PtprofControl {
  sem_t wake;
  std::atomic<uint64_t> pending{0};  // bit n: signal n arrived (set in the handler)
  std::atomic<uint64_t> taken{0};    // bit n: our handler is installed on signal n

  std::mutex mu;  // everything below
  PtprofMonoCond cv;
  bool thread_started = false;
  v8::Isolate* isolate = nullptr;  // the registered JS thread's, while its environment lives
  napi_env env = nullptr;
  napi_ref callback = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  uint64_t requested = 0;    // requests queued to the callback
  uint64_t entered = 0;      // the last request whose callback was entered (and accepted)
  uint64_t current_seq = 0;  // the request the control thread waits on, and its signals
  uint64_t current_bits = 0;
  uint32_t grace_ms = 0;     // 0: never interrupt
  uint32_t deadline_ms = 0;  // 0: never give up
  uint64_t interrupts = 0;   // requests delivered at an interrupt
  uint64_t give_ups = 0;
  struct sigaction defaults[kMaxSignal + 1];
  bool has_default[kMaxSignal + 1] = {};
};

PtprofControl* const ctl = [] {
  PtprofControl* c = new PtprofControl();
  sem_init(&c->wake, 0, 0);
  return c;
}();

// Signal context: async-signal-safe only (an atomic, sem_post).
void ptprof_control_handler(int sig, siginfo_t*, void*) {
  int saved = errno;
  if (sig > 0 && sig <= kMaxSignal) ctl->pending.fetch_or(uint64_t{1} << sig, std::memory_order_acq_rel);
  sem_post(&ctl->wake);
  errno = saved;
}

bool ptprof_is_control(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == ptprof_control_handler;
}

bool ptprof_is_dfl(const struct sigaction& sa) { return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL; }
bool ptprof_is_ign(const struct sigaction& sa) { return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN; }

bool ptprof_same_action(const struct sigaction& a, const struct sigaction& b) {
  if ((a.sa_flags & SA_SIGINFO) != (b.sa_flags & SA_SIGINFO)) return false;
  return (a.sa_flags & SA_SIGINFO) ? a.sa_sigaction == b.sa_sigaction : a.sa_handler == b.sa_handler;
}

// ctl->mu held. The signal's default back (when ours is there); we no longer take it.
void ptprof_release_locked(int sig) {
  struct sigaction cur;
  if (sigaction(sig, nullptr, &cur) == 0 && ptprof_is_control(cur)) {
    struct sigaction dfl;
    if (ctl->has_default[sig]) {
      dfl = ctl->defaults[sig];
    } else {
      memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
    }
    sigaction(sig, &dfl, nullptr);
  }
  ctl->taken.fetch_and(~(uint64_t{1} << sig), std::memory_order_acq_rel);
}

int ptprof_lowest(uint64_t bits) {
  for (int s = 1; s <= kMaxSignal; s++)
    if (bits & (uint64_t{1} << s)) return s;
  return 0;
}

// No callback was entered by the deadline: the process ends by the first of the signals, with the
// action it would have had without us.
void ptprof_give_up(uint64_t bits) {
  int sig = ptprof_lowest(bits);
  if (sig == 0) return;
  char line[240];
  int n = snprintf(line, sizeof(line),
                   "ptprof: process %d did not return to JavaScript in time after signal %d (a long native call or "
                   "system call?): it ends without its profile\n",
                   static_cast<int>(getpid()), sig);
  if (n > 0) {
    ssize_t w = write(2, line, static_cast<size_t>(n) < sizeof(line) ? static_cast<size_t>(n) : sizeof(line) - 1);
    (void)w;
  }
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    ctl->give_ups++;
    ptprof_release_locked(sig);
  }
  kill(getpid(), sig);
}

// callback(signo, fromInterrupt) -> handled, for each signal of `bits`. No exception of the
// callback's may escape into whatever JS runs below it (TypeScript catches its own).
bool ptprof_control_invoke(napi_env env, napi_value cb, uint64_t bits, bool from_interrupt) {
  napi_value undefined, flag;
  napi_get_undefined(env, &undefined);
  napi_get_boolean(env, from_interrupt, &flag);
  bool all = true;
  for (int s = 1; s <= kMaxSignal; s++) {
    if (!(bits & (uint64_t{1} << s))) continue;
    napi_value argv[2], result;
    napi_create_int32(env, s, &argv[0]);
    argv[1] = flag;
    bool handled = false;
    if (napi_call_function(env, undefined, cb, 2, argv, &result) == napi_ok) napi_get_value_bool(env, result, &handled);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
    }
    all = all && handled;
  }
  return all;
}

// On the JS thread, at an interrupt check inside JavaScript that has not returned to the event loop
// for graceMs. The callback runs here, on top of the interrupted frames. V8 documents that an
// interrupt callback must not re-enter the isolate; what the agent does here keeps to what that
// leaves safe: its callback touches only its own state, never the program's, writes, and ends the
// process by the signal without ever returning into the interrupted code; when it cannot (its own
// code is what was interrupted) it returns false at once, and the event loop delivers the request
// when it turns. Terminating execution instead (Isolate::TerminateExecution, the documented way
// to stop running JS) was measured to be fatal in Node: a callback run by Node's timers or
// immediates dies with its async context still pushed ("async hook stack has become corrupted",
// exit 1, on Node 20 and 26), and elsewhere the program's other callbacks run before the write.
void ptprof_control_interrupt(v8::Isolate* isolate, void* data) {
  uint64_t seq = reinterpret_cast<uintptr_t>(data);
  napi_env env;
  napi_ref ref;
  uint64_t bits;
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    // Entered meanwhile, paused (graceMs 0: the agent is writing), or not this registration's.
    if (ctl->entered >= seq || ctl->grace_ms == 0 || ctl->isolate != isolate || ctl->current_seq != seq) return;
    env = ctl->env;
    ref = ctl->callback;
    bits = ctl->current_bits;
    ctl->interrupts++;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb = nullptr;
  bool handled =
      napi_get_reference_value(env, ref, &cb) == napi_ok && cb != nullptr && ptprof_control_invoke(env, cb, bits, true);
  napi_close_handle_scope(env, scope);
  if (!handled) return;
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    if (ctl->entered < seq) ctl->entered = seq;
  }
  ctl->cv.notify_all();
}

struct PtprofRequest {
  uint64_t seq;
  uint64_t bits;
};

// On the JS thread, from its event loop (no JS frame below).
void ptprof_control_call(napi_env env, napi_value js_cb, void*, void* data) {
  PtprofRequest* req = static_cast<PtprofRequest*>(data);
  uint64_t seq = req->seq, bits = req->bits;
  delete req;
  if (env == nullptr || js_cb == nullptr) return;  // the function is being released
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    if (ctl->entered >= seq) return;  // handled at an interrupt already
    // Marked before the call: an interrupt that fires inside the callback leaves it alone.
    ctl->entered = seq;
  }
  ctl->cv.notify_all();
  ptprof_control_invoke(env, js_cb, bits, false);
}

void* ptprof_control_thread(void*) {
  ptprof_set_thread_name("ptprof-control");
  for (;;) {
    while (sem_wait(&ctl->wake) != 0 && errno == EINTR) {
    }
    uint64_t bits = ctl->pending.exchange(0, std::memory_order_acq_rel);
    if (bits == 0) continue;
    uint64_t seq;
    uint32_t grace, deadline;
    {
      std::lock_guard<std::mutex> lk(ctl->mu);
      if (ctl->tsfn == nullptr) continue;  // nobody to tell (the environment is gone)
      seq = ++ctl->requested;
      ctl->current_seq = seq;
      ctl->current_bits = bits;
      grace = ctl->grace_ms;
      deadline = ctl->deadline_ms;
      PtprofRequest* req = new PtprofRequest{seq, bits};
      if (napi_call_threadsafe_function(ctl->tsfn, req, napi_tsfn_nonblocking) != napi_ok) {
        delete req;
        continue;
      }
    }
    uint64_t t0 = ptprof_clock_ns(CLOCK_MONOTONIC);
    std::unique_lock<std::mutex> lk(ctl->mu);
    auto entered = [seq] { return ctl->entered >= seq; };
    if (grace > 0 && !ctl->cv.wait_until_ns(lk, t0 + uint64_t{grace} * 1000000u, entered)) {
      // V8's RequestInterrupt may be called from any thread without a Locker; the isolate is
      // alive while it is registered (the cleanup hook withdraws it under this lock).
      if (ctl->isolate != nullptr && ctl->grace_ms > 0)
        ctl->isolate->RequestInterrupt(ptprof_control_interrupt, reinterpret_cast<void*>(static_cast<uintptr_t>(seq)));
    }
    if (deadline > 0 && !ctl->cv.wait_until_ns(lk, t0 + uint64_t{deadline} * 1000000u, entered)) {
      bool still = ctl->deadline_ms > 0 && ctl->tsfn != nullptr;
      lk.unlock();
      if (still) ptprof_give_up(bits);
    }
  }
  return nullptr;
}

// The registered thread's environment is going away: no more calls, no more interrupts.
void ptprof_control_cleanup(void*) {
  napi_threadsafe_function f;
  napi_env env;
  napi_ref ref;
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    f = ctl->tsfn;
    env = ctl->env;
    ref = ctl->callback;
    ctl->tsfn = nullptr;
    ctl->isolate = nullptr;
    ctl->env = nullptr;
    ctl->callback = nullptr;
    ctl->entered = ctl->requested;
  }
  ctl->cv.notify_all();
  if (ref != nullptr) napi_delete_reference(env, ref);
  if (f != nullptr) napi_release_threadsafe_function(f, napi_tsfn_abort);
}

int ptprof_signal_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return 0;
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (v != static_cast<int>(v) || v < 1 || v > kMaxSignal || v == SIGKILL || v == SIGSTOP) return 0;
  return static_cast<int>(v);
}

// controlStart(callback): the calling JS thread (the main thread) receives the signals taken
// below as callback(signo, fromInterrupt), which returns whether it handled them. Once per
// process while its environment lives; starts the control thread once per process.
Napi::Value PtprofControlStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) return ptprof_throw_type(env, "controlStart: expected a callback");
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    if (ctl->tsfn != nullptr) return ptprof_throw_type(env, "controlStart: already started in this process");
  }
  napi_value name;
  napi_create_string_utf8(env, "ptprof-control", NAPI_AUTO_LENGTH, &name);
  napi_threadsafe_function f;
  if (napi_create_threadsafe_function(env, info[0], nullptr, name, 0, 1, nullptr, nullptr, nullptr, ptprof_control_call,
                                      &f) != napi_ok)
    return ptprof_throw_type(env, "controlStart: napi_create_threadsafe_function failed");
  napi_unref_threadsafe_function(env, f);  // it must not keep the program alive
  napi_ref ref;
  napi_create_reference(env, info[0], 1, &ref);
  int err = 0;
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    ctl->tsfn = f;
    ctl->env = env;
    ctl->callback = ref;
    ctl->isolate = ptprof_current_isolate();
    ctl->entered = ctl->requested;
    if (!ctl->thread_started) {
      // pthread_create, not std::thread: the addon has no exceptions (see drain.cc).
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_t t;
      err = pthread_create(&t, &attr, ptprof_control_thread, nullptr);
      pthread_attr_destroy(&attr);
      if (err == 0) ctl->thread_started = true;
    }
  }
  napi_add_env_cleanup_hook(env, ptprof_control_cleanup, nullptr);
  if (err != 0) {
    ptprof_control_cleanup(nullptr);
    napi_remove_env_cleanup_hook(env, ptprof_control_cleanup, nullptr);
    return ptprof_throw_errno(env, "controlStart: pthread_create", err);
  }
  return env.Undefined();
}

// controlTake(signo, isDefault) -> bool: our handler on signo, if the action there is free:
// SIG_DFL, the default recorded before, or (isDefault: TypeScript knows no one else has taken it,
// e.g. the program has no listener) what is there now, which is recorded as the default put back
// on release. An ignored signal stays ignored.
Napi::Value PtprofControlTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sig = ptprof_signal_arg(info);
  if (sig == 0) return ptprof_throw_type(env, "controlTake: expected a signal number (not SIGKILL or SIGSTOP)");
  bool is_default = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  int err = 0;
  bool ours = false;
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    struct sigaction cur;
    if (sigaction(sig, nullptr, &cur) != 0) {
      err = errno;
    } else if (ptprof_is_control(cur)) {
      ours = true;
    } else {
      bool known = ctl->has_default[sig] && ptprof_same_action(cur, ctl->defaults[sig]);
      if (is_default && !known && !ptprof_is_dfl(cur) && !ptprof_is_ign(cur)) {
        ctl->defaults[sig] = cur;
        ctl->has_default[sig] = true;
        known = true;
      }
      if (ptprof_is_dfl(cur) || known) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = ptprof_control_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        struct sigaction old;
        if (sigaction(sig, &sa, &old) != 0)
          err = errno;
        else if (!ptprof_same_action(old, cur))
          sigaction(sig, &old, nullptr);  // someone else's came first: it stays
        else
          ours = true;
      }
    }
    if (ours)
      ctl->taken.fetch_or(uint64_t{1} << sig, std::memory_order_acq_rel);
    else
      ctl->taken.fetch_and(~(uint64_t{1} << sig), std::memory_order_acq_rel);
  }
  if (err != 0) return ptprof_throw_errno(env, "sigaction(" + std::to_string(sig) + ")", err);
  return Napi::Boolean::New(env, ours);
}

// controlRelease(signo): the signal's default action back, when ours is there.
Napi::Value PtprofControlRelease(const Napi::CallbackInfo& info) {
  int sig = ptprof_signal_arg(info);
  if (sig == 0) return ptprof_throw_type(info.Env(), "controlRelease: expected a signal number");
  std::lock_guard<std::mutex> lk(ctl->mu);
  ptprof_release_locked(sig);
  return info.Env().Undefined();
}

// controlRaise(signo) -> false: the default action back, and the signal raised on the calling
// thread (Node's default handler restores the terminal and dies by it). It returns only when the
// process survived (the signal is blocked on this thread, or its default does not end the process).
Napi::Value PtprofControlRaise(const Napi::CallbackInfo& info) {
  int sig = ptprof_signal_arg(info);
  if (sig == 0) return ptprof_throw_type(info.Env(), "controlRaise: expected a signal number");
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    ptprof_release_locked(sig);
  }
  raise(sig);
  return Napi::Boolean::New(info.Env(), false);
}

// controlArm({ graceMs, deadlineMs }): how long a request waits for the event loop before it is
// delivered at an interrupt (0: never), and before the signal's default action is taken (0: never).
Napi::Value PtprofControlArm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    return ptprof_throw_type(env, "controlArm: expected { graceMs, deadlineMs }");
  Napi::Object o = info[0].As<Napi::Object>();
  auto ms = [](Napi::Value v) -> double { return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1; };
  double grace = ms(o.Get("graceMs")), deadline = ms(o.Get("deadlineMs"));
  auto ok = [](double v) { return v >= 0 && v <= 600000 && v == static_cast<uint32_t>(v); };
  if (!ok(grace) || !ok(deadline))
    return ptprof_throw_type(env, "controlArm: graceMs and deadlineMs must be integers in 0..600000");
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    ctl->grace_ms = static_cast<uint32_t>(grace);
    ctl->deadline_ms = static_cast<uint32_t>(deadline);
  }
  return env.Undefined();
}

// controlInfo() -> { taken: number[], requests, entered, interrupts, giveUps, graceMs, deadlineMs }
Napi::Value PtprofControlInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t taken = ctl->taken.load(std::memory_order_acquire);
  uint64_t requested, entered, interrupts, gives;
  uint32_t grace, deadline;
  {
    std::lock_guard<std::mutex> lk(ctl->mu);
    requested = ctl->requested;
    entered = ctl->entered;
    interrupts = ctl->interrupts;
    gives = ctl->give_ups;
    grace = ctl->grace_ms;
    deadline = ctl->deadline_ms;
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Array sigs = Napi::Array::New(env);
  uint32_t k = 0;
  for (int s = 1; s <= kMaxSignal; s++)
    if (taken & (uint64_t{1} << s)) sigs.Set(k++, Napi::Number::New(env, s));
  out.Set("taken", sigs);
  out.Set("requests", Napi::Number::New(env, static_cast<double>(requested)));
  out.Set("entered", Napi::Number::New(env, static_cast<double>(entered)));
  out.Set("interrupts", Napi::Number::New(env, static_cast<double>(interrupts)));
  out.Set("giveUps", Napi::Number::New(env, static_cast<double>(gives)));
  out.Set("graceMs", Napi::Number::New(env, grace));
  out.Set("deadlineMs", Napi::Number::New(env, deadline));
  return out;
}

}  // namespace

void ptprof_init_control(Napi::Env env, Napi::Object exports) {
  exports.Set("controlStart", Napi::Function::New(env, PtprofControlStart, "controlStart"));
  exports.Set("controlTake", Napi::Function::New(env, PtprofControlTake, "controlTake"));
  exports.Set("controlRelease", Napi::Function::New(env, PtprofControlRelease, "controlRelease"));
  exports.Set("controlRaise", Napi::Function::New(env, PtprofControlRaise, "controlRaise"));
  exports.Set("controlArm", Napi::Function::New(env, PtprofControlArm, "controlArm"));
  exports.Set("controlInfo", Napi::Function::New(env, PtprofControlInfo, "controlInfo"));
}
