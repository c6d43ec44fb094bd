// The reference model of the data plane: dataplane/FORWARDING.md as executable TypeScript.
// `forward()` takes the typed tables of control/tables/types.ts, a program name and a frame,
// and returns what the XDP program must do with it: the verdict, the drop reason, the output
// bytes and the counter increments. It is written from the spec and RFCs 3032, 3443, 1624 and
// 802.1Q, never from the C, so the differential test can tell when the two disagree.

import {
  MAX_ISPS,
  MAX_LABELS,
  type Direction,
  type DropReason,
  type Fec,
  type NextHop,
  type Point,
  type Policer,
  type SubClass,
  type Tables,
  meterPoliced,
  meterSlot,
  policerIndex,
  subPolicerIndex,
} from '../../control/tables/types.js';
import type { TrafficType } from '../../control/daemon/usage.js';
import { FF_METER_SLOTS } from '../../control/tables/shared.gen.js';
import { parseIp, parseMac, parsePrefix, prefixContains, type Family } from './addr.js';
import { incrementalChecksum } from './checksum.js';
import { ipFlowHash, mplsFlowHash, type HashKey } from './hash.js';
import { ETH_P_8021AD, ETH_P_8021Q, ETH_P_IPV4, ETH_P_IPV6, ETH_P_MPLS } from './frames.js';

export type Program = 'access' | 'core' | 'isp';
export type Verdict = 'pass' | 'drop' | 'redirect';

/** The data plane's half of a policer entry: what the token bucket remembers between frames. */
export interface PolicerBucket {
  tokens: bigint;
  lastNs: bigint;
  /** earned but not yet credited, in 1e-9 bytes (0 when absent) */
  frac?: bigint;
}
/** Keyed by policer index (isp * 2 + direction); an absent bucket starts full. */
export type PolicerState = Map<number, PolicerBucket>;

export interface ForwardOptions {
  ingressIfindex: number;
  /** hash_key[0] of the data plane; absent: zero, the unkeyed hash */
  hashKey?: HashKey;
  nowNs?: bigint;
  policerState?: PolicerState;
  /** the subscribers' buckets, by subPolicerIndex(slot, direction) */
  subPolicerState?: PolicerState;
}

export interface IspCount {
  isp: number;
  direction: Direction;
  point: Point;
  packets: number;
  bytes: number;
}
export interface LabelCount {
  label: number;
  packets: number;
  bytes: number;
}
export interface DropCount {
  reason: DropReason;
  packets: number;
  bytes: number;
}
/** One packet metered for a subscriber (sub_stats[slot * 2 + direction].type[type]). */
export interface SubscriberCount {
  slot: number;
  direction: Direction;
  type: TrafficType;
  packets: number;
  bytes: number;
}
export interface Counters {
  isp: IspCount[];
  labels: LabelCount[];
  drops: DropCount[];
  subscribers: SubscriberCount[];
}

export interface ModelResult {
  verdict: Verdict;
  reason?: DropReason;
  egressIfindex?: number;
  /** the frame as the program leaves it: rewritten for redirect, and for pass after an explicit-null pop */
  frame: Buffer;
  counters: Counters;
}

export function forward(tables: Tables, program: Program, frame: Buffer, opts: ForwardOptions): ModelResult {
  const run = new Run(tables, frame, opts);
  switch (program) {
    case 'access':
      return accessProgram(run);
    case 'core':
      return coreProgram(run);
    case 'isp':
      return ispProgram(run);
  }
}

// ---------------------------------------------------------------------------------------------
// One frame's run: the tables, the received bytes and the counters it has touched.

class Run {
  readonly counters: Counters = { isp: [], labels: [], drops: [], subscribers: [] };

  constructor(
    readonly tables: Tables,
    readonly received: Buffer,
    readonly opts: ForwardOptions,
  ) {}

  /** `len` of FORWARDING.md: the frame as received. */
  get len(): number {
    return this.received.length;
  }

  drop(reason: DropReason): ModelResult {
    this.counters.drops.push({ reason, packets: 1, bytes: this.len });
    return { verdict: 'drop', reason, frame: this.received, counters: this.counters };
  }

  pass(frame: Buffer = this.received): ModelResult {
    return { verdict: 'pass', frame, counters: this.counters };
  }

