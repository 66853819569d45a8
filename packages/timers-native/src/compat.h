// compat.h: the V8 API as binding.cc uses it, on every Node version that gets a prebuild.
//
// binding.cc calls V8 directly (node-addon-api has no stack sampling or code events), so every
// Node ABI gets its own binary, built against that version's headers (scripts/prebuild.js). Every
// call into V8 goes through one of the helpers below, and every V8 number that JavaScript mirrors
// (src/index.ts) is checked here at compile time, so a V8 change shows up in one place: as a
// failed static_assert when a new version is prebuilt, or as a version test in one helper.
//
// Checked against the headers of (see PREBUILDS.md for the tested matrix):
//   Node 20.20.2  V8 11.3  NODE_MODULE_VERSION 115
//   Node 22.23.3  V8 12.4  127
//   Node 24.21.0  V8 13.6  137
//   Node 26.10.0  V8 14.6  147
// What differs between them, for this addon:
//   - v8::StateTag is an `int` enum in V8 11.3 and a `uint16_t` enum from V8 12.4, so the
//     SampleInfo layout differs (this is why one binary cannot serve Node 20 and 22); V8 13.6 adds
//     LOGGING (9) and V8 14.6 IDLE_EXTERNAL (10). ptprof_vm_state() widens it to int32_t.
//   - From V8 12.4, API callbacks run in the JS state unless V8's own CPU profiler is running:
//     samples taken inside a native callback (zlib, crypto, fs sync calls) report vm_state JS and
//     no external_callback_entry (V8 11.3 reports EXTERNAL and the callback's address). The stack
//     walk itself is unchanged; the callback's own frame is then simply absent.
//   - Code-event names carry new tier markers ("+", "*'", "o*"), parsed in
//     packages/sampler/src/codemap.ts, not here.
//   Everything else binding.cc uses (GetStackSample, RegisterState, SampleInfo's fields,
//   JitCodeEvent and its enums, SetJitCodeEventHandler, Isolate::GetCurrent,
//   napi_add_env_cleanup_hook) is unchanged from V8 11.3 to 14.6, and none of it is deprecated
//   (checked with V8_DEPRECATION_WARNINGS and V8_IMMINENT_DEPRECATION_WARNINGS). The binaries for
//   Node 22, 24 and 26 come out byte-identical; they are still built and shipped per ABI.
#ifndef PTPROF_COMPAT_H_
#define PTPROF_COMPAT_H_

#include <node.h>
#include <node_version.h>
#include <sys/prctl.h>
#include <v8-profiler.h>
#include <v8-version.h>
#include <v8.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#if NODE_MAJOR_VERSION < 20
#error "@ptprof/timers-native needs Node 20 or newer"
#endif

// True when the headers are of V8 major.minor or newer.
#define PTPROF_V8_AT_LEAST(major, minor) \
  (V8_MAJOR_VERSION > (major) || (V8_MAJOR_VERSION == (major) && V8_MINOR_VERSION >= (minor)))

// ---------------------------------------------------------------------------------------------
// Numbers that src/index.ts mirrors (VM_STATES, CODE_ADDED..., CODE_TYPE_...)
// ---------------------------------------------------------------------------------------------

static_assert(v8::JS == 0 && v8::GC == 1 && v8::PARSER == 2 && v8::BYTECODE_COMPILER == 3 && v8::COMPILER == 4 &&
                  v8::OTHER == 5 && v8::EXTERNAL == 6 && v8::ATOMICS_WAIT == 7 && v8::IDLE == 8,
              "v8::StateTag changed: update VM_STATES in src/index.ts");
#if PTPROF_V8_AT_LEAST(13, 6)
static_assert(v8::LOGGING == 9, "v8::StateTag changed: update VM_STATES in src/index.ts");
#endif
#if PTPROF_V8_AT_LEAST(14, 6)
static_assert(v8::IDLE_EXTERNAL == 10, "v8::StateTag changed: update VM_STATES in src/index.ts");
#endif
static_assert(v8::JitCodeEvent::CODE_ADDED == 0 && v8::JitCodeEvent::CODE_MOVED == 1 &&
                  v8::JitCodeEvent::CODE_REMOVED == 2,
              "v8::JitCodeEvent::EventType changed: update CODE_ADDED/MOVED/REMOVED in src/index.ts");
