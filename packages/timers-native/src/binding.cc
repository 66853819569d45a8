// ptprof timers-native: the kernel's CPU timers and a signal recorder for Node.js.
//
// This layer provides mechanisms and records facts; it decides nothing that JavaScript can decide.
// Which threads get timers, at what rate, with what first expiry, which signals count and how they
// are weighed is all in @ptprof/sampler and @ptprof/sigprof-filter. What must be decided here is
// only what has to be decided inside the signal handler or while JavaScript cannot run: which ring
// a record goes to, whether the receiving thread may be stack-walked, and whether SIGPROF is ours
// to use (signals.cc). ptprof.h maps the files; this one is the module's entry: the exports,
// clocks and configuration.
#if !defined(__linux__)
#error "ptprof timers-native supports Linux only (per-thread CPU-clock timers are a Linux feature)"
#endif

#include <cxxabi.h>
#include <stdlib.h>

#include "compat.h"
#include "inline.h"
#include "napi_util.h"
#include "ptprof.h"

PtprofState* const g = new PtprofState();

void ptprof_init_signals(Napi::Env env, Napi::Object exports);
void ptprof_init_registry(Napi::Env env, Napi::Object exports);
void ptprof_init_timers(Napi::Env env, Napi::Object exports);
void ptprof_init_drain(Napi::Env env, Napi::Object exports);
void ptprof_init_control(Napi::Env env, Napi::Object exports);
void ptprof_init_elf(Napi::Env env, Napi::Object exports);

// ---------------------------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------------------------

static Napi::Value ptprof_clock_value(Napi::Env env, clockid_t clk, const std::string& what) {
  struct timespec ts;
  if (clock_gettime(clk, &ts) != 0) return ptprof_throw_errno(env, "clock_gettime(" + what + ")", errno);
  return Napi::Number::New(env, static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec));
}

// gettid() -> the calling thread's kernel tid
static Napi::Value PtprofGettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ptprof_gettid());
}

// threadCpuNs([tid]) -> CPU time of a thread of this process (the caller by default), in ns.
static Napi::Value PtprofThreadCpuNs(const Napi::CallbackInfo& info) {
  if (info.Length() == 0 || info[0].IsUndefined())
    return ptprof_clock_value(info.Env(), CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID");
  double tid;
  if (!ptprof_arg_uint(info, 0, "threadCpuNs", "tid", &tid)) return info.Env().Undefined();
  return ptprof_clock_value(info.Env(), ptprof_thread_clock(static_cast<pid_t>(tid)),
                            "tid=" + std::to_string(static_cast<long>(tid)));
}

// processCpuNs() -> CPU time of the whole process, in ns.
static Napi::Value PtprofProcessCpuNs(const Napi::CallbackInfo& info) {
  return ptprof_clock_value(info.Env(), CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID");
}

// monotonicNs() -> CLOCK_MONOTONIC in ns, the clock of the records' timeNs.
static Napi::Value PtprofMonotonicNs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ptprof_clock_ns(CLOCK_MONOTONIC)));
}

// ---------------------------------------------------------------------------------------------
// Recording and configuration
// ---------------------------------------------------------------------------------------------

// setEnabled(on) -> { collector: bool, collectorError: string }: whether timer signals are
// recorded (off, they are counted and dropped). The first start also starts the collector thread;
// if it cannot be created the answer says why and recording goes on without it.
static Napi::Value PtprofSetEnabled(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) return ptprof_throw_type(info.Env(), "setEnabled: expected a boolean");
  bool on = info[0].As<Napi::Boolean>().Value();
  int err = 0;
  bool started;
  {
    std::lock_guard<std::mutex> lk(g->collect_mu);
    g->enabled.store(on, std::memory_order_release);
    if (!on) g->seq_at_disable.store(g->code_seq.load(std::memory_order_acquire), std::memory_order_release);
    if (on) ptprof_collector_ensure(&err);
    started = g->collector_started;
  }
  g->collect_cv.notify_all();
  // Isolates whose code events were dropped while nothing recorded enumerate their code again.
  if (on) ptprof_code_resync_all();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("collector", Napi::Boolean::New(info.Env(), started));
  out.Set("collectorError", Napi::String::New(info.Env(), err ? strerror(err) : ""));
  return out;
}

