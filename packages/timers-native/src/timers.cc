// timers.cc: POSIX timers on threads' CPU clocks (Go issue 35057: the signal goes to the thread
// that burned the CPU).
//
// The calls are raw system calls: glibc moved timer_create & co. from librt into libc in 2.34
// with new symbol versions, so calling them would make the addon need glibc 2.34 while Node 20's
// own binaries run on 2.28. The kernel's interface is older than both.
//
// Each timer delivers the addon's real-time signal (signals.cc) to its thread (SIGEV_THREAD_ID).
// The table of timers is under registry_mu; no JS value is made while it is held.
#include <errno.h>
#include <string.h>

#include "napi_util.h"
#include "ptprof.h"

static inline int ptprof_sys_timer_create(clockid_t clock, struct sigevent* sev, int* kid) {
  return static_cast<int>(syscall(SYS_timer_create, clock, sev, kid));
}
static inline int ptprof_sys_timer_settime(int kid, const struct itimerspec* its) {
  return static_cast<int>(syscall(SYS_timer_settime, kid, 0, its, nullptr));
}
static inline int ptprof_sys_timer_delete(int kid) { return static_cast<int>(syscall(SYS_timer_delete, kid)); }
static inline int ptprof_sys_timer_getoverrun(int kid) { return static_cast<int>(syscall(SYS_timer_getoverrun, kid)); }

static double ptprof_timer_id(int index) {
  return static_cast<double>(g->timers[index].gen) * kPtprofMaxTimers + index;
}

void ptprof_delete_timers_of_locked(pid_t tid) {
  for (int i = 0; i < kPtprofMaxTimers; i++) {
    if (g->timers[i].used && g->timers[i].tid == tid) {
      ptprof_sys_timer_delete(g->timers[i].kid);
      g->timers[i].used = false;
    }
  }
}

// timerCreate(tid[, exclusive[, tag]]) -> id: a disarmed POSIX timer on thread tid's CPU clock that
// signals tid (SIGEV_THREAD_ID) with the timers' real-time signal; tag (an integer) is its
// sigev_value, which every record of its signals carries as timerTag. With exclusive, returns -1
// instead when this addon already holds a timer for tid: two threads (the thread itself and the
// sampler's) may race to arm it, and two timers on one thread would count its CPU twice.
static Napi::Value PtprofTimerCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double tidd;
  if (!ptprof_arg_uint(info, 0, "timerCreate", "tid", &tidd)) return env.Undefined();
  pid_t tid = static_cast<pid_t>(tidd);
  bool exclusive = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  double tag = 0;
  if (info.Length() > 2 && !info[2].IsUndefined() && !ptprof_arg_uint(info, 2, "timerCreate", "tag", &tag))
    return env.Undefined();
  int err = 0;
  std::string why;
  int signo = ptprof_timer_signal(&err, &why);
  if (signo == 0) return ptprof_throw_errno(env, why, err);
  PtprofFailure fail;
  double id = -1;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    bool have = false;
    if (exclusive)
      for (int i = 0; i < kPtprofMaxTimers && !have; i++) have = g->timers[i].used && g->timers[i].tid == tid;
    if (!have) {
      int slot = -1;
      for (int i = 0; i < kPtprofMaxTimers; i++)
        if (!g->timers[i].used) {
          slot = i;
          break;
        }
      if (slot < 0) {
        fail.set(EAGAIN, "timer_create(tid=" + std::to_string(tid) + "): table full");
      } else {
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = signo;
        sev.sigev_value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(tag));
#ifdef sigev_notify_thread_id
        sev.sigev_notify_thread_id = tid;
#else
        sev._sigev_un._tid = tid;
#endif
        int kid = 0;
        if (ptprof_sys_timer_create(ptprof_thread_clock(tid), &sev, &kid) != 0) {
          fail.set(errno, "timer_create(tid=" + std::to_string(tid) + ")");
        } else {
          g->timers[slot].kid = kid;
          g->timers[slot].tid = tid;
          g->timers[slot].used = true;
          g->timers[slot].gen++;
          id = ptprof_timer_id(slot);
        }
      }
    }
  }
  if (fail) return ptprof_throw_errno(env, fail.call, fail.err);
  return Napi::Number::New(env, id);
}

