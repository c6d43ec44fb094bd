// The end-to-end benchmark's chain of network namespaces:
//
//   gen ──veth── headend ──veth── lsr ──veth── tailend ──veth── isp
//   g0           ha    hc         la   lb        tc    ti        ii
//
// gen sends from a live-frames test run, isp counts and drops (bench/progs/traffic.bpf.c). The
// three routers are set up for plain kernel IPv4 forwarding too (ip_forward, static routes,
// permanent neighbours), which is what runs whenever no XDP program is attached to them.
// Everything is uniquely named and removed by cleanup(), which never throws.
import { ifindexOf, withNetns, type Program, type XdpLink } from '../../control/bpf/index.js';
import { Lab, inNetns, macOf, sh } from '../../test/helpers/netns.js';

export type Node = 'gen' | 'headend' | 'lsr' | 'tailend' | 'isp';

export interface Port {
  ns: string;
  name: string;
  ifindex: number;
  mac: string;
  addr: string;
}

export interface Chain {
  ns: Record<Node, string>;
  /** g0: gen → headend; ha: headend access; hc: headend core; la/lb: LSR; tc/ti: tailend; ii: ISP host */
  ports: Record<'g0' | 'ha' | 'hc' | 'la' | 'lb' | 'tc' | 'ti' | 'ii', Port>;
  /** destination prefix routed through the chain (kernel forwarding) */
  dstPrefix: string;
  attach(port: Port, prog: Program): XdpLink;
  detachAll(): void;
  cleanup(): void;
}

export function buildChain(): Chain {
  const lab = new Lab();
  const links: XdpLink[] = [];
  const detachAll = () => {
    for (const l of links.splice(0)) {
      try {
        l.detach();
      } catch {
        // the interface is gone already
      }
    }
  };
  const cleanup = () => {
    detachAll();
    lab.cleanup();
  };
  try {
    const ns = {
      gen: lab.netns('ffbg', { ipv6: false }),
      headend: lab.netns('ffbh', { ipv6: false }),
      lsr: lab.netns('ffbl', { ipv6: false }),
      tailend: lab.netns('ffbt', { ipv6: false }),
      isp: lab.netns('ffbi', { ipv6: false }),
    };
    const pair = (a: string, b: string, net: number) => {
      const [x, y] = lab.veth(a, b, { addrA: `10.99.${net}.1/24`, addrB: `10.99.${net}.2/24` }, 'ffbv');
      const port = (n: string, name: string, addr: string): Port => ({
        ns: n,
        name,
        ifindex: withNetns(n, () => ifindexOf(name)),
        mac: macOf(name, n),
        addr,
      });
      return [port(a, x, `10.99.${net}.1`), port(b, y, `10.99.${net}.2`)] as const;
    };
    const [g0, ha] = pair(ns.gen, ns.headend, 1);
    const [hc, la] = pair(ns.headend, ns.lsr, 2);
    const [lb, tc] = pair(ns.lsr, ns.tailend, 3);
    const [ti, ii] = pair(ns.tailend, ns.isp, 4);
    const dstPrefix = '198.18.0.0/15';
    for (const [router, via, egress] of [
      [ns.headend, la, hc],
      [ns.lsr, tc, lb],
      [ns.tailend, ii, ti],
    ] as const) {
      inNetns(router, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
      for (const p of [ha, hc, la, lb, tc, ti]) {
        if (p.ns === router) inNetns(router, 'sysctl', ['-q', '-w', `net.ipv4.conf.${p.name}.rp_filter=0`]);
      }
      sh('ip', ['-n', router, 'route', 'add', dstPrefix, 'via', via.addr, 'dev', egress.name]);
      // The ISP host drops everything, ARP included: neighbours are static everywhere.
      sh('ip', ['-n', router, 'neigh', 'replace', via.addr, 'lladdr', via.mac, 'dev', egress.name, 'nud', 'permanent']);
    }
    sh('ip', ['-n', ns.gen, 'neigh', 'replace', ha.addr, 'lladdr', ha.mac, 'dev', g0.name, 'nud', 'permanent']);
    return {
      ns,
      ports: { g0, ha, hc, la, lb, tc, ti, ii },
      dstPrefix,
      attach(port, prog) {
        const l = withNetns(port.ns, () => prog.attachXdp(port.ifindex, { mode: 'native' }));
        links.push(l);
        return l;
      },
      detachAll,
      cleanup,
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}
