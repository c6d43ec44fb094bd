// Byte layout of every BPF map of dataplane/fecflow.bpf.c: the map names, one struct codec per
// key and value mirroring dataplane/fecflow_shared.h field for field (explicit padding; a test
// checks sizes and offsets against the object's BTF), and the pure translation between the
// typed `Tables` of ./types.ts and the encoded map entries. The reconciler diffs on these
// encoded entries; nothing here touches a file descriptor.
import { isIPv4, isIPv6 } from 'node:net';
import {
  bytes,
  CodecError,
  ipv4,
  ipv6,
  mac,
  pad,
  struct,
  u16,
  u32,
  u64,
  u8,
  type Codec,
  type StructCodec,
} from '../bpf/codec.js';
import {
  DROP_REASONS,
  MAX_ECMP,
  MAX_LABELS,
  type DropReason,
  type Fec,
  type IcmpLimit,
  type IcmpSource,
  type IlmEntry,
  type NextHop,
  type Policer,
  type ScopedPrefix,
  type SubClass,
  type SubRoute,
  type Tables,
  type TransitIsp,
  type VlanKey,
} from './types.js';
import {
  FF_DIR_MAX,
  FF_DROP_MAX,
  FF_ICMP_QUOTE,
  FF_ICMP_SRC_HAS_V4,
  FF_ICMP_SRC_HAS_V6,
  FF_ILM_POP_CONTINUE,
  FF_ILM_POP_FORWARD,
  FF_ILM_POP_TO_ISP,
  FF_ILM_POP_TO_SUB,
  FF_ILM_SWAP,
  FF_ISP_STATS_ENTRIES,
  FF_MAX_ISPS,
  FF_POINT_MAX,
  FF_PREFIX_TABLE_NAMES,
  FF_SKIP_SUB_MAC,
  FF_SKIP_SUB_VLAN,
  FF_TT_MAX,
  FF_TTL_MODE,
  FF_UNKNOWN_POLICY,
} from './shared.gen.js';

export { DROP_REASONS, type DropReason };

/** A fixed-length array of n elements of one codec (a C array member). */
export function array<T>(elem: Codec<T>, n: number): Codec<T[]> {
  return {
    size: elem.size * n,
    encode(v, buf, offset = 0) {
      if (!Array.isArray(v) || v.length !== n) {
        throw new CodecError(`array: expected ${n} elements, got ${Array.isArray(v) ? v.length : typeof v}`);
      }
      const b = buf ?? Buffer.alloc(elem.size * n);
      v.forEach((x, i) => elem.encode(x, b, offset + i * elem.size));
      return b;
    },
    decode(buf, offset = 0) {
      return Array.from({ length: n }, (_, i) => elem.decode(buf, offset + i * elem.size));
    },
  };
}

// ---- structs of fecflow_shared.h, in its order -------------------------------------------

/** Prefix tables in the order of enum ff_prefix_table (indexes of settings.exactLen). */
export const PREFIX_TABLES = FF_PREFIX_TABLE_NAMES;
export type PrefixTable = (typeof PREFIX_TABLES)[number];

