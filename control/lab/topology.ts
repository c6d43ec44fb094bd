// The lab's network, as data: which namespaces, links, addresses and MACs a lab of a given name
// has. Pure — nothing here touches the system — so the config generator and its unit tests can
// use it without root, and `lab up`/`down` only walk these lists.
//
//   alice (by MAC) ──── acc1 ┐                                            ┌ ispa ──── alpha host
//   bob (VLANs 100.7) ─ acc2 ┼ headend core0 ═ sw ═ core0 lsr core1 ═ sw ═ core0 tailend
//   carol (by prefix) ─ acc3 ┘                                            └ ispb ──── beta host
//
// Interface names inside a namespace are fixed (every lab has its own namespaces); only the
// namespaces and the host's management veths carry the lab's name.

export type RouterName = 'headend' | 'lsr' | 'tailend';
export type HostName = 'alice' | 'bob' | 'carol' | 'alpha' | 'beta';
export type IspName = 'alpha' | 'beta';
export type UserName = 'alice' | 'bob' | 'carol';

export const ROUTERS: readonly RouterName[] = ['headend', 'lsr', 'tailend'];
export const USERS: readonly UserName[] = ['alice', 'bob', 'carol'];
export const ISPS: readonly IspName[] = ['alpha', 'beta'];

/** Lab names: short, because they prefix namespace and host interface names (IFNAMSIZ 16). */
export const LAB_NAME_RE = /^[a-z][a-z0-9]{0,7}$/;
export const DEFAULT_LAB_NAME = 'ffl';

/** Where the lab keeps its state (PIDs, configs, sockets, logs) and its pins. */
export const STATE_ROOT = '/run/fecflow-lab';
export const PIN_ROOT = '/sys/fs/bpf/fecflow-lab';

/** The daemons' API port on their management address. */
export const API_PORT = 9180;

/** The "internet" both ISPs answer on: an end-user's traffic to it reaches its own ISP. */
export const INTERNET = { v4: '203.0.113.1', v6: '2001:db8:ffff::1' } as const;

export interface IspPlan {
  name: IspName;
  id: number;
  /** the ISP host's namespace suffix */
  ns: string;
  /** the tailend's interface towards this ISP */
  tailendIf: string;
  /** addresses of the ISP host (its own, on eth0) and of the tailend on that link */
  host: { v4: string; v6: string; mac: string };
  router: { v4: string; v6: string; mac: string };
  /** prefix lengths of the link */
  len: { v4: number; v6: number };
}

export const ISP_PLAN: Record<IspName, IspPlan> = {
  alpha: {
    name: 'alpha',
    id: 1,
    ns: 'ia',
    tailendIf: 'ispa',
    host: { v4: '198.51.100.2', v6: '2001:db8:a::2', mac: '02:ff:0a:00:00:02' },
    router: { v4: '198.51.100.1', v6: '2001:db8:a::1', mac: '02:ff:0a:00:00:01' },
    len: { v4: 30, v6: 64 },
  },
  beta: {
    name: 'beta',
    id: 2,
    ns: 'ib',
    tailendIf: 'ispb',
    host: { v4: '198.51.100.6', v6: '2001:db8:b::2', mac: '02:ff:0b:00:00:02' },
    router: { v4: '198.51.100.5', v6: '2001:db8:b::1', mac: '02:ff:0b:00:00:01' },
    len: { v4: 30, v6: 64 },
  },
};

export interface UserPlan {
  name: UserName;
  ns: string;
  /** how the headend classifies this end-user */
  classifiedBy: 'mac' | 'vlan' | 'prefix';
  /** the ISP the lab starts it with */
  isp: IspName;
  /** the headend's access interface towards it */
  accessIf: string;
  /** the interface on the end-user host that carries its addresses */
  hostIf: string;
  /** the interface of the headend that carries the gateway addresses */
  gatewayIf: string;
  /** the end-user's two tags (802.1ad outer, 802.1Q inner). This kernel has no 802.1Q support
   * (CONFIG_VLAN_8021Q is off), so no VLAN devices: tc programs on both ends of the link add
   * and remove the tags for the kernels (scripts/lab/lab_vlan.bpf.c), and the frames on the
   * wire carry both tags exactly as stacked VLAN devices would send them. */
  vlan?: { outer: number; inner: number };
  host: { v4: string; v6: string; mac: string };
  gateway: { v4: string; v6: string; mac: string };
  /** the end-user's subnet: /24 and /64 */
  net: { v4: string; v6: string };
}

