// Frames for the differential test. Valid frames are built from the tables so most of them hit
// real entries (a subscriber's MAC, VLAN or prefix; an ISP port and route; ILM labels), with
// TTLs around the edges (0, 1, 2, 255). Then some are mutated: truncated, bytes flipped,
// lengths/IHL/version made wrong, tags added or removed, ethertypes changed, label stacks made
// deep, or replaced by random bytes. Each frame carries a short description of how it was made,
// printed when the model and the data plane disagree.

import type { SubClass, Tables } from '../../control/tables/types.js';
import { forward, type Program } from '../model/index.js';
import { formatIp, parseIp, parseMac } from '../model/addr.js';
import {
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_ARP,
  ETH_P_IPV4,
  ETH_P_IPV6,
  ETH_P_MPLS,
  ethernet,
  ipv4,
  ipv6,
  labelStack,
  tcp,
  udp,
  type LabelEntry,
  type Tag,
} from '../model/frames.js';
import type { Prng } from './prng.js';
import { addressIn, randomMac } from './tables.js';

export interface TestFrame {
  program: Program;
  frame: Buffer;
  /** how it was made, for failure reports */
  description: string[];
}

export interface FrameContext {
  tables: Tables;
  ingressIfindex: number;
  routerMac: string;
}

/** BPF_PROG_TEST_RUN refuses XDP data shorter than an Ethernet header. */
export const MIN_FRAME = 14;
/** Well under what BPF_PROG_TEST_RUN accepts for XDP (a page less headroom and shared info). */
export const MAX_FRAME = 2000;

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

function ttl(rng: Prng): number {
  return rng.weighted([[1, 0], [2, 1], [2, 2], [2, 255], [6, 64], [6, rng.range(3, 254)]] as const);
}

interface IpPlan {
  version: 4 | 6;
  src: Buffer;
  dst: Buffer;
}

/** An IP packet with TCP, UDP or something else, sometimes fragmented or with options. */
function ipPacket(rng: Prng, plan: IpPlan, notes: string[]): Buffer {
  const payloadLength = rng.weighted([[6, rng.range(0, 64)], [3, rng.range(65, 600)], [2, rng.range(1300, 1500)], [1, 0]] as const);
  const data = rng.bytes(payloadLength);
  const protocol = rng.weighted([[4, IPPROTO_TCP], [4, IPPROTO_UDP], [1, 1], [1, 58], [1, rng.int(256)]] as const);
  let l4: Buffer;
  if (protocol === IPPROTO_TCP) l4 = tcp(rng.range(1, 65535), rng.pick([80, 443, 22, rng.range(1, 65535)]), data);
  else if (protocol === IPPROTO_UDP) l4 = udp(rng.range(1, 65535), rng.pick([53, 123, 4789, rng.range(1, 65535)]), data);
  else l4 = data;
  if (rng.chance(0.05)) l4 = l4.subarray(0, rng.int(4)); // L4 header cut short
  const hop = ttl(rng);
  notes.push(`IPv${plan.version} ${formatIp(plan.src)} -> ${formatIp(plan.dst)} proto ${protocol} ttl ${hop} l4 ${l4.length}B`);
  if (plan.version === 4) {
    const fragment = rng.weighted([[8, 0x4000], [2, 0], [1, 0x2000], [1, rng.range(1, 0x1fff)], [1, 0x2000 | rng.range(1, 0x1fff)]] as const);
    const options = rng.chance(0.1) ? Buffer.concat([rng.bytes(rng.range(1, 10) * 4 - 1), Buffer.alloc(1)]) : undefined;
    if (fragment !== 0x4000) notes.push(`frag field 0x${fragment.toString(16)}`);
    if (options) notes.push(`options ${options.length}B`);
    return ipv4({ src: plan.src, dst: plan.dst, ttl: hop, protocol, payload: l4, fragment, options, tos: rng.int(256), id: rng.int(65536) });
  }
  return ipv6({ src: plan.src, dst: plan.dst, hopLimit: hop, nextHeader: protocol, payload: l4, flowLabel: rng.int(1 << 20) });
}

function randomAddress(rng: Prng, version: 4 | 6): Buffer {
  return version === 4 ? rng.bytes(4) : Buffer.concat([Buffer.from([0x20, 0x01]), rng.bytes(14)]);
}