export const settingsCodec = struct({
  ttlMode: u8,
  unknownPolicy: u8,
  /** FF_SKIP_* bits: maps that hold nothing, whose lookup the programs leave out */
  skip: u8,
  pad: pad(5),
  /** per prefix table: the prefix length every entry of <table>_exact has; 0: it is empty */
  exactLen: array(u8, PREFIX_TABLES.length),
  pad2: pad(2),
});
export const macKeyCodec = struct({ mac, pad: pad(2) });
export const vlanKeyCodec = struct({ ifindex: u32, outerVid: u16, innerVid: u16 });
export const lpmV4KeyCodec = struct({ prefixlen: u32, addr: ipv4 });
export const lpmV6KeyCodec = struct({ prefixlen: u32, addr: ipv6 });
export const scopedV4KeyCodec = struct({ prefixlen: u32, isp: u32, addr: ipv4 });
export const scopedV6KeyCodec = struct({ prefixlen: u32, isp: u32, addr: ipv6 });
export const subClassCodec = struct({ isp: u32 });
export const subMatchCodec = struct({ isp: u32, ifindex: u32, outerVid: u16, innerVid: u16, meter: u32 });
export const fecCodec = struct({
  label: array(u32, MAX_LABELS),
  nlabels: u8,
  tc: u8,
  pad: pad(2),
  nhGroup: u32,
});
export const nhGroupCodec = struct({ count: u32, nexthop: array(u32, MAX_ECMP) });
export const nexthopCodec = struct({ ifindex: u32, mtu: u16, vid: u16, dmac: mac, smac: mac });
export const ilmCodec = struct({
  action: u8,
  nlabels: u8,
  tc: u8,
  /** swap, pop-forward: direction of the transit counter (0 up, 1 down) */
  dir: u8,
  label: array(u32, MAX_LABELS),
  nhGroup: u32,
  isp: u32,
});
export const subRouteCodec = struct({
  ifindex: u32,
  mtu: u16,
  outerTpid: u16,
  outerVid: u16,
  innerVid: u16,
  dmac: mac,
  smac: mac,
  meter: u32,
});
export const ispPortKeyCodec = struct({ ifindex: u32, vid: u16, pad: pad(2) });
export const localKeyCodec = struct({ family: u8, pad: pad(3), addr: bytes(16) });
/** `lock` is a struct bpf_spin_lock the kernel owns; it is written as zero and never read. */
export const policerCodec = struct({
  lock: pad(4),
  /** the data plane's carried fraction of a byte, in 1e-9 bytes (written as 0) */
  frac: u32,
  rate: u64,
  burst: u64,
  tokens: u64,
  lastNs: u64,
});
export const hashKeyCodec = struct({ k0: u32, k1: u32 });
export const icmpSrcKeyCodec = struct({ ifindex: u32, vid: u16, pad: pad(2) });
/** flags: FF_ICMP_SRC_HAS_V4 | FF_ICMP_SRC_HAS_V6 */
export const icmpSrcCodec = struct({ v4: ipv4, v6: ipv6, flags: u8, pad: pad(3) });
/** `lock` as in policerCodec; credit and lastNs are the data plane's (written as a full bucket). */
export const icmpLimitCodec = struct({ lock: pad(4), pad: pad(4), rate: u64, burst: u64, credit: u64, lastNs: u64 });
export const counterCodec = struct({ packets: u64, bytes: u64 });
/** One direction of one subscriber: a counter per traffic type (enum ff_traffic_type). */
export const subCountersCodec = struct({ type: array(counterCodec, FF_TT_MAX) });

/** C struct name -> codec, for the BTF layout check. */
export const SHARED_STRUCTS: Record<string, StructCodec<any>> = {
  ff_settings: settingsCodec,
  ff_mac_key: macKeyCodec,
  ff_vlan_key: vlanKeyCodec,
  ff_lpm_v4_key: lpmV4KeyCodec,
  ff_lpm_v6_key: lpmV6KeyCodec,
  ff_scoped_v4_key: scopedV4KeyCodec,
  ff_scoped_v6_key: scopedV6KeyCodec,
  ff_sub_class: subClassCodec,
  ff_sub_match: subMatchCodec,
  ff_fec: fecCodec,
  ff_nh_group: nhGroupCodec,
  ff_nexthop: nexthopCodec,
  ff_ilm: ilmCodec,
  ff_sub_route: subRouteCodec,
  ff_isp_port_key: ispPortKeyCodec,
  ff_local_key: localKeyCodec,
  ff_policer: policerCodec,
  ff_hash_key: hashKeyCodec,
  ff_icmp_src_key: icmpSrcKeyCodec,
  ff_icmp_src: icmpSrcCodec,
  ff_icmp_limit: icmpLimitCodec,
  ff_counter: counterCodec,
  ff_sub_counters: subCountersCodec,
};

// ---- enums of fecflow_shared.h ---------------------------------------------------------

// The values come from ./shared.gen.ts (generated from fecflow_shared.h).
export const TTL_MODE = FF_TTL_MODE;
export const UNKNOWN_POLICY = FF_UNKNOWN_POLICY;
export const ILM_ACTION = {
  swap: FF_ILM_SWAP,
  'pop-forward': FF_ILM_POP_FORWARD,
  'pop-continue': FF_ILM_POP_CONTINUE,
  'pop-to-isp': FF_ILM_POP_TO_ISP,
  'pop-to-sub': FF_ILM_POP_TO_SUB,
} as const satisfies Record<IlmEntry['action'], number>;
export { FF_DIR_MAX, FF_DROP_MAX, FF_ISP_STATS_ENTRIES, FF_MAX_ISPS, FF_POINT_MAX, FF_SKIP_SUB_MAC, FF_SKIP_SUB_VLAN };
/** The skip bit of a prefix table's LPM trie. */
export const ffSkipTrie = (t: PrefixTable): number => 1 << (2 + PREFIX_TABLES.indexOf(t));

// ---- maps ------------------------------------------------------------------------------

