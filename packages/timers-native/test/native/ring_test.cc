// ring_test.cc: the lock-free rings of src/ring.h under real concurrency, with no V8 and no Node.
// Built and run by test/rings-unit.test.ts twice: with AddressSanitizer and UndefinedBehavior-
// Sanitizer, and with ThreadSanitizer (a data race or a torn record fails the run).
//
//   g++ -std=c++20 -O1 -g -fsanitize=thread -I../../src ring_test.cc -o ring_test -lpthread
#include "ring.h"

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

static int failures = 0;
#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
      failures++;                                               \
    }                                                           \
  } while (0)

struct Header {
  uint32_t bytes;  // header + body
  uint32_t seq;
};

// One producer pushes records of varying size (wrapping around the ring's end); one consumer
// takes them in batches and checks every byte and the sequence. Every record is either received
// whole and in order, or counted as dropped.
static void spsc() {
  PtprofByteRing ring;
  std::vector<uint8_t> storage(4096);
  ring.buf = storage.data();
  ring.mask = storage.size() - 1;
  const uint32_t n = 200000;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    uint8_t body[600];
    for (uint32_t seq = 0; seq < n; seq++) {
      uint32_t len = (seq * 37) % sizeof(body);
      for (uint32_t i = 0; i < len; i++) body[i] = static_cast<uint8_t>(seq + i);
      Header h{static_cast<uint32_t>(sizeof(Header) + len), seq};
      ring.push(&h, sizeof(h), body, len);
      if (seq % 16 == 0) std::this_thread::yield();  // let the consumer keep up some of the time
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t received = 0;
  int64_t last = -1;
  std::vector<uint8_t> batch;
  for (;;) {
    bool finished = done.load(std::memory_order_acquire);
    batch.clear();
    ring.take_all(&batch);
    size_t at = 0;
    while (at + sizeof(Header) <= batch.size()) {
      Header h;
      std::memcpy(&h, batch.data() + at, sizeof(h));
      CHECK(h.bytes >= sizeof(Header) && at + h.bytes <= batch.size(), "torn record at %zu", at);
      if (!(h.bytes >= sizeof(Header) && at + h.bytes <= batch.size())) {
        producer.join();
        return;
      }
      CHECK(static_cast<int64_t>(h.seq) > last, "out of order: %u after %lld", h.seq, static_cast<long long>(last));
      last = h.seq;
      for (uint32_t i = 0; i < h.bytes - sizeof(Header); i++)
        if (batch[at + sizeof(Header) + i] != static_cast<uint8_t>(h.seq + i)) {
          CHECK(false, "record %u: byte %u corrupt", h.seq, i);
          break;
        }
      received++;
      at += h.bytes;
    }
    CHECK(at == batch.size(), "partial record at the end of a batch");
    if (finished && batch.empty()) break;
  }
  producer.join();
  uint64_t drops = ring.drops.load();
  CHECK(received + drops == n, "received %llu + dropped %llu != pushed %u", (unsigned long long)received,
        (unsigned long long)drops, n);
  std::printf("spsc: %llu received, %llu dropped of %u\n", (unsigned long long)received, (unsigned long long)drops, n);
}

struct Rec {
  uint32_t producer;
  uint32_t seq;
  uint64_t check;
};

// Several producers, one consumer: per producer, records arrive in order and intact; every
// record is received or counted as dropped.
static void mpsc() {
  static PtprofSharedRing<Rec, 1024> ring;
  const uint32_t producers = 4, n = 100000;
  std::atomic<uint32_t> finished{0};
  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < producers; p++)
    threads.emplace_back([&, p] {
      for (uint32_t seq = 0; seq < n; seq++) ring.push(Rec{p, seq, (uint64_t(p) << 32 | seq) * 0x9E3779B97F4A7C15ull});
      finished.fetch_add(1, std::memory_order_release);
    });
  std::vector<int64_t> last(producers, -1);
  uint64_t received = 0;
  Rec r;
  for (;;) {
    bool all = finished.load(std::memory_order_acquire) == producers;
    bool any = false;
    while (ring.pop(&r)) {
      any = true;
      CHECK(r.producer < producers, "bad producer %u", r.producer);
      if (r.producer >= producers) continue;
      CHECK(r.check == (uint64_t(r.producer) << 32 | r.seq) * 0x9E3779B97F4A7C15ull, "torn record");
      CHECK(static_cast<int64_t>(r.seq) > last[r.producer], "producer %u out of order", r.producer);
      last[r.producer] = r.seq;
      received++;
    }
    if (all && !any) break;
  }
  for (auto& t : threads) t.join();
  uint64_t drops = ring.drops.load();
  CHECK(received + drops == uint64_t(producers) * n, "received %llu + dropped %llu != pushed %u",
        (unsigned long long)received, (unsigned long long)drops, producers * n);
  CHECK(ring.pending() == 0, "pending %llu after all popped", (unsigned long long)ring.pending());
  std::printf("mpsc: %llu received, %llu dropped of %u\n", (unsigned long long)received, (unsigned long long)drops,
              producers * n);
}

int main() {
  spsc();
  mpsc();
  if (failures) {
    std::fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
