// The validated configuration of one router, as the compiler receives it. Values are already
// normalised by the schema: MACs lowercase with colons, prefixes canonical, a single next hop
// or prefix written without a list turned into a list of one, rates in bit/s, sizes in bytes.
// ISP references keep the operator's spelling (name or id); resolveIsp() turns them into ids.

import type { Mac, Prefix, TtlMode, UnknownPolicy } from '../tables/types.js';
import type { LdpConfig } from './ldp.js';

export type Role = 'access' | 'core' | 'isp';

/** An ISP by its name ('alpha') or its numeric id (7). */
export type IspRef = string | number;

export interface Interface {
  /** the name the rest of the config uses */
  name: string;
  /** Linux network device; defaults to name */
  device: string;
  role: Role;
  /** L3 MTU of the link */
  mtu: number;
  /** isp interfaces only: the ISP link is this 802.1Q VLAN of the device */
  vlan?: number;
  /** the router's own addresses, 'addr' or 'addr/len' (canonical) */
  addresses: string[];
  /** next-hop routers on this link: name -> MAC */
  neighbours: Record<string, Mac>;
}

export interface NextHopRef {
  interface: string;
  neighbour: string;
}

/** A label stack to push and where to send it (an upstream FEC or an ISP route). */
export interface FecConfig {
  /** top label first, 1..3 */
  labels: number[];
  tc: number;
  /** 1..8 next hops; more than one is an ECMP group */
  nexthop: NextHopRef[];
}

export interface RateLimit {
  /** bit/s */
  rate: number;
  /** bytes */
  burst: number;
}

export interface IspLink {
  interface: string;
  /** VLAN id the ISP's frames carry on the port; defaults to the interface's vlan */
  vlan?: number;
}

export interface IspRoute extends FecConfig {
  prefix: Prefix;
}

export interface Isp {
  id: number;
  name: string;
  policer: { up?: RateLimit; down?: RateLimit };
  /** headend: the FEC pushed on this ISP's end-user traffic */
  upstream?: FecConfig;
  /** tailend: where this ISP's traffic enters and how it is labelled back to the end-users */
  downstream?: { links: IspLink[]; routes: IspRoute[] };
  /** the ISP's RADIUS server: sessions of its subscribers open only after its Access-Accept,
   * and their accounting goes to it */
  radius?: IspRadius;
}

/** Where a reply attribute is found: a standard attribute by number, or a vendor's (26). */
export interface RadiusAttributeRef {
  type: number;
  vendor?: number;
}

export interface IspRadius {
  /** the server's address (IPv4 or IPv6) */
  server: string;
  authPort: number;
  acctPort: number;
  secret: string;
  /** the PAP password sent when a session is opened without one */
  password?: string;
  /** send Accounting-Request Start / Interim-Update / Stop (default true) */
  accounting: boolean;
  /** seconds between Interim-Updates unless the Access-Accept says (Acct-Interim-Interval) */
  interimInterval: number;
  /** ms to wait for an answer before a retransmission, and how many retransmissions */
  timeout: number;
  retries: number;
  /** CoA and Disconnect-Requests are taken from these addresses only, with this secret */
  coa: { from: string[]; secret: string };
  /** which reply attributes carry the subscriber's rate, in bit/s */
  rate: { up?: RadiusAttributeRef; down?: RadiusAttributeRef };
}

/** The node's session settings (the router file's `sessions:`). */
export interface SessionSettings {
  /** session-admitted subscribers without an open session go to this ISP instead of nowhere */
  walledGarden?: IspRef;
  /** where the CoA / Disconnect listener binds; none without it */
  coa?: { address: string; port: number };
  /** the window (s) an Event-Timestamp of a CoA or Disconnect-Request must fall in */
  eventWindow: number;
  /** accounting retries while a server does not answer: first wait and longest wait (s) */
  retry: { initial: number; max: number };
}

/** The rate limit of one subscriber per direction (its `rate:`), as an ISP's policer. */
export interface SubscriberRate {
  up?: RateLimit;
  down?: RateLimit;
}

export type Tpid = '802.1Q' | '802.1ad';

export interface SubscriberMatch {
  mac?: Mac;
  vlan?: { interface: string; outer: number; inner?: number; tpid?: Tpid };
  prefix?: Prefix[];
}

export interface SubscriberDelivery {
  interface?: string;
  mac?: Mac;
  vlan?: { outer: number; inner?: number; tpid?: Tpid };
  addresses?: Prefix[];
}

export interface Subscriber {
  name: string;
  isp: IspRef;
  /** upstream: how the headend recognises the end-user (at least one of mac, vlan, prefix) */
  match: SubscriberMatch;
  /** downstream: how the headend hands traffic back; missing fields come from match */
  deliver?: SubscriberDelivery;
  /** static (default): forwards whenever provisioned; session: only while a session is open */
  admission?: 'static' | 'session';
  /** the open session admitting it (set by the daemon from the registry's sessions, never stored) */
  session?: string;
  /** its own rate limit per direction */
  rate?: SubscriberRate;
}