export interface MapLayout {
  name: string;
  key: Codec<any>;
  /** For per-CPU maps, the value of one CPU. */
  value: Codec<any>;
  /**
   * config: written by the reconciler; counter: owned by the data plane (per-CPU); state: the
   * node's own, written once at start when still empty (hash_key), never reconciled; meter:
   * the per-subscriber counters, owned by the data plane (shared, atomic), read by the meter.
   */
  kind: 'config' | 'counter' | 'state' | 'meter';
}

function layout(name: string, key: Codec<any>, value: Codec<any>, kind: MapLayout['kind'] = 'config'): MapLayout {
  return { name, key, value, kind };
}

/** Every map of the object, by name. The names are the C names and must not change. */
export const MAPS = {
  settings: layout('settings', u32, settingsCodec),
  sub_mac: layout('sub_mac', macKeyCodec, subMatchCodec),
  sub_vlan: layout('sub_vlan', vlanKeyCodec, subMatchCodec),
  sub_v4_exact: layout('sub_v4_exact', lpmV4KeyCodec, subMatchCodec),
  sub_v4: layout('sub_v4', lpmV4KeyCodec, subMatchCodec),
  sub_v6_exact: layout('sub_v6_exact', lpmV6KeyCodec, subMatchCodec),
  sub_v6: layout('sub_v6', lpmV6KeyCodec, subMatchCodec),
  fec_up: layout('fec_up', u32, fecCodec),
  nh_group: layout('nh_group', u32, nhGroupCodec),
  nexthop: layout('nexthop', u32, nexthopCodec),
  tx_port: layout('tx_port', u32, u32),
  ilm: layout('ilm', u32, ilmCodec),
  down_v4_exact: layout('down_v4_exact', scopedV4KeyCodec, subRouteCodec),
  down_v4: layout('down_v4', scopedV4KeyCodec, subRouteCodec),
  down_v6_exact: layout('down_v6_exact', scopedV6KeyCodec, subRouteCodec),
  down_v6: layout('down_v6', scopedV6KeyCodec, subRouteCodec),
  isp_route_v4_exact: layout('isp_route_v4_exact', scopedV4KeyCodec, fecCodec),
  isp_route_v4: layout('isp_route_v4', scopedV4KeyCodec, fecCodec),
  isp_route_v6_exact: layout('isp_route_v6_exact', scopedV6KeyCodec, fecCodec),
  isp_route_v6: layout('isp_route_v6', scopedV6KeyCodec, fecCodec),
  isp_port: layout('isp_port', ispPortKeyCodec, subClassCodec),
  local: layout('local', localKeyCodec, u32),
  policer: layout('policer', u32, policerCodec),
  sub_policer: layout('sub_policer', u32, policerCodec),
  icmp_src: layout('icmp_src', icmpSrcKeyCodec, icmpSrcCodec),
  icmp_limit: layout('icmp_limit', u32, icmpLimitCodec),
  hash_key: layout('hash_key', u32, hashKeyCodec, 'state'),
  /** the ICMP builder's per-CPU scratch room (struct icmp_scratch); user space never writes it */
  icmp_scratch: layout('icmp_scratch', u32, bytes(2 * FF_ICMP_QUOTE), 'state'),
  isp_stats: layout('isp_stats', u32, counterCodec, 'counter'),
  label_stats: layout('label_stats', u32, counterCodec, 'counter'),
  drop_stats: layout('drop_stats', u32, counterCodec, 'counter'),
  sub_stats: layout('sub_stats', u32, subCountersCodec, 'meter'),
  icmp_stats: layout('icmp_stats', u32, counterCodec, 'counter'),
} as const satisfies Record<string, MapLayout>;

export type MapName = keyof typeof MAPS;

/**
 * The maps the reconciler writes, in make-before-break write order: pointees before pointers
 * (next hops, groups, ports, label counters, ILM, FECs and routes, delivery, classifiers, own
 * addresses, settings, policers); removals run in the reverse order. Each prefix
 * table is two maps, <table>_exact (a hash of its longest prefixes) and <table> (an LPM trie
 * of the rest); settings says which prefix length the hash holds and which maps are empty.
 */
export const MAP_WRITE_ORDER = [
  'nexthop',
  'nh_group',
  'tx_port',
  'label_stats',
  'ilm',
  'fec_up',
  'isp_route_v4_exact',
  'isp_route_v4',
  'isp_route_v6_exact',
  'isp_route_v6',
  'isp_port',
  'sub_policer',
  'down_v4_exact',
  'down_v4',
  'down_v6_exact',
  'down_v6',
  'sub_mac',
  'sub_vlan',
  'sub_v4_exact',
  'sub_v4',
  'sub_v6_exact',
  'sub_v6',
  'local',
  'icmp_src',
  'settings',
  'policer',
  'icmp_limit',
] as const;

