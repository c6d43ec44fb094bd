// The data plane's tables as the control plane thinks of them: one typed entry list per BPF
// map of dataplane/fecflow_shared.h, in the operator's units (strings for addresses, numbers
// for labels). The compiler produces a `Tables`, the reconciler writes it through the codecs of
// ./layout.ts, and the reference model of the tests forwards frames against it. Nothing here
// knows about file descriptors or byte layouts.

export type TtlMode = 'uniform' | 'pipe';
export type UnknownPolicy = 'drop' | 'pass';
export type Direction = 'up' | 'down';
export type Point = 'in' | 'out' | 'policed' | 'transit';

export const DIRECTIONS: readonly Direction[] = ['up', 'down'];
export const POINTS: readonly Point[] = ['in', 'out', 'policed', 'transit'];

export const MAX_LABELS = 3;
export const MAX_ECMP = 8;
export const MAX_ISPS = 4096;
export const MAX_LABEL = 1048575;
export const MAX_RESERVED_LABEL = 15;

/** An IPv4 or IPv6 prefix, e.g. '100.64.0.0/24' or '2001:db8::/48'. */
export type Prefix = string;
/** A MAC address, lowercase 'aa:bb:cc:dd:ee:ff'. */
export type Mac = string;

export interface Settings {
  ttlMode: TtlMode;
  unknownPolicy: UnknownPolicy;
}

/** A label stack to push: labels[0] is the top (outermost). 1..3 labels. */
export interface Fec {
  labels: number[];
  tc: number;
  nhGroup: number;
}

export interface NhGroup {
  /** 1..8 next-hop ids; the member is chosen by the flow hash. */
  nexthops: number[];
}

export interface NextHop {
  ifindex: number;
  mtu: number;
  /** 802.1Q tag added on egress, 0 for none. */
  vid: number;
  dmac: Mac;
  smac: Mac;
}

/** The ISP whose FEC a transit label is, counted at point 'transit' (swap and pop-forward). */
export interface TransitIsp {
  isp?: number;
  direction?: Direction;
}

export type IlmEntry =
  | ({ action: 'swap'; labels: number[]; tc: number; nhGroup: number } & TransitIsp)
  | ({ action: 'pop-forward'; nhGroup: number } & TransitIsp)
  | { action: 'pop-continue' }
  | { action: 'pop-to-isp'; isp: number; nhGroup: number }
  | { action: 'pop-to-sub'; isp: number };

export interface SubRoute {
  ifindex: number;
  mtu: number;
  /** 0x8100 or 0x88a8 when outerVid != 0. */
  outerTpid: number;
  outerVid: number;
  innerVid: number;
  dmac: Mac;
  smac: Mac;
}

export interface Policer {
  /** bytes per second; 0 means no limit */
  rate: bigint;
  /** bytes */
  burst: bigint;
}

/**
 * What a MAC or prefix classifier entry holds: the subscriber's ISP and the access line it is
 * provisioned on (port and tags, 0 for none). The data plane honours the match only on that
 * line and drops it elsewhere as wrong_port.
 */
export interface SubClass {
  isp: number;
  ifindex: number;
  /** 0: an untagged line */
  outerVid: number;
  /** 0: one tag or none */
  innerVid: number;
}

export interface VlanKey {
  ifindex: number;
  outerVid: number;
  /** 0 when the frame carries one tag */
  innerVid: number;
}

export interface ScopedPrefix {
  isp: number;
  prefix: Prefix;
}

export interface IspPortKey {
  ifindex: number;
  /** 0 for untagged */
  vid: number;
}

/**
 * Desired (or observed) content of every configuration map. Counter maps are not part of it:
 * the data plane owns them. Ids (ISP index, next-hop id, group id) are small integers chosen by
 * the compiler; 0 is never a valid id.
 */
export interface Tables {
  settings: Settings;
  subMac: Map<Mac, SubClass>;
  /** the key is the line itself */
  subVlan: Array<[VlanKey, number]>;
  subV4: Map<Prefix, SubClass>;
  subV6: Map<Prefix, SubClass>;
  /** ISP index -> upstream FEC */
  fecUp: Map<number, Fec>;
  nhGroups: Map<number, NhGroup>;
  nexthops: Map<number, NextHop>;
  /** egress ifindexes the programs may redirect to */
  txPorts: Set<number>;
  ilm: Map<number, IlmEntry>;
  downV4: Array<[ScopedPrefix, SubRoute]>;
  downV6: Array<[ScopedPrefix, SubRoute]>;
  ispPorts: Array<[IspPortKey, number]>;
  ispRouteV4: Array<[ScopedPrefix, Fec]>;
  ispRouteV6: Array<[ScopedPrefix, Fec]>;
  /** the router's own addresses, IPv4 or IPv6, without prefix length */
  local: Set<string>;
  /** index isp * 2 + (up ? 0 : 1) */
  policers: Map<number, Policer>;
}

export function emptyTables(): Tables {
  return {
    settings: { ttlMode: 'uniform', unknownPolicy: 'drop' },
    subMac: new Map(),
    subVlan: [],
    subV4: new Map(),
    subV6: new Map(),
    fecUp: new Map(),
    nhGroups: new Map(),
    nexthops: new Map(),
    txPorts: new Set(),
    ilm: new Map(),
    downV4: [],
    downV6: [],
    ispPorts: [],
    ispRouteV4: [],
    ispRouteV6: [],
    local: new Set(),
    policers: new Map(),
  };
}

/** Drop reasons, in the order of enum ff_drop_reason. */
export const DROP_REASONS = [
  'unknown_subscriber',
  'no_fec',
  'unknown_label',
  'ttl_expired',
  'mtu_exceeded',
  'policed',
  'malformed',
  'no_route',
  'no_nexthop',
  'stack_too_deep',
  'tx_port',
  'wrong_port',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export function policerIndex(isp: number, direction: Direction): number {
  return isp * 2 + (direction === 'up' ? 0 : 1);
}

export function ispStatsIndex(isp: number, direction: Direction, point: Point): number {
  return (isp * 2 + (direction === 'up' ? 0 : 1)) * POINTS.length + POINTS.indexOf(point);
}
