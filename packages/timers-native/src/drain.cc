// drain.cc: emptying the rings.
//
// A native collector thread ("ptprof-collect") moves what the rings hold into per-thread backlogs
// every collectIntervalMs while recording: a thread whose records nobody reads (the main thread
// busy in synchronous code, where the sampler's drain timer cannot run) would otherwise fill its
// ring and drop. The backlogs are capped (backlogBytes per thread, default 16 MiB; the shared one
// at 64k records): a JS thread blocked for an hour must not grow the process by a gigabyte
// (~280 KB/s per busy thread at 1000 Hz with deep stacks). What does not fit is dropped and
// counted, like a full ring. The collector also runs the SIGPROF guard (signals.cc) on every pass.
//
// drain() (the sampler, on a JS thread) takes the backlogs, the rings and the code events, and
// hands them to JavaScript as the columns of layout.h. One copy per drain and no object per
// record or frame.
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "inline.h"
#include "napi_util.h"
#include "ptprof.h"

static constexpr size_t kPtprofSharedBacklogCap = 65536;

// Moves what slot s's ring holds into its backlog (drain_mu held). Records beyond the backlog's
// cap are dropped (and counted) whole.
static void ptprof_collect_slot(PtprofSlot* s) {
  size_t before = s->backlog.size();
  if (s->ring.take_all(&s->backlog) == 0) return;
  if (s->backlog.size() <= g->backlog_bytes_cap) return;
  // Keep whole records up to the cap; count the rest.
  size_t keep = before;
  size_t at = before;
  bool full = false;
  while (at + sizeof(PtprofRecord) <= s->backlog.size()) {
    PtprofRecord r;
    memcpy(&r, s->backlog.data() + at, sizeof(r));
    if (!full && at + r.bytes <= g->backlog_bytes_cap) {
      keep = at + r.bytes;
    } else {
      full = true;
      s->backlog_drops++;
    }
    at += r.bytes;
  }
  s->backlog.resize(keep);
}

static void ptprof_collect_shared() {
  PtprofRecord r;
  while (g->shared.pop(&r)) {
    if (g->shared_backlog.size() < kPtprofSharedBacklogCap)
      g->shared_backlog.push_back(r);
    else
      g->shared_backlog_drops++;
  }
  g->shared_backlog_size.store(g->shared_backlog.size(), std::memory_order_relaxed);
}

static void ptprof_collect_all() {
  int32_t high = g->slot_high.load(std::memory_order_acquire);
  for (int32_t i = 0; i < high; i++)
    if (g->slots[i].state.load(std::memory_order_acquire) != PTPROF_SLOT_FREE) ptprof_collect_slot(&g->slots[i]);
  ptprof_collect_shared();
}

// How long the collector sleeps at most while the process is idle (below).
static constexpr uint32_t kPtprofIdleCollectMs = 320;

// The collector: empties the rings every collect_interval_ms while recording is on, runs the
// SIGPROF guard, and sleeps otherwise. It decides nothing about samples.
//
// An idle process is not woken 50 times a second (issue 14: an idle server went from 0 to 64
// wake-ups a second under ptprof). Every signal ptprof takes comes from a CPU clock (the threads'
// timers, setitimer's ITIMER_PROF): a pass that finds no new signal since the last one means no
// thread burned a period of CPU, so the rings hold nothing and the next pass waits twice as long,
// up to kPtprofIdleCollectMs. The first signal ends that: the pass after it is back to
// collect_interval_ms. What the longer sleep delays is bounded by it: a ring takes the few records
// of a period there at most (250 a second a thread at the kernel's tick), and the SIGPROF guard,
// whose work is about setitimer, which does not fire while nothing burns CPU either.
static void* ptprof_collector(void*) {
  ptprof_set_thread_name("ptprof-collect");
  uint64_t seen = g->signals.load(std::memory_order_relaxed);
  uint32_t idle_ms = 0;  // 0: busy, sleep collect_interval_ms
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(g->collect_mu);
      g->collect_cv.wait(lk, [] {
        return g->enabled.load(std::memory_order_acquire) && g->collect_interval_ms.load(std::memory_order_relaxed) > 0;
      });
    }
    uint32_t ms = g->collect_interval_ms.load(std::memory_order_relaxed);
    if (idle_ms > ms) ms = idle_ms;
    struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000L)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    ptprof_sigprof_guard();
    {
      std::lock_guard<std::mutex> dl(g->drain_mu);
      ptprof_collect_all();
    }
    uint64_t now = g->signals.load(std::memory_order_relaxed);
    if (now != seen) {
      idle_ms = 0;
    } else {
      uint32_t base = g->collect_interval_ms.load(std::memory_order_relaxed);
      idle_ms = idle_ms == 0 ? 2 * base : 2 * idle_ms;
      if (idle_ms > kPtprofIdleCollectMs) idle_ms = kPtprofIdleCollectMs;
    }
    seen = now;
  }
  return nullptr;
}

