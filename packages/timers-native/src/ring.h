// ring.h: the two lock-free queues the signal handler writes into. Header-only and free of V8
// and N-API, so that test/native/ring_test.cc can run them under ASan/UBSan/TSan on their own.
//
// - PtprofByteRing: single producer, single consumer, variable-sized records. The producer is the
//   signal handler on the ring's own thread (the signal is blocked while its handler runs, so there
//   is one producer at a time); the consumer is whoever holds drain_mu (the collector thread or
//   drain()). A record that does not fit is dropped and counted, never waited for.
// - PtprofSharedRing: many producers (handlers on threads that have no ring of their own), one
//   consumer; fixed-size cells. Dmitry Vyukov's bounded MPMC queue, used with one consumer.
//
// Both use only atomics that are lock-free on every target (checked below): a lock inside an
// atomic would be a lock inside a signal handler.
#ifndef PTPROF_RING_H_
#define PTPROF_RING_H_

#include <atomic>
#include <cstdint>
#include <cstring>

static_assert(std::atomic<uint64_t>::is_always_lock_free, "the handler needs lock-free 64-bit atomics");
static_assert(std::atomic<int32_t>::is_always_lock_free, "the handler needs lock-free 32-bit atomics");
static_assert(std::atomic<bool>::is_always_lock_free, "the handler needs lock-free atomic bools");
static_assert(std::atomic<void*>::is_always_lock_free, "the handler needs lock-free atomic pointers");

struct PtprofByteRing {
  uint8_t* buf = nullptr;  // capacity mask + 1 bytes, a power of two; allocated outside any handler
  uint64_t mask = 0;
  std::atomic<uint64_t> head{0};  // bytes ever written (producer)
  std::atomic<uint64_t> tail{0};  // bytes ever read (consumer)
  std::atomic<uint64_t> drops{0};

  uint64_t capacity() const { return buf ? mask + 1 : 0; }

  void copy_in(uint64_t at, const void* src, uint64_t n) {
    uint64_t cap = mask + 1;
    uint64_t off = at & mask;
    uint64_t first = n < cap - off ? n : cap - off;
    memcpy(buf + off, src, first);
    if (n > first) memcpy(buf, static_cast<const uint8_t*>(src) + first, n - first);
  }

  void copy_out(uint64_t at, void* dst, uint64_t n) const {
    uint64_t cap = mask + 1;
    uint64_t off = at & mask;
    uint64_t first = n < cap - off ? n : cap - off;
    memcpy(dst, buf + off, first);
    if (n > first) memcpy(static_cast<uint8_t*>(dst) + first, buf, n - first);
  }

  // Producer: a header of hn bytes followed by bn bytes of body, as one record. Async-signal-safe.
  bool push(const void* header, uint64_t hn, const void* body, uint64_t bn) {
    uint64_t need = hn + bn;
    uint64_t h = head.load(std::memory_order_relaxed);
    uint64_t t = tail.load(std::memory_order_acquire);
    if (buf == nullptr || (mask + 1) - (h - t) < need) {
      drops.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    copy_in(h, header, hn);
    if (bn) copy_in(h + hn, body, bn);
    head.store(h + need, std::memory_order_release);
    return true;
  }

  // Consumer: the bytes written since the last take, appended to `out` (a byte vector); the ring
  // is then free for the producer again. Returns the number of bytes taken.
  template <typename Vec>
  uint64_t take_all(Vec* out) {
    if (buf == nullptr) return 0;
    uint64_t t = tail.load(std::memory_order_relaxed);
    uint64_t h = head.load(std::memory_order_acquire);
    if (t == h) return 0;
    size_t at = out->size();
    out->resize(at + (h - t));
    copy_out(t, out->data() + at, h - t);
    tail.store(h, std::memory_order_release);
    return h - t;
  }

  // Consumer: empties the ring and forgets what it held (the ring is reused for another thread).
  void reset() {
    head.store(0, std::memory_order_relaxed);
    tail.store(0, std::memory_order_relaxed);
    drops.store(0, std::memory_order_relaxed);
  }
};

template <typename Rec, uint32_t Cells>
struct PtprofSharedRing {
  static_assert((Cells & (Cells - 1)) == 0, "cells: a power of two");
  struct Cell {
    std::atomic<uint64_t> seq;
    Rec rec;
  };
  Cell cells[Cells];
  std::atomic<uint64_t> enqueue{0};
  uint64_t dequeue = 0;                        // consumer only
  std::atomic<uint64_t> dequeue_published{0};  // `dequeue`, readable by anyone
  std::atomic<uint64_t> drops{0};

  PtprofSharedRing() {
    for (uint32_t i = 0; i < Cells; i++) cells[i].seq.store(i, std::memory_order_relaxed);
  }

  // Producer (any thread, any signal handler). Async-signal-safe: no wait, drops when full.
  bool push(const Rec& r) {
    uint64_t pos = enqueue.load(std::memory_order_relaxed);
    for (;;) {
      Cell* cell = &cells[pos & (Cells - 1)];
      uint64_t seq = cell->seq.load(std::memory_order_acquire);
      int64_t dif = static_cast<int64_t>(seq) - static_cast<int64_t>(pos);
      if (dif == 0) {
        if (enqueue.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell->rec = r;
          cell->seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (dif < 0) {
        drops.fetch_add(1, std::memory_order_relaxed);
        return false;
      } else {
        pos = enqueue.load(std::memory_order_relaxed);
      }
    }
  }

  // Consumer: one record, or false when none is complete.
  bool pop(Rec* out) {
    Cell* cell = &cells[dequeue & (Cells - 1)];
    uint64_t seq = cell->seq.load(std::memory_order_acquire);
    if (static_cast<int64_t>(seq) - static_cast<int64_t>(dequeue + 1) < 0) return false;
    *out = cell->rec;
    cell->seq.store(dequeue + Cells, std::memory_order_release);
    dequeue++;
    dequeue_published.store(dequeue, std::memory_order_relaxed);
    return true;
  }

  // Records pushed and not yet popped (approximate while producers run).
  uint64_t pending() const {
    uint64_t e = enqueue.load(std::memory_order_relaxed);
    uint64_t d = dequeue_published.load(std::memory_order_relaxed);
    return e > d ? e - d : 0;
  }
};

#endif  // PTPROF_RING_H_
