// codeevents.cc: V8's JIT code events, as a sequenced log.
//
// Names come from CODE_ADDED, e.g. "JS:*fib /path/x.js:3:13". Code moves during full GCs, so a
// sample must be resolved against the code map as it was when the sample was taken: each event
// gets a sequence number, each record notes the last number published before it, and the reader
// replays events up to that number before resolving the record.
//
// The log must not grow without bound (issue "never grow": 439k events, 4.6 MB of names and
// +46 MB RSS after 6 s of compiling with no sampler running, since only drain() emptied it). V8
// reports no event when code dies, so no summary of the history stays small either (measured:
// folding the log into a map kept 1.9 events' worth per function compiled). So past a bound the
// log stops taking an isolate's events: 32768 events beyond those that recorded samples may need
// while nothing records, 1M events or 64 MB while recording with nobody draining. A DROP event
// tells the reader that the isolate's map is not to be trusted from there on (its records then
// resolve to no name rather than to a wrong one, and are counted); the next time recording is on
// (setEnabled(true), or a drain while recording), the isolate is asked to enumerate its code
// again, on its own thread (node::RequestInterrupt wakes a waiting worker too): a RESET event,
// then one CODE_ADDED per code object that exists. What the log holds is then bounded, and V8's
// own enumeration (5-20 ms in a fresh process) is what a restart costs, as it is for V8's profiler.
//
// Events may come from GC helper threads: code_mu guards the log. The callback finds its isolate
// without registry_mu (ptprof.h, "Locks").
#include "compat.h"
#include "inline.h"
#include "ptprof.h"

static constexpr size_t kPtprofIdleEvents = 32768;
static constexpr size_t kPtprofMaxEvents = 1u << 20;
static constexpr size_t kPtprofMaxBytes = 64u << 20;

// code_mu held. Appends e with the next sequence number and publishes it.
static void ptprof_log_locked(PtprofCodeEvent&& e) {
  e.seq = g->code_seq.load(std::memory_order_relaxed) + 1;
  g->code_log_bytes += sizeof(PtprofCodeEvent) + e.name.size() + (e.inl ? e.inl->bytes() : 0);
  uint64_t seq = e.seq;
  g->code_log.push_back(std::move(e));
  // Published after the event is in the log: a record that reads seq N finds events 1..N.
  g->code_seq.store(seq, std::memory_order_release);
}

static PtprofCodeEvent ptprof_marker(uint8_t type, uint32_t isolate_id) {
  PtprofCodeEvent e;
  e.isolate_id = isolate_id;
  e.start = e.len = e.new_start = 0;
  e.type = type;
  e.code_type = 0;
  return e;
}

// A marker of this isolate's listing (not for an isolate not registered: its events are not logged).
static void ptprof_code_marker(uint8_t type, uint32_t isolate_id) {
  if (isolate_id == 0) return;
  std::lock_guard<std::mutex> lock(g->code_mu);
  ptprof_log_locked(ptprof_marker(type, isolate_id));
}

// code_mu held: whether the log is past its bound for one more event.
static bool ptprof_log_full_locked() {
  if (g->code_log.size() >= kPtprofMaxEvents || g->code_log_bytes >= kPtprofMaxBytes) return true;
  if (g->enabled.load(std::memory_order_acquire) || g->code_log.empty()) return false;
  // Not recording: events up to seq_at_disable may serve records not read yet; past those, no
  // record will need the history.
  uint64_t last = g->code_log.back().seq;
  uint64_t from = g->seq_at_disable.load(std::memory_order_acquire);
  if (from < g->code_log.front().seq - 1) from = g->code_log.front().seq - 1;
  return last - from >= kPtprofIdleEvents;
}

