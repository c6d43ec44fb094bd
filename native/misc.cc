// Descriptor-level calls (pin, get, by-id, kind), CPU count, interface names, network
// namespaces, one integer socket option (Node's TCP sockets cannot set IP_TTL, which LDP's GTSM
// needs) and the constants TypeScript needs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>

#include "common.h"

namespace fecflow {

// objPin(fd, path) — bpf_obj_pin.
static Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = Fd::From(env, info[0], "fd");
  std::string path = StringArg(info, 1, "path");
  int r = bpf_obj_pin(f->fd(), path.c_str());
  if (r < 0) {
    Napi::Error e = ErrnoError(env, "bpf_obj_pin", r);
    e.Set("path", path);
    throw e;
  }
  return env.Undefined();
}

// objGet(path) → Fd — bpf_obj_get.
static Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  int r = bpf_obj_get(path.c_str());
  if (r < 0) {
    Napi::Error e = ErrnoError(env, "bpf_obj_get", r);
    e.Set("path", path);
    throw e;
  }
  return Fd::Wrap(env, r);
}

// fdKind(fd) → "map" | "prog" | "link" | "btf" | "other"
static Napi::Value FdKindFn(const Napi::CallbackInfo& info) {
  Fd* f = Fd::From(info.Env(), info[0], "fd");
  return Napi::String::New(info.Env(), FdKind(f->fd()));
}

#define BY_ID(Name, call)                                              \
  static Napi::Value Name(const Napi::CallbackInfo& info) {            \
    Napi::Env env = info.Env();                                        \
    int r = call(U32Arg(info, 0, "id"));                               \
    if (r < 0) ThrowErrno(env, #call, r);                              \
    return Fd::Wrap(env, r);                                           \
  }
BY_ID(ProgGetFdById, bpf_prog_get_fd_by_id)
BY_ID(MapGetFdById, bpf_map_get_fd_by_id)
BY_ID(LinkGetFdById, bpf_link_get_fd_by_id)

static Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "libbpf_num_possible_cpus", n);
  return Napi::Number::New(info.Env(), n);
}

// ifNameToIndex(name) — if_nametoindex(3); throws ENODEV when there is no such interface.
static Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  std::string name = StringArg(info, 0, "name");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) {
    Napi::Error e = ErrnoError(info.Env(), "if_nametoindex(" + name + ")", errno ? errno : ENODEV);
    throw e;
  }
  return Napi::Number::New(info.Env(), idx);
}

static Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  char buf[IF_NAMESIZE];
  uint32_t idx = U32Arg(info, 0, "ifindex");
  if (!if_indextoname(idx, buf)) ThrowErrno(info.Env(), "if_indextoname", errno);
  return Napi::String::New(info.Env(), buf);
}

// openPath(path) → Fd — open(2) read-only, e.g. a namespace file for setns.
static Napi::Value OpenPath(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "path");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Napi::Error e = ErrnoError(info.Env(), "open(" + path + ")", errno);
    throw e;
  }
  return Fd::Wrap(info.Env(), fd);
}

// setns(fd, nstype) — setns(2) for the calling (main JS) thread.
static Napi::Value SetNs(const Napi::CallbackInfo& info) {
  Fd* f = Fd::From(info.Env(), info[0], "namespace fd");
  uint32_t type = U32Arg(info, 1, "nstype");
  if (setns(f->fd(), (int)type) < 0) ThrowErrno(info.Env(), "setns", errno);
  return info.Env().Undefined();
}

// setsockoptInt(fd, level, name, value) — setsockopt(2) with an int value on a descriptor the
// caller does not hand over (e.g. a libuv TCP handle's): it is neither wrapped nor closed here.
static Napi::Value SetSockoptInt(const Napi::CallbackInfo& info) {
  uint32_t fd = U32Arg(info, 0, "fd");
  uint32_t level = U32Arg(info, 1, "level");
  uint32_t name = U32Arg(info, 2, "name");
  int value = (int)U32Arg(info, 3, "value");
  if (setsockopt((int)fd, (int)level, (int)name, &value, sizeof(value)) < 0) ThrowErrno(info.Env(), "setsockopt", errno);
  return info.Env().Undefined();
}

static Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define C(x) c.Set(#x, Napi::Number::New(env, (double)(x)))
  C(BPF_ANY); C(BPF_NOEXIST); C(BPF_EXIST); C(BPF_F_LOCK);
  C(BPF_XDP); C(BPF_F_TEST_XDP_LIVE_FRAMES); C(BPF_F_REPLACE);
  C(XDP_FLAGS_UPDATE_IF_NOEXIST); C(XDP_FLAGS_SKB_MODE); C(XDP_FLAGS_DRV_MODE);
  C(XDP_FLAGS_HW_MODE); C(XDP_FLAGS_REPLACE);
  C(XDP_ATTACHED_NONE); C(XDP_ATTACHED_DRV); C(XDP_ATTACHED_SKB); C(XDP_ATTACHED_HW);
  C(XDP_ATTACHED_MULTI);
  C(CLONE_NEWNET);
  C(IPPROTO_IP); C(IP_TTL); C(IP_MINTTL);
  C(BPF_MAP_TYPE_HASH); C(BPF_MAP_TYPE_ARRAY); C(BPF_MAP_TYPE_PERCPU_HASH);
  C(BPF_MAP_TYPE_PERCPU_ARRAY); C(BPF_MAP_TYPE_LRU_HASH); C(BPF_MAP_TYPE_LRU_PERCPU_HASH);
  C(BPF_MAP_TYPE_LPM_TRIE); C(BPF_MAP_TYPE_DEVMAP); C(BPF_MAP_TYPE_DEVMAP_HASH);
  C(BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE); C(BPF_MAP_TYPE_PROG_ARRAY);
  C(BPF_PROG_TYPE_XDP);
#undef C
  return c;
}

Napi::Object InitMisc(Napi::Env env, Napi::Object exports) {
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
  exports.Set("fdKind", Napi::Function::New(env, FdKindFn));
  exports.Set("progGetFdById", Napi::Function::New(env, ProgGetFdById));
  exports.Set("mapGetFdById", Napi::Function::New(env, MapGetFdById));
  exports.Set("linkGetFdById", Napi::Function::New(env, LinkGetFdById));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex));
  exports.Set("ifIndexToName", Napi::Function::New(env, IfIndexToName));
  exports.Set("openPath", Napi::Function::New(env, OpenPath));
  exports.Set("setns", Napi::Function::New(env, SetNs));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetSockoptInt));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace fecflow
