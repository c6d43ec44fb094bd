// Errors, the owned descriptor class and libbpf print capture.
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>

namespace fecflow {

static const char* ErrnoName(int err) {
  // Kernel-internal codes that leak out of bpf(2) and that glibc has no name for.
  switch (err) {
    case 524: return "ENOTSUPP";
    case 512: return "ERESTARTSYS";
  }
  const char* n = strerrorname_np(err);
  return n ? n : "EUNKNOWN";
}

Napi::Error ErrnoError(Napi::Env env, const std::string& op, int err) {
  if (err < 0) err = -err;
  const char* code = ErrnoName(err);
  std::string desc = err == 524 ? "Operation not supported by this map or program type" : strerror(err);
  Napi::Error e = Napi::Error::New(env, op + ": " + desc + " (" + code + ")");
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("op", Napi::String::New(env, op));
  return e;
}

void ThrowErrno(Napi::Env env, const std::string& op, int err) { throw ErrnoError(env, op, err); }

// ---- Fd -------------------------------------------------------------------------------------

static void* const kFdToken = (void*)&kFdToken;

Napi::Function Fd::Define(Napi::Env env) {
  return DefineClass(env, "Fd",
                     {InstanceAccessor("fd", &Fd::GetFd, nullptr),
                      InstanceAccessor("closed", &Fd::GetClosed, nullptr),
                      InstanceMethod("close", &Fd::Close)});
}

Fd::Fd(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Fd>(info) {
  // Only the binding creates descriptors; JS cannot adopt an arbitrary number.
  if (info.Length() != 2 || !info[0].IsExternal() || info[0].As<Napi::External<void>>().Data() != kFdToken)
    throw Napi::TypeError::New(info.Env(), "Fd objects are created by the binding only");
  fd_ = info[1].As<Napi::Number>().Int32Value();
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Napi::Object Fd::Wrap(Napi::Env env, int fd) {
  AddonData* data = env.GetInstanceData<AddonData>();
  try {
    return data->fd_ctor.New({Napi::External<void>::New(env, kFdToken), Napi::Number::New(env, fd)});
  } catch (...) {
    ::close(fd);
    throw;
  }
}

Fd* Fd::From(Napi::Env env, const Napi::Value& v, const char* what) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data->fd_ctor.Value()))
    throw Napi::TypeError::New(env, std::string(what) + " must be an Fd");
  Fd* f = Napi::ObjectWrap<Fd>::Unwrap(v.As<Napi::Object>());
  if (f->fd_ < 0) throw ErrnoError(env, std::string(what) + " (descriptor already closed)", EBADF);
  return f;
}

Napi::Value Fd::GetFd(const Napi::CallbackInfo& info) {
  if (fd_ < 0) throw ErrnoError(info.Env(), "fd (descriptor already closed)", EBADF);
  return Napi::Number::New(info.Env(), fd_);
}

Napi::Value Fd::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

Napi::Value Fd::Close(const Napi::CallbackInfo& info) {
  bool was_open = fd_ >= 0;
  if (was_open) ::close(fd_);
  fd_ = -1;
  return Napi::Boolean::New(info.Env(), was_open);
}

static bool IsPerCpu(uint32_t t) {
  return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
         t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

void Fd::EnsureMap(Napi::Env env) {
  if (map_known) return;
  if (FdKind(fd_) != "map") throw ErrnoError(env, "map operation on a descriptor that is not a map", EBADF);
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  __u32 len = sizeof(mi);
  int r = bpf_obj_get_info_by_fd(fd_, &mi, &len);
  if (r < 0) ThrowErrno(env, "bpf_obj_get_info_by_fd", r);
  map_type = mi.type;
  key_size = mi.key_size;
  value_size = mi.value_size;
  max_entries = mi.max_entries;
  value_buf_size = value_size;
  if (IsPerCpu(map_type)) {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu < 0) ThrowErrno(env, "libbpf_num_possible_cpus", ncpu);
    value_buf_size = ((size_t(value_size) + 7) / 8) * 8 * size_t(ncpu);
  }
  map_known = true;
}

std::string FdKind(int fd) {
  char path[64], target[128];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n < 0) return "other";
  target[n] = 0;
  std::string t(target);
  if (t == "anon_inode:bpf-map") return "map";
  if (t == "anon_inode:bpf-prog") return "prog";
  if (t == "anon_inode:bpf_link" || t == "anon_inode:bpf-link") return "link";
  if (t == "anon_inode:btf") return "btf";
  return "other";
}

// ---- libbpf print capture ------------------------------------------------------------------

static std::string* g_capture = nullptr;

static int PrintFn(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (!g_capture || level == LIBBPF_DEBUG) return 0;
  char buf[4096];
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(buf, sizeof(buf), fmt, cp);
  va_end(cp);
  if (n < 0) return 0;
  if ((size_t)n < sizeof(buf)) {
    g_capture->append(buf, n);
  } else {
    std::string big(n + 1, '\0');
    vsnprintf(&big[0], big.size(), fmt, ap);
    big.resize(n);
    g_capture->append(big);
  }
  return n;
}

void InitCapture() { libbpf_set_print(PrintFn); }

LogCapture::LogCapture() { g_capture = &text; }
LogCapture::~LogCapture() { g_capture = nullptr; }

// ---- argument helpers ------------------------------------------------------------------------

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d)
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an unsigned 32-bit integer");
  return (uint32_t)d;
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

}  // namespace fecflow
