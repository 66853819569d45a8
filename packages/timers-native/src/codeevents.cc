// codeevents.cc: V8's JIT code events, as a sequenced log.
//
// Names come from CODE_ADDED, e.g. "JS:*fib /path/x.js:3:13". Code moves during full GCs, so a
// sample must be resolved against the code map as it was when the sample was taken: each event
// gets a sequence number, each record notes the last number published before it, and the reader
// replays events up to that number before resolving the record.
//
// The log must not grow without bound (issue "never grow": 439k events, 4.6 MB of names and
// +46 MB RSS after 6 s of compiling with no sampler running, since only drain() emptied it). So
// this side also keeps the reader's map: every event it hands out is applied here too. When the
// log grows past a bound (4096 events while nothing records, 1M events or 64 MB while recording
// but unread), it is folded into that map, and the next drain hands out the map itself (a RESET
// event, then one CODE_ADDED per live code object) instead of the history. Memory is then bounded
// by the code that exists, as V8's own is. A record taken during the folded stretch resolves
// against the map as it was at the end of the stretch (counted as folds in the drain's counters).
//
// Events may come from GC helper threads: code_mu guards the log. The callback finds its isolate
// without registry_mu (ptprof.h, "Locks").
#include "compat.h"
#include "ptprof.h"

static constexpr size_t kPtprofFoldIdleEvents = 4096;
static constexpr size_t kPtprofFoldMaxEvents = 1u << 20;
static constexpr size_t kPtprofFoldMaxBytes = 64u << 20;
// code_mu: the first seq folded since the last take (0: none), and how many events at the head of
// the log were kept (already applied to the map) for records not yet read.
static uint64_t fold_from_seq = 0;
static size_t kept = 0;

// Removes every entry that overlaps [start, end): code that new code overlaps was freed without a
// CODE_REMOVED (the reader's CodeMap does the same).
static void ptprof_map_clear(PtprofCodeMap* m, uint64_t start, uint64_t end) {
  auto it = m->lower_bound(start);
  if (it != m->begin()) {
    auto prev = std::prev(it);
    if (prev->first + (prev->second.len ? prev->second.len : 1) > start) m->erase(prev);
  }
  while (it != m->end() && it->first < end) it = m->erase(it);
}

static void ptprof_map_apply(const PtprofCodeEvent& e) {
  if (e.type == kPtprofEventRetire) {
    g->code_maps.erase(e.isolate_id);
    return;
  }
  PtprofCodeMap& m = g->code_maps[e.isolate_id];
  if (e.type == v8::JitCodeEvent::CODE_ADDED) {
    ptprof_map_clear(&m, e.start, e.start + (e.len ? e.len : 1));
    m[e.start] = PtprofCodeEntry{e.len, e.code_type, e.name};
  } else if (e.type == v8::JitCodeEvent::CODE_MOVED) {
    auto it = m.find(e.start);
    if (it == m.end()) return;
    PtprofCodeEntry entry = std::move(it->second);
    m.erase(it);
    ptprof_map_clear(&m, e.new_start, e.new_start + (entry.len ? entry.len : 1));
    m[e.new_start] = std::move(entry);
  } else if (e.type == v8::JitCodeEvent::CODE_REMOVED) {
    m.erase(e.start);
  }
}

// Folds the log into the map (code_mu held). Events up to seq keep_upto stay in the log, applied
// already: records taken while recording may refer to them and are not read yet. The rest are
// represented by the map from now on.
static void ptprof_fold_locked(uint64_t keep_upto) {
  size_t n = g->code_log.size();
  size_t first_new = kept;
  while (kept < n && g->code_log[kept].seq <= keep_upto) ptprof_map_apply(g->code_log[kept++]);
  if (kept == n) return;
  for (size_t i = kept; i < n; i++) {
    const PtprofCodeEvent& e = g->code_log[i];
    if (i >= first_new) ptprof_map_apply(e);
    if (e.type != kPtprofEventRetire) {
      bool listed = false;
      for (uint32_t r : g->code_resets) listed = listed || r == e.isolate_id;
      if (!listed) g->code_resets.push_back(e.isolate_id);
    }
  }
  if (fold_from_seq == 0) fold_from_seq = g->code_log[kept].seq;
  g->code_log.resize(kept);
  g->code_log.shrink_to_fit();
  g->code_log_bytes = 0;
  for (const PtprofCodeEvent& e : g->code_log) g->code_log_bytes += sizeof(PtprofCodeEvent) + e.name.size();
  g->code_folds++;
}