/** The configuration maps (everything the reconciler writes but the label counters, which it
 * creates next to their ILM entries), in MAP_WRITE_ORDER. */
export const CONFIG_MAPS: readonly MapName[] = MAP_WRITE_ORDER.filter((m): m is Exclude<(typeof MAP_WRITE_ORDER)[number], 'label_stats'> => m !== 'label_stats');

// ---- prefixes --------------------------------------------------------------------------

interface ParsedPrefix {
  family: 4 | 6;
  addr: string;
  len: number;
}

/** Parses 'a.b.c.d/n' or 'x::/n' and clears the host bits, so equal prefixes encode equally. */
export function parsePrefix(p: string): ParsedPrefix {
  const slash = p.lastIndexOf('/');
  const text = slash < 0 ? p : p.slice(0, slash);
  const family = isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0;
  if (family === 0) throw new CodecError(`prefix: '${p}' is not an IPv4 or IPv6 prefix`);
  const bits = family === 4 ? 32 : 128;
  const len = slash < 0 ? bits : Number(p.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > bits || (slash >= 0 && !/^\d+$/.test(p.slice(slash + 1)))) {
    throw new CodecError(`prefix: '${p}' has a bad length`);
  }
  const codec = family === 4 ? ipv4 : ipv6;
  const b = codec.encode(text);
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    b[i]! &= (0xff00 >> keep) & 0xff;
  }
  return { family, addr: codec.decode(b), len };
}

function formatPrefix(addr: string, len: number): string {
  return `${addr}/${len}`;
}

/**
 * A canonical-looking 'a.b.c.d/len' read without regular expressions or intermediate strings,
 * host bits cleared (a million subscriber prefixes are encoded on a cold start). Undefined for
 * anything else, which then takes parsePrefix() and the codecs.
 */
function quickV4(p: string): { len: number; addr: number } | undefined {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  let i = 0;
  for (; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else if (c === 46 || c === 47) {
      if (digits === 0 || octet > 255) return undefined;
      addr = addr * 256 + octet;
      parts++;
      octet = 0;
      digits = 0;
      if (c === 47) break;
      if (parts > 3) return undefined;
    } else return undefined;
  }
  if (parts !== 4 || i === p.length) return undefined;
  let len = 0;
  let ld = 0;
  for (i++; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 48 || c > 57 || ++ld > 2) return undefined;
    len = len * 10 + (c - 48);
  }
  if (ld === 0 || len > 32) return undefined;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { len, addr: (addr & mask) >>> 0 };
}

/** lpmV4KeyCodec.encode(lpmKey(p, 4)), fast for the usual text. */
function lpmV4Key(p: string): { len: number; key: Buffer } {
  const q = quickV4(p);
  if (!q) {
    const k = lpmKey(p, 4);
    return { len: k.prefixlen, key: lpmV4KeyCodec.encode(k) };
  }
  const b = Buffer.allocUnsafe(8);
  u32.encode(q.len, b, 0);
  b.writeUInt32BE(q.addr, 4);
  return { len: q.len, key: b };
}

/** scopedV4KeyCodec.encode(scopedKey(s, 4)), fast for the usual text. */
function scopedV4Key(s: ScopedPrefix): { len: number; key: Buffer } {
  const q = quickV4(s.prefix);
  if (!q) {
    const k = scopedKey(s, 4);
    return { len: k.prefixlen - 32, key: scopedV4KeyCodec.encode(k) };
  }
  const b = Buffer.allocUnsafe(12);
  u32.encode(32 + q.len, b, 0);
  u32.encode(s.isp, b, 4);
  b.writeUInt32BE(q.addr, 8);
  return { len: q.len, key: b };
}

function lpmKey(p: string, family: 4 | 6): { prefixlen: number; addr: string } {
  const pp = parsePrefix(p);
  if (pp.family !== family) throw new CodecError(`prefix '${p}' is not IPv${family}`);
  return { prefixlen: pp.len, addr: pp.addr };
}

function scopedKey(s: ScopedPrefix, family: 4 | 6): { prefixlen: number; isp: number; addr: string } {
  const k = lpmKey(s.prefix, family);
  return { prefixlen: 32 + k.prefixlen, isp: s.isp, addr: k.addr };
}

/** The map of a prefix table an encoded entry of prefix length len belongs in. */
function prefixMap(table: PrefixTable, len: number, exactLen: number): MapName {
  return exactLen > 0 && len === exactLen ? `${table}_exact` : table;
}

