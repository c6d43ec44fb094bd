// A small standard setup shared by the BPF tests: one headend/tailend's tables with two ISPs,
// and builders for the frames that cross it. Every egress port is lo (ifindex 1) so devmap
// accepts it; next hops are told apart by their MACs.
import { emptyTables, type SubClass, type Tables } from '../../control/tables/types.js';
import { ether, ipv4, ipv6, tcp, udp, type Label, type Tag } from '../helpers/frames.js';
import { LO } from './harness.js';

export const ROUTER = '02:00:00:00:00:01'; // our own MAC on every port
export const SUB_MAC = '02:00:00:00:10:01'; // an end-user's CPE
export const SUB_MAC2 = '02:00:00:00:10:02'; // a CPE classified by MAC
export const CORE_NH = '02:00:00:00:20:01'; // next LSR
export const ISP_NH = '02:00:00:00:30:01'; // the ISP's router
export const UPSTREAM = '02:00:00:00:40:01'; // where LSR traffic comes from

export const ISP_A = 1;
export const ISP_B = 2;
export const FEC_A = [1001];
export const FEC_B = [2001, 2002];

export const NH_CORE = 1; // next-hop ids
export const NH_ISP = 2;
export const NH_ISP_VLAN = 3;
export const G_CORE = 10; // group ids
export const G_ISP = 11;
export const G_ISP_VLAN = 12;

// ILM labels of the core program
export const L_SWAP = 100; // -> 101
export const L_SWAP_PUSH2 = 102; // -> 901, 103
export const L_SWAP_PUSH3 = 104; // -> 902, 903, 105
export const L_PHP = 110;
export const L_CONT = 120;
export const L_TO_ISP = 130; // ISP A upstream, untagged link
export const L_TO_ISP_VLAN = 131; // ISP A upstream, VLAN 300 of a shared port
export const L_TO_SUB_A = 140;
export const L_TO_SUB_B = 141;
export const L_BAD_ACTION = 150;

export const SUB_V4 = '100.64.0.10';
export const SUB_V6 = '2001:db8:100::10';
export const REMOTE_V4 = '198.51.100.7';
export const REMOTE_V6 = '2001:db8:ff::7';

/** A MAC or prefix classifier value: the ISP, on the untagged line of port lo (or as given). */
export function line(isp: number, o: Partial<Omit<SubClass, 'isp'>> = {}): SubClass {
  return { isp, ifindex: LO, outerVid: 0, innerVid: 0, ...o };
}

