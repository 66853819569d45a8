// registry.cc: thread slots and isolates.
//
// A slot makes a thread "known" (Go: it has an M): signals on it go to the slot's own ring, and
// on a JS thread the handler walks the stack of the slot's isolate. JS threads register themselves
// (register(), on the thread: the isolate is the caller's); other OS threads are claimed by tid
// (claimThread). An environment cleanup hook releases a JS thread's slot and deletes its timers
// when its environment is torn down: the timer must die with the thread (the Go runtime leaks it;
// measured here: 10 worker rounds leaked 20 timers).
//
// registry_mu guards claiming and releasing; the handler reads slots without it (handler.cc).
// No JS value is made while it is held (ptprof.h, "Locks").
#include <node.h>

#include "compat.h"
#include "napi_util.h"
#include "ptprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

PtprofIsolateEntry* ptprof_isolate_entry(v8::Isolate* isolate) {
  for (int i = 0; i < kPtprofMaxSlots; i++) {
    PtprofIsolateEntry& e = g->isolates[i];
    if (e.isolate.load(std::memory_order_acquire) == isolate) return &e;
  }
  return nullptr;
}

static int ptprof_find_slot_locked(pid_t tid, int32_t state) {
  int32_t high = g->slot_high.load(std::memory_order_relaxed);
  for (int i = 0; i < high; i++)
    if (g->slots[i].tid.load(std::memory_order_relaxed) == tid && g->slots[i].state.load() == state) return i;
  return -1;
}

// Claims a free slot for tid (registry_mu held). Its ring is allocated here, outside any handler.
// Returns the slot, -1 when none is free, -2 when the ring cannot be allocated.
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
    if (s->ring.buf == nullptr || s->ring.capacity() != g->ring_bytes) {
      uint8_t* buf = static_cast<uint8_t*>(malloc(g->ring_bytes));
      if (buf == nullptr) return -2;
      free(s->ring.buf);
      s->ring.buf = buf;
      s->ring.mask = g->ring_bytes - 1;
    }
    s->ring.reset();
    s->register_cpu_ns.store(0, std::memory_order_relaxed);
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
  s->state.store(PTPROF_SLOT_DEAD, std::memory_order_seq_cst);
}

static void ptprof_isolate_add_locked(v8::Isolate* isolate, uint32_t id) {
  for (int k = 0; k < kPtprofMaxSlots; k++) {
    PtprofIsolateEntry& e = g->isolates[k];
    if (e.isolate.load(std::memory_order_relaxed) == nullptr) {
      e.id.store(id, std::memory_order_release);
      e.isolate.store(isolate, std::memory_order_release);
      return;
    }
  }
}

static uint32_t ptprof_isolate_remove_locked(v8::Isolate* isolate) {
  uint32_t id = 0;
  for (int k = 0; k < kPtprofMaxSlots; k++) {
    PtprofIsolateEntry& e = g->isolates[k];
    if (e.isolate.load(std::memory_order_relaxed) == isolate) {
      id = e.id.load(std::memory_order_relaxed);
      e.isolate.store(nullptr, std::memory_order_release);
      e.id.store(0, std::memory_order_release);
      if (e.dropping.exchange(false)) g->code_dropping.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  return id;
}

struct PtprofThreadReg {
  pid_t tid;
  v8::Isolate* isolate;
  uint32_t isolate_id;
  bool code_events;
  node::Environment* env;  // for node::RequestInterrupt; valid while the registration is listed
};

// Every registration, for reaching each JS thread (registry_mu).
static std::vector<PtprofThreadReg*> regs;

// Runs on the thread of the isolate whose id is arg (node::RequestInterrupt).
static void ptprof_resync_interrupt(void* arg) {
  uint32_t id = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg));
  v8::Isolate* self = ptprof_current_isolate();
  bool mine = false;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    for (PtprofThreadReg* r : regs) mine = mine || (r->isolate_id == id && r->isolate == self && r->code_events);
  }
  if (mine) ptprof_code_resync(self);
}

// Each isolate that dropped code events enumerates its code again: the calling thread's at once,
// the others at their next interrupt check (node::RequestInterrupt also wakes an idle event loop).
void ptprof_code_resync_all() {
  v8::Isolate* self = ptprof_current_isolate();
  bool here = false;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    for (PtprofThreadReg* r : regs) {
      if (!r->code_events) continue;
      PtprofIsolateEntry* e = ptprof_isolate_entry(r->isolate);
      if (e == nullptr || !e->dropping.load(std::memory_order_acquire)) continue;
      if (r->isolate == self)
        here = true;
      else if (r->env != nullptr)
        node::RequestInterrupt(r->env, ptprof_resync_interrupt,
                               reinterpret_cast<void*>(static_cast<uintptr_t>(r->isolate_id)));
    }
  }
  if (here) ptprof_code_resync(self);
}