/**
 * The prefix length the exact-match hash of a table holds: the longest in the table, so that
 * a hit in the hash is always the longest match. 0 (nothing hashed) when the table is empty or
 * holds only /0.
 */
function longestPrefix(prefixes: Iterable<string>): number {
  let max = 0;
  for (const p of prefixes) max = Math.max(max, quickV4(p)?.len ?? parsePrefix(p).len);
  return max;
}

function scopedFromKey(k: { prefixlen: number; isp: number; addr: string }): ScopedPrefix {
  return { isp: k.isp, prefix: formatPrefix(k.addr, k.prefixlen - 32) };
}

// ---- value translations ----------------------------------------------------------------

function fill<T>(xs: readonly T[], n: number, zero: T): T[] {
  if (xs.length > n) throw new CodecError(`at most ${n} elements, got ${xs.length}`);
  return [...xs, ...Array<T>(n - xs.length).fill(zero)];
}

function encodeFec(f: Fec): Buffer {
  return fecCodec.encode({ label: fill(f.labels, MAX_LABELS, 0), nlabels: f.labels.length, tc: f.tc, nhGroup: f.nhGroup });
}

function decodeFec(b: Buffer): Fec {
  const v = fecCodec.decode(b);
  return { labels: v.label.slice(0, Math.min(v.nlabels, MAX_LABELS)), tc: v.tc, nhGroup: v.nhGroup };
}

function encodeNextHop(n: NextHop): Buffer {
  return nexthopCodec.encode(n);
}

function encodeSubRoute(r: SubRoute): Buffer {
  return subRouteCodec.encode({ ...r, meter: r.meter ?? 0 });
}

/** A decoded classifier value or route in the compiler's shape: no meter word when it is 0. */
function withoutZeroMeter<T extends { meter: number }>(v: T): Omit<T, 'meter'> & { meter?: number } {
  if (v.meter !== 0) return v;
  const { meter: _unused, ...rest } = v;
  return rest;
}

function encodeIlm(e: IlmEntry): Buffer {
  const base = { action: ILM_ACTION[e.action], nlabels: 0, tc: 0, dir: 0, label: [0, 0, 0], nhGroup: 0, isp: 0 };
  switch (e.action) {
    case 'swap':
      return ilmCodec.encode({ ...base, ...transit(e), nlabels: e.labels.length, tc: e.tc, label: fill(e.labels, MAX_LABELS, 0), nhGroup: e.nhGroup });
    case 'pop-forward':
      return ilmCodec.encode({ ...base, ...transit(e), nhGroup: e.nhGroup });
    case 'pop-continue':
      return ilmCodec.encode(base);
    case 'pop-to-isp':
      return ilmCodec.encode({ ...base, nhGroup: e.nhGroup, isp: e.isp });
    case 'pop-to-sub':
      return ilmCodec.encode({ ...base, isp: e.isp });
  }
}

/** The transit counter fields of a swap or pop-forward entry (isp 0: none). */
function transit(e: TransitIsp): { isp: number; dir: number } {
  return e.isp ? { isp: e.isp, dir: e.direction === 'down' ? 1 : 0 } : { isp: 0, dir: 0 };
}

function decodeTransit(v: { isp: number; dir: number }): TransitIsp {
  return v.isp ? { isp: v.isp, direction: v.dir ? 'down' : 'up' } : {};
}

function decodeIlm(b: Buffer): IlmEntry {
  const v = ilmCodec.decode(b);
  switch (v.action) {
    case ILM_ACTION.swap:
      return { action: 'swap', labels: v.label.slice(0, Math.min(v.nlabels, MAX_LABELS)), tc: v.tc, nhGroup: v.nhGroup, ...decodeTransit(v) };
    case ILM_ACTION['pop-forward']:
      return { action: 'pop-forward', nhGroup: v.nhGroup, ...decodeTransit(v) };
    case ILM_ACTION['pop-continue']:
      return { action: 'pop-continue' };
    case ILM_ACTION['pop-to-isp']:
      return { action: 'pop-to-isp', isp: v.isp, nhGroup: v.nhGroup };
    case ILM_ACTION['pop-to-sub']:
      return { action: 'pop-to-sub', isp: v.isp };
    default:
      throw new CodecError(`ilm: unknown action ${v.action}`);
  }
}

/** A fresh bucket: full (tokens = burst), so a rate change never starts with a debt. */
function encodePolicer(p: Policer): Buffer {
  return policerCodec.encode({ frac: 0, rate: p.rate, burst: p.burst, tokens: p.burst, lastNs: 0n });
}