export const USER_PLAN: Record<UserName, UserPlan> = {
  alice: {
    name: 'alice',
    ns: 'u1',
    classifiedBy: 'mac',
    isp: 'alpha',
    accessIf: 'acc1',
    hostIf: 'eth0',
    gatewayIf: 'acc1',
    host: { v4: '100.64.1.2', v6: '2001:db8:64:1::2', mac: '02:ff:01:00:00:02' },
    gateway: { v4: '100.64.1.1', v6: '2001:db8:64:1::1', mac: '02:ff:01:00:00:01' },
    net: { v4: '100.64.1.0/24', v6: '2001:db8:64:1::/64' },
  },
  bob: {
    name: 'bob',
    ns: 'u2',
    classifiedBy: 'vlan',
    isp: 'beta',
    accessIf: 'acc2',
    hostIf: 'eth0',
    gatewayIf: 'acc2',
    vlan: { outer: 100, inner: 7 },
    host: { v4: '100.64.2.2', v6: '2001:db8:64:2::2', mac: '02:ff:02:00:00:02' },
    gateway: { v4: '100.64.2.1', v6: '2001:db8:64:2::1', mac: '02:ff:02:00:00:01' },
    net: { v4: '100.64.2.0/24', v6: '2001:db8:64:2::/64' },
  },
  carol: {
    name: 'carol',
    ns: 'u3',
    classifiedBy: 'prefix',
    isp: 'alpha',
    accessIf: 'acc3',
    hostIf: 'eth0',
    gatewayIf: 'acc3',
    host: { v4: '100.64.3.2', v6: '2001:db8:64:3::2', mac: '02:ff:03:00:00:02' },
    gateway: { v4: '100.64.3.1', v6: '2001:db8:64:3::1', mac: '02:ff:03:00:00:01' },
    net: { v4: '100.64.3.0/24', v6: '2001:db8:64:3::/64' },
  },
};

/** All end-users' addresses, as the tailend routes them back (per ISP, so a move needs no change there). */
export const SUBSCRIBER_SPACE = { v4: '100.64.0.0/16', v6: '2001:db8:64::/48' } as const;

export interface CoreLinkPlan {
  /** the bridge in the switch namespace, and the two switch ports (a: upstream router's side) */
  bridge: string;
  a: { router: RouterName; ifname: string; port: string; v4: string; v6: string; mac: string };
  b: { router: RouterName; ifname: string; port: string; v4: string; v6: string; mac: string };
}

/** The backbone: each link runs through a bridge in the switch namespace, where captures are
 * taken — frames an XDP program redirects into a veth never pass the kernel's capture taps. */
export const CORE_LINKS: readonly CoreLinkPlan[] = [
  {
    bridge: 'br1',
    a: { router: 'headend', ifname: 'core0', port: 'l1he', v4: '10.255.1.1', v6: '2001:db8:ff:1::1', mac: '02:ff:c1:00:00:01' },
    b: { router: 'lsr', ifname: 'core0', port: 'l1lsr', v4: '10.255.1.2', v6: '2001:db8:ff:1::2', mac: '02:ff:c1:00:00:02' },
  },
  {
    bridge: 'br2',
    a: { router: 'lsr', ifname: 'core1', port: 'l2lsr', v4: '10.255.2.1', v6: '2001:db8:ff:2::1', mac: '02:ff:c2:00:00:01' },
    b: { router: 'tailend', ifname: 'core0', port: 'l2te', v4: '10.255.2.2', v6: '2001:db8:ff:2::2', mac: '02:ff:c2:00:00:02' },
  },
];
export const CORE_LEN = { v4: 30, v6: 64 } as const;
export const CORE_MTU = 1600;
export const ACCESS_MTU = 1500;

export const ROUTER_NS: Record<RouterName, string> = { headend: 'he', lsr: 'lsr', tailend: 'te' };
export const SWITCH_NS = 'sw';

