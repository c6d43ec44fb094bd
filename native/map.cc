// Map element and batch operations. Every buffer is checked against the map's key size and
// value buffer size (per-CPU: round_up(value_size, 8) * possible CPUs) before the kernel is
// allowed to write into it.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#include <algorithm>

#include "common.h"

namespace fecflow {

static Fd* MapArg(const Napi::CallbackInfo& info) {
  Fd* f = Fd::From(info.Env(), info[0], "map fd");
  f->EnsureMap(info.Env());
  return f;
}

static void CheckLen(Napi::Env env, const char* what, size_t got, size_t want) {
  if (got != want)
    throw Napi::RangeError::New(env, std::string(what) + " is " + std::to_string(got) +
                                         " bytes, the map needs " + std::to_string(want));
}

static void CheckAtLeast(Napi::Env env, const char* what, size_t got, size_t want) {
  if (got < want)
    throw Napi::RangeError::New(env, std::string(what) + " is " + std::to_string(got) +
                                         " bytes, at least " + std::to_string(want) + " needed");
}

// A key argument: Buffer of key_size bytes, or null/undefined for maps without keys.
static const void* KeyPtr(const Napi::CallbackInfo& info, size_t i, Fd* f, const char* what) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) {
    if (f->key_size == 0) return nullptr;
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  }
  auto b = BufferArg(info, i, what);
  CheckLen(info.Env(), what, b.Length(), f->key_size);
  return f->key_size ? b.Data() : nullptr;
}

static uint64_t U64Opt(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return 0;
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return (uint64_t)info[i].As<Napi::Number>().Int64Value();
}

// mapGeometry(fd) → { type, keySize, valueSize, maxEntries, valueBufferSize }
static Napi::Value MapGeometry(const Napi::CallbackInfo& info) {
  Fd* f = MapArg(info);
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", f->map_type);
  o.Set("keySize", f->key_size);
  o.Set("valueSize", f->value_size);
  o.Set("maxEntries", f->max_entries);
  o.Set("valueBufferSize", (double)f->value_buf_size);
  return o;
}

// mapLookupElem(fd, key, valueOut, flags?) → true, or false on ENOENT.
static Napi::Value MapLookupElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  const void* key = KeyPtr(info, 1, f, "key");
  auto val = BufferArg(info, 2, "value");
  CheckLen(env, "value buffer", val.Length(), f->value_buf_size);
  uint64_t flags = U64Opt(info, 3);
  int r = flags ? bpf_map_lookup_elem_flags(f->fd(), key, val.Data(), flags)
                : bpf_map_lookup_elem(f->fd(), key, val.Data());
  if (r == -ENOENT) return Napi::Boolean::New(env, false);
  if (r < 0) ThrowErrno(env, flags ? "bpf_map_lookup_elem_flags" : "bpf_map_lookup_elem", r);
  return Napi::Boolean::New(env, true);
}

// mapUpdateElem(fd, key, value, flags)
static Napi::Value MapUpdateElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  const void* key = KeyPtr(info, 1, f, "key");
  auto val = BufferArg(info, 2, "value");
  CheckLen(env, "value", val.Length(), f->value_buf_size);
  int r = bpf_map_update_elem(f->fd(), key, val.Data(), U64Opt(info, 3));
  if (r < 0) ThrowErrno(env, "bpf_map_update_elem", r);
  return env.Undefined();
}

// mapDeleteElem(fd, key) → true, or false on ENOENT.
static Napi::Value MapDeleteElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  const void* key = KeyPtr(info, 1, f, "key");
  int r = bpf_map_delete_elem(f->fd(), key);
  if (r == -ENOENT) return Napi::Boolean::New(env, false);
  if (r < 0) ThrowErrno(env, "bpf_map_delete_elem", r);
  return Napi::Boolean::New(env, true);
}

