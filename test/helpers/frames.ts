// A small frame builder and parser for the BPF and end-to-end tests: Ethernet with 802.1Q /
// 802.1ad tags, MPLS label stack entries, IPv4 (options, correct header checksum), IPv6, and
// UDP / TCP / ICMP with their checksums. Builders return fresh Buffers; parsers never throw on
// short input, they report what they found.

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_MPLS = 0x8847;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

// ---- addresses -------------------------------------------------------------------------

export function macBytes(mac: string): Buffer {
  const b = Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));
  if (b.length !== 6) throw new Error(`bad MAC ${mac}`);
  return b;
}

export function macText(b: Buffer): string {
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function ipv4Bytes(addr: string): Buffer {
  const b = Buffer.from(addr.split('.').map(Number));
  if (b.length !== 4) throw new Error(`bad IPv4 address ${addr}`);
  return b;
}

export function ipv6Bytes(addr: string): Buffer {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${addr}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

// ---- checksums -------------------------------------------------------------------------

/** RFC 1071 one's complement sum of 16-bit big-endian words, folded, not inverted. */
export function onesSum(b: Buffer, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function checksum(b: Buffer, init = 0): number {
  return ~onesSum(b, init) & 0xffff;
}

/** The IPv4 header checksum of hdr (its checksum field taken as zero). */
export function ipv4HeaderChecksum(hdr: Buffer): number {
  const h = Buffer.from(hdr);
  h.writeUInt16BE(0, 10);
  return checksum(h);
}

/** True when the header's checksum field is right (the sum over the header is 0xffff). */
export function ipv4ChecksumOk(hdr: Buffer): boolean {
  return onesSum(hdr) === 0xffff;
}

function pseudoSum(src: Buffer, dst: Buffer, proto: number, len: number): number {
  const p = Buffer.alloc(src.length === 4 ? 12 : 40);
  if (src.length === 4) {
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(len, 10);
  } else {
    src.copy(p, 0);
    dst.copy(p, 16);
    p.writeUInt32BE(len, 32);
    p[39] = proto;
  }
  return onesSum(p);
}

// ---- L4 --------------------------------------------------------------------------------

export interface L4 {
  proto: number;
  /** The segment with its checksum field zero; finished by the IP builder. */
  bytes: Buffer;
  /** Offset of the checksum field, or -1 when the L4 has none over a pseudo-header. */
  csumOff: number;
}

export function udp(sport: number, dport: number, payload: Buffer = Buffer.alloc(0)): L4 {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(b.length, 4);
  payload.copy(b, 8);
  return { proto: IPPROTO_UDP, bytes: b, csumOff: 6 };
}

export function tcp(sport: number, dport: number, payload: Buffer = Buffer.alloc(0), opts: { seq?: number; ack?: number; flags?: number; window?: number } = {}): L4 {
  const b = Buffer.alloc(20 + payload.length);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt32BE(opts.seq ?? 0, 4);
  b.writeUInt32BE(opts.ack ?? 0, 8);
  b[12] = 5 << 4;
  b[13] = opts.flags ?? 0x02; // SYN
  b.writeUInt16BE(opts.window ?? 8192, 14);
  payload.copy(b, 20);
  return { proto: IPPROTO_TCP, bytes: b, csumOff: 16 };
}

/** ICMP echo request (IPv4). */
export function icmpEcho(id: number, seq: number, payload: Buffer = Buffer.alloc(0)): L4 {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = 8;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  payload.copy(b, 8);
  b.writeUInt16BE(checksum(b), 2);
  return { proto: IPPROTO_ICMP, bytes: b, csumOff: -1 };
}

/** ICMPv6 echo request (checksum over the IPv6 pseudo-header). */
export function icmp6Echo(id: number, seq: number, payload: Buffer = Buffer.alloc(0)): L4 {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = 128;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  payload.copy(b, 8);
  return { proto: IPPROTO_ICMPV6, bytes: b, csumOff: 2 };
}

export function raw(proto: number, bytes: Buffer): L4 {
  return { proto, bytes, csumOff: -1 };
}

function finishL4(l4: L4, src: Buffer, dst: Buffer): Buffer {
  const b = Buffer.from(l4.bytes);
  if (l4.csumOff >= 0) {
    b.writeUInt16BE(0, l4.csumOff);
    let c = checksum(b, pseudoSum(src, dst, l4.proto, b.length));
    if (c === 0 && l4.proto === IPPROTO_UDP) c = 0xffff;
    b.writeUInt16BE(c, l4.csumOff);
  }
  return b;
}

// ---- L3 --------------------------------------------------------------------------------

export interface Ipv4Opts {
  src: string;
  dst: string;
  l4: L4;
  ttl?: number;
  tos?: number;
  id?: number;
  /** flags (3 bits) << 13 | fragment offset */
  fragOff?: number;
  /** IP options, padded by the caller to a multiple of 4 bytes */
  options?: Buffer;
  /** overrides for malformed headers */
  version?: number;
  ihl?: number;
  totalLength?: number;
}

export function ipv4(o: Ipv4Opts): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  if (opts.length % 4) throw new Error('IPv4 options must be a multiple of 4 bytes');
  const src = ipv4Bytes(o.src);
  const dst = ipv4Bytes(o.dst);
  const l4 = finishL4(o.l4, src, dst);
  const hlen = 20 + opts.length;
  const h = Buffer.alloc(hlen);
  h[0] = ((o.version ?? 4) << 4) | (o.ihl ?? hlen / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totalLength ?? hlen + l4.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE(o.fragOff ?? 0, 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.l4.proto;
  src.copy(h, 12);
  dst.copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(ipv4HeaderChecksum(h), 10);
  return Buffer.concat([h, l4]);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  l4: L4;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  version?: number;
  payloadLength?: number;
}

export function ipv6(o: Ipv6Opts): Buffer {
  const src = ipv6Bytes(o.src);
  const dst = ipv6Bytes(o.dst);
  const l4 = finishL4(o.l4, src, dst);
  const h = Buffer.alloc(40);
  h.writeUInt32BE((((o.version ?? 6) << 28) | ((o.trafficClass ?? 0) << 20) | (o.flowLabel ?? 0)) >>> 0, 0);
  h.writeUInt16BE(o.payloadLength ?? l4.length, 4);
  h[6] = o.l4.proto;
  h[7] = o.hopLimit ?? 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return Buffer.concat([h, l4]);
}

// ---- L2 and MPLS -----------------------------------------------------------------------

export interface Tag {
  /** 0x8100 (default) or 0x88a8 */
  tpid?: number;
  vid: number;
  pcp?: number;
}

export interface Label {
  label: number;
  tc?: number;
  ttl: number;
  /** S bit; by default set on the last entry of a stack only */
  s?: boolean;
}

/** One RFC 3032 label stack entry. */
export function mplsEntry(label: number, tc: number, s: boolean, ttl: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(((label << 12) | (tc << 9) | (s ? 0x100 : 0) | ttl) >>> 0, 0);
  return b;
}

export function labelStack(labels: readonly Label[]): Buffer {
  return Buffer.concat(labels.map((l, i) => mplsEntry(l.label, l.tc ?? 0, l.s ?? i === labels.length - 1, l.ttl)));
}

export interface EthOpts {
  dst: string;
  src: string;
  tags?: readonly Tag[];
  /** the ethertype after the tags; defaults from the payload (MPLS when labels are given) */
  type?: number;
  labels?: readonly Label[];
  payload: Buffer;
}

/** Ethernet frame: MACs, tags, ethertype, label stack, payload. */
export function ether(o: EthOpts): Buffer {
  const parts: Buffer[] = [macBytes(o.dst), macBytes(o.src)];
  for (const t of o.tags ?? []) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(t.tpid ?? ETH_P_8021Q, 0);
    b.writeUInt16BE(((t.pcp ?? 0) << 13) | t.vid, 2);
    parts.push(b);
  }
  let type = o.type;
  if (type === undefined) {
    if (o.labels?.length) type = ETH_P_MPLS;
    else type = o.payload.length && o.payload[0]! >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP;
  }
  const tb = Buffer.alloc(2);
  tb.writeUInt16BE(type, 0);
  parts.push(tb);
  if (o.labels?.length) parts.push(labelStack(o.labels));
  parts.push(o.payload);
  return Buffer.concat(parts);
}

// ---- parsing ---------------------------------------------------------------------------

export interface ParsedFrame {
  dst: string;
  src: string;
  tags: Tag[];
  /** ethertype after the tags */
  type: number;
  labels: Array<Required<Label>>;
  /** offset of what follows the label stack (the IP header for IP frames) */
  l3Offset: number;
  ip?: ParsedIp;
}

export interface ParsedIp {
  version: 4 | 6;
  src: string;
  dst: string;
  ttl: number;
  proto: number;
  headerLength: number;
  totalLength: number;
  checksumOk?: boolean;
  sport?: number;
  dport?: number;
}

function ipv6Text(b: Buffer): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i).toString(16));
  return g.join(':');
}

