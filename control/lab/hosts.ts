// The lab's own XDP program on the end hosts and switch ports (scripts/lab/lab_host.bpf.c): a
// frame redirected into a veth is only received when the peer end runs an XDP program. It is
// attached through netlink, so it stays without any process, and it counts IPv4/IPv6 packets
// per source address in a map pinned under the lab's pin folder: each ISP host can say exactly
// whom it heard from.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BpfMap, BpfObject, withNetns } from '../bpf/index.js';
import { repoRoot } from '../bpf/native.js';
import { run } from './sys.js';

export const HOST_PROGRAM = 'xdp_lab_host';
export const HOST_MAP = 'by_source';

/** Compiles the host program into dir (once per lab: the source is small and clang is a build
 * dependency anyway) and returns the object's path. */
export function buildHostProgram(dir: string): string {
  const src = join(repoRoot(), 'scripts', 'lab', 'lab_host.bpf.c');
  const out = join(dir, 'lab_host.bpf.o');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  compileBpf(src, out);
  return out;
}

/** Compiles the tc programs that stand in for VLAN devices (scripts/lab/lab_vlan.bpf.c) for
 * one pair of tags. */
export function buildVlanProgram(dir: string, vlan: { outer: number; inner: number }): string {
  const src = join(repoRoot(), 'scripts', 'lab', 'lab_vlan.bpf.c');
  const out = join(dir, `lab_vlan_${vlan.outer}_${vlan.inner}.bpf.o`);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  compileBpf(src, out, [`-DOUTER_VID=${vlan.outer}`, `-DINNER_VID=${vlan.inner}`]);
  return out;
}

function compileBpf(src: string, out: string, defines: string[] = []): void {
  mkdirSync(dirname(out), { recursive: true });
  const arch = run('uname', ['-m']).trim();
  run('clang', ['-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', `-I/usr/include/${arch}-linux-gnu`, ...defines, '-c', src, '-o', out], { timeoutMs: 60_000 });
}

/**
 * Loads one instance of the program (its own counter map, pinned in pinDir when given) and
 * attaches it to every (namespace, interface) listed, in native mode through netlink.
 */
export function attachHostProgram(object: string, where: Array<{ ns: string; ifname: string }>, pinDir?: string): void {
  const obj = BpfObject.open(object, pinDir ? { pinDir } : {});
  try {
    const prog = obj.program(HOST_PROGRAM);
    for (const w of where) {
      withNetns(w.ns, () => {
        const link = prog.attachXdp(w.ifname, { mode: 'native', via: 'netlink' });
        link.close(); // a netlink attachment stays on the interface
      });
    }
  } finally {
    obj.close();
  }
}

export interface SourceCount {
  /** the source address, as text */
  source: string;
  packets: number;
  bytes: number;
}

function addressText(family: number, b: Buffer): string {
  if (family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  // the URL parser writes IPv6 addresses in their canonical (RFC 5952) form
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

/** What a host's program counted, per source address. */
export function readSourceCounts(pinDir: string): SourceCount[] {
  const m = BpfMap.fromPin(join(pinDir, HOST_MAP));
  try {
    return m.entries().map(([k, v]) => {
      let packets = 0n;
      let bytes = 0n;
      for (let off = 0; off + 16 <= v.length; off += m.perCpuStride) {
        packets += v.readBigUInt64LE(off);
        bytes += v.readBigUInt64LE(off + 8);
      }
      return { source: addressText(k[0]!, k.subarray(4, 20)), packets: Number(packets), bytes: Number(bytes) };
    });
  } finally {
    m.close();
  }
}