// configure({ framesLimit, ringBytes, collectIntervalMs, backlogBytes, timerSignal, keepTable }):
// keepTable is the reader's filter as 8 bits (ptprof.h, keep_table); frames kept
// per JS stack (1..512); ring size for slots claimed from now on (a power of two, 4 KiB..64 MiB);
// how often the collector thread empties the rings into their backlogs (0..1000 ms, default 20;
// 0: only drain() does); the cap of each thread's backlog (64 KiB..1 GiB, default 16 MiB); the
// timers' signal as SIGRTMIN + timerSignal (before the handler is installed; default 6).
static Napi::Value PtprofConfigure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ptprof_throw_type(env, "configure: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto number = [](Napi::Value v) { return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1; };
  Napi::Value fl = o.Get("framesLimit");
  if (!fl.IsUndefined()) {
    double v = number(fl);
    if (!(v >= 1 && v <= kPtprofFramesCap) || v != static_cast<int>(v))
      return ptprof_throw_type(env,
                               "configure: framesLimit must be an integer in 1.." + std::to_string(kPtprofFramesCap));
    g->frames_limit.store(static_cast<uint32_t>(v));
  }
  Napi::Value ci = o.Get("collectIntervalMs");
  if (!ci.IsUndefined()) {
    double v = number(ci);
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
    double v = number(rb);
    uint64_t n = static_cast<uint64_t>(v);
    if (!(v >= 4096 && v <= 64.0 * 1024 * 1024) || static_cast<double>(n) != v || (n & (n - 1)) != 0)
      return ptprof_throw_type(env, "configure: ringBytes must be a power of two in 4096..67108864");
    std::lock_guard<std::mutex> lock(g->registry_mu);
    g->ring_bytes = n;
  }
  Napi::Value bb = o.Get("backlogBytes");
  if (!bb.IsUndefined()) {
    double v = number(bb);
    if (!(v >= 65536 && v <= 1073741824.0) || v != static_cast<double>(static_cast<uint64_t>(v)))
      return ptprof_throw_type(env, "configure: backlogBytes must be an integer in 65536..1073741824");
    std::lock_guard<std::mutex> dl(g->drain_mu);
    g->backlog_bytes_cap = static_cast<uint64_t>(v);
  }
  Napi::Value kt = o.Get("keepTable");
  if (!kt.IsUndefined()) {
    double v = number(kt);
    if (!(v >= 0 && v <= 255) || v != static_cast<int>(v))
      return ptprof_throw_type(
          env,
          "configure: keepTable must be an integer in 0..255 (bit (SI_TIMER << 2 | known << 1 | timerValid) = keep)");
    g->keep_table.store(static_cast<uint32_t>(v), std::memory_order_relaxed);
  }
  Napi::Value ts = o.Get("timerSignal");
  if (!ts.IsUndefined()) {
    double v = number(ts);
    std::string why;
    if (v != static_cast<int>(v) || !ptprof_set_timer_signal(static_cast<int>(v), &why)) {
      if (why.empty()) why = "configure: timerSignal must be an integer";
      return ptprof_throw_type(env, why);
    }
  }
  return env.Undefined();
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

// inlineStatus() -> { enabled, reason }: whether optimized code's inlined functions are read
// (inline.cc), and why not.
static Napi::Value PtprofInlineStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why = ptprof_inline_disabled_reason();
  Napi::Object out = Napi::Object::New(env);
  out.Set("enabled", Napi::Boolean::New(env, why.empty()));
  out.Set("reason", Napi::String::New(env, why));
  return out;
}

