// A small frame builder for the model's tests and the differential test: Ethernet, 802.1Q/ad
// tags, MPLS label stack entries (RFC 3032), IPv4 with a correct checksum, IPv6, UDP and TCP.
// Kept apart from test/helpers/frames.ts on purpose, so the model and the C tests do not share
// a mistake.

import { parseIpv4, parseIpv6, parseMac } from './addr.js';
import { ipv4HeaderChecksum } from './checksum.js';

export const ETH_P_IPV4 = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_MPLS = 0x8847;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_ARP = 0x0806;

export interface Tag {
  tpid: number;
  vid: number;
  pcp?: number;
}

export interface LabelEntry {
  label: number;
  tc?: number;
  /** bottom of stack */
  s: boolean;
  ttl: number;
}

export function mac(m: string | Buffer): Buffer {
  return typeof m === 'string' ? parseMac(m) : m;
}

export function ethernet(dst: string | Buffer, src: string | Buffer, tags: readonly Tag[], ethertype: number, payload: Buffer): Buffer {
  const tagBytes = tags.map((t) => {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(t.tpid, 0);
    b.writeUInt16BE((((t.pcp ?? 0) & 7) << 13) | (t.vid & 0xfff), 2);
    return b;
  });
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ethertype, 0);
  return Buffer.concat([mac(dst), mac(src), ...tagBytes, type, payload]);
}

export function labelEntry(e: LabelEntry): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE((((e.label & 0xfffff) << 12) | (((e.tc ?? 0) & 7) << 9) | (e.s ? 0x100 : 0) | (e.ttl & 0xff)) >>> 0, 0);
  return b;
}

export function labelStack(entries: readonly LabelEntry[]): Buffer {
  return Buffer.concat(entries.map(labelEntry));
}

export interface Ipv4Options {
  src: string | Buffer;
  dst: string | Buffer;
  ttl: number;
  protocol: number;
  payload?: Buffer;
  tos?: number;
  id?: number;
  /** the 16-bit flags + fragment offset field */
  fragment?: number;
  options?: Buffer;
  /** overrides the computed total length */
  totalLength?: number;
  /** overrides the computed checksum */
  checksum?: number;
}

export function ipv4(o: Ipv4Options): Buffer {
  const options = o.options ?? Buffer.alloc(0);
  if (options.length % 4 !== 0) throw new Error('IPv4 options must be a multiple of 4 bytes');
  const payload = o.payload ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + options.length);
  h[0] = 0x40 | ((20 + options.length) / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totalLength ?? h.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  h.writeUInt16BE(o.fragment ?? 0x4000, 6);
  h[8] = o.ttl;
  h[9] = o.protocol;
  (typeof o.src === 'string' ? parseIpv4(o.src) : o.src).copy(h, 12);
  (typeof o.dst === 'string' ? parseIpv4(o.dst) : o.dst).copy(h, 16);
  options.copy(h, 20);
  h.writeUInt16BE(o.checksum ?? ipv4HeaderChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Options {
  src: string | Buffer;
  dst: string | Buffer;
  hopLimit: number;
  nextHeader: number;
  payload?: Buffer;
  trafficClass?: number;
  flowLabel?: number;
  /** overrides the computed payload length */
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options): Buffer {
  const payload = o.payload ?? Buffer.alloc(0);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((o.trafficClass ?? 0) << 20) | (o.flowLabel ?? 0)) >>> 0, 0);
  h.writeUInt16BE(o.payloadLength ?? payload.length, 4);
  h[6] = o.nextHeader;
  h[7] = o.hopLimit;
  (typeof o.src === 'string' ? parseIpv6(o.src) : o.src).copy(h, 8);
  (typeof o.dst === 'string' ? parseIpv6(o.dst) : o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** UDP header (checksum 0: not checked by anything here) followed by data. */
export function udp(sport: number, dport: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
}

/** Minimal TCP header (20 bytes, SYN) followed by data. */
export function tcp(sport: number, dport: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(1, 4);
  h[12] = 5 << 4;
  h[13] = 0x02;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, data]);
}

/** Hex dump, 16 bytes a line, with an offset column. */
export function hexdump(b: Buffer): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const chunk = [...b.subarray(i, i + 16)].map((x) => x.toString(16).padStart(2, '0'));
    lines.push(`${i.toString(16).padStart(4, '0')}  ${chunk.join(' ')}`);
  }
  return lines.join('\n');
}
