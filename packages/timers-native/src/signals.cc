// signals.cc: which signals are ours, and when.
//
// The per-thread timers deliver a real-time signal (SIGRTMIN+6 unless configured, or the next free
// one), not SIGPROF. SIGPROF is shared: V8's CPU profiler (the inspector's Profiler.start,
// --cpu-prof) installs its own handler while it runs and, when it stops, puts back the handler it
// found, which is SIG_DFL when it started before us; Node's `process.on('SIGPROF')` installs
// libuv's handler and puts SIG_DFL back when the last listener goes. SIGPROF's default action
// kills the process, so a timer that kept signalling SIGPROF through either of those killed the
// program it profiled (exit 155: issue "never crash"). No one else touches a real-time signal we
// pick free.
//
// SIGPROF then serves setitimer alone (Go's process-wide fallback for threads that have no timer
// yet), and setitimer is armed only while SIGPROF's handler is ours. Ours is installed only over
// SIG_DFL or SIG_IGN, never over someone else's handler: the one below us could otherwise put
// SIG_DFL back over ours at any time. When another handler takes SIGPROF, setitimer goes off (and
// the count says so); when SIGPROF is free again, ours goes back and setitimer on. The guard runs
// on every collector pass (every collectIntervalMs while recording, from a native thread, so a
// JS thread busy in a loop does not delay it), on every sampler poll, and synchronously when the
// program adds a SIGPROF listener (the sampler watches process 'newListener'): the program then
// owns SIGPROF until its last listener goes (yieldSigprof).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>

#include "napi_util.h"
#include "ptprof.h"

static constexpr int kPtprofDefaultRtOffset = 6;
static bool sigprof_had = false;  // sig_mu: ours was installed on SIGPROF at some point

static bool ptprof_is_ours(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == ptprof_handler;
}

static bool ptprof_is_free(const struct sigaction& sa) {
  return !(sa.sa_flags & SA_SIGINFO) && (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN);
}

static const char* ptprof_describe(const struct sigaction& sa) {
  if (ptprof_is_ours(sa)) return "ptprof";
  if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL) return "default";
  if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN) return "ignore";
  return "other";
}

enum PtprofInstall { PTPROF_INSTALLED, PTPROF_ALREADY, PTPROF_TAKEN, PTPROF_ERROR };

// Installs ours on sig if its action is SIG_DFL, SIG_IGN or ours already. `found` receives the
// action that was there. A handler installed by someone else between our look and our install
// is put back at once (the `old` that sigaction returns is the truth): nothing is dropped.
static PtprofInstall ptprof_install_on(int sig, struct sigaction* found, int* err) {
  if (sigaction(sig, nullptr, found) != 0) {
    *err = errno;
    return PTPROF_ERROR;
  }
  if (ptprof_is_ours(*found)) return PTPROF_ALREADY;
  if (!ptprof_is_free(*found)) return PTPROF_TAKEN;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = ptprof_handler;
  // SA_ONSTACK: a thread that runs on an alternate signal stack (a stack-overflow handler's)
  // keeps doing so; SA_RESTART: interrupted system calls resume (the stress tests check both).
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  struct sigaction old;
  if (sigaction(sig, &sa, &old) != 0) {
    *err = errno;
    return PTPROF_ERROR;
  }
  if (!ptprof_is_free(old) && !ptprof_is_ours(old)) {
    sigaction(sig, &old, nullptr);
    *found = old;
    return PTPROF_TAKEN;
  }
  return PTPROF_INSTALLED;
}

// The real-time signal of the timers: the configured one, or the first free one from SIGRTMIN+6
// (a second copy of the addon in the process then takes the next). sig_mu held.
static int ptprof_timer_signal_locked(int* err, std::string* why) {
  int have = g->timer_signo.load(std::memory_order_acquire);
  if (have != 0) return have;
  int lo = SIGRTMIN, hi = SIGRTMAX;
  int wanted = g->timer_signo_wanted;
  int first = wanted ? lo + wanted : lo + kPtprofDefaultRtOffset;
  int last = wanted ? first : hi;
  for (int s = first; s <= last && s <= hi; s++) {
    struct sigaction found;
    PtprofInstall r = ptprof_install_on(s, &found, err);
    if (r == PTPROF_ERROR) {
      *why = "sigaction(SIGRTMIN+" + std::to_string(s - lo) + ")";
      return 0;
    }
    if (r == PTPROF_TAKEN) continue;
    g->timer_signo.store(s, std::memory_order_release);
    return s;
  }
  *err = EBUSY;
  *why = wanted ? "sigaction(SIGRTMIN+" + std::to_string(wanted) + "): another handler owns it; choose another signal"
                : "sigaction(SIGRTMIN+6..SIGRTMAX): no free real-time signal";
  return 0;
}