export function parseIp(b: Buffer): ParsedIp | undefined {
  if (b.length < 1) return undefined;
  const v = b[0]! >> 4;
  if (v === 4 && b.length >= 20) {
    const hl = (b[0]! & 15) * 4;
    const ip: ParsedIp = {
      version: 4,
      src: [...b.subarray(12, 16)].join('.'),
      dst: [...b.subarray(16, 20)].join('.'),
      ttl: b[8]!,
      proto: b[9]!,
      headerLength: hl,
      totalLength: b.readUInt16BE(2),
      checksumOk: b.length >= hl ? ipv4ChecksumOk(b.subarray(0, hl)) : undefined,
    };
    if ((ip.proto === IPPROTO_TCP || ip.proto === IPPROTO_UDP) && b.length >= hl + 4) {
      ip.sport = b.readUInt16BE(hl);
      ip.dport = b.readUInt16BE(hl + 2);
    }
    return ip;
  }
  if (v === 6 && b.length >= 40) {
    const ip: ParsedIp = {
      version: 6,
      src: ipv6Text(b.subarray(8, 24)),
      dst: ipv6Text(b.subarray(24, 40)),
      ttl: b[7]!,
      proto: b[6]!,
      headerLength: 40,
      totalLength: 40 + b.readUInt16BE(4),
    };
    if ((ip.proto === IPPROTO_TCP || ip.proto === IPPROTO_UDP) && b.length >= 44) {
      ip.sport = b.readUInt16BE(40);
      ip.dport = b.readUInt16BE(42);
    }
    return ip;
  }
  return undefined;
}