/** A destination that is sometimes the router's, multicast, broadcast or link-local. */
function destination(rng: Prng, ctx: FrameContext, version: 4 | 6, notes: string[]): Buffer {
  const kind = rng.weighted([[20, 'unicast'], [1, 'local'], [1, 'multicast'], [1, 'special']] as const);
  if (kind === 'local') {
    const mine = [...ctx.tables.local].map(parseIp).filter((a) => a.family === version);
    if (mine.length > 0) {
      notes.push('dst is a local address');
      return rng.pick(mine).addr;
    }
  }
  if (kind === 'multicast') {
    notes.push('dst multicast');
    return version === 4 ? Buffer.from([rng.range(224, 239), ...rng.bytes(3)]) : Buffer.concat([Buffer.from([0xff]), rng.bytes(15)]);
  }
  if (kind === 'special') {
    notes.push('dst broadcast/link-local');
    return version === 4 ? Buffer.from([255, 255, 255, 255]) : Buffer.concat([Buffer.from([0xfe, 0x80 | rng.int(0x40)]), rng.bytes(14)]);
  }
  return randomAddress(rng, version);
}

function destinationMac(rng: Prng, ctx: FrameContext, notes: string[]): Buffer {
  if (rng.chance(0.04)) {
    notes.push('dst MAC multicast');
    return rng.chance(0.5) ? Buffer.alloc(6, 0xff) : Buffer.from([0x01, 0x00, 0x5e, ...rng.bytes(3)]);
  }
  return parseMac(ctx.routerMac);
}

function randomTags(rng: Prng, max: number): Tag[] {
  const n = rng.weighted([[6, 0], [3, 1], [2, 2], [1, max + 1]] as const);
  return Array.from({ length: n }, () => ({ tpid: rng.pick([ETH_P_8021Q, ETH_P_8021AD]), vid: rng.int(4096), pcp: rng.int(8) }));
}

// ---------------------------------------------------------------------------------------------

function accessFrame(rng: Prng, ctx: FrameContext): TestFrame {
  const t = ctx.tables;
  const notes: string[] = [];
  const path = rng.weighted([[3, 'mac'], [3, 'vlan'], [3, 'v4'], [3, 'v6'], [2, 'unknown']] as const);
  notes.push(`access via ${path}`);
  let src = randomMac(rng);
  let tags: Tag[] = rng.chance(0.3) ? randomTags(rng, 2) : [];
  let version: 4 | 6 = rng.chance(0.5) ? 4 : 6;
  let srcIp: Buffer | undefined;
  // a known MAC or prefix, mostly sent on its own line (the tags it is provisioned with)
  const onLine = (c: SubClass): void => {
    if (!rng.chance(0.75)) return;
    tags = [];
    if (c.outerVid !== 0) tags.push({ tpid: c.innerVid !== 0 && rng.chance(0.7) ? ETH_P_8021AD : ETH_P_8021Q, vid: c.outerVid, pcp: rng.int(8) });
    if (c.outerVid !== 0 && c.innerVid !== 0) tags.push({ tpid: ETH_P_8021Q, vid: c.innerVid, pcp: rng.int(8) });
  };
  if (path === 'mac' && t.subMac.size > 0) {
    const [mac, c] = rng.pick([...t.subMac.entries()]);
    src = mac;
    onLine(c);
  }
  if (path === 'vlan') {
    const mine = t.subVlan.filter(([k]) => k.ifindex === ctx.ingressIfindex);
    if (mine.length > 0) {
      const [key] = rng.pick(mine);
      tags = [{ tpid: key.innerVid !== 0 && rng.chance(0.7) ? ETH_P_8021AD : ETH_P_8021Q, vid: key.outerVid, pcp: rng.int(8) }];
      if (key.innerVid !== 0) tags.push({ tpid: ETH_P_8021Q, vid: key.innerVid, pcp: rng.int(8) });
    }
  }
  if (path === 'v4' || path === 'v6') {
    version = path === 'v4' ? 4 : 6;
    const prefixes = [...(version === 4 ? t.subV4 : t.subV6).entries()];
    if (prefixes.length > 0) {
      const [prefix, c] = rng.pick(prefixes);
      srcIp = addressIn(rng, prefix);
      onLine(c);
    }
  }
  srcIp ??= randomAddress(rng, version);
  const packet = ipPacket(rng, { version, src: srcIp, dst: destination(rng, ctx, version, notes) }, notes);
  if (tags.length > 0) notes.push(`tags ${tags.map((g) => `${g.tpid.toString(16)}/${g.vid}`).join(' ')}`);
  const frame = ethernet(destinationMac(rng, ctx, notes), src, tags, version === 4 ? ETH_P_IPV4 : ETH_P_IPV6, packet);
  return { program: 'access', frame, description: notes };
}