// The timer named by argument 0, or nullptr and *fail set (registry_mu held).
static PtprofTimer* ptprof_timer_locked(double id, const char* fn, PtprofFailure* fail) {
  uint64_t full = static_cast<uint64_t>(id);
  PtprofTimer* t = &g->timers[full % kPtprofMaxTimers];
  if (!t->used || t->gen != full / kPtprofMaxTimers) {
    fail->set(EINVAL, std::string(fn) + "(id=" + std::to_string(full) + "): no such timer");
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
  double id, first, period;
  if (!ptprof_arg_uint(info, 0, "timer_settime", "timer id", &id)) return env.Undefined();
  if (!ptprof_arg_uint(info, 1, "timerSettime", "firstNs", &first)) return env.Undefined();
  if (!ptprof_arg_uint(info, 2, "timerSettime", "periodNs", &period)) return env.Undefined();
  PtprofFailure fail;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    PtprofTimer* t = ptprof_timer_locked(id, "timer_settime", &fail);
    if (t) {
      struct itimerspec its;
      its.it_value = ptprof_ts(first);
      its.it_interval = ptprof_ts(period);
      if (ptprof_sys_timer_settime(t->kid, &its) != 0)
        fail.set(errno, "timer_settime(tid=" + std::to_string(t->tid) +
                            ", first=" + std::to_string(static_cast<uint64_t>(first)) +
                            "ns, period=" + std::to_string(static_cast<uint64_t>(period)) + "ns)");
    }
  }
  if (fail) return ptprof_throw_errno(env, fail.call, fail.err);
  return env.Undefined();
}

// timerDelete(id)
static Napi::Value PtprofTimerDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double id;
  if (!ptprof_arg_uint(info, 0, "timer_delete", "timer id", &id)) return env.Undefined();
  PtprofFailure fail;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    PtprofTimer* t = ptprof_timer_locked(id, "timer_delete", &fail);
    if (t) {
      t->used = false;
      if (ptprof_sys_timer_delete(t->kid) != 0) fail.set(errno, "timer_delete(tid=" + std::to_string(t->tid) + ")");
    }
  }
  if (fail) return ptprof_throw_errno(env, fail.call, fail.err);
  return env.Undefined();
}

// timerGetoverrun(id) -> number
static Napi::Value PtprofTimerGetoverrun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double id;
  if (!ptprof_arg_uint(info, 0, "timer_getoverrun", "timer id", &id)) return env.Undefined();
  PtprofFailure fail;
  int n = 0;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    PtprofTimer* t = ptprof_timer_locked(id, "timer_getoverrun", &fail);
    if (t) {
      n = ptprof_sys_timer_getoverrun(t->kid);
      if (n < 0) fail.set(errno, "timer_getoverrun(tid=" + std::to_string(t->tid) + ")");
    }
  }
  if (fail) return ptprof_throw_errno(env, fail.call, fail.err);
  return Napi::Number::New(env, n);
}

// timerCount() -> POSIX timers this addon holds (the process's count is in /proc/self/timers).
static Napi::Value PtprofTimerCount(const Napi::CallbackInfo& info) {
  int n = 0;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    for (int i = 0; i < kPtprofMaxTimers; i++) n += g->timers[i].used ? 1 : 0;
  }
  return Napi::Number::New(info.Env(), n);
}

static inline int ptprof_sys_timer_gettime(int kid, struct itimerspec* its) {
  return static_cast<int>(syscall(SYS_timer_gettime, kid, its));
}

static double ptprof_ts_ns(const struct timespec& ts) {
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// timers() -> [{ id, tid, valueNs, intervalNs }] for every timer this process's addon holds (any
// thread created it), with timer_gettime's answer. A CPU-clock timer whose thread has exited
// reads 0/0 (the kernel detaches it from the dead task: posix_cpu_timer_get finds no task), armed
// or not: with the thread's tid alone, a new thread that got the same tid would look like it.
static Napi::Value PtprofTimers(const Napi::CallbackInfo& info) {
  struct Row {
    double id;
    int32_t tid;
    double value_ns;
    double interval_ns;
  };
  std::vector<Row> rows;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    for (int i = 0; i < kPtprofMaxTimers; i++) {
      if (!g->timers[i].used) continue;
      struct itimerspec its;
      memset(&its, 0, sizeof(its));
      ptprof_sys_timer_gettime(g->timers[i].kid, &its);
      rows.push_back({ptprof_timer_id(i), g->timers[i].tid, ptprof_ts_ns(its.it_value), ptprof_ts_ns(its.it_interval)});
    }
  }
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t k = 0; k < rows.size(); k++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, rows[k].id));
    o.Set("tid", Napi::Number::New(env, rows[k].tid));
    o.Set("valueNs", Napi::Number::New(env, rows[k].value_ns));
    o.Set("intervalNs", Napi::Number::New(env, rows[k].interval_ns));
    out.Set(static_cast<uint32_t>(k), o);
  }
  return out;
}

void ptprof_init_timers(Napi::Env env, Napi::Object exports) {
  exports.Set("timerCreate", Napi::Function::New(env, PtprofTimerCreate, "timerCreate"));
  exports.Set("timerSettime", Napi::Function::New(env, PtprofTimerSettime, "timerSettime"));
  exports.Set("timerDelete", Napi::Function::New(env, PtprofTimerDelete, "timerDelete"));
  exports.Set("timerGetoverrun", Napi::Function::New(env, PtprofTimerGetoverrun, "timerGetoverrun"));
  exports.Set("timerCount", Napi::Function::New(env, PtprofTimerCount, "timerCount"));
  exports.Set("timers", Napi::Function::New(env, PtprofTimers, "timers"));
}