static void ptprof_code_event(const v8::JitCodeEvent* ev) {
  if (ev->type != v8::JitCodeEvent::CODE_ADDED && ev->type != v8::JitCodeEvent::CODE_MOVED &&
      ev->type != v8::JitCodeEvent::CODE_REMOVED)
    return;
  PtprofIsolateEntry* entry = ptprof_isolate_entry(ev->isolate);
  uint32_t iso = entry ? entry->id.load(std::memory_order_acquire) : 0;
  if (entry && entry->dropping.load(std::memory_order_acquire)) {
    g->code_drops.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PtprofCodeEvent e;
  e.isolate_id = iso;
  e.start = reinterpret_cast<uint64_t>(ev->code_start);
  e.len = ev->code_len;
  e.new_start = ev->type == v8::JitCodeEvent::CODE_MOVED ? reinterpret_cast<uint64_t>(ev->new_code_start) : 0;
  e.type = static_cast<uint8_t>(ev->type);
  e.code_type = static_cast<uint8_t>(ev->code_type);
  if (ev->type == v8::JitCodeEvent::CODE_ADDED && ev->name.str != nullptr) e.name.assign(ev->name.str, ev->name.len);
  // Optimized code: what it inlined, read now (the code may be gone when the sample is read).
  if (ev->type == v8::JitCodeEvent::CODE_ADDED && entry) e.inl = ptprof_inline_decode(ev, iso);
  std::lock_guard<std::mutex> lock(g->code_mu);
  if (entry && ptprof_log_full_locked()) {
    // From here on this isolate's map is stale until it enumerates its code again.
    entry->dropping.store(true, std::memory_order_release);
    g->code_dropping.fetch_add(1, std::memory_order_relaxed);
    g->code_drops.fetch_add(1, std::memory_order_relaxed);
    ptprof_log_locked(ptprof_marker(kPtprofEventDrop, iso));
    return;
  }
  ptprof_log_locked(std::move(e));
}

void ptprof_code_events_on(v8::Isolate* isolate) {
  PtprofIsolateEntry* entry = ptprof_isolate_entry(isolate);
  // Detailed source positions from here on; the code listed now, the first time, was optimized
  // before (inline.cc, "Positions").
  bool first = entry && ptprof_inline_positions_on(isolate, entry->id.load(std::memory_order_acquire));
  // V8's listing (kJitCodeEventEnumExisting) is synchronous, on this thread, between the markers
  // (layout.h: the reader resolves the listing's tables at LISTED, once their bytecode is named).
  uint32_t id = entry ? entry->id.load(std::memory_order_acquire) : 0;
  ptprof_code_marker(kPtprofEventListing, id);
  ptprof_inline_enumerating(first);
  ptprof_code_events_start(isolate, ptprof_code_event);
  ptprof_inline_enumerating(false);
  ptprof_code_marker(kPtprofEventListed, id);
}

void ptprof_code_events_off(v8::Isolate* isolate) { ptprof_code_events_stop(isolate); }

void ptprof_code_retire(uint32_t isolate_id) {
  if (isolate_id == 0) return;
  ptprof_inline_retire(isolate_id);
  std::lock_guard<std::mutex> lock(g->code_mu);
  ptprof_log_locked(ptprof_marker(kPtprofEventRetire, isolate_id));
}

// On the isolate's own thread: a RESET, then V8 reports every code object that exists.
void ptprof_code_resync(v8::Isolate* isolate) {
  PtprofIsolateEntry* entry = ptprof_isolate_entry(isolate);
  if (entry == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g->code_mu);
    if (!entry->dropping.load(std::memory_order_acquire)) return;
    ptprof_log_locked(ptprof_marker(kPtprofEventReset, entry->id.load(std::memory_order_acquire)));
    entry->dropping.store(false, std::memory_order_release);
    g->code_dropping.fetch_sub(1, std::memory_order_relaxed);
  }
  ptprof_code_events_on(isolate);
}

// Everything not yet handed out, in sequence order.
void ptprof_code_take(std::vector<PtprofCodeEvent>* out) {
  std::lock_guard<std::mutex> lock(g->code_mu);
  out->swap(g->code_log);
  std::vector<PtprofCodeEvent>().swap(g->code_log);
  g->code_log_bytes = 0;
}
