// napi_util.cc: see napi_util.h.
#include "napi_util.h"

#include <errno.h>
#include <string.h>

#include <cstdint>

static const char* ptprof_errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOTSUP: return "ENOTSUP";
    case EOVERFLOW: return "EOVERFLOW";
    default: return nullptr;
  }
}

Napi::Value ptprof_throw_errno(Napi::Env env, const std::string& call, int e) {
  const char* name = ptprof_errno_name(e);
  std::string ename = name ? name : ("errno " + std::to_string(e));
  Napi::Error err = Napi::Error::New(env, call + ": " + ename + " (" + strerror(e) + ")");
  err.Set("code", Napi::String::New(env, ename));
  err.Set("errno", Napi::Number::New(env, e));
  std::string syscall = call.substr(0, call.find('('));
  err.Set("syscall", Napi::String::New(env, syscall));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ptprof_throw_type(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ptprof_arg_uint(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, double* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    ptprof_throw_type(info.Env(), std::string(fn) + ": " + what + " must be a number");
    return false;
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<uint64_t>(v))) {
    ptprof_throw_type(info.Env(),
                      std::string(fn) + ": " + what + " must be a non-negative integer, got " + std::to_string(v));
    return false;
  }
  *out = v;
  return true;
}