// Starts the collector once. With pthread_create rather than std::thread: the addon is built
// without exceptions, and std::thread's failure (EAGAIN under a pids limit) would have called
// std::terminate and killed the program. A failure is reported (err) and recording goes on
// without it: the rings are then emptied by drain() alone (a full ring drops, and counts).
// collect_mu held.
void ptprof_collector_ensure(int* err) {
  *err = 0;
  if (g->collector_started) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The thread never receives our signals: they are thread-directed or handled by whichever
  // thread burns the CPU, and a sleeping thread burns none.
  pthread_t t;
  int rc = pthread_create(&t, &attr, ptprof_collector, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    g->collector_error = rc;
    *err = rc;
    return;
  }
  g->collector_started = true;
  g->collector_error = 0;
}

// ---------------------------------------------------------------------------------------------
// drain() -> { count, ints, nums, frames, events, names, threads, counters }
// ---------------------------------------------------------------------------------------------

struct PtprofDrainSlot {
  int32_t tid;
  uint32_t isolate_id;
  bool js;
  std::string name;
  uint64_t register_cpu_ns;
};

struct PtprofDrainOut {
  std::vector<PtprofDrainSlot> slots;
  std::vector<int32_t> ints;
  std::vector<double> nums;
  std::vector<double> frames;
};

static void ptprof_emit(PtprofDrainOut* out, const PtprofRecord& r, const uint8_t* frames) {
  size_t a = out->ints.size();
  out->ints.resize(a + kPtprofRecordInts);
  int32_t* ri = out->ints.data() + a;
  ri[PTPROF_RI_tid] = r.tid;
  ri[PTPROF_RI_code] = r.code;
  ri[PTPROF_RI_overrun] = r.overrun;
  ri[PTPROF_RI_flags] = static_cast<int32_t>(r.flags);
  ri[PTPROF_RI_vmState] = r.vm_state;
  ri[PTPROF_RI_nframes] = static_cast<int32_t>(r.nframes);
  ri[PTPROF_RI_isolateId] = static_cast<int32_t>(r.isolate_id);
  ri[PTPROF_RI_signo] = r.signo;
  size_t b = out->nums.size();
  out->nums.resize(b + kPtprofRecordNums);
  double* rn = out->nums.data() + b;
  rn[PTPROF_RN_timeNs] = static_cast<double>(r.time_ns);
  rn[PTPROF_RN_codeSeq] = static_cast<double>(r.code_seq);
  rn[PTPROF_RN_pc] = static_cast<double>(r.pc);
  rn[PTPROF_RN_externalCallback] = static_cast<double>(r.external_callback);
  rn[PTPROF_RN_threadCpuNs] = static_cast<double>(r.thread_cpu_ns);
  rn[PTPROF_RN_timerTag] = static_cast<double>(r.timer_tag);
  for (uint32_t i = 0; i < r.nframes; i++) {
    uint64_t f;
    memcpy(&f, frames + i * sizeof(uint64_t), sizeof(f));
    out->frames.push_back(static_cast<double>(f));
  }
}