// Runs when the environment (main thread or a worker) is torn down, on that thread.
static void ptprof_env_cleanup(void* arg) {
  PtprofThreadReg* reg = static_cast<PtprofThreadReg*>(arg);
  // Code events first: none may arrive for an isolate whose entry is gone.
  if (reg->code_events) ptprof_code_events_off(reg->isolate);
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    int i = ptprof_find_slot_locked(reg->tid, PTPROF_SLOT_ACTIVE);
    if (i >= 0 && g->slots[i].isolate.load() == reg->isolate) ptprof_release_slot_locked(i);
    ptprof_delete_timers_of_locked(reg->tid);
    ptprof_isolate_remove_locked(reg->isolate);
    for (size_t k = 0; k < regs.size(); k++)
      if (regs[k] == reg) {
        regs.erase(regs.begin() + static_cast<long>(k));
        break;
      }
  }
  // The reader may free this isolate's code map once it has read every sample before this.
  ptprof_code_retire(reg->isolate_id);
  delete reg;
}

struct PtprofAddonData {
  PtprofThreadReg* reg = nullptr;  // this environment's registration, if any
};

static Napi::Object ptprof_reg_result(Napi::Env env, pid_t tid, uint32_t isolate_id, int slot) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("tid", Napi::Number::New(env, tid));
  out.Set("isolateId", Napi::Number::New(env, isolate_id));
  out.Set("slot", Napi::Number::New(env, slot));
  return out;
}

// register({ codeEvents = true, name, cpuNs }) -> { tid, isolateId, slot }: makes the calling JS thread
// known. With codeEvents, V8 reports existing and future code (5-20 ms in a fresh process, hundreds
// of ms with a large heap: it is done once per thread, not on every start).
static Napi::Value PtprofRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool code_events = true;
  std::string name;
  // What the thread burned before it registered (a worker's bootstrap) is not the sampler's to
  // pin on the first sample it takes (threads().registerCpuNs): the thread's CPU clock now, or
  // earlier where the caller read it (cpuNs: its agent's first line, before loading the sampler).
  uint64_t cpu_ns = ptprof_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Value c = info[0].As<Napi::Object>().Get("cpuNs");
    if (c.IsNumber()) {
      double given = c.As<Napi::Number>().DoubleValue();
      if (given > 0 && given < static_cast<double>(cpu_ns)) cpu_ns = static_cast<uint64_t>(given);
    }
    Napi::Value v = info[0].As<Napi::Object>().Get("codeEvents");
    if (v.IsBoolean()) code_events = v.As<Napi::Boolean>().Value();
    Napi::Value nv = info[0].As<Napi::Object>().Get("name");
    if (nv.IsString()) name = nv.As<Napi::String>().Utf8Value();
  }
  PtprofAddonData* data = env.GetInstanceData<PtprofAddonData>();
  v8::Isolate* isolate = ptprof_current_isolate();
  node::Environment* node_env = ptprof_current_environment(isolate);
  pid_t tid = ptprof_gettid();
  uint32_t iso_id = 0;
  int slot;
  bool again = false;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    if (data->reg != nullptr) {
      again = true;
      slot = ptprof_find_slot_locked(tid, PTPROF_SLOT_ACTIVE);
      iso_id = slot >= 0 ? g->slots[slot].isolate_id.load() : 0;
    } else {
      // The slot first: a register() that fails leaves no isolate entry behind for a later
      // isolate at the same address to inherit.
      uint32_t id = g->next_isolate_id;
      slot = ptprof_claim_locked(tid, isolate, id);
      if (slot >= 0) {
        g->next_isolate_id++;
        iso_id = id;
        ptprof_isolate_add_locked(isolate, iso_id);
        snprintf(g->slots[slot].name, sizeof(g->slots[slot].name), "%s", name.c_str());
        g->slots[slot].register_cpu_ns.store(cpu_ns, std::memory_order_relaxed);
        data->reg = new PtprofThreadReg{tid, isolate, iso_id, code_events, node_env};
        regs.push_back(data->reg);
      }
    }
  }
  if (again) return ptprof_reg_result(env, tid, iso_id, slot);
  if (slot == -2) return ptprof_throw_errno(env, "register(tid=" + std::to_string(tid) + ")", ENOMEM);
  if (slot < 0) return ptprof_throw_errno(env, "register(tid=" + std::to_string(tid) + "): no free slot", EAGAIN);
  napi_add_env_cleanup_hook(env, ptprof_env_cleanup, data->reg);
  if (code_events) ptprof_code_events_on(isolate);
  return ptprof_reg_result(env, tid, iso_id, slot);
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
  int slot;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    slot = ptprof_claim_locked(static_cast<pid_t>(tid), nullptr, 0);
  }
  std::string call = "claimThread(tid=" + std::to_string(static_cast<long>(tid)) + ")";
  if (slot == -2) return ptprof_throw_errno(info.Env(), call, ENOMEM);
  if (slot < 0) return ptprof_throw_errno(info.Env(), call + ": no free slot", EAGAIN);
  return Napi::Number::New(info.Env(), slot);
}