/** Every namespace suffix a lab has. */
export const NS_SUFFIXES: readonly string[] = [
  ...ROUTERS.map((r) => ROUTER_NS[r]),
  ...USERS.map((u) => USER_PLAN[u].ns),
  ...ISPS.map((i) => ISP_PLAN[i].ns),
  SWITCH_NS,
];

export interface LabNames {
  name: string;
  ns(suffix: string): string;
  routerNs(r: RouterName): string;
  userNs(u: UserName): string;
  ispNs(i: IspName): string;
  switchNs: string;
  /** every namespace of the lab */
  namespaces: string[];
  /** the host end of a router's management veth */
  mgmtHostIf(r: RouterName): string;
  stateDir: string;
  pinDir: string;
}

export function labNames(name: string): LabNames {
  if (!LAB_NAME_RE.test(name)) throw new Error(`lab name '${name}' must be 1..8 lowercase letters or digits, starting with a letter`);
  const ns = (s: string): string => `${name}-${s}`;
  return {
    name,
    ns,
    routerNs: (r) => ns(ROUTER_NS[r]),
    userNs: (u) => ns(USER_PLAN[u].ns),
    ispNs: (i) => ns(ISP_PLAN[i].ns),
    switchNs: ns(SWITCH_NS),
    namespaces: NS_SUFFIXES.map(ns),
    mgmtHostIf: (r) => `${name}m-${ROUTER_NS[r]}`,
    stateDir: `${STATE_ROOT}/${name}`,
    pinDir: `${PIN_ROOT}/${name}`,
  };
}

/** Management addresses: one /30 per router in 169.254.<100+slot>.0/24, the slot chosen at
 * `up` so that two labs never share one. */
export const MAX_SLOTS = 100;
export function mgmtAddresses(slot: number, r: RouterName): { host: string; router: string; len: number } {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) throw new Error(`management slot ${slot} out of range`);
  const i = ROUTERS.indexOf(r);
  const base = `169.254.${100 + slot}`;
  return { host: `${base}.${4 * i + 1}`, router: `${base}.${4 * i + 2}`, len: 30 };
}

// ---- the LDP variant (`lab up --ldp`) ----
//
// Each router gets a loopback address as LSR-ID and transport address, the kernel gets static
// routes to the other routers' loopbacks and to the FECs (LDP follows the routing table), and
// FRR (zebra + ldpd) runs as a fourth router beside the lsr — an LDP neighbour that does not
// forward.
//
//   FEC per ISP, upstream:   the ISP's hand-off link at the tailend (198.51.100.0/30, .4/30)
//   FEC per ISP, downstream: a /32 per ISP on the headend's loopback (10.255.3.<ISP id>/32)

export const FRR_NS = 'frr';

export const LDP_PLAN = {
  /** LSR-ID = transport address, on each router's lo */
  lsrId: { headend: '10.255.0.1', lsr: '10.255.0.2', tailend: '10.255.0.3', frr: '10.255.0.4' } as Record<RouterName | 'frr', string>,
  /** the lsr's link to FRR (not through the switch: FRR never forwards) */
  frrLink: {
    lsr: { ifname: 'core2', v4: '10.255.4.1', mac: '02:ff:c4:00:00:01' },
    frr: { ifname: 'eth0', v4: '10.255.4.2', mac: '02:ff:c4:00:00:02' },
    len: 30,
  },
  helloInterval: 1,
  holdTime: 5,
  labels: { headend: [110_000, 119_999], lsr: [120_000, 129_999], tailend: [130_000, 139_999] } as Record<RouterName, [number, number]>,
} as const;

/** The FECs of an ISP (the same in every router's file). */
export function ldpFecs(isp: IspName): { upstream: string; downstream: string } {
  const p = ISP_PLAN[isp];
  const [a, b, c, d] = p.router.v4.split('.').map(Number) as [number, number, number, number];
  const mask = (0xffffffff << (32 - p.len.v4)) >>> 0;
  const n = ((((a << 24) | (b << 16) | (c << 8) | d) >>> 0) & mask) >>> 0;
  return { upstream: `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${p.len.v4}`, downstream: `10.255.3.${p.id}/32` };
}