static void ptprof_drain_slot(PtprofSlot* s, PtprofDrainOut* out) {
  ptprof_collect_slot(s);
  size_t t = 0;
  const std::vector<uint8_t>& b = s->backlog;
  while (t + sizeof(PtprofRecord) <= b.size()) {
    PtprofRecord r;
    memcpy(&r, b.data() + t, sizeof(r));
    ptprof_emit(out, r, b.data() + t + sizeof(r));
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
  uint64_t slot_drops = 0, dead_drops, shared_drops;
  // Isolates that dropped code events while recording (nobody drained for long): enumerate again.
  if (g->enabled.load(std::memory_order_acquire) && g->code_dropping.load(std::memory_order_relaxed) > 0)
    ptprof_code_resync_all();
  {
    std::lock_guard<std::mutex> dl(g->drain_mu);
    // Code events first: every record drained below was taken after the events it refers to.
    ptprof_code_take(&events);
    int32_t high = g->slot_high.load(std::memory_order_acquire);
    for (int32_t i = 0; i < high; i++) {
      PtprofSlot* s = &g->slots[i];
      int32_t st = s->state.load(std::memory_order_acquire);
      if (st == PTPROF_SLOT_FREE) continue;
      // Names travel with the drain: a worker that exited since the last drain is gone from
      // threads() by the time its records are read.
      out.slots.push_back(
          {s->tid.load(), s->isolate_id.load(), s->isolate_id.load() != 0, s->name, s->register_cpu_ns.load()});
      ptprof_drain_slot(s, &out);
      slot_drops += s->ring.drops.load(std::memory_order_relaxed) + s->backlog_drops;
      if (st == PTPROF_SLOT_DEAD) {
        std::lock_guard<std::mutex> rl(g->registry_mu);
        if (s->writers.load(std::memory_order_seq_cst) == 0) {
          ptprof_drain_slot(s, &out);  // anything written before the last writer left
          g->dead_drops += s->ring.drops.exchange(0) + s->backlog_drops;
          s->backlog_drops = 0;
          s->tid.store(0, std::memory_order_relaxed);
          s->state.store(PTPROF_SLOT_FREE, std::memory_order_release);
        }
      }
    }
    ptprof_collect_shared();
    for (const PtprofRecord& r : g->shared_backlog) ptprof_emit(&out, r, nullptr);
    g->shared_backlog.clear();
    if (g->shared_backlog.capacity() > 4096) g->shared_backlog.shrink_to_fit();
    g->shared_backlog_size.store(0, std::memory_order_relaxed);
    dead_drops = g->dead_drops;
    shared_drops = g->shared.drops.load() + g->shared_backlog_drops;
  }
  size_t n = out.ints.size() / kPtprofRecordInts;
  Napi::Object res = Napi::Object::New(env);
  res.Set("count", Napi::Number::New(env, static_cast<double>(n)));
  res.Set("ints", ptprof_typed<int32_t, Napi::Int32Array>(env, out.ints));
  res.Set("nums", ptprof_typed<double, Napi::Float64Array>(env, out.nums));
  res.Set("frames", ptprof_typed<double, Napi::Float64Array>(env, out.frames));
  std::vector<double> ev(events.size() * kPtprofEventNums);
  std::vector<double> inl;
  // The names as one UTF-8 text, not a string each: a worker's listing of its code is ~4,800
  // events, and making their strings here was 1.7 ms of a tick's drain, in the profiled window
  // (issue 14). The sampler holds the drain and decodes them when it symbolizes (eventNames).
  size_t text_bytes = 0;
  for (const PtprofCodeEvent& e : events) text_bytes += e.name.size();
  std::vector<uint8_t> text;
  text.reserve(text_bytes);
  for (size_t i = 0; i < events.size(); i++) {
    const PtprofCodeEvent& e = events[i];
    double* row = ev.data() + i * kPtprofEventNums;
    row[PTPROF_EV_seq] = static_cast<double>(e.seq);
    row[PTPROF_EV_type] = static_cast<double>(e.type);
    row[PTPROF_EV_codeType] = static_cast<double>(e.code_type);
    row[PTPROF_EV_isolateId] = static_cast<double>(e.isolate_id);
    row[PTPROF_EV_start] = static_cast<double>(e.start);
    row[PTPROF_EV_len] = static_cast<double>(e.len);
    row[PTPROF_EV_newStart] = static_cast<double>(e.new_start);
    row[PTPROF_EV_inlineAt] = e.inl ? static_cast<double>(inl.size()) : -1;
    if (e.inl) ptprof_inline_emit(*e.inl, &inl);
    text.insert(text.end(), e.name.begin(), e.name.end());
    row[PTPROF_EV_nameEnd] = static_cast<double>(text.size());
  }
  res.Set("events", ptprof_typed<double, Napi::Float64Array>(env, ev));
  res.Set("inline", ptprof_typed<double, Napi::Float64Array>(env, inl));
  Napi::Array slots = Napi::Array::New(env, out.slots.size());
  for (size_t i = 0; i < out.slots.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, out.slots[i].tid));
    o.Set("isolateId", Napi::Number::New(env, out.slots[i].isolate_id));
    o.Set("js", Napi::Boolean::New(env, out.slots[i].js));
    o.Set("name", Napi::String::New(env, out.slots[i].name));
    o.Set("registerCpuNs", Napi::Number::New(env, static_cast<double>(out.slots[i].register_cpu_ns)));
    slots.Set(static_cast<uint32_t>(i), o);
  }
  res.Set("threads", slots);
  res.Set("nameText", ptprof_typed<uint8_t, Napi::Uint8Array>(env, text));
  int collector_error;
  {
    std::lock_guard<std::mutex> lk(g->collect_mu);
    collector_error = g->collector_error;
  }
  Napi::Object c = Napi::Object::New(env);
  c.Set("signals", Napi::Number::New(env, static_cast<double>(g->signals.load())));
  c.Set("handlerNs", Napi::Number::New(env, static_cast<double>(g->handler_ns.load())));
  c.Set("foreign", Napi::Number::New(env, static_cast<double>(g->foreign.load())));
  c.Set("disabled", Napi::Number::New(env, static_cast<double>(g->disabled.load())));
  c.Set("ringDrops", Napi::Number::New(env, static_cast<double>(slot_drops + dead_drops)));
  c.Set("sharedDrops", Napi::Number::New(env, static_cast<double>(shared_drops)));
  c.Set("filteredSetitimer", Napi::Number::New(env, static_cast<double>(g->filtered_setitimer.load())));
  c.Set("filteredTimer", Napi::Number::New(env, static_cast<double>(g->filtered_timer.load())));
  c.Set("codeDrops", Napi::Number::New(env, static_cast<double>(g->code_drops.load())));
  c.Set("itimerSuspensions", Napi::Number::New(env, static_cast<double>(g->itimer_suspensions.load())));
  c.Set("sigprofReinstalls", Napi::Number::New(env, static_cast<double>(g->sigprof_reinstalls.load())));
  c.Set("collectorError", Napi::Number::New(env, collector_error));
  PtprofInlineCounters ic = ptprof_inline_counters();
  c.Set("inlineTables", Napi::Number::New(env, static_cast<double>(ic.tables)));
  c.Set("inlineFailures", Napi::Number::New(env, static_cast<double>(ic.failures)));
  c.Set("inlineSkipped", Napi::Number::New(env, static_cast<double>(ic.skipped)));
  c.Set("inlineNs", Napi::Number::New(env, static_cast<double>(ic.ns)));
  res.Set("counters", c);
  return res;
}

// sharedPending() -> records waiting from threads with no slot: such a thread is burning CPU.
// Atomic reads, cheap enough to poll often; the sampler drains and arms that thread at once.
static Napi::Value PtprofSharedPending(const Napi::CallbackInfo& info) {
  uint64_t backlog = g->shared_backlog_size.load(std::memory_order_relaxed);
  return Napi::Number::New(info.Env(), static_cast<double>(g->shared.pending() + backlog));
}

// signalCount() -> signals the handler has seen since load (one atomic read). CPU-clock timers
// do not fire in an idle process, so an unchanged count means nothing is burning CPU.
static Napi::Value PtprofSignalCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g->signals.load(std::memory_order_relaxed)));
}

void ptprof_init_drain(Napi::Env env, Napi::Object exports) {
  exports.Set("drain", Napi::Function::New(env, PtprofDrain, "drain"));
  exports.Set("sharedPending", Napi::Function::New(env, PtprofSharedPending, "sharedPending"));
  exports.Set("signalCount", Napi::Function::New(env, PtprofSignalCount, "signalCount"));
}