static_assert(v8::JitCodeEvent::BYTE_CODE == 0 && v8::JitCodeEvent::JIT_CODE == 1 && v8::JitCodeEvent::WASM_CODE == 2,
              "v8::JitCodeEvent::CodeType changed: update CODE_TYPE_* in src/index.ts");

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// The isolate of the calling JS thread (register() runs on it).
static inline v8::Isolate* ptprof_current_isolate() { return v8::Isolate::GetCurrent(); }

// The calling thread's Node environment (register() runs in a JS call: a context is entered), for
// node::RequestInterrupt: it runs a callback on that thread at its next interrupt check, and wakes
// its event loop if it waits (Node 14+, unchanged through 26).
static inline node::Environment* ptprof_current_environment(v8::Isolate* isolate) {
  return node::GetCurrentEnvironment(isolate->GetCurrentContext());
}

// v8::StateTag as the int32 a record carries: `int` in V8 11.3, `uint16_t` from V8 12.4.
static inline int32_t ptprof_vm_state(v8::StateTag tag) { return static_cast<int32_t>(tag); }

// One stack walk, as the handler records it.
struct PtprofStackSample {
  size_t frames;               // frames written
  int32_t vm_state;            // ptprof_vm_state(SampleInfo::vm_state)
  uint64_t external_callback;  // SampleInfo::external_callback_entry (0 from V8 12.4 unless V8's
                               // own profiler runs, see above)
};

// Isolate::GetStackSample from the signal handler, on the isolate's own thread. Async-signal-safe
// as V8 documents it (no allocation, no locks); SampleInfo is zeroed first because V8 leaves its
// fields unset when the walk fails early.
static inline PtprofStackSample ptprof_stack_sample(v8::Isolate* isolate, const v8::RegisterState& regs, void** frames,
                                                    size_t limit) {
  v8::SampleInfo si;
  memset(&si, 0, sizeof(si));
  isolate->GetStackSample(regs, frames, limit, &si);
  return PtprofStackSample{si.frames_count, ptprof_vm_state(si.vm_state),
                           reinterpret_cast<uint64_t>(si.external_callback_entry)};
}

// JIT code events for one isolate: the code that exists now, then every change.
static inline void ptprof_code_events_start(v8::Isolate* isolate, v8::JitCodeEventHandler handler) {
  isolate->SetJitCodeEventHandler(v8::kJitCodeEventEnumExisting, handler);
}

// V8 records a source position for every instruction of the code it optimizes from now on, not only
// for calls (what V8's own profiler turns on; public API since V8 7). inline.cc needs it to place
// a leaf pc inside inlined code.
static inline void ptprof_detailed_source_positions(v8::Isolate* isolate) {
  v8::CpuProfiler::UseDetailedSourcePositionsForProfiling(isolate);
}

static inline void ptprof_code_events_stop(v8::Isolate* isolate) {
  isolate->SetJitCodeEventHandler(v8::kJitCodeEventDefault, nullptr);
}

// ---------------------------------------------------------------------------------------------
// glibc: the prebuilds must load wherever that Node runs (glibc 2.28 for Node 20-26's own binaries)
// ---------------------------------------------------------------------------------------------

// Names the calling thread (15 bytes kept). pthread_setname_np moved into libc in glibc 2.34 with
// a new symbol version, which would make the addon need glibc 2.34; prctl(PR_SET_NAME) is as old
// as Linux 2.6.9 and names the calling thread the same way.
static inline void ptprof_set_thread_name(const char* name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

// pthread_create moved from libpthread into libc in glibc 2.34 under a new symbol version; linked
// against a newer glibc, the addon would need 2.34. Its older version is still in every glibc, so
// the reference is bound to that one (the version of the architecture's first glibc).
// The same holds for the semaphores and pthread_condattr_setclock (control.cc).
#if defined(__GLIBC__) && defined(__x86_64__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver sem_init,sem_init@GLIBC_2.2.5");
__asm__(".symver sem_post,sem_post@GLIBC_2.2.5");
__asm__(".symver sem_wait,sem_wait@GLIBC_2.2.5");
__asm__(".symver pthread_condattr_setclock,pthread_condattr_setclock@GLIBC_2.3.3");
#elif defined(__GLIBC__) && defined(__aarch64__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.17");
__asm__(".symver sem_init,sem_init@GLIBC_2.17");
__asm__(".symver sem_post,sem_post@GLIBC_2.17");
__asm__(".symver sem_wait,sem_wait@GLIBC_2.17");
__asm__(".symver pthread_condattr_setclock,pthread_condattr_setclock@GLIBC_2.17");
#endif

#endif  // PTPROF_COMPAT_H_