function encodeIcmpSource(s: IcmpSource): Buffer {
  const flags = (s.v4 !== undefined ? FF_ICMP_SRC_HAS_V4 : 0) | (s.v6 !== undefined ? FF_ICMP_SRC_HAS_V6 : 0);
  return icmpSrcCodec.encode({ v4: s.v4 ?? '0.0.0.0', v6: s.v6 ?? '::', flags });
}

function decodeIcmpSource(b: Buffer): IcmpSource {
  const v = icmpSrcCodec.decode(b);
  const out: IcmpSource = {};
  if (v.flags & FF_ICMP_SRC_HAS_V4) out.v4 = v.v4;
  if (v.flags & FF_ICMP_SRC_HAS_V6) out.v6 = v.v6;
  return out;
}

/** A full bucket, so a change of rate or burst never starts with a debt. */
function encodeIcmpLimit(l: IcmpLimit): Buffer {
  return icmpLimitCodec.encode({ rate: BigInt(l.rate), burst: BigInt(l.burst), credit: BigInt(l.burst) * 1_000_000_000n, lastNs: 0n });
}

function encodeLocal(addr: string): Buffer {
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  if (family === 0) throw new CodecError(`local: '${addr}' is not an IP address`);
  const a = Buffer.alloc(16);
  (family === 4 ? ipv4 : ipv6).encode(addr, a, 0);
  return localKeyCodec.encode({ family, addr: a });
}

function decodeLocal(b: Buffer): string {
  const k = localKeyCodec.decode(b);
  return k.family === 4 ? ipv4.decode(k.addr) : ipv6.decode(k.addr);
}

const ONE = u32.encode(1);

// ---- whole tables ----------------------------------------------------------------------

export type EncodedTables = Map<string, Array<[Buffer, Buffer]>>;

/**
 * The desired content of every config map as encoded (key, value) pairs. Every config map is
 * present, empty ones included, so a diff against the maps also finds what to delete. ARRAY
 * maps (fec_up, nh_group, nexthop, policer) hold only the ids present.
 */
