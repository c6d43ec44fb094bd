// Child process for the pinned-link test, run inside the test's namespace with nsenter (so bpffs
// stays visible): loads counter.bpf.o with the raw addon, attaches xdp_count_a to an interface
// through a bpf_link, pins the link and exits. The attachment must outlive this process.
import { createRequire } from 'node:module';

const args = JSON.parse(process.argv[2]);
const b = createRequire(import.meta.url)(args.addon);
const obj = new b.BpfObjectHandle(args.object, {});
try {
  obj.load();
  const prog = obj.programFd('xdp_count_a');
  const ifindex = b.ifNameToIndex(args.ifname);
  const link = b.linkCreate(prog, ifindex, b.constants.BPF_XDP, b.constants.XDP_FLAGS_DRV_MODE);
  b.objPin(link, args.pin);
  const progId = b.progGetInfo(prog).id;
  const linkId = b.linkGetInfo(link).id;
  link.close();
  prog.close();
  process.stdout.write(JSON.stringify({ progId, linkId, ifindex }));
} finally {
  obj.close();
}