/** On an LSR: the ISP whose FEC a swapped or popped label is, and its direction, to count it. */
export interface TransitCount {
  isp?: IspRef;
  direction?: 'up' | 'down';
}

export type LabelBinding =
  | ({ label: number; action: 'swap'; labels: number[]; tc: number; nexthop: NextHopRef[] } & TransitCount)
  | ({ label: number; action: 'pop-forward'; nexthop: NextHopRef[] } & TransitCount)
  | { label: number; action: 'pop-continue' }
  | { label: number; action: 'pop-to-isp'; isp: IspRef; nexthop: NextHopRef[] }
  | { label: number; action: 'pop-to-subscriber'; isp: IspRef };

export interface Config {
  /** names the pin directory /sys/fs/bpf/fecflow/<node>/ */
  node: string;
  ttlMode: TtlMode;
  unknownSubscriber: UnknownPolicy;
  interfaces: Interface[];
  isps: Isp[];
  subscribers: Subscriber[];
  /** the incoming label map */
  ilm: LabelBinding[];
  /** absent when the router file has no `sessions:` section */
  sessions?: SessionSettings;
  /** the node's limit on the ICMP errors its data plane sends; absent: DEFAULT_ICMP */
  icmp?: IcmpErrors;
  /** labels learned by LDP (absent: the file's labels are all there is) */
  ldp?: LdpConfig;
}

/** ICMP errors (time exceeded, fragmentation needed, packet too big): one token bucket per node. */
export interface IcmpErrors {
  /** messages per second; 0 sends none */
  rate: number;
  /** messages sent back to back before the rate applies */
  burst: number;
}

/** As Linux does by default (net.ipv4.icmp_msgs_per_sec, icmp_msgs_burst). */
export const DEFAULT_ICMP: IcmpErrors = { rate: 1000, burst: 50 };

/** A subscriber's downstream delivery with the defaults from its match filled in. */
export interface ResolvedDelivery {
  interface: string;
  mac: Mac;
  vlan?: { outer: number; inner?: number; tpid: Tpid };
  addresses: Prefix[];
}

interface IspLookup {
  length: number;
  byId: Map<number, Isp>;
  byName: Map<string, Isp>;
}

// Per list of ISPs, built on first use: a million subscribers each name one of a thousand ISPs.
// A list that grew since (the validator pushes ISPs as it accepts them) is indexed again.
const lookups = new WeakMap<readonly Isp[], IspLookup>();

/** The ISP id an IspRef names, or undefined. Digits-only strings are ids too. */
export function resolveIsp(isps: readonly Isp[], ref: IspRef): Isp | undefined {
  let l = lookups.get(isps);
  if (!l || l.length !== isps.length) {
    l = { length: isps.length, byId: new Map(), byName: new Map() };
    // the first of a duplicated id or name wins, as find() would
    for (const i of isps) {
      if (!l.byId.has(i.id)) l.byId.set(i.id, i);
      if (!l.byName.has(i.name)) l.byName.set(i.name, i);
    }
    lookups.set(isps, l);
  }
  if (typeof ref === 'number' || /^\d+$/.test(ref)) return l.byId.get(Number(ref));
  return l.byName.get(ref);
}

/**
 * The MAC of a neighbour of an interface, or undefined. Neighbour names are the operator's
 * words, and `constructor` or `toString` are valid names: only the interface's own entries
 * count, never what a plain object inherits.
 */
export function neighbourMac(iface: Interface, neighbour: string): Mac | undefined {
  return Object.hasOwn(iface.neighbours, neighbour) ? iface.neighbours[neighbour] : undefined;
}

/** Fills the delivery's gaps from the match (interface and tags from match.vlan, mac, prefixes). */
export function resolveDelivery(sub: Subscriber): Partial<ResolvedDelivery> | undefined {
  const d = sub.deliver;
  if (!d) return undefined;
  const mv = sub.match.vlan;
  const vlan = d.vlan ?? (mv ? { outer: mv.outer, inner: mv.inner, tpid: mv.tpid } : undefined);
  const out: Partial<ResolvedDelivery> = {
    interface: d.interface ?? mv?.interface,
    mac: d.mac ?? sub.match.mac,
    addresses: d.addresses ?? sub.match.prefix,
  };
  if (vlan) {
    out.vlan = { outer: vlan.outer, tpid: vlan.tpid ?? '802.1Q' };
    if (vlan.inner !== undefined) out.vlan.inner = vlan.inner;
  }
  return out;
}