// layout: the column names of drain()'s arrays and the record flags (layout.h), for
// src/index.ts to check against its own.
static Napi::Object ptprof_layout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  auto list = [&](std::initializer_list<const char*> names) {
    Napi::Array a = Napi::Array::New(env, names.size());
    uint32_t i = 0;
    for (const char* n : names) a.Set(i++, Napi::String::New(env, n));
    return a;
  };
#define PTPROF_NAME(name) #name,
  layout.Set("recordInts", list({PTPROF_RECORD_INTS(PTPROF_NAME)}));
  layout.Set("recordNums", list({PTPROF_RECORD_NUMS(PTPROF_NAME)}));
  layout.Set("eventNums", list({PTPROF_EVENT_NUMS(PTPROF_NAME)}));
  layout.Set("inlineHeader", list({PTPROF_INLINE_HEADER(PTPROF_NAME)}));
  layout.Set("inlineEntry", list({PTPROF_INLINE_ENTRY(PTPROF_NAME)}));
  layout.Set("inlineSite", list({PTPROF_INLINE_SITE(PTPROF_NAME)}));
  layout.Set("inlineFunction", list({PTPROF_INLINE_FUNCTION(PTPROF_NAME)}));
#undef PTPROF_NAME
  Napi::Object flags = Napi::Object::New(env);
#define PTPROF_FLAG(name, bit) flags.Set(#name, Napi::Number::New(env, bit));
  PTPROF_RECORD_FLAGS(PTPROF_FLAG)
#undef PTPROF_FLAG
  layout.Set("flags", flags);
  Napi::Object types = Napi::Object::New(env);
  types.Set("reset", Napi::Number::New(env, kPtprofEventReset));
  types.Set("retire", Napi::Number::New(env, kPtprofEventRetire));
  types.Set("drop", Napi::Number::New(env, kPtprofEventDrop));
  types.Set("listing", Napi::Number::New(env, kPtprofEventListing));
  types.Set("listed", Napi::Number::New(env, kPtprofEventListed));
  layout.Set("eventTypes", types);
  return layout;
}

// ---------------------------------------------------------------------------------------------
// Module init (context-aware: loaded once per thread, state shared by the process)
// ---------------------------------------------------------------------------------------------

static Napi::Object PtprofInit(Napi::Env env, Napi::Object exports) {
  ptprof_init_signals(env, exports);
  ptprof_init_registry(env, exports);
  ptprof_init_timers(env, exports);
  ptprof_init_drain(env, exports);
  ptprof_init_control(env, exports);
  ptprof_init_elf(env, exports);
  exports.Set("gettid", Napi::Function::New(env, PtprofGettid, "gettid"));
  exports.Set("threadCpuNs", Napi::Function::New(env, PtprofThreadCpuNs, "threadCpuNs"));
  exports.Set("processCpuNs", Napi::Function::New(env, PtprofProcessCpuNs, "processCpuNs"));
  exports.Set("monotonicNs", Napi::Function::New(env, PtprofMonotonicNs, "monotonicNs"));
  exports.Set("setEnabled", Napi::Function::New(env, PtprofSetEnabled, "setEnabled"));
  exports.Set("configure", Napi::Function::New(env, PtprofConfigure, "configure"));
  exports.Set("setSamplingPeriod", Napi::Function::New(env, PtprofSetSamplingPeriod, "setSamplingPeriod"));
  exports.Set("samplingPeriod", Napi::Function::New(env, PtprofSamplingPeriod, "samplingPeriod"));
  exports.Set("demangle", Napi::Function::New(env, PtprofDemangle, "demangle"));
  exports.Set("inlineStatus", Napi::Function::New(env, PtprofInlineStatus, "inlineStatus"));
  exports.Set("layout", ptprof_layout(env));
  return exports;
}

NODE_API_MODULE(ptprof_timers, PtprofInit)
