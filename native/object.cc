// bpf_object: open an ELF file, configure its maps before load, load it, and hand out owned
// duplicates of its program and map descriptors. The object itself is closed exactly once.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

namespace fecflow {

class BpfObjectHandle : public Napi::ObjectWrap<BpfObjectHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BpfObjectHandle",
                       {InstanceMethod("load", &BpfObjectHandle::Load),
                        InstanceMethod("programs", &BpfObjectHandle::Programs),
                        InstanceMethod("maps", &BpfObjectHandle::Maps),
                        InstanceMethod("mapSetPinPath", &BpfObjectHandle::MapSetPinPath),
                        InstanceMethod("mapReuseFd", &BpfObjectHandle::MapReuseFd),
                        InstanceMethod("programFd", &BpfObjectHandle::ProgramFd),
                        InstanceMethod("mapFd", &BpfObjectHandle::MapFd),
                        InstanceMethod("close", &BpfObjectHandle::Close)});
  }

  // new BpfObjectHandle(path, { pinRootPath? }) — bpf_object__open_file.
  explicit BpfObjectHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObjectHandle>(info) {
    Napi::Env env = info.Env();
    std::string path = StringArg(info, 0, "path");
    std::string pin_root;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Value v = info[1].As<Napi::Object>().Get("pinRootPath");
      if (v.IsString()) pin_root = v.As<Napi::String>().Utf8Value();
    }
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (!pin_root.empty()) opts.pin_root_path = pin_root.c_str();
    LogCapture cap;
    obj_ = bpf_object__open_file(path.c_str(), &opts);
    if (!obj_) {
      int err = errno;
      Napi::Error e = ErrnoError(env, "bpf_object__open_file", err ? err : EINVAL);
      e.Set("log", Napi::String::New(env, cap.text));
      e.Set("path", Napi::String::New(env, path));
      throw e;
    }
  }

  ~BpfObjectHandle() override {
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
  }

 private:
  struct bpf_object* Obj(Napi::Env env) {
    if (!obj_) throw ErrnoError(env, "bpf_object (already closed)", EBADF);
    return obj_;
  }

  struct bpf_map* FindMap(Napi::Env env, const std::string& name) {
    struct bpf_map* m = bpf_object__find_map_by_name(Obj(env), name.c_str());
    if (!m) ThrowErrno(env, "bpf_object__find_map_by_name(" + name + ")", ENOENT);
    return m;
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Obj(env);
    LogCapture cap;
    int r = bpf_object__load(obj);
    if (r < 0) {
      Napi::Error e = ErrnoError(env, "bpf_object__load", r);
      e.Set("log", Napi::String::New(env, cap.text));
      throw e;
    }
    return env.Undefined();
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, Obj(env)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      enum bpf_prog_type t = bpf_program__type(p);
      o.Set("type", Napi::Number::New(env, t));
      const char* tn = libbpf_bpf_prog_type_str(t);
      o.Set("typeName", tn ? tn : "unknown");
      o.Set("fd", Napi::Number::New(env, bpf_program__fd(p)));
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, Obj(env)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      enum bpf_map_type t = bpf_map__type(m);
      o.Set("type", Napi::Number::New(env, t));
      const char* tn = libbpf_bpf_map_type_str(t);
      o.Set("typeName", tn ? tn : "unknown");
      o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(m)));
      o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(m)));
      o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(m)));
      o.Set("flags", Napi::Number::New(env, bpf_map__map_flags(m)));
      o.Set("internal", Napi::Boolean::New(env, bpf_map__is_internal(m)));
      const char* pp = bpf_map__pin_path(m);
      o.Set("pinPath", pp ? Napi::Value(Napi::String::New(env, pp)) : env.Null());
      o.Set("fd", Napi::Number::New(env, bpf_map__fd(m)));
      out.Set(i++, o);
    }
    return out;
  }

  // mapSetPinPath(name, path | null) — bpf_map__set_pin_path.
  Napi::Value MapSetPinPath(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, StringArg(info, 0, "name"));
    std::string path;
    bool has = info.Length() > 1 && info[1].IsString();
    if (has) path = info[1].As<Napi::String>().Utf8Value();
    int r = bpf_map__set_pin_path(m, has ? path.c_str() : nullptr);
    if (r < 0) ThrowErrno(env, "bpf_map__set_pin_path", r);
    return env.Undefined();
  }

  // mapReuseFd(name, fd) — bpf_map__reuse_fd; libbpf keeps its own duplicate, the caller still
  // owns and closes fd.
  Napi::Value MapReuseFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, StringArg(info, 0, "name"));
    Fd* f = Fd::From(env, info[1], "fd");
    int r = bpf_map__reuse_fd(m, f->fd());
    if (r < 0) ThrowErrno(env, "bpf_map__reuse_fd", r);
    return env.Undefined();
  }

  static Napi::Value Dup(Napi::Env env, int fd, const std::string& what) {
    if (fd < 0) ThrowErrno(env, what + " (object not loaded)", EBADF);
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
    return Fd::Wrap(env, d);
  }

  // programFd(name) → Fd: an owned duplicate of the loaded program's descriptor.
  Napi::Value ProgramFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(info, 0, "name");
    struct bpf_program* p = bpf_object__find_program_by_name(Obj(env), name.c_str());
    if (!p) ThrowErrno(env, "bpf_object__find_program_by_name(" + name + ")", ENOENT);
    return Dup(env, bpf_program__fd(p), "bpf_program__fd");
  }

  // mapFd(name) → Fd: an owned duplicate of the map's descriptor.
  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* m = FindMap(env, StringArg(info, 0, "name"));
    return Dup(env, bpf_map__fd(m), "bpf_map__fd");
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool was_open = obj_ != nullptr;
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
    return Napi::Boolean::New(info.Env(), was_open);
  }

  struct bpf_object* obj_ = nullptr;
};

Napi::Object InitObject(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = BpfObjectHandle::Define(env);
  env.GetInstanceData<AddonData>()->object_ctor = Napi::Persistent(ctor);
  exports.Set("BpfObjectHandle", ctor);
  return exports;
}

}  // namespace fecflow
