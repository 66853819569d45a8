// napi_util.h: errors and arguments for the addon's N-API functions.
//
// Every failing call becomes an Error `call(args): ENAME (strerror)` with .code, .errno and
// .syscall, as Node's own errors have. These create JS values: call them only after every lock is
// released (ptprof.h, "Locks").
#ifndef PTPROF_NAPI_UTIL_H_
#define PTPROF_NAPI_UTIL_H_

#include <napi.h>

#include <string>

Napi::Value ptprof_throw_errno(Napi::Env env, const std::string& call, int e);
Napi::Value ptprof_throw_type(Napi::Env env, const std::string& msg);
// Reads argument i as a non-negative integer (a tid, a count, nanoseconds); throws a TypeError
// naming fn and what otherwise.
bool ptprof_arg_uint(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, double* out);

// An errno to throw once the lock is released: 0 means none.
struct PtprofFailure {
  int err = 0;
  std::string call;
  void set(int e, std::string c) {
    err = e;
    call = std::move(c);
  }
  explicit operator bool() const { return err != 0; }
};

#endif  // PTPROF_NAPI_UTIL_H_