export function encodeTables(t: Tables, context: EncodeContext = {}): EncodedTables {
  const out: EncodedTables = new Map(CONFIG_MAPS.map((n) => [n, []]));
  const put = (name: MapName, k: Buffer, v: Buffer) => out.get(name)!.push([k, v]);
  const exactLen: Record<PrefixTable, number> = context.exactLen ?? {
    sub_v4: longestPrefix(t.subV4.keys()),
    sub_v6: longestPrefix(t.subV6.keys()),
    down_v4: longestPrefix(t.downV4.map(([k]) => k.prefix)),
    down_v6: longestPrefix(t.downV6.map(([k]) => k.prefix)),
    isp_route_v4: longestPrefix(t.ispRouteV4.map(([k]) => k.prefix)),
    isp_route_v6: longestPrefix(t.ispRouteV6.map(([k]) => k.prefix)),
  };
  const putPrefix = (table: PrefixTable, len: number, k: Buffer, v: Buffer) => put(prefixMap(table, len, exactLen[table]), k, v);

  // Classifier values are one of a few thousand (ISP, line) pairs, usually one shared object
  // each (the compiler interns them): encode each once and share the buffer.
  const byObject = new Map<SubClass, Buffer>();
  const byValue = new Map<string, Buffer>();
  const subClass = (c: SubClass): Buffer => {
    let v = byObject.get(c);
    if (v) return v;
    const meter = c.meter ?? 0;
    const k = `${c.isp},${c.ifindex},${c.outerVid},${c.innerVid},${meter}`;
    v = byValue.get(k);
    if (!v) byValue.set(k, (v = subMatchCodec.encode({ ...c, meter })));
    byObject.set(c, v);
    return v;
  };
  for (const [m, c] of t.subMac) put('sub_mac', macKeyCodec.encode({ mac: m }), subClass(c));
  // a VLAN entry's line is its key
  for (const [k, isp, meter] of t.subVlan) put('sub_vlan', vlanKeyCodec.encode(k), subClass({ isp, ...k, meter }));
  for (const [p, c] of t.subV4) {
    const k = lpmV4Key(p);
    putPrefix('sub_v4', k.len, k.key, subClass(c));
  }
  for (const [p, c] of t.subV6) {
    const k = lpmKey(p, 6);
    putPrefix('sub_v6', k.prefixlen, lpmV6KeyCodec.encode(k), subClass(c));
  }
  for (const [isp, f] of t.fecUp) put('fec_up', u32.encode(isp), encodeFec(f));
  for (const [id, g] of t.nhGroups) {
    put('nh_group', u32.encode(id), nhGroupCodec.encode({ count: g.nexthops.length, nexthop: fill(g.nexthops, MAX_ECMP, 0) }));
  }
  for (const [id, n] of t.nexthops) put('nexthop', u32.encode(id), encodeNextHop(n));
  for (const ifindex of t.txPorts) put('tx_port', u32.encode(ifindex), u32.encode(ifindex));
  for (const [label, e] of t.ilm) put('ilm', u32.encode(label), encodeIlm(e));
  for (const [s, r] of t.downV4) {
    const k = scopedV4Key(s);
    putPrefix('down_v4', k.len, k.key, encodeSubRoute(r));
  }
  for (const [s, r] of t.downV6) {
    const k = scopedKey(s, 6);
    putPrefix('down_v6', k.prefixlen - 32, scopedV6KeyCodec.encode(k), encodeSubRoute(r));
  }
  for (const [k, isp] of t.ispPorts) put('isp_port', ispPortKeyCodec.encode(k), subClassCodec.encode({ isp }));
  for (const [s, f] of t.ispRouteV4) {
    const k = scopedV4Key(s);
    putPrefix('isp_route_v4', k.len, k.key, encodeFec(f));
  }
  for (const [s, f] of t.ispRouteV6) {
    const k = scopedKey(s, 6);
    putPrefix('isp_route_v6', k.prefixlen - 32, scopedV6KeyCodec.encode(k), encodeFec(f));
  }
  for (const a of t.local) put('local', encodeLocal(a), ONE);
  for (const [idx, p] of t.policers) put('policer', u32.encode(idx), encodePolicer(p));
  for (const [idx, p] of t.subPolicers ?? []) put('sub_policer', u32.encode(idx), encodePolicer(p));
  for (const [k, v] of t.icmpSources) put('icmp_src', icmpSrcKeyCodec.encode(k), encodeIcmpSource(v));
  if (t.icmpLimit.rate > 0) put('icmp_limit', u32.encode(0), encodeIcmpLimit(t.icmpLimit));

  // Which lookups the programs can leave out, from what was just encoded.
  const skip = context.skip ?? skipBits((m) => out.get(m)!.length === 0);
  const settings = settingsCodec.encode({
    ttlMode: TTL_MODE[t.settings.ttlMode],
    unknownPolicy: UNKNOWN_POLICY[t.settings.unknownPolicy],
    skip,
    exactLen: PREFIX_TABLES.map((table) => exactLen[table]),
  });
  put('settings', u32.encode(0), settings);
  return out;
}

/**
 * What encodeTables takes from the whole tables when it encodes only a part of them (the
 * entries of a few subscribers): the prefix length each table's _exact hash holds, and the
 * skip bits of settings.
 */
export interface EncodeContext {
  exactLen?: Record<PrefixTable, number>;
  skip?: number;
}

/** The settings skip bits for the maps that hold nothing. */
export function skipBits(empty: (map: MapName) => boolean): number {
  let skip = 0;
  if (empty('sub_mac')) skip |= FF_SKIP_SUB_MAC;
  if (empty('sub_vlan')) skip |= FF_SKIP_SUB_VLAN;
  for (const table of PREFIX_TABLES) if (empty(table)) skip |= ffSkipTrie(table);
  return skip;
}