/** Every table the tests use; callers tweak a copy. */
export function standardTables(): Tables {
  const t = emptyTables();
  t.txPorts.add(LO);
  t.nexthops.set(NH_CORE, { ifindex: LO, mtu: 1500, vid: 0, dmac: CORE_NH, smac: ROUTER });
  t.nexthops.set(NH_ISP, { ifindex: LO, mtu: 1500, vid: 0, dmac: ISP_NH, smac: ROUTER });
  t.nexthops.set(NH_ISP_VLAN, { ifindex: LO, mtu: 1500, vid: 300, dmac: ISP_NH, smac: ROUTER });
  t.nhGroups.set(G_CORE, { nexthops: [NH_CORE] });
  t.nhGroups.set(G_ISP, { nexthops: [NH_ISP] });
  t.nhGroups.set(G_ISP_VLAN, { nexthops: [NH_ISP_VLAN] });

  // access: ISP A by prefix and by VLAN, ISP B by MAC
  t.subV4.set('100.64.0.0/24', line(ISP_A));
  t.subV6.set('2001:db8:100::/48', line(ISP_A));
  t.subVlan.push([{ ifindex: LO, outerVid: 10, innerVid: 0 }, ISP_A]);
  t.subVlan.push([{ ifindex: LO, outerVid: 20, innerVid: 30 }, ISP_A]);
  t.subMac.set(SUB_MAC2, line(ISP_B));
  t.fecUp.set(ISP_A, { labels: FEC_A, tc: 0, nhGroup: G_CORE });
  t.fecUp.set(ISP_B, { labels: FEC_B, tc: 5, nhGroup: G_CORE });

  // core
  t.ilm.set(L_SWAP, { action: 'swap', labels: [101], tc: 0, nhGroup: G_CORE });
  t.ilm.set(L_SWAP_PUSH2, { action: 'swap', labels: [901, 103], tc: 1, nhGroup: G_CORE });
  t.ilm.set(L_SWAP_PUSH3, { action: 'swap', labels: [902, 903, 105], tc: 2, nhGroup: G_CORE });
  t.ilm.set(L_PHP, { action: 'pop-forward', nhGroup: G_CORE });
  t.ilm.set(L_CONT, { action: 'pop-continue' });
  t.ilm.set(L_TO_ISP, { action: 'pop-to-isp', isp: ISP_A, nhGroup: G_ISP });
  t.ilm.set(L_TO_ISP_VLAN, { action: 'pop-to-isp', isp: ISP_A, nhGroup: G_ISP_VLAN });
  t.ilm.set(L_TO_SUB_A, { action: 'pop-to-sub', isp: ISP_A });
  t.ilm.set(L_TO_SUB_B, { action: 'pop-to-sub', isp: ISP_B });
  const route = { ifindex: LO, mtu: 1500, outerTpid: 0, outerVid: 0, innerVid: 0, dmac: SUB_MAC, smac: ROUTER };
  t.downV4.push([{ isp: ISP_A, prefix: '100.64.0.0/24' }, route]);
  t.downV6.push([{ isp: ISP_A, prefix: '2001:db8:100::/48' }, route]);
  // ISP B reuses ISP A's private range; its subscribers sit behind two tags
  t.downV4.push([{ isp: ISP_B, prefix: '100.64.0.0/24' }, { ...route, outerTpid: 0x88a8, outerVid: 20, innerVid: 30, dmac: SUB_MAC2 }]);
  t.downV6.push([{ isp: ISP_B, prefix: '2001:db8:100::/48' }, { ...route, outerTpid: 0x8100, outerVid: 10, dmac: SUB_MAC2 }]);

  // isp: ISP A's link untagged and on VLAN 300
  t.ispPorts.push([{ ifindex: LO, vid: 0 }, ISP_A]);
  t.ispPorts.push([{ ifindex: LO, vid: 300 }, ISP_B]);
  t.ispRouteV4.push([{ isp: ISP_A, prefix: '100.64.0.0/24' }, { labels: [L_TO_SUB_A], tc: 0, nhGroup: G_CORE }]);
  t.ispRouteV6.push([{ isp: ISP_A, prefix: '2001:db8:100::/48' }, { labels: [5000, L_TO_SUB_A], tc: 3, nhGroup: G_CORE }]);
  t.ispRouteV4.push([{ isp: ISP_B, prefix: '100.64.0.0/24' }, { labels: [6000, 6001, L_TO_SUB_B], tc: 0, nhGroup: G_CORE }]);

  t.local.add('100.64.0.1');
  t.local.add('2001:db8:100::1');
  return t;
}

export const PAYLOAD = Buffer.from('fecflow payload, never touched');

export function upV4(ttl = 64, o: { src?: string; dst?: string; sport?: number; dport?: number; options?: Buffer } = {}): Buffer {
  return ipv4({ src: o.src ?? SUB_V4, dst: o.dst ?? REMOTE_V4, ttl, l4: udp(o.sport ?? 40000, o.dport ?? 53, PAYLOAD), options: o.options });
}

export function upV6(hopLimit = 64, o: { src?: string; dst?: string; sport?: number; dport?: number } = {}): Buffer {
  return ipv6({ src: o.src ?? SUB_V6, dst: o.dst ?? REMOTE_V6, hopLimit, l4: tcp(o.sport ?? 40000, o.dport ?? 443, PAYLOAD) });
}

export function downV4(ttl = 64, dst = SUB_V4): Buffer {
  return ipv4({ src: REMOTE_V4, dst, ttl, l4: udp(53, 40000, PAYLOAD) });
}

export function downV6(hopLimit = 64, dst = SUB_V6): Buffer {
  return ipv6({ src: REMOTE_V6, dst, hopLimit, l4: tcp(443, 40000, PAYLOAD) });
}

/** A frame from an end-user to the router. */
export function fromSub(ip: Buffer, o: { tags?: Tag[]; src?: string; dst?: string } = {}): Buffer {
  return ether({ dst: o.dst ?? ROUTER, src: o.src ?? SUB_MAC, tags: o.tags, payload: ip });
}

/** A labelled frame as the core program receives it. */
export function labelled(labels: Label[], payload: Buffer): Buffer {
  return ether({ dst: ROUTER, src: UPSTREAM, labels, payload });
}

/** A labelled frame as sent to the next LSR. */
export function toCore(labels: Label[], payload: Buffer, o: { tags?: Tag[] } = {}): Buffer {
  return ether({ dst: CORE_NH, src: ROUTER, tags: o.tags, labels, payload });
}