static void ptprof_itimer_set(uint64_t period_ns) {
  struct itimerval it;
  uint64_t us = period_ns / 1000;
  if (period_ns > 0 && us == 0) us = 1;
  it.it_interval.tv_sec = static_cast<time_t>(us / 1000000);
  it.it_interval.tv_usec = static_cast<suseconds_t>(us % 1000000);
  it.it_value = it.it_interval;
  setitimer(ITIMER_PROF, &it, nullptr);
}

// sig_mu held. SIGPROF: ours again if it is free and the program does not own it; setitimer on at
// the asked period exactly while SIGPROF is ours.
static void ptprof_sigprof_guard_locked() {
  bool yielded = g->sigprof_yielded.load(std::memory_order_acquire);
  struct sigaction cur;
  bool ours = false;
  if (sigaction(SIGPROF, nullptr, &cur) == 0) {
    ours = ptprof_is_ours(cur);
    if (!ours && !yielded && ptprof_is_free(cur)) {
      int err = 0;
      struct sigaction found;
      PtprofInstall r = ptprof_install_on(SIGPROF, &found, &err);
      ours = r == PTPROF_INSTALLED || r == PTPROF_ALREADY;
      if (r == PTPROF_INSTALLED && sigprof_had) g->sigprof_reinstalls.fetch_add(1, std::memory_order_relaxed);
    }
    if (ours) sigprof_had = true;
  }
  uint64_t period = g->itimer_period_ns.load(std::memory_order_acquire);
  bool want = period > 0 && ours && !yielded;
  bool armed = g->itimer_armed.load(std::memory_order_relaxed);
  if (want && !armed) {
    ptprof_itimer_set(period);
    g->itimer_armed.store(true, std::memory_order_release);
  } else if (!want && armed) {
    ptprof_itimer_set(0);
    g->itimer_armed.store(false, std::memory_order_release);
    if (period > 0) g->itimer_suspensions.fetch_add(1, std::memory_order_relaxed);
  }
}

void ptprof_sigprof_guard() {
  std::lock_guard<std::mutex> lk(g->sig_mu);
  ptprof_sigprof_guard_locked();
}

// installHandler() -> what owned SIGPROF before: 'ptprof' (already ours) | 'default' | 'ignore' |
// 'other' (someone else's handler: left alone, and setitimer stays off while it is there).
// Also takes the timers' real-time signal, once.
static Napi::Value PtprofInstallHandler(const Napi::CallbackInfo& info) {
  PtprofFailure fail;
  const char* was = nullptr;
  {
    std::lock_guard<std::mutex> lk(g->sig_mu);
    int err = 0;
    std::string why;
    if (ptprof_timer_signal_locked(&err, &why) == 0) {
      fail.set(err, why);
    } else {
      struct sigaction found;
      PtprofInstall r = ptprof_install_on(SIGPROF, &found, &err);
      if (r == PTPROF_ERROR) fail.set(err, "sigaction(SIGPROF)");
      was = r == PTPROF_ALREADY ? "ptprof" : ptprof_describe(found);
      ptprof_sigprof_guard_locked();
    }
  }
  if (fail) return ptprof_throw_errno(info.Env(), fail.call, fail.err);
  return Napi::String::New(info.Env(), was);
}

// currentHandler() -> who owns SIGPROF now: 'ptprof' | 'default' | 'ignore' | 'other'.
static Napi::Value PtprofCurrentHandler(const Napi::CallbackInfo& info) {
  struct sigaction cur;
  if (sigaction(SIGPROF, nullptr, &cur) != 0) return ptprof_throw_errno(info.Env(), "sigaction(SIGPROF)", errno);
  return Napi::String::New(info.Env(), ptprof_describe(cur));
}

// guardSigprof(): runs the guard now (the sampler's poll).
static Napi::Value PtprofGuardSigprof(const Napi::CallbackInfo& info) {
  ptprof_sigprof_guard();
  return info.Env().Undefined();
}

// yieldSigprof(yielded): the program takes SIGPROF (true: setitimer off now, and ours is not put
// back) or has let it go (false).
static Napi::Value PtprofYieldSigprof(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean())
    return ptprof_throw_type(info.Env(), "yieldSigprof: expected a boolean");
  {
    std::lock_guard<std::mutex> lk(g->sig_mu);
    g->sigprof_yielded.store(info[0].As<Napi::Boolean>().Value(), std::memory_order_release);
    ptprof_sigprof_guard_locked();
  }
  return info.Env().Undefined();
}