function ispFrame(rng: Prng, ctx: FrameContext): TestFrame {
  const t = ctx.tables;
  const notes: string[] = [];
  const ports = t.ispPorts.filter(([k]) => k.ifindex === ctx.ingressIfindex);
  let tags: Tag[] = [];
  let isp = 0;
  if (ports.length > 0 && rng.chance(0.9)) {
    const [key, value] = rng.pick(ports);
    isp = value;
    if (key.vid !== 0) tags = [{ tpid: rng.chance(0.9) ? ETH_P_8021Q : ETH_P_8021AD, vid: key.vid, pcp: rng.int(8) }];
    else if (rng.chance(0.1)) tags = [{ tpid: ETH_P_8021Q, vid: 0, pcp: rng.int(8) }];
    notes.push(`isp port vid ${key.vid} -> isp ${isp}`);
  } else {
    tags = randomTags(rng, 1);
    notes.push('isp: random port/tags');
  }
  const version: 4 | 6 = rng.chance(0.5) ? 4 : 6;
  const routes = (version === 4 ? t.ispRouteV4 : t.ispRouteV6).filter(([k]) => k.isp === isp || rng.chance(0.1));
  const dst = routes.length > 0 && rng.chance(0.85) ? addressIn(rng, rng.pick(routes)[0].prefix) : destination(rng, ctx, version, notes);
  const packet = ipPacket(rng, { version, src: randomAddress(rng, version), dst }, notes);
  if (tags.length > 0) notes.push(`tags ${tags.map((g) => `${g.tpid.toString(16)}/${g.vid}`).join(' ')}`);
  const frame = ethernet(destinationMac(rng, ctx, notes), randomMac(rng), tags, version === 4 ? ETH_P_IPV4 : ETH_P_IPV6, packet);
  return { program: 'isp', frame, description: notes };
}

function coreFrame(rng: Prng, ctx: FrameContext): TestFrame {
  const t = ctx.tables;
  const notes: string[] = [];
  const ilmLabels = [...t.ilm.keys()];
  const continues = ilmLabels.filter((l) => t.ilm.get(l)?.action === 'pop-continue');
  const entries: LabelEntry[] = [];
  if (rng.chance(0.12)) {
    // a chain of pops towards the 3-lookup limit, then what the last lookup finds
    const chain = rng.range(1, 4);
    for (let i = 0; i < chain; i++) {
      const label = continues.length > 0 && rng.chance(0.7) ? rng.pick(continues) : rng.pick([0, 2]);
      entries.push({ label, tc: rng.int(8), s: false, ttl: ttl(rng) });
    }
    const end = rng.weighted([[4, 'ilm'], [1, 'alert'], [1, 'null'], [1, 'cut']] as const);
    if (end === 'ilm' && ilmLabels.length > 0) entries.push({ label: rng.pick(ilmLabels), tc: rng.int(8), s: true, ttl: ttl(rng) });
    if (end === 'alert') entries.push({ label: 1, tc: 0, s: rng.chance(0.5), ttl: ttl(rng) });
    if (end === 'null') entries.push({ label: rng.pick([0, 2]), tc: 0, s: true, ttl: ttl(rng) });
    notes.push(`pop chain of ${chain}, then ${end}`);
  }
  const depth = entries.length > 0 ? 0 : rng.weighted([[10, 1], [5, 2], [3, 3], [1, 4], [1, 5], [1, 6]] as const);
  for (let i = 0; i < depth; i++) {
    const last = i === depth - 1;
    const label = rng.weighted([
      [12, ilmLabels.length > 0 ? rng.pick(ilmLabels) : 16],
      [last ? 0 : 4, continues.length > 0 ? rng.pick(continues) : 0],
      [2, rng.pick([0, 2])],
      [1, 1],
      [1, rng.range(3, 15)],
      [1, rng.range(16, 0xfffff)],
    ] as const);
    entries.push({ label, tc: rng.int(8), s: last, ttl: ttl(rng) });
  }
  if (depth > 0 && rng.chance(0.05)) {
    const i = rng.int(depth);
    entries[i].s = !entries[i].s;
    notes.push(`S bit flipped on entry ${i}`);
  }
  notes.push(`core stack ${entries.map((e) => `${e.label}${e.s ? '/S' : ''}/ttl${e.ttl}`).join(' ')}`);
  const inner = rng.weighted([[9, 4], [9, 6], [1, 0], [1, -1]] as const);
  let payload: Buffer;
  if (inner === 4 || inner === 6) {
    const dsts = (inner === 4 ? t.downV4 : t.downV6).map(([k]) => k.prefix);
    const dst = dsts.length > 0 && rng.chance(0.8) ? addressIn(rng, rng.pick(dsts)) : randomAddress(rng, inner);
    payload = ipPacket(rng, { version: inner, src: randomAddress(rng, inner), dst }, notes);
  } else if (inner === 0) {
    payload = Buffer.alloc(0);
    notes.push('nothing after the stack');
  } else {
    payload = rng.bytes(rng.range(1, 80));
    notes.push('garbage after the stack');
  }
  const ethertype = rng.weighted([[40, ETH_P_MPLS], [1, 0x8848], [1, ETH_P_IPV4], [1, ETH_P_8021Q]] as const);
  if (ethertype !== ETH_P_MPLS) notes.push(`ethertype 0x${ethertype.toString(16)}`);
  const frame = ethernet(rng.chance(0.97) ? parseMac(ctx.routerMac) : Buffer.alloc(6, 0xff), randomMac(rng), [], ethertype, Buffer.concat([labelStack(entries), payload]));
  return { program: 'core', frame, description: notes };
}

