// Shared pieces of the binding: errno → JS error conversion, the owned-descriptor class and the
// capture of libbpf's printed messages. Everything here is mechanism; policy lives in TypeScript.
#pragma once

#include <napi.h>

#include <string>

namespace fecflow {

// A JS Error for a failed call: message "<op>: <strerror>", plus errno, code and op.
Napi::Error ErrnoError(Napi::Env env, const std::string& op, int err);
// Throws ErrnoError for a libbpf return value (negative errno).
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err);

// Owns exactly one file descriptor; it is closed by close() or, if never closed, when the JS
// object is garbage collected — never twice. Map descriptors cache their key and value sizes so
// that buffers are checked before the kernel writes into them.
class Fd : public Napi::ObjectWrap<Fd> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps fd (taking ownership) into a new JS Fd object.
  static Napi::Object Wrap(Napi::Env env, int fd);
  // Unwraps a JS Fd argument; throws if it is not an Fd or is closed.
  static Fd* From(Napi::Env env, const Napi::Value& v, const char* what);

  explicit Fd(const Napi::CallbackInfo& info);
  ~Fd() override;

  int fd() const { return fd_; }

  // Map geometry, filled on first use by EnsureMap().
  bool map_known = false;
  uint32_t map_type = 0, key_size = 0, value_size = 0, max_entries = 0;
  size_t value_buf_size = 0;  // value_size, or round_up(value_size, 8) * possible CPUs
  void EnsureMap(Napi::Env env);

 private:
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  int fd_ = -1;
};

// Kind of a descriptor from /proc/self/fd: "map", "prog", "link", "btf" or "other".
std::string FdKind(int fd);

// While alive, libbpf's warnings and info messages (including verifier logs) go into text.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  std::string text;
};

void InitCapture();

struct AddonData {
  Napi::FunctionReference fd_ctor;
  Napi::FunctionReference object_ctor;
};

Napi::Object InitObject(Napi::Env env, Napi::Object exports);
Napi::Object InitMap(Napi::Env env, Napi::Object exports);
Napi::Object InitProg(Napi::Env env, Napi::Object exports);
Napi::Object InitMisc(Napi::Env env, Napi::Object exports);

// Small argument helpers.
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace fecflow