// releaseThread(tid) -> bool: the thread is no longer known (a JS thread's isolate too).
static Napi::Value PtprofReleaseThread(const Napi::CallbackInfo& info) {
  double tid;
  if (!ptprof_arg_uint(info, 0, "releaseThread", "tid", &tid)) return info.Env().Undefined();
  int i;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    i = ptprof_find_slot_locked(static_cast<pid_t>(tid), PTPROF_SLOT_ACTIVE);
    if (i >= 0) ptprof_release_slot_locked(i);
  }
  return Napi::Boolean::New(info.Env(), i >= 0);
}

// setTimerValid(tid, valid): the flag the handler reads to fill the timerValid flag (Go's
// mp.profileTimerValid). Turning a timer off: clear it first, then timerDelete.
static Napi::Value PtprofSetTimerValid(const Napi::CallbackInfo& info) {
  double tid;
  if (!ptprof_arg_uint(info, 0, "setTimerValid", "tid", &tid)) return info.Env().Undefined();
  if (info.Length() < 2 || !info[1].IsBoolean())
    return ptprof_throw_type(info.Env(), "setTimerValid: valid must be a boolean");
  bool valid = info[1].As<Napi::Boolean>().Value();
  int i;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    i = ptprof_find_slot_locked(static_cast<pid_t>(tid), PTPROF_SLOT_ACTIVE);
    if (i >= 0) g->slots[i].timer_valid.store(valid, std::memory_order_release);
  }
  return Napi::Boolean::New(info.Env(), i >= 0);
}

// threads() -> [{ tid, slot, isolateId, js, name, timerValid, registerCpuNs }] for every known thread.
static Napi::Value PtprofThreads(const Napi::CallbackInfo& info) {
  struct Row {
    int32_t tid;
    int32_t slot;
    uint32_t isolate_id;
    bool js;
    bool timer_valid;
    std::string name;
    uint64_t register_cpu_ns;
  };
  std::vector<Row> rows;
  {
    std::lock_guard<std::mutex> lock(g->registry_mu);
    int32_t high = g->slot_high.load();
    for (int32_t i = 0; i < high; i++) {
      PtprofSlot* s = &g->slots[i];
      if (s->state.load() != PTPROF_SLOT_ACTIVE) continue;
      rows.push_back({s->tid.load(), i, s->isolate_id.load(), s->isolate.load() != nullptr, s->timer_valid.load(),
                      s->name, s->register_cpu_ns.load()});
    }
  }
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t k = 0; k < rows.size(); k++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, rows[k].tid));
    o.Set("slot", Napi::Number::New(env, rows[k].slot));
    o.Set("isolateId", Napi::Number::New(env, rows[k].isolate_id));
    o.Set("js", Napi::Boolean::New(env, rows[k].js));
    o.Set("name", Napi::String::New(env, rows[k].name));
    o.Set("timerValid", Napi::Boolean::New(env, rows[k].timer_valid));
    o.Set("registerCpuNs", Napi::Number::New(env, static_cast<double>(rows[k].register_cpu_ns)));
    out.Set(static_cast<uint32_t>(k), o);
  }
  return out;
}

void ptprof_init_registry(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new PtprofAddonData());
  exports.Set("register", Napi::Function::New(env, PtprofRegister, "register"));
  exports.Set("unregister", Napi::Function::New(env, PtprofUnregister, "unregister"));
  exports.Set("claimThread", Napi::Function::New(env, PtprofClaimThread, "claimThread"));
  exports.Set("releaseThread", Napi::Function::New(env, PtprofReleaseThread, "releaseThread"));
  exports.Set("setTimerValid", Napi::Function::New(env, PtprofSetTimerValid, "setTimerValid"));
  exports.Set("threads", Napi::Function::New(env, PtprofThreads, "threads"));
}