// setitimer(periodNs): ITIMER_PROF for the whole process at this period (0: off), first expiry =
// period, while SIGPROF is ours (see above). The kernel checks it once per tick and sends one
// SIGPROF (SI_KERNEL) per check at most.
static Napi::Value PtprofSetitimer(const Napi::CallbackInfo& info) {
  double period;
  if (!ptprof_arg_uint(info, 0, "setitimer", "periodNs", &period)) return info.Env().Undefined();
  {
    std::lock_guard<std::mutex> lk(g->sig_mu);
    uint64_t p = static_cast<uint64_t>(period);
    bool changed = g->itimer_period_ns.exchange(p) != p;
    if (changed && g->itimer_armed.load()) {
      // Re-armed at the new period below.
      ptprof_itimer_set(0);
      g->itimer_armed.store(false);
    }
    ptprof_sigprof_guard_locked();
  }
  return info.Env().Undefined();
}

// getitimer() -> { valueNs, intervalNs }: the kernel's ITIMER_PROF as it is now.
static Napi::Value PtprofGetitimer(const Napi::CallbackInfo& info) {
  struct itimerval it;
  if (getitimer(ITIMER_PROF, &it) != 0) return ptprof_throw_errno(info.Env(), "getitimer(ITIMER_PROF)", errno);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("valueNs", Napi::Number::New(info.Env(), (it.it_value.tv_sec * 1e6 + it.it_value.tv_usec) * 1000.0));
  out.Set("intervalNs", Napi::Number::New(info.Env(), (it.it_interval.tv_sec * 1e6 + it.it_interval.tv_usec) * 1000.0));
  return out;
}

// signalInfo() -> { timerSignal, timerSignalName, sigprof, itimerArmed, itimerPeriodNs,
//                   itimerSuspensions, sigprofReinstalls, sigprofYielded }
static Napi::Value PtprofSignalInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct sigaction cur;
  const char* owner = sigaction(SIGPROF, nullptr, &cur) == 0 ? ptprof_describe(cur) : "unknown";
  int signo = g->timer_signo.load();
  Napi::Object out = Napi::Object::New(env);
  out.Set("timerSignal", Napi::Number::New(env, signo));
  out.Set("timerSignalName", Napi::String::New(env, signo ? "SIGRTMIN+" + std::to_string(signo - SIGRTMIN) : ""));
  out.Set("sigprof", Napi::String::New(env, owner));
  out.Set("itimerArmed", Napi::Boolean::New(env, g->itimer_armed.load()));
  out.Set("itimerPeriodNs", Napi::Number::New(env, static_cast<double>(g->itimer_period_ns.load())));
  out.Set("itimerSuspensions", Napi::Number::New(env, static_cast<double>(g->itimer_suspensions.load())));
  out.Set("sigprofReinstalls", Napi::Number::New(env, static_cast<double>(g->sigprof_reinstalls.load())));
  out.Set("sigprofYielded", Napi::Boolean::New(env, g->sigprof_yielded.load()));
  return out;
}

// The timers' signal, installing the handler for it on first use (timerCreate). 0 and *err, *why
// when there is none.
int ptprof_timer_signal(int* err, std::string* why) {
  std::lock_guard<std::mutex> lk(g->sig_mu);
  return ptprof_timer_signal_locked(err, why);
}

// Called by configure({ timerSignal }) (binding.cc): SIGRTMIN + offset, before the handler is in.
bool ptprof_set_timer_signal(int offset, std::string* why) {
  std::lock_guard<std::mutex> lk(g->sig_mu);
  int have = g->timer_signo.load();
  if (offset < 1 || SIGRTMIN + offset > SIGRTMAX) {
    *why = "configure: timerSignal must be an integer in 1.." + std::to_string(SIGRTMAX - SIGRTMIN) +
           " (the timers signal SIGRTMIN + timerSignal)";
    return false;
  }
  if (have != 0 && have != SIGRTMIN + offset) {
    *why = "configure: timerSignal cannot change once the handler is installed (it is SIGRTMIN+" +
           std::to_string(have - SIGRTMIN) + ")";
    return false;
  }
  g->timer_signo_wanted = offset;
  return true;
}

void ptprof_init_signals(Napi::Env env, Napi::Object exports) {
  exports.Set("installHandler", Napi::Function::New(env, PtprofInstallHandler, "installHandler"));
  exports.Set("currentHandler", Napi::Function::New(env, PtprofCurrentHandler, "currentHandler"));
  exports.Set("guardSigprof", Napi::Function::New(env, PtprofGuardSigprof, "guardSigprof"));
  exports.Set("yieldSigprof", Napi::Function::New(env, PtprofYieldSigprof, "yieldSigprof"));
  exports.Set("setitimer", Napi::Function::New(env, PtprofSetitimer, "setitimer"));
  exports.Set("getitimer", Napi::Function::New(env, PtprofGetitimer, "getitimer"));
  exports.Set("signalInfo", Napi::Function::New(env, PtprofSignalInfo, "signalInfo"));
}