function randomFrame(rng: Prng, program: Program): TestFrame {
  const length = rng.range(MIN_FRAME, 120);
  const frame = rng.bytes(length);
  // give the parser something to chew on: a plausible ethertype half the time
  if (rng.chance(0.5)) frame.writeUInt16BE(rng.pick([ETH_P_IPV4, ETH_P_IPV6, ETH_P_MPLS, ETH_P_8021Q, ETH_P_8021AD, ETH_P_ARP]), 12);
  return { program, frame, description: [`${program}: ${length} random bytes`] };
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** Offset of the L3 header behind Ethernet and up to `maxTags` tags, as far as the frame shows. */
function l3Offset(frame: Buffer, maxTags: number): number {
  let offset = 14;
  for (let i = 0; i < maxTags && offset + 4 <= frame.length; i++) {
    const type = frame.readUInt16BE(offset - 2);
    if (type !== ETH_P_8021Q && type !== ETH_P_8021AD) break;
    offset += 4;
  }
  return offset;
}

/** The offset of the IP header under the label stack (after the first S=1 entry). */
function innerOffset(frame: Buffer): number {
  let offset = 14;
  while (offset + 4 <= frame.length) {
    const bottom = frame[offset + 2] & 1;
    offset += 4;
    if (bottom) break;
  }
  return offset;
}

function mutate(rng: Prng, f: TestFrame): void {
  const frame = f.frame;
  const ipAt = f.program === 'core' ? innerOffset(frame) : l3Offset(frame, f.program === 'access' ? 2 : 1);
  const hasIp = ipAt + 20 <= frame.length;
  const kind = rng.weighted([
    [4, 'truncate'],
    [4, 'flip'],
    [3, 'ip-field'],
    [2, 'ttl'],
    [2, 'ethertype'],
    [2, 'tag'],
    [1, 'pad'],
    [2, 'checksum'],
  ] as const);
  switch (kind) {
    case 'truncate': {
      const at = rng.range(MIN_FRAME, Math.max(MIN_FRAME, frame.length - 1));
      f.frame = frame.subarray(0, at);
      f.description.push(`truncated to ${at}`);
      return;
    }
    case 'flip': {
      const n = rng.range(1, 4);
      for (let i = 0; i < n; i++) {
        const at = rng.chance(0.8) ? rng.int(Math.min(frame.length, 100)) : rng.int(frame.length);
        const bits = rng.range(1, 255);
        frame[at] ^= bits;
        f.description.push(`byte ${at} ^= 0x${bits.toString(16)}`);
      }
      return;
    }
    case 'ip-field': {
      if (!hasIp) return;
      const version = frame[ipAt] >> 4;
      const field = rng.weighted([[2, 'version'], [3, 'ihl'], [3, 'length']] as const);
      if (field === 'version') {
        frame[ipAt] = (rng.pick([0, 4, 5, 6, 15]) << 4) | (frame[ipAt] & 0x0f);
      } else if (field === 'ihl' && version === 4) {
        frame[ipAt] = (frame[ipAt] & 0xf0) | rng.int(16);
      } else {
        const lengthAt = version === 6 ? ipAt + 4 : ipAt + 2;
        const old = frame.readUInt16BE(lengthAt);
        frame.writeUInt16BE(rng.weighted([[2, (old + rng.range(1, 8)) & 0xffff], [2, Math.max(0, old - rng.range(1, 30))], [1, rng.int(65536)], [1, 0]] as const), lengthAt);
      }
      f.description.push(`IP ${field} at ${ipAt} now ${frame.subarray(ipAt, ipAt + 8).toString('hex')}`);
      return;
    }
    case 'ttl': {
      const value = ttl(rng);
      if (f.program === 'core' && frame.length >= 18 && rng.chance(0.6)) {
        const entry = 14 + 4 * rng.int(Math.min(3, Math.floor((frame.length - 14) / 4)));
        frame[entry + 3] = value;
        f.description.push(`label TTL at ${entry} = ${value}`);
      } else if (hasIp) {
        const at = (frame[ipAt] >> 4) === 6 ? ipAt + 7 : ipAt + 8;
        frame[at] = value;
        f.description.push(`IP TTL (checksum not updated) = ${value}`);
      }
      return;
    }
    case 'ethertype': {
      const at = f.program === 'core' ? 12 : ipAt - 2;
      const value = rng.pick([ETH_P_IPV4, ETH_P_IPV6, ETH_P_MPLS, 0x8848, ETH_P_8021Q, ETH_P_8021AD, ETH_P_ARP, 0x88cc, 0x8864, rng.int(65536)]);
      frame.writeUInt16BE(value, at);
      f.description.push(`ethertype at ${at} = 0x${value.toString(16)}`);
      return;
    }
    case 'tag': {
      if (rng.chance(0.5) || frame.length < 18) {
        const tag = Buffer.alloc(4);
        tag.writeUInt16BE(rng.pick([ETH_P_8021Q, ETH_P_8021AD]), 0);
        tag.writeUInt16BE(rng.int(65536), 2);
        f.frame = Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
        f.description.push(`tag 0x${tag.toString('hex')} inserted`);
      } else {
        f.frame = Buffer.concat([frame.subarray(0, 12), frame.subarray(16)]);
        f.description.push('4 bytes after the MACs removed');
      }
      return;
    }
    case 'checksum': {
      // the data plane never verifies it; RFC 1624 must carry a wrong one through unchanged in error
      if (!hasIp || frame[ipAt] >> 4 !== 4) return;
      const old = frame.readUInt16BE(ipAt + 10);
      const value = rng.pick([0x0000, 0xffff, old ^ 1, (old + 1) & 0xffff, rng.int(65536)]);
      frame.writeUInt16BE(value, ipAt + 10);
      f.description.push(`IPv4 checksum 0x${old.toString(16)} -> 0x${value.toString(16)}`);
      return;
    }
    case 'pad': {
      const n = rng.range(1, 40);
      f.frame = Buffer.concat([frame, rng.chance(0.5) ? Buffer.alloc(n) : rng.bytes(n)]);
      f.description.push(`${n} bytes of padding`);
      return;
    }
  }
}

/** One frame for a random program: mostly valid, a third mutated, a few random. */
export function generateFrame(rng: Prng, ctx: FrameContext): TestFrame {
  const program = rng.weighted([[3, 'access'], [4, 'core'], [3, 'isp']] as const);
  let f: TestFrame;
  if (rng.chance(0.03)) {
    f = randomFrame(rng, program);
  } else {
    f = program === 'access' ? accessFrame(rng, ctx) : program === 'isp' ? ispFrame(rng, ctx) : coreFrame(rng, ctx);
    if (rng.chance(0.35)) {
      for (let n = rng.weighted([[6, 1], [2, 2], [1, 3]] as const); n > 0; n--) mutate(rng, f);
    }
  }
  if (rng.chance(0.06)) toMtuBoundary(rng, ctx, f);
  if (f.frame.length > MAX_FRAME) f.frame = f.frame.subarray(0, MAX_FRAME);
  // copy, so later mutations of shared buffers never reach a frame under test
  f.frame = Buffer.from(f.frame);
  return f;
}

/**
 * Pads a frame the model forwards so that its output lands exactly on one of the tables' MTUs
 * or one byte past it: off-by-one errors in the MTU check show only there. The model is used to
 * pick the input, not to judge it; padding travels with the packet, so the output grows by as
 * much as the input.
 */
function toMtuBoundary(rng: Prng, ctx: FrameContext, f: TestFrame): void {
  const r = forward(ctx.tables, f.program, f.frame, { ingressIfindex: ctx.ingressIfindex });
  if (r.verdict !== 'redirect') return;
  const l3 = r.frame.length - 14;
  const mtus = [...ctx.tables.nexthops.values(), ...ctx.tables.downV4.map(([, v]) => v), ...ctx.tables.downV6.map(([, v]) => v)]
    .map((x) => x.mtu)
    .filter((m) => m >= l3 && m - l3 < 1600);
  if (mtus.length === 0) return;
  const over = rng.int(2);
  const pad = rng.pick(mtus) - l3 + over;
  f.frame = Buffer.concat([f.frame, Buffer.alloc(pad)]);
  f.description.push(`padded by ${pad} to an MTU${over ? ' + 1' : ''}`);
}