static void ptprof_log_locked(PtprofCodeEvent&& e) {
  e.seq = g->code_seq.load(std::memory_order_relaxed) + 1;
  g->code_log_bytes += sizeof(PtprofCodeEvent) + e.name.size();
  uint64_t seq = e.seq;
  g->code_log.push_back(std::move(e));
  // Published after the event is in the log: a record that reads seq N finds events 1..N.
  g->code_seq.store(seq, std::memory_order_release);
  size_t fresh = g->code_log.size() - kept;
  if (!g->enabled.load(std::memory_order_acquire) && fresh > kPtprofFoldIdleEvents) {
    // Not recording: no record will refer to what came after recording stopped.
    ptprof_fold_locked(g->seq_at_disable.load(std::memory_order_acquire));
  } else if (g->code_log.size() > kPtprofFoldMaxEvents || g->code_log_bytes > kPtprofFoldMaxBytes) {
    // Recording, but nobody reads: records of the folded stretch will resolve against the map as
    // it was at its end (the drain's codeFolds counts these).
    ptprof_fold_locked(0);
  }
}
static void ptprof_code_event(const v8::JitCodeEvent* ev) {
  if (ev->type != v8::JitCodeEvent::CODE_ADDED && ev->type != v8::JitCodeEvent::CODE_MOVED &&
      ev->type != v8::JitCodeEvent::CODE_REMOVED)
    return;
  PtprofCodeEvent e;
  e.isolate_id = ptprof_isolate_id(ev->isolate);
  e.start = reinterpret_cast<uint64_t>(ev->code_start);
  e.len = ev->code_len;
  e.new_start = ev->type == v8::JitCodeEvent::CODE_MOVED ? reinterpret_cast<uint64_t>(ev->new_code_start) : 0;
  e.type = static_cast<uint8_t>(ev->type);
  e.code_type = static_cast<uint8_t>(ev->code_type);
  if (ev->type == v8::JitCodeEvent::CODE_ADDED && ev->name.str != nullptr) e.name.assign(ev->name.str, ev->name.len);
  std::lock_guard<std::mutex> lock(g->code_mu);
  ptprof_log_locked(std::move(e));
}

void ptprof_code_events_on(v8::Isolate* isolate) { ptprof_code_events_start(isolate, ptprof_code_event); }

void ptprof_code_events_off(v8::Isolate* isolate) { ptprof_code_events_stop(isolate); }

void ptprof_code_retire(uint32_t isolate_id) {
  if (isolate_id == 0) return;
  PtprofCodeEvent e;
  e.isolate_id = isolate_id;
  e.start = e.len = e.new_start = 0;
  e.type = kPtprofEventRetire;
  e.code_type = 0;
  std::lock_guard<std::mutex> lock(g->code_mu);
  ptprof_log_locked(std::move(e));
}

// Called when recording stops: what came after is history no record will read.
void ptprof_code_fold_if_needed(bool force) {
  std::lock_guard<std::mutex> lock(g->code_mu);
  if (force || g->code_log.size() - kept > kPtprofFoldIdleEvents)
    ptprof_fold_locked(g->seq_at_disable.load(std::memory_order_acquire));
}

// Everything not yet handed out, in sequence order: the snapshots of folded isolates first, then
// the log. Applies it to this side's copy of the reader's map.
static void ptprof_emit_snapshot_locked(std::vector<PtprofCodeEvent>* out) {
  for (uint32_t iso : g->code_resets) {
    PtprofCodeEvent r;
    r.seq = fold_from_seq;
    r.isolate_id = iso;
    r.start = r.len = r.new_start = 0;
    r.type = kPtprofEventReset;
    r.code_type = 0;
    out->push_back(std::move(r));
    auto m = g->code_maps.find(iso);
    if (m == g->code_maps.end()) continue;  // retired meanwhile: the reset alone empties it
    for (const auto& [start, entry] : m->second) {
      PtprofCodeEvent a;
      a.seq = fold_from_seq;
      a.isolate_id = iso;
      a.start = start;
      a.len = entry.len;
      a.new_start = 0;
      a.type = v8::JitCodeEvent::CODE_ADDED;
      a.code_type = entry.code_type;
      a.name = entry.name;
      out->push_back(std::move(a));
    }
  }
  g->code_resets.clear();
  fold_from_seq = 0;
}

// Everything not yet handed out, in sequence order (the kept events, the snapshots of folded
// isolates, then what came after), applied to this side's copy of the reader's map.
void ptprof_code_take(std::vector<PtprofCodeEvent>* out, uint64_t* folds) {
  std::lock_guard<std::mutex> lock(g->code_mu);
  size_t n = g->code_log.size();
  for (size_t i = 0; i < n; i++) {
    PtprofCodeEvent& e = g->code_log[i];
    if (fold_from_seq != 0 && e.seq > fold_from_seq) ptprof_emit_snapshot_locked(out);
    if (i >= kept) ptprof_map_apply(e);
    out->push_back(std::move(e));
  }
  if (fold_from_seq != 0) ptprof_emit_snapshot_locked(out);
  std::vector<PtprofCodeEvent>().swap(g->code_log);
  g->code_log_bytes = 0;
  kept = 0;
  *folds = g->code_folds;
}