/** Reads MACs, any number of tags, the label stack (to S = 1) and the IP header behind it. */
export function parseFrame(b: Buffer): ParsedFrame {
  const f: ParsedFrame = { dst: macText(b.subarray(0, 6)), src: macText(b.subarray(6, 12)), tags: [], type: 0, labels: [], l3Offset: 14 };
  let off = 12;
  let type = b.length >= 14 ? b.readUInt16BE(12) : 0;
  while ((type === ETH_P_8021Q || type === ETH_P_8021AD) && b.length >= off + 6) {
    const tci = b.readUInt16BE(off + 2);
    f.tags.push({ tpid: type, vid: tci & 0xfff, pcp: tci >> 13 });
    off += 4;
    type = b.readUInt16BE(off);
  }
  f.type = type;
  off += 2;
  if (type === ETH_P_MPLS) {
    while (b.length >= off + 4) {
      const e = b.readUInt32BE(off);
      off += 4;
      f.labels.push({ label: e >>> 12, tc: (e >> 9) & 7, s: !!(e & 0x100), ttl: e & 0xff });
      if (e & 0x100) break;
    }
  }
  f.l3Offset = off;
  if (type === ETH_P_IP || type === ETH_P_IPV6 || (type === ETH_P_MPLS && f.labels.at(-1)?.s)) f.ip = parseIp(b.subarray(off));
  return f;
}
