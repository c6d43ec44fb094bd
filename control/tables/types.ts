// The data plane's tables as the control plane thinks of them: one typed entry list per BPF
// map of dataplane/fecflow_shared.h, in the operator's units (strings for addresses, numbers
// for labels). The compiler produces a `Tables`, the reconciler writes it through the codecs of
// ./layout.ts, and the reference model of the tests forwards frames against it. Nothing here
// knows about file descriptors or byte layouts.

import {
  FF_DIR_MAX,
  FF_DIRECTION,
  FF_DIRECTION_NAMES,
  FF_DROP_REASON_NAMES,
  FF_ICMP_KIND_NAMES,
  FF_ICMP_OUTCOME_MAX,
  FF_ICMP_OUTCOME_NAMES,
  FF_MAX_ECMP,
  FF_MAX_ISPS,
  FF_MAX_LABEL,
  FF_MAX_LABELS,
  FF_MAX_RESERVED_LABEL,
  FF_METER_POLICED,
  FF_METER_SLOT_MASK,
  FF_METER_SLOTS,
  FF_POINT,
  FF_POINT_MAX,
  FF_POINT_NAMES,
  FF_TTL_MODE_NAMES,
  FF_UNKNOWN_POLICY_NAMES,
} from './shared.gen.js';

// The names and limits below come from dataplane/fecflow_shared.h through ./shared.gen.ts.
export type TtlMode = (typeof FF_TTL_MODE_NAMES)[number];
export type UnknownPolicy = (typeof FF_UNKNOWN_POLICY_NAMES)[number];
export type Direction = (typeof FF_DIRECTION_NAMES)[number];
export type Point = (typeof FF_POINT_NAMES)[number];

export const DIRECTIONS: readonly Direction[] = FF_DIRECTION_NAMES;
export const POINTS: readonly Point[] = FF_POINT_NAMES;

export const MAX_LABELS = FF_MAX_LABELS;
export const MAX_ECMP = FF_MAX_ECMP;
export const MAX_ISPS = FF_MAX_ISPS;
export const MAX_LABEL = FF_MAX_LABEL;
export const MAX_RESERVED_LABEL = FF_MAX_RESERVED_LABEL;

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
  /** the subscriber's meter word for downstream (meterWord()); absent: not metered */
  meter?: number;
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

/** icmp_src key: the port (and the ISP link's VLAN, else 0) an ICMP error is sent from. */
export interface IcmpSourceKey {
  ifindex: number;
  vid: number;
}

/** The router's addresses an ICMP error from that port carries as its source (one per family). */
export interface IcmpSource {
  v4?: string;
  v6?: string;
}

/** The node's token bucket for ICMP errors; rate 0 sends none. */
export interface IcmpLimit {
  /** messages per second */
  rate: number;
  /** messages */
  burst: number;
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
  /** the subscriber's meter word for upstream (meterWord()); absent: not metered */
  meter?: number;
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
  /** the key is the line itself; the value is the ISP, then the subscriber's meter word */
  subVlan: Array<[VlanKey, number] | [VlanKey, number, number]>;
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
  /** by policerIndex(isp, direction) */
  policers: Map<number, Policer>;
  /** per-subscriber buckets, by subPolicerIndex(slot, direction) */
  subPolicers: Map<number, Policer>;
  /** ICMP errors: the source address of each port, sorted by (ifindex, vid) */
  icmpSources: Array<[IcmpSourceKey, IcmpSource]>;
  icmpLimit: IcmpLimit;
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
    subPolicers: new Map(),
    icmpSources: [],
    icmpLimit: { rate: 0, burst: 0 },
  };
}

/** ICMP error kinds and outcomes, in the order of their enums; icmp_stats index = kind x outcomes + outcome. */
export const ICMP_KINDS = FF_ICMP_KIND_NAMES;
export type IcmpKind = (typeof ICMP_KINDS)[number];
export const ICMP_OUTCOMES = FF_ICMP_OUTCOME_NAMES;
export type IcmpOutcome = (typeof ICMP_OUTCOMES)[number];
export function icmpStatsIndex(kind: IcmpKind, outcome: IcmpOutcome): number {
  return ICMP_KINDS.indexOf(kind) * FF_ICMP_OUTCOME_MAX + ICMP_OUTCOMES.indexOf(outcome);
}

/** Drop reasons, in the order of enum ff_drop_reason (index = the reason's value). */
export const DROP_REASONS = FF_DROP_REASON_NAMES;
export type DropReason = (typeof DROP_REASONS)[number];

/** policer index of (isp, direction): isp * FF_DIR_MAX + direction, as in fecflow_shared.h. */
export function policerIndex(isp: number, direction: Direction): number {
  return isp * FF_DIR_MAX + FF_DIRECTION[direction];
}

/** isp_stats index of (isp, direction, point): (isp * FF_DIR_MAX + direction) * FF_POINT_MAX + point. */
export function ispStatsIndex(isp: number, direction: Direction, point: Point): number {
  return policerIndex(isp, direction) * FF_POINT_MAX + FF_POINT[point];
}

/** The (isp, direction, point) of an isp_stats index: the inverse of ispStatsIndex. */
export function ispStatsSlot(index: number): { isp: number; direction: Direction; point: Point } {
  const point = FF_POINT_NAMES[index % FF_POINT_MAX]!;
  const rest = Math.floor(index / FF_POINT_MAX);
  return { isp: Math.floor(rest / FF_DIR_MAX), direction: FF_DIRECTION_NAMES[rest % FF_DIR_MAX]!, point };
}

/** sub_policer and sub_stats index of (meter slot, direction): slot * FF_DIR_MAX + direction. */
export function subPolicerIndex(slot: number, direction: Direction): number {
  return slot * FF_DIR_MAX + FF_DIRECTION[direction];
}

/** The largest meter slot (slot 0 is "not metered"). */
export const MAX_METER_SLOT = FF_METER_SLOTS - 1;

/** The meter word of a classifier entry or a downstream route: the slot, and whether the
 * subscriber has a policer in that entry's direction (FF_METER_* in fecflow_shared.h). */
export function meterWord(slot: number, policed: boolean): number {
  return (slot & FF_METER_SLOT_MASK) + (policed ? FF_METER_POLICED : 0);
}

export function meterSlot(word: number): number {
  return word & FF_METER_SLOT_MASK;
}

export function meterPoliced(word: number): boolean {
  return word >= FF_METER_POLICED;
}
