// Programs and links: BPF_PROG_TEST_RUN, object info, bpf_link create/update/detach, and the
// netlink XDP attach calls.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_link.h>

#include <vector>

#include "common.h"

namespace fecflow {

static uint32_t U32Opt(const Napi::Object& o, const char* k, uint32_t dflt) {
  Napi::Value v = o.Get(k);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(k) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

// progTestRun(fd, { data, ctx?, dataOutSize?, repeat?, flags?, batchSize?, cpu? })
//   → { retval, data: Buffer | null, durationNs, ctx: Buffer | null }
static Napi::Value ProgTestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = Fd::From(env, info[0], "program fd");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  Napi::Value dv = o.Get("data");
  if (!dv.IsBuffer()) throw Napi::TypeError::New(env, "data must be a Buffer");
  auto data = dv.As<Napi::Buffer<uint8_t>>();
  uint32_t out_size = U32Opt(o, "dataOutSize", uint32_t(data.Length()) + 4096);
  std::vector<uint8_t> out(out_size);
  std::vector<uint8_t> ctx_in, ctx_out;
  Napi::Value cv = o.Get("ctx");
  if (cv.IsBuffer()) {
    auto c = cv.As<Napi::Buffer<uint8_t>>();
    ctx_in.assign(c.Data(), c.Data() + c.Length());
    ctx_out.resize(c.Length());
  }
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = data.Data();
  opts.data_size_in = data.Length();
  opts.repeat = (int)U32Opt(o, "repeat", 0);
  opts.flags = U32Opt(o, "flags", 0);
  opts.batch_size = U32Opt(o, "batchSize", 0);
  opts.cpu = U32Opt(o, "cpu", 0);
  bool live = opts.flags & BPF_F_TEST_XDP_LIVE_FRAMES;
  // Live frames are transmitted, not copied back: the kernel rejects data_out and ctx_out.
  if (!live && out_size) {
    opts.data_out = out.data();
    opts.data_size_out = out_size;
  }
  if (!ctx_in.empty()) {
    opts.ctx_in = ctx_in.data();
    opts.ctx_size_in = ctx_in.size();
    if (!live) {
      opts.ctx_out = ctx_out.data();
      opts.ctx_size_out = ctx_out.size();
    }
  }
  int r = bpf_prog_test_run_opts(f->fd(), &opts);
  if (r < 0) ThrowErrno(env, "bpf_prog_test_run_opts", r);
  Napi::Object res = Napi::Object::New(env);
  res.Set("retval", Napi::Number::New(env, opts.retval));
  res.Set("durationNs", Napi::Number::New(env, opts.duration));
  res.Set("data", opts.data_out ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out))
                                : env.Null());
  res.Set("ctx", opts.ctx_out ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, ctx_out.data(), opts.ctx_size_out))
                              : env.Null());
  return res;
}

static std::string Hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[3];
  for (size_t i = 0; i < n; i++) {
    snprintf(b, sizeof(b), "%02x", p[i]);
    s += b;
  }
  return s;
}

static Fd* KindArg(Napi::Env env, const Napi::Value& v, const char* kind) {
  Fd* f = Fd::From(env, v, "fd");
  std::string k = FdKind(f->fd());
  if (k != kind)
    throw ErrnoError(env, std::string("bpf_obj_get_info_by_fd: descriptor is a ") + k + ", not a " + kind, EINVAL);
  return f;
}

// progGetInfo(fd) — bpf_obj_get_info_by_fd on a program.
static Napi::Value ProgGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = KindArg(env, info[0], "prog");
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  __u32 len = sizeof(pi);
  int r = bpf_obj_get_info_by_fd(f->fd(), &pi, &len);
  if (r < 0) ThrowErrno(env, "bpf_obj_get_info_by_fd", r);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", pi.id);
  o.Set("type", pi.type);
  const char* tn = libbpf_bpf_prog_type_str((enum bpf_prog_type)pi.type);
  o.Set("typeName", tn ? tn : "unknown");
  o.Set("name", std::string(pi.name, strnlen(pi.name, sizeof(pi.name))));
  o.Set("tag", Hex(pi.tag, sizeof(pi.tag)));
  o.Set("jitedProgLen", pi.jited_prog_len);
  o.Set("xlatedProgLen", pi.xlated_prog_len);
  o.Set("verifiedInsns", pi.verified_insns);
  o.Set("nrMapIds", pi.nr_map_ids);
  o.Set("loadTimeNs", Napi::BigInt::New(env, (uint64_t)pi.load_time));
  o.Set("createdByUid", pi.created_by_uid);
  return o;
}

// mapGetInfo(fd) — bpf_obj_get_info_by_fd on a map.
static Napi::Value MapGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = KindArg(env, info[0], "map");
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  __u32 len = sizeof(mi);
  int r = bpf_obj_get_info_by_fd(f->fd(), &mi, &len);
  if (r < 0) ThrowErrno(env, "bpf_obj_get_info_by_fd", r);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", mi.id);
  o.Set("type", mi.type);
  const char* tn = libbpf_bpf_map_type_str((enum bpf_map_type)mi.type);
  o.Set("typeName", tn ? tn : "unknown");
  o.Set("name", std::string(mi.name, strnlen(mi.name, sizeof(mi.name))));
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  o.Set("btfId", mi.btf_id);
  return o;
}

