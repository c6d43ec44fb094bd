// Entry point of the fecflow_bpf addon: a thin Node-API layer over the system libbpf. Each
// exported function makes one libbpf (or system) call; see control/bpf/ for the policy on top.
#include <napi.h>

#include "common.h"

namespace fecflow {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function fd_ctor = Fd::Define(env);
  data->fd_ctor = Napi::Persistent(fd_ctor);
  exports.Set("Fd", fd_ctor);
  InitCapture();
  InitObject(env, exports);
  InitMap(env, exports);
  InitProg(env, exports);
  InitMisc(env, exports);
  return exports;
}

}  // namespace fecflow

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return fecflow::Init(env, exports); }

NODE_API_MODULE(fecflow_bpf, InitAll)