// mapGetNextKey(fd, key | null, nextKeyOut) → true, or false at the end (ENOENT).
static Napi::Value MapGetNextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  const void* key = nullptr;
  if (info.Length() > 1 && info[1].IsBuffer()) key = KeyPtr(info, 1, f, "key");
  auto next = BufferArg(info, 2, "next key");
  CheckLen(env, "next key buffer", next.Length(), f->key_size);
  int r = bpf_map_get_next_key(f->fd(), key, next.Data());
  if (r == -ENOENT) return Napi::Boolean::New(env, false);
  if (r < 0) ThrowErrno(env, "bpf_map_get_next_key", r);
  return Napi::Boolean::New(env, true);
}

static size_t TokenSize(Fd* f) { return std::max<size_t>(f->key_size, 8); }

static Napi::Error BatchError(Napi::Env env, const char* op, int r, uint32_t count) {
  Napi::Error e = ErrnoError(env, op, r);
  e.Set("count", Napi::Number::New(env, count));
  return e;
}

// mapLookupBatch(fd, inBatch | null, outBatch, keysOut, valuesOut, count, elemFlags?)
//   → { count, done }; done is true when the kernel reported the end (ENOENT).
static Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  void* in_batch = nullptr;
  if (info[1].IsBuffer()) {
    auto b = info[1].As<Napi::Buffer<uint8_t>>();
    CheckAtLeast(env, "in batch token", b.Length(), TokenSize(f));
    in_batch = b.Data();
  }
  auto out_batch = BufferArg(info, 2, "out batch token");
  CheckAtLeast(env, "out batch token", out_batch.Length(), TokenSize(f));
  auto keys = BufferArg(info, 3, "keys");
  auto values = BufferArg(info, 4, "values");
  uint32_t count = U32Arg(info, 5, "count");
  CheckAtLeast(env, "keys buffer", keys.Length(), size_t(count) * f->key_size);
  CheckAtLeast(env, "values buffer", values.Length(), size_t(count) * f->value_buf_size);
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = U64Opt(info, 6));
  int r = bpf_map_lookup_batch(f->fd(), in_batch, out_batch.Data(), keys.Data(), values.Data(), &count, &opts);
  if (r < 0 && r != -ENOENT) throw BatchError(env, "bpf_map_lookup_batch", r, count);
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", count);
  o.Set("done", r == -ENOENT);
  return o;
}

// mapUpdateBatch(fd, keys, values, count, elemFlags) → count written. On error the thrown
// error carries count (elements written before the failure).
static Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  auto keys = BufferArg(info, 1, "keys");
  auto values = BufferArg(info, 2, "values");
  uint32_t count = U32Arg(info, 3, "count");
  CheckAtLeast(env, "keys buffer", keys.Length(), size_t(count) * f->key_size);
  CheckAtLeast(env, "values buffer", values.Length(), size_t(count) * f->value_buf_size);
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = U64Opt(info, 4));
  int r = bpf_map_update_batch(f->fd(), keys.Data(), values.Data(), &count, &opts);
  if (r < 0) throw BatchError(env, "bpf_map_update_batch", r, count);
  return Napi::Number::New(env, count);
}

// mapDeleteBatch(fd, keys, count) → count deleted; errors carry count like update.
static Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = MapArg(info);
  auto keys = BufferArg(info, 1, "keys");
  uint32_t count = U32Arg(info, 2, "count");
  CheckAtLeast(env, "keys buffer", keys.Length(), size_t(count) * f->key_size);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int r = bpf_map_delete_batch(f->fd(), keys.Data(), &count, &opts);
  if (r < 0) throw BatchError(env, "bpf_map_delete_batch", r, count);
  return Napi::Number::New(env, count);
}

Napi::Object InitMap(Napi::Env env, Napi::Object exports) {
  exports.Set("mapGeometry", Napi::Function::New(env, MapGeometry));
  exports.Set("mapLookupElem", Napi::Function::New(env, MapLookupElem));
  exports.Set("mapUpdateElem", Napi::Function::New(env, MapUpdateElem));
  exports.Set("mapDeleteElem", Napi::Function::New(env, MapDeleteElem));
  exports.Set("mapGetNextKey", Napi::Function::New(env, MapGetNextKey));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch));
  return exports;
}

}  // namespace fecflow