  /** bpf_redirect_map(&tx_port, ifindex): a port missing from tx_port is a drop. */
  redirect(ifindex: number, frame: Buffer): ModelResult {
    if (!this.tables.txPorts.has(ifindex)) return this.drop('tx_port');
    return { verdict: 'redirect', egressIfindex: ifindex, frame, counters: this.counters };
  }

  countIsp(isp: number, direction: Direction, point: Point, bytes: number): void {
    this.counters.isp.push({ isp, direction, point, packets: 1, bytes });
  }

  countLabel(label: number): void {
    this.counters.labels.push({ label, packets: 1, bytes: this.len });
  }

  /** The subscriber's meter (meter word 0: none): by the IP header's protocol and length. */
  meter(word: number | undefined, direction: Direction, ip: IpHeader): void {
    const slot = meterSlot(word ?? 0);
    // slot 0 is "not metered"; a slot beyond sub_stats finds no entry
    if (slot === 0 || slot >= FF_METER_SLOTS) return;
    this.counters.subscribers.push({ slot, direction, type: trafficType(ip), packets: 1, bytes: ip.length });
  }
}

/** What the meter counts a packet as: IPv4/IPv6 x TCP (6) / UDP (17) / ICMP (1, or 58 in IPv6) / other. */
function trafficType(ip: IpHeader): TrafficType {
  const family = ip.version === 4 ? 'ipv4' : 'ipv6';
  const icmp = ip.version === 4 ? 1 : 58;
  const l4 = ip.protocol === 6 ? 'tcp' : ip.protocol === 17 ? 'udp' : ip.protocol === icmp ? 'icmp' : 'other';
  return `${family}_${l4}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing (FORWARDING.md "Common parsing")

interface VlanTag {
  tpid: number;
  vid: number;
}

interface Link {
  dst: Buffer;
  src: Buffer;
  tags: VlanTag[];
  /** ethertype after the tags */
  ethertype: number;
  /** offset of what follows the ethertype */
  l3: number;
}

interface IpHeader {
  version: 4 | 6;
  /** offset of the IP header in its buffer */
  offset: number;
  ttl: number;
  src: Buffer;
  dst: Buffer;
  /** IPv4 protocol or IPv6 (fixed header) next header */
  protocol: number;
  /** the packet's length by its header: IPv4 total length, IPv6 40 + payload length */
  length: number;
}

const ETH_HLEN = 14;
const MPLS_HLEN = 4;
const VLAN_HLEN = 4;

/** Ethernet and up to `maxTags` VLAN tags; undefined means MALFORMED. */
function parseLink(frame: Buffer, maxTags: number): Link | undefined {
  if (frame.length < ETH_HLEN) return undefined;
  let ethertype = frame.readUInt16BE(12);
  let offset = ETH_HLEN;
  const tags: VlanTag[] = [];
  while ((ethertype === ETH_P_8021Q || ethertype === ETH_P_8021AD) && tags.length < maxTags) {
    if (frame.length < offset + VLAN_HLEN) return undefined;
    tags.push({ tpid: ethertype, vid: frame.readUInt16BE(offset) & 0x0fff });
    ethertype = frame.readUInt16BE(offset + 2);
    offset += VLAN_HLEN;
  }
  return { dst: frame.subarray(0, 6), src: frame.subarray(6, 12), tags, ethertype, l3: offset };
}

function isVlanTpid(ethertype: number): boolean {
  return ethertype === ETH_P_8021Q || ethertype === ETH_P_8021AD;
}

/** Validates the IP header at `offset` by the given version; undefined means MALFORMED. */
function parseIpHeader(frame: Buffer, offset: number, version: 4 | 6): IpHeader | undefined {
  const avail = frame.length - offset;
  if (version === 4) {
    if (avail < 20) return undefined;
    if (frame[offset] >> 4 !== 4) return undefined;
    const headerLength = (frame[offset] & 0x0f) * 4;
    if (headerLength < 20 || avail < headerLength) return undefined;
    const totalLength = frame.readUInt16BE(offset + 2);
    if (totalLength < headerLength || totalLength > avail) return undefined;
    return {
      version: 4,
      offset,
      ttl: frame[offset + 8],
      src: frame.subarray(offset + 12, offset + 16),
      dst: frame.subarray(offset + 16, offset + 20),
      protocol: frame[offset + 9],
      length: totalLength,
    };
  }
  if (avail < 40) return undefined;
  if (frame[offset] >> 4 !== 6) return undefined;
  if (40 + frame.readUInt16BE(offset + 4) > avail) return undefined;
  return {
    version: 6,
    offset,
    ttl: frame[offset + 7],
    src: frame.subarray(offset + 8, offset + 24),
    dst: frame.subarray(offset + 24, offset + 40),
    protocol: frame[offset + 6],
    length: 40 + frame.readUInt16BE(offset + 4),
  };
}

/** An IP packet under an MPLS stack: its version nibble decides how it is parsed. */
function parseInnerIp(frame: Buffer, offset: number): IpHeader | undefined {
  if (offset >= frame.length) return undefined;
  const version = frame[offset] >> 4;
  if (version !== 4 && version !== 6) return undefined;
  return parseIpHeader(frame, offset, version);
}

/** IP TTL (IPv4) or hop limit (IPv6) rewrite; IPv4 updates the checksum by RFC 1624. */
function setIpTtl(packet: Buffer, ip: IpHeader, ttl: number): void {
  if (ip.version === 6) {
    packet[ip.offset + 7] = ttl;
    return;
  }
  const oldWord = packet.readUInt16BE(ip.offset + 8); // TTL | protocol
  packet[ip.offset + 8] = ttl;
  const newWord = packet.readUInt16BE(ip.offset + 8);
  const checksum = packet.readUInt16BE(ip.offset + 10);
  packet.writeUInt16BE(incrementalChecksum(checksum, oldWord, newWord), ip.offset + 10);
}

function ipEthertype(version: 4 | 6): number {
  return version === 4 ? ETH_P_IPV4 : ETH_P_IPV6;
}

// ---------------------------------------------------------------------------------------------
// Lookups over the typed tables. LPM is done here, over the entry lists: longest prefix wins,
// and scoped tables match the ISP exactly.

function longestMatch<T>(entries: Iterable<[string, T]>, family: Family, addr: Buffer): T | undefined {
  let best: T | undefined;
  let bestLength = -1;
  for (const [prefix, value] of entries) {
    const p = parsePrefix(prefix);
    if (p.family !== family || p.length <= bestLength) continue;
    if (prefixContains(p, addr)) {
      best = value;
      bestLength = p.length;
    }
  }
  return best;
}

function scopedMatch<T>(entries: Array<[{ isp: number; prefix: string }, T]>, isp: number, family: Family, addr: Buffer): T | undefined {
  const inScope = function* (): Iterable<[string, T]> {
    for (const [key, value] of entries) if (key.isp === isp) yield [key.prefix, value];
  };
  return longestMatch(inScope(), family, addr);
}

function macKey(mac: Buffer): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function isLocalAddress(tables: Tables, ip: IpHeader): boolean {
  for (const text of tables.local) {
    const { family, addr } = parseIp(text);
    if (family === ip.version && addr.equals(ip.dst)) return true;
  }
  return false;
}

/** "Local traffic": frames for the router itself or for everyone go to the kernel. */
function isLocalTraffic(tables: Tables, link: Link, ip: IpHeader): boolean {
  if (link.dst[0] & 1) return true;
  if (ip.version === 4) {
    if (ip.dst.readUInt32BE(0) === 0xffffffff) return true;
    if ((ip.dst[0] & 0xf0) === 0xe0) return true; // 224.0.0.0/4
  } else {
    if (ip.dst[0] === 0xfe && (ip.dst[1] & 0xc0) === 0x80) return true; // fe80::/10
    if (ip.dst[0] === 0xff) return true; // ff00::/8
  }
  return isLocalAddress(tables, ip);
}

/** `nh_group[id]` and the ECMP member chosen by the flow hash; undefined means NO_NEXTHOP. */
function selectNextHop(tables: Tables, groupId: number, flowHash: number): NextHop | undefined {
  const group = tables.nhGroups.get(groupId);
  const count = group?.nexthops.length ?? 0;
  if (!group || count === 0) return undefined;
  const member = count === 1 ? 0 : flowHash % count;
  const nexthop = tables.nexthops.get(group.nexthops[member]);
  if (!nexthop || nexthop.ifindex === 0) return undefined;
  return nexthop;
}

/** The MTU is L3: everything after the 14-byte Ethernet header, tags included. */
function exceedsMtu(outLength: number, mtu: number): boolean {
  return mtu !== 0 && outLength - ETH_HLEN > mtu;
}

const NS_PER_SEC = 1_000_000_000n;

/** Token bucket of FORWARDING.md "Policer"; true when the frame may go on. */
function police(run: Run, isp: number, direction: Direction): boolean {
  const index = policerIndex(isp, direction);
  return bucket(run, run.tables.policers.get(index), run.opts.policerState, index, run.len);
}

/** The subscriber's own bucket, when its meter word says it has one: charged the IP bytes. */
function policeSubscriber(run: Run, word: number | undefined, direction: Direction, ipBytes: number): boolean {
  if (word === undefined || !meterPoliced(word)) return true;
  const index = subPolicerIndex(meterSlot(word), direction);
  return bucket(run, run.tables.subPolicers.get(index), run.opts.subPolicerState, index, ipBytes);
}

function bucket(run: Run, policer: Policer | undefined, states: PolicerState | undefined, index: number, length: number): boolean {
  if (!policer || policer.rate === 0n) return true;
  const state = states ?? new Map<number, PolicerBucket>();
  const bucket = state.get(index) ?? { tokens: policer.burst, lastNs: 0n };
  const now = run.opts.nowNs ?? 0n;
  // a clock reading older than the bucket's (another CPU) earns nothing
  const elapsed = now > bucket.lastNs ? now - bucket.lastNs : 0n;
  // exact: every nanosecond earns rate / 10^9 bytes, the fraction carried to the next frame
  const earned = elapsed * policer.rate + (bucket.frac ?? 0n);
  let tokens = bucket.tokens + earned / NS_PER_SEC;
  let frac = earned % NS_PER_SEC;
  if (tokens >= policer.burst) {
    tokens = policer.burst;
    frac = 0n;
  }
  const len = BigInt(length);
  const conforms = tokens >= len;
  state.set(index, { tokens: conforms ? tokens - len : tokens, lastNs: now > bucket.lastNs ? now : bucket.lastNs, frac });
  return conforms;
}

// ---------------------------------------------------------------------------------------------
// Label stack entries (RFC 3032)

interface StackEntry {
  label: number;
  tc: number;
  bottom: boolean;
  ttl: number;
}

function readEntry(frame: Buffer, offset: number): StackEntry {
  const word = frame.readUInt32BE(offset);
  return { label: word >>> 12, tc: (word >>> 9) & 7, bottom: (word & 0x100) !== 0, ttl: word & 0xff };
}

function encodeEntry(e: StackEntry): Buffer {
  const b = Buffer.alloc(MPLS_HLEN);
  b.writeUInt32BE((((e.label & 0xfffff) << 12) | ((e.tc & 7) << 9) | (e.bottom ? 0x100 : 0) | (e.ttl & 0xff)) >>> 0, 0);
  return b;
}

function setEntryTtl(frame: Buffer, offset: number, ttl: number): void {
  frame[offset + 3] = ttl;
}

/** The labels a FEC pushes, top first, S on the bottom one. */
function pushedStack(labels: readonly number[], tc: number, ttl: number): Buffer {
  return Buffer.concat(labels.map((label, i) => encodeEntry({ label, tc, bottom: i === labels.length - 1, ttl })));
}

function ethernetHeader(dst: Buffer, src: Buffer, tags: readonly VlanTag[], ethertype: number): Buffer {
  const h = Buffer.alloc(ETH_HLEN + tags.length * VLAN_HLEN);
  dst.copy(h, 0);
  src.copy(h, 6);
  let offset = 12;
  for (const tag of tags) {
    h.writeUInt16BE(tag.tpid, offset);
    h.writeUInt16BE(tag.vid & 0x0fff, offset + 2); // PCP 0, DEI 0
    offset += VLAN_HLEN;
  }
  h.writeUInt16BE(ethertype, offset);
  return h;
}

function nextHopTags(nexthop: NextHop): VlanTag[] {
  return nexthop.vid !== 0 ? [{ tpid: ETH_P_8021Q, vid: nexthop.vid }] : [];
}

// ---------------------------------------------------------------------------------------------
// Ingress push, shared by the access program (upstream) and the isp program (downstream):
// FORWARDING.md access steps 4-7.

function pushAndRedirect(run: Run, link: Link, ip: IpHeader, isp: number, direction: Direction, fec: Fec, meter?: number): ModelResult {
  const { tables } = run;
  // the IP packet with any padding, as it sits in the frame
  const packet = Buffer.from(run.received.subarray(link.l3));
  const packetIp = { ...ip, offset: 0 };

  // TTL, push rule (RFC 3443)
  if (ip.ttl <= 1) return run.drop('ttl_expired');
  let labelTtl: number;
  if (tables.settings.ttlMode === 'uniform') {
    labelTtl = ip.ttl - 1;
  } else {
    setIpTtl(packet, packetIp, ip.ttl - 1);
    labelTtl = 255;
  }

  const nexthop = selectNextHop(tables, fec.nhGroup, ipFlowHash(run.received, ip.offset, ip.version, run.opts.hashKey));
  if (!nexthop) return run.drop('no_nexthop');

  const header = ethernetHeader(parseMac(nexthop.dmac), parseMac(nexthop.smac), nextHopTags(nexthop), ETH_P_MPLS);
  const stack = pushedStack(fec.labels, fec.tc, labelTtl);
  const out = Buffer.concat([header, stack, packet]);
  if (exceedsMtu(out.length, nexthop.mtu)) return run.drop('mtu_exceeded');

  if (!policeSubscriber(run, meter, direction, packet.length)) return run.drop('sub_policed');
  if (!police(run, isp, direction)) {
    run.countIsp(isp, direction, 'policed', packet.length);
    return run.drop('policed');
  }
  run.countIsp(isp, direction, 'in', packet.length);
  run.meter(meter, direction, ip);
  return run.redirect(nexthop.ifindex, out);
}

type Edge = { link: Link; ip: IpHeader } | { result: ModelResult };

/** Access and isp step 1: parse Ethernet, tags and IP, and hand local traffic to the kernel. */
function parseEdge(run: Run, maxTags: number): Edge {
  const link = parseLink(run.received, maxTags);
  if (!link) return { result: run.drop('malformed') };
  if (link.ethertype !== ETH_P_IPV4 && link.ethertype !== ETH_P_IPV6) return { result: run.pass() };
  const ip = parseIpHeader(run.received, link.l3, link.ethertype === ETH_P_IPV4 ? 4 : 6);
  if (!ip) return { result: run.drop('malformed') };
  if (isLocalTraffic(run.tables, link, ip)) return { result: run.pass() };
  return { link, ip };
}

// ---------------------------------------------------------------------------------------------
// access program: end-user -> ISP

/** The matching entry's ISP and meter word, undefined for no match, or 'wrong_port' for a
 * MAC/prefix match off its line. */
function classify(run: Run, link: Link, ip: IpHeader): { isp: number; meter?: number } | 'wrong_port' | undefined {
  const { tables } = run;
  const outer = link.tags.length > 0 ? link.tags[0].vid : 0;
  const inner = link.tags.length > 1 ? link.tags[1].vid : 0;
  // A MAC or a source address anyone can set: it counts only on the line (port and tags) its
  // subscriber is provisioned on.
  const onLine = (c: SubClass): boolean => c.ifindex === run.opts.ingressIfindex && c.outerVid === outer && c.innerVid === inner;
  const byMac = tables.subMac.get(macKey(link.src));
  if (byMac !== undefined) return onLine(byMac) ? byMac : 'wrong_port';
  if (link.tags.length > 0) {
    for (const [key, isp, meter] of tables.subVlan) {
      if (key.ifindex === run.opts.ingressIfindex && key.outerVid === outer && key.innerVid === inner) return { isp, meter };
    }
  }
  const prefixes = ip.version === 4 ? tables.subV4 : tables.subV6;
  const byPrefix = longestMatch(prefixes.entries(), ip.version, ip.src);
  if (byPrefix === undefined) return undefined;
  return onLine(byPrefix) ? byPrefix : 'wrong_port';
}

function accessProgram(run: Run): ModelResult {
  // A third tag: no classifier can match it, so it is an unknown subscriber (never a free
  // ride to the kernel).
  const tagged = parseLink(run.received, 2);
  if (tagged && tagged.tags.length === 2 && isVlanTpid(tagged.ethertype)) {
    return run.tables.settings.unknownPolicy === 'pass' ? run.pass() : run.drop('unknown_subscriber');
  }
  const edge = parseEdge(run, 2);
  if ('result' in edge) return edge.result;
  const { link, ip } = edge;

  const match = classify(run, link, ip);
  if (match === 'wrong_port') return run.drop('wrong_port');
  if (match === undefined) {
    return run.tables.settings.unknownPolicy === 'pass' ? run.pass() : run.drop('unknown_subscriber');
  }
  const isp = match.isp;
  if (isp < 1 || isp >= MAX_ISPS) return run.drop('unknown_subscriber');

  const fec = run.tables.fecUp.get(isp);
  if (!fec || fec.labels.length === 0 || fec.labels.length > MAX_LABELS) return run.drop('no_fec');

  return pushAndRedirect(run, link, ip, isp, 'up', fec, match.meter);
}

// ---------------------------------------------------------------------------------------------
// isp program: an ISP's link at the tailend, downstream

function ispProgram(run: Run): ModelResult {
  const edge = parseEdge(run, 1);
  if ('result' in edge) return edge.result;
  const { link, ip } = edge;

  const vid = link.tags.length > 0 ? link.tags[0].vid : 0;
  const port = run.tables.ispPorts.find(([key]) => key.ifindex === run.opts.ingressIfindex && key.vid === vid);
  if (!port) return run.pass();
  const isp = port[1];

  const routes = ip.version === 4 ? run.tables.ispRouteV4 : run.tables.ispRouteV6;
  const fec = scopedMatch(routes, isp, ip.version, ip.dst);
  if (!fec || fec.labels.length === 0) return run.drop('no_route');

  return pushAndRedirect(run, link, ip, isp, 'down', fec);
}

// ---------------------------------------------------------------------------------------------
// core program: the MPLS backbone

const LABEL_IPV4_EXPLICIT_NULL = 0;
const LABEL_ROUTER_ALERT = 1;
const LABEL_IPV6_EXPLICIT_NULL = 2;
const MAX_RESERVED_LABEL = 15;
const MAX_LOOKUPS = 3;

function coreProgram(run: Run): ModelResult {
  const { tables } = run;
  const uniform = tables.settings.ttlMode === 'uniform';
  if (run.len < ETH_HLEN) return run.drop('malformed');
  if (run.received.readUInt16BE(12) !== ETH_P_MPLS) return run.pass();

  const flowHash = mplsFlowHash(run.received, ETH_HLEN, run.opts.hashKey);
  // A working copy: popping moves `top` down the stack, TTL rewrites land in place.
  const work = Buffer.from(run.received);
  let top = ETH_HLEN;
  let lookups = 0;
  // Uniform mode, after a pop-and-continue: the exposed label takes this TTL and is neither
  // checked nor decremented again.
  let carriedTtl: number | undefined;

  // The TTL an entry leaves with (t'), or undefined when it has expired.
  const currentTtl = (entry: StackEntry): number | undefined => {
    if (carriedTtl !== undefined) return carriedTtl;
    return entry.ttl <= 1 ? undefined : entry.ttl - 1;
  };

  // Last pop (RFC 3443): uniform copies t' into the IP header unless the IP TTL is already
  // smaller (section 3.1: the minimum of the two), pipe decrements the IP TTL.
  const lastPopTtl = (packet: Buffer, ip: IpHeader, ttl: number): boolean => {
    if (uniform) {
      if (ip.ttl > ttl) setIpTtl(packet, ip, ttl);
      return true;
    }
    if (ip.ttl <= 1) return false;
    setIpTtl(packet, ip, ip.ttl - 1);
    return true;
  };

  // An LSR counts a label whose entry names an ISP at point 'transit': the bytes below the
  // labels read so far, as received.
  const countTransit = (ilm: { isp?: number; direction?: Direction }): void => {
    if (ilm.isp) run.countIsp(ilm.isp, ilm.direction ?? 'up', 'transit', run.len - (top + MPLS_HLEN));
  };

  // Pop the top entry and expose the next one; uniform mode hands it t'.
  const popAndContinue = (ttl: number): void => {
    top += MPLS_HLEN;
    carriedTtl = uniform ? ttl : undefined;
  };

  for (;;) {
    if (lookups === MAX_LOOKUPS) return run.drop('stack_too_deep');
    lookups++;
    if (top + MPLS_HLEN > work.length) return run.drop('malformed');
    if (carriedTtl !== undefined) setEntryTtl(work, top, carriedTtl);
    const entry = readEntry(work, top);

    // Router alert goes to the kernel as received, even below labels already popped: a Pass
    // touches nothing (FORWARDING.md only rewrites a passed frame for explicit null).
    if (entry.label === LABEL_ROUTER_ALERT) return run.pass();

    if (entry.label === LABEL_IPV4_EXPLICIT_NULL || entry.label === LABEL_IPV6_EXPLICIT_NULL) {
      const ttl = currentTtl(entry);
      if (ttl === undefined) return run.drop('ttl_expired');
      if (!entry.bottom) {
        popAndContinue(ttl);
        continue;
      }
      const inner = top + MPLS_HLEN;
      const ip = parseInnerIp(work, inner);
      if (!ip) return run.drop('malformed');
      if (!lastPopTtl(work, ip, ttl)) return run.drop('ttl_expired');
      // only the router's own traffic goes to the kernel; there is no table to forward the
      // rest by, the label that named its ISP being gone
      if (!isLocalAddress(tables, ip)) return run.drop('no_route');
      return run.pass(popped(work, inner, ipEthertype(ip.version)));
    }

    if (entry.label <= MAX_RESERVED_LABEL) return run.drop('unknown_label');
    const ilm = tables.ilm.get(entry.label);
    if (!ilm) return run.drop('unknown_label');

    const ttl = currentTtl(entry);
    if (ttl === undefined) return run.drop('ttl_expired');
    run.countLabel(entry.label);

    switch (ilm.action) {
      case 'swap': {
        const n = ilm.labels.length;
        const outgoing = ilm.labels.map((label, i) =>
          encodeEntry({ label, tc: ilm.tc, bottom: i === n - 1 ? entry.bottom : false, ttl }),
        );
        const nexthop = selectNextHop(tables, ilm.nhGroup, flowHash);
        if (!nexthop) return run.drop('no_nexthop');
        const out = Buffer.concat([macHeader(nexthop, ETH_P_MPLS), ...outgoing, work.subarray(top + MPLS_HLEN)]);
        if (exceedsMtu(out.length, nexthop.mtu)) return run.drop('mtu_exceeded');
        countTransit(ilm);
        return run.redirect(nexthop.ifindex, out);
      }

      case 'pop-forward': {
        const below = top + MPLS_HLEN;
        let ethertype = ETH_P_MPLS;
        if (!entry.bottom) {
          // S = 0 promises another entry; a stack cut short is a truncated header
          if (below + MPLS_HLEN > work.length) return run.drop('malformed');
          if (uniform) setEntryTtl(work, below, ttl);
        } else {
          const ip = parseInnerIp(work, below);
          if (!ip) return run.drop('malformed');
          if (!lastPopTtl(work, ip, ttl)) return run.drop('ttl_expired');
          ethertype = ipEthertype(ip.version);
        }
        const nexthop = selectNextHop(tables, ilm.nhGroup, flowHash);
        if (!nexthop) return run.drop('no_nexthop');
        const out = Buffer.concat([macHeader(nexthop, ethertype), work.subarray(below)]);
        if (exceedsMtu(out.length, nexthop.mtu)) return run.drop('mtu_exceeded');
        countTransit(ilm);
        return run.redirect(nexthop.ifindex, out);
      }

      case 'pop-continue':
        if (entry.bottom) return run.drop('malformed');
        popAndContinue(ttl);
        continue;

      case 'pop-to-isp': {
        if (!entry.bottom) return run.drop('malformed');
        const inner = top + MPLS_HLEN;
        const ip = parseInnerIp(work, inner);
        if (!ip) return run.drop('malformed');
        if (!lastPopTtl(work, ip, ttl)) return run.drop('ttl_expired');
        // an ICMP error for one of the ISP's end-users, sent along the LSP: returned
        if (isIcmpError(work, ip)) {
          const back = scopedMatch(ip.version === 4 ? tables.ispRouteV4 : tables.ispRouteV6, ilm.isp, ip.version, ip.dst);
          if (back) return returnAlong(run, work, inner, ip, back, flowHash);
        }
        const nexthop = selectNextHop(tables, ilm.nhGroup, flowHash);
        if (!nexthop) return run.drop('no_nexthop');
        const packet = work.subarray(inner);
        const header = ethernetHeader(parseMac(nexthop.dmac), parseMac(nexthop.smac), nextHopTags(nexthop), ipEthertype(ip.version));
        const out = Buffer.concat([header, packet]);
        if (exceedsMtu(out.length, nexthop.mtu)) return run.drop('mtu_exceeded');
        run.countIsp(ilm.isp, 'up', 'out', packet.length);
        return run.redirect(nexthop.ifindex, out);
      }

      case 'pop-to-sub': {
        if (!entry.bottom) return run.drop('malformed');
        const inner = top + MPLS_HLEN;
        const ip = parseInnerIp(work, inner);
        if (!ip) return run.drop('malformed');
        if (!lastPopTtl(work, ip, ttl)) return run.drop('ttl_expired');
        const routes = ip.version === 4 ? tables.downV4 : tables.downV6;
        const route = scopedMatch(routes, ilm.isp, ip.version, ip.dst);
        if (!route) {
          // an ICMP error for one of the ISP's hosts, sent along the LSP: returned upstream
          const back = isIcmpError(work, ip) ? tables.fecUp.get(ilm.isp) : undefined;
          if (back) return returnAlong(run, work, inner, ip, back, flowHash);
          return run.drop('no_route');
        }
        const tags: VlanTag[] = [];
        if (route.outerVid !== 0) tags.push({ tpid: route.outerTpid, vid: route.outerVid });
        if (route.innerVid !== 0) tags.push({ tpid: ETH_P_8021Q, vid: route.innerVid });
        const packet = work.subarray(inner);
        const header = ethernetHeader(parseMac(route.dmac), parseMac(route.smac), tags, ipEthertype(ip.version));
        const out = Buffer.concat([header, packet]);
        if (exceedsMtu(out.length, route.mtu)) return run.drop('mtu_exceeded');
        if (!policeSubscriber(run, route.meter, 'down', packet.length)) return run.drop('sub_policed');
        run.countIsp(ilm.isp, 'down', 'out', packet.length);
        run.meter(route.meter, 'down', ip);
        return run.redirect(route.ifindex, out);
      }
    }
  }
}

/**
 * Whether an IP packet is an ICMP error message (FORWARDING.md, "ICMP errors"): ICMPv4 types 3,
 * 4, 5, 11, 12 right after an IPv4 header that is not a later fragment; ICMPv6 types below 128
 * as the IPv6 next header. A type byte beyond the frame is no error.
 */
function isIcmpError(frame: Buffer, ip: IpHeader): boolean {
  if (ip.version === 4) {
    if (frame[ip.offset + 9] !== 1) return false;
    if ((frame.readUInt16BE(ip.offset + 6) & 0x1fff) !== 0) return false;
    const at = ip.offset + (frame[ip.offset] & 0x0f) * 4;
    return at < frame.length && [3, 4, 5, 11, 12].includes(frame[at]);
  }
  if (frame[ip.offset + 6] !== 58) return false;
  const at = ip.offset + 40;
  return at < frame.length && frame[at] < 128;
}

/**
 * The egress returns an ICMP error a router of the LSP sent along it (FORWARDING.md, "ICMP
 * errors"): the FEC back pushed over the IP packet, label TTL the IP TTL after the last pop
 * (uniform) or 255 (pipe), to that FEC's next hop; nothing counted for the ISP.
 */
function returnAlong(run: Run, work: Buffer, inner: number, ip: IpHeader, fec: Fec, flowHash: number): ModelResult {
  const n = fec.labels.length;
  if (n === 0 || n > MAX_LABELS) return run.drop('no_route');
  const uniform = run.tables.settings.ttlMode === 'uniform';
  const ipTtl = work[ip.offset + (ip.version === 4 ? 8 : 7)];
  if (uniform && ipTtl === 0) return run.drop('ttl_expired');
  const nexthop = selectNextHop(run.tables, fec.nhGroup, flowHash);
  if (!nexthop) return run.drop('no_nexthop');
  const out = Buffer.concat([macHeader(nexthop, ETH_P_MPLS), pushedStack(fec.labels, fec.tc, uniform ? ipTtl : 255), work.subarray(inner)]);
  if (exceedsMtu(out.length, nexthop.mtu)) return run.drop('mtu_exceeded');
  return run.redirect(nexthop.ifindex, out);
}

/** The frame with the labels above `offset` removed, MACs kept, and the given ethertype. */
function popped(work: Buffer, offset: number, ethertype: number): Buffer {
  return Buffer.concat([ethernetHeader(work.subarray(0, 6), work.subarray(6, 12), [], ethertype), work.subarray(offset)]);
}

/**
 * Core next-hop rewrite for SWAP and POP_FORWARD: new MACs and, as everywhere, the next hop's
 * 802.1Q tag when its vid is set (fecflow_shared.h: "vid != 0 adds an 802.1Q tag on egress";
 * FORWARDING.md's SWAP/POP_FORWARD only say "rewrite MACs" and do not repeat it).
 */
function macHeader(nexthop: NextHop, ethertype: number): Buffer {
  return ethernetHeader(parseMac(nexthop.dmac), parseMac(nexthop.smac), nextHopTags(nexthop), ethertype);
}