/** The Tables that encoded map content stands for (the inverse of encodeTables). */
export function decodeTables(enc: EncodedTables): Tables {
  // A prefix table is the union of its _exact hash and its trie (in the order they are looked up).
  const get = (name: MapName) => {
    const both = (PREFIX_TABLES as readonly string[]).includes(name) ? [`${name}_exact`, name] : [name];
    return both.flatMap((n) => enc.get(n) ?? []);
  };
  const byKey = <V>(name: MapName, f: (k: Buffer, v: Buffer) => V) => get(name).map(([k, v]) => f(k, v));
  const settingsEntry = get('settings').find(([k]) => u32.decode(k) === 0);
  const s = settingsEntry ? settingsCodec.decode(settingsEntry[1]) : { ttlMode: 0, unknownPolicy: 0 };
  return {
    settings: {
      ttlMode: s.ttlMode === TTL_MODE.pipe ? 'pipe' : 'uniform',
      unknownPolicy: s.unknownPolicy === UNKNOWN_POLICY.pass ? 'pass' : 'drop',
    },
    subMac: new Map(byKey('sub_mac', (k, v) => [macKeyCodec.decode(k).mac, withoutZeroMeter(subMatchCodec.decode(v))] as const)),
    subVlan: byKey('sub_vlan', (k, v): [VlanKey, number] | [VlanKey, number, number] => {
      const m = subMatchCodec.decode(v);
      return m.meter ? [vlanKeyCodec.decode(k), m.isp, m.meter] : [vlanKeyCodec.decode(k), m.isp];
    }),
    subV4: new Map(byKey('sub_v4', (k, v) => {
      const key = lpmV4KeyCodec.decode(k);
      return [formatPrefix(key.addr, key.prefixlen), withoutZeroMeter(subMatchCodec.decode(v))] as const;
    })),
    subV6: new Map(byKey('sub_v6', (k, v) => {
      const key = lpmV6KeyCodec.decode(k);
      return [formatPrefix(key.addr, key.prefixlen), withoutZeroMeter(subMatchCodec.decode(v))] as const;
    })),
    fecUp: new Map(byKey('fec_up', (k, v) => [u32.decode(k), decodeFec(v)] as const)),
    nhGroups: new Map(byKey('nh_group', (k, v) => {
      const g = nhGroupCodec.decode(v);
      return [u32.decode(k), { nexthops: g.nexthop.slice(0, Math.min(g.count, MAX_ECMP)) }] as const;
    })),
    nexthops: new Map(byKey('nexthop', (k, v) => [u32.decode(k), nexthopCodec.decode(v)] as const)),
    txPorts: new Set(byKey('tx_port', (k) => u32.decode(k))),
    ilm: new Map(byKey('ilm', (k, v) => [u32.decode(k), decodeIlm(v)] as const)),
    downV4: byKey('down_v4', (k, v) => [scopedFromKey(scopedV4KeyCodec.decode(k)), withoutZeroMeter(subRouteCodec.decode(v))]),
    downV6: byKey('down_v6', (k, v) => [scopedFromKey(scopedV6KeyCodec.decode(k)), withoutZeroMeter(subRouteCodec.decode(v))]),
    ispPorts: byKey('isp_port', (k, v) => {
      const key = ispPortKeyCodec.decode(k);
      return [{ ifindex: key.ifindex, vid: key.vid }, subClassCodec.decode(v).isp];
    }),
    ispRouteV4: byKey('isp_route_v4', (k, v) => [scopedFromKey(scopedV4KeyCodec.decode(k)), decodeFec(v)]),
    ispRouteV6: byKey('isp_route_v6', (k, v) => [scopedFromKey(scopedV6KeyCodec.decode(k)), decodeFec(v)]),
    local: new Set(byKey('local', (k) => decodeLocal(k))),
    policers: new Map(byKey('policer', (k, v) => {
      const p = policerCodec.decode(v);
      return [u32.decode(k), { rate: p.rate, burst: p.burst }] as const;
    })),
    subPolicers: new Map(byKey('sub_policer', (k, v) => {
      const p = policerCodec.decode(v);
      return [u32.decode(k), { rate: p.rate, burst: p.burst }] as const;
    })),
    icmpSources: byKey('icmp_src', (k, v) => {
      const key = icmpSrcKeyCodec.decode(k);
      return [{ ifindex: key.ifindex, vid: key.vid }, decodeIcmpSource(v)];
    }),
    icmpLimit: (() => {
      const e = get('icmp_limit').find(([k]) => u32.decode(k) === 0);
      const l = e ? icmpLimitCodec.decode(e[1]) : { rate: 0n, burst: 0n };
      return l.rate === 0n ? { rate: 0, burst: 0 } : { rate: Number(l.rate), burst: Number(l.burst) };
    })(),
  };
}

/**
 * Whether two encoded values of a map mean the same configuration. Policer values carry the
 * data plane's bucket state (tokens, last_ns), which a diff must ignore.
 */
export function sameConfigValue(map: string, a: Buffer, b: Buffer): boolean {
  if (map === 'policer' || map === 'sub_policer') {
    const x = policerCodec.decode(a);
    const y = policerCodec.decode(b);
    return x.rate === y.rate && x.burst === y.burst;
  }
  if (map === 'icmp_limit') {
    const x = icmpLimitCodec.decode(a);
    const y = icmpLimitCodec.decode(b);
    return x.rate === y.rate && x.burst === y.burst;
  }
  return a.equals(b);
}

/** Keys of label_stats the control plane creates alongside the ILM (one counter per label). */
export function labelStatsKeys(t: Tables): Buffer[] {
  return [...t.ilm.keys()].map((l) => u32.encode(l));
}

/** isp_stats index of (isp, direction, point), as in fecflow_shared.h. */
export { ispStatsIndex, ispStatsSlot, policerIndex } from './types.js';