// linkGetInfo(fd) — bpf_obj_get_info_by_fd on a link.
static Napi::Value LinkGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* f = KindArg(env, info[0], "link");
  struct bpf_link_info li;
  memset(&li, 0, sizeof(li));
  __u32 len = sizeof(li);
  int r = bpf_obj_get_info_by_fd(f->fd(), &li, &len);
  if (r < 0) ThrowErrno(env, "bpf_obj_get_info_by_fd", r);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", li.id);
  o.Set("type", li.type);
  const char* tn = libbpf_bpf_link_type_str((enum bpf_link_type)li.type);
  o.Set("typeName", tn ? tn : "unknown");
  o.Set("progId", li.prog_id);
  if (li.type == BPF_LINK_TYPE_XDP) o.Set("ifindex", li.xdp.ifindex);
  return o;
}

// linkCreate(progFd, targetFd, attachType, flags) → Fd — bpf_link_create.
static Napi::Value LinkCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* p = Fd::From(env, info[0], "program fd");
  uint32_t target = U32Arg(info, 1, "target");
  uint32_t type = U32Arg(info, 2, "attach type");
  LIBBPF_OPTS(bpf_link_create_opts, opts);
  opts.flags = info.Length() > 3 ? U32Arg(info, 3, "flags") : 0;
  int r = bpf_link_create(p->fd(), (int)target, (enum bpf_attach_type)type, &opts);
  if (r < 0) ThrowErrno(env, "bpf_link_create", r);
  return Fd::Wrap(env, r);
}

// linkUpdate(linkFd, newProgFd, oldProgFd?) — bpf_link_update; with oldProgFd the kernel
// replaces only if that program is still the one attached (BPF_F_REPLACE).
static Napi::Value LinkUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* l = Fd::From(env, info[0], "link fd");
  Fd* p = Fd::From(env, info[1], "program fd");
  LIBBPF_OPTS(bpf_link_update_opts, opts);
  if (info.Length() > 2 && info[2].IsObject()) {
    opts.old_prog_fd = Fd::From(env, info[2], "old program fd")->fd();
    opts.flags = BPF_F_REPLACE;
  }
  int r = bpf_link_update(l->fd(), p->fd(), &opts);
  if (r < 0) ThrowErrno(env, "bpf_link_update", r);
  return env.Undefined();
}

// linkDetach(linkFd) — bpf_link_detach.
static Napi::Value LinkDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd* l = Fd::From(env, info[0], "link fd");
  int r = bpf_link_detach(l->fd());
  if (r < 0) ThrowErrno(env, "bpf_link_detach", r);
  return env.Undefined();
}

// xdpAttach(ifindex, progFd, flags, oldProgFd?) — bpf_xdp_attach (netlink).
static Napi::Value XdpAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = U32Arg(info, 0, "ifindex");
  Fd* p = Fd::From(env, info[1], "program fd");
  uint32_t flags = U32Arg(info, 2, "flags");
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  if (info.Length() > 3 && info[3].IsObject()) opts.old_prog_fd = Fd::From(env, info[3], "old program fd")->fd();
  int r = bpf_xdp_attach((int)ifindex, p->fd(), flags, &opts);
  if (r < 0) ThrowErrno(env, "bpf_xdp_attach", r);
  return env.Undefined();
}

// xdpDetach(ifindex, flags, oldProgFd?) — bpf_xdp_detach (netlink).
static Napi::Value XdpDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = U32Arg(info, 0, "ifindex");
  uint32_t flags = U32Arg(info, 1, "flags");
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  if (info.Length() > 2 && info[2].IsObject()) opts.old_prog_fd = Fd::From(env, info[2], "old program fd")->fd();
  int r = bpf_xdp_detach((int)ifindex, flags, &opts);
  if (r < 0) ThrowErrno(env, "bpf_xdp_detach", r);
  return env.Undefined();
}

// xdpQuery(ifindex, flags?) → { progId, drvProgId, skbProgId, hwProgId, attachMode } — bpf_xdp_query.
static Napi::Value XdpQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = U32Arg(info, 0, "ifindex");
  uint32_t flags = info.Length() > 1 ? U32Arg(info, 1, "flags") : 0;
  LIBBPF_OPTS(bpf_xdp_query_opts, opts);
  int r = bpf_xdp_query((int)ifindex, (int)flags, &opts);
  if (r < 0) ThrowErrno(env, "bpf_xdp_query", r);
  Napi::Object o = Napi::Object::New(env);
  o.Set("progId", opts.prog_id);
  o.Set("drvProgId", opts.drv_prog_id);
  o.Set("skbProgId", opts.skb_prog_id);
  o.Set("hwProgId", opts.hw_prog_id);
  o.Set("attachMode", opts.attach_mode);
  return o;
}

Napi::Object InitProg(Napi::Env env, Napi::Object exports) {
  exports.Set("progTestRun", Napi::Function::New(env, ProgTestRun));
  exports.Set("progGetInfo", Napi::Function::New(env, ProgGetInfo));
  exports.Set("mapGetInfo", Napi::Function::New(env, MapGetInfo));
  exports.Set("linkGetInfo", Napi::Function::New(env, LinkGetInfo));
  exports.Set("linkCreate", Napi::Function::New(env, LinkCreate));
  exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
  exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach));
  exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach));
  exports.Set("xdpQuery", Napi::Function::New(env, XdpQuery));
  return exports;
}

}  // namespace fecflow
