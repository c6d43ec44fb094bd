// TLV framing (RFC 5036 3.3): U bit | F bit | 14-bit type | 16-bit length | value, and the
// small byte helpers every message codec shares. A TLV whose length runs past its container is
// Bad TLV Length; an unknown TLV is ignored silently when U is set and answered with Unknown
// TLV (the whole message ignored) when U is clear.
import { F_BIT, Status, TLV_HEADER_SIZE, U_BIT } from './constants.js';
import { LdpError } from './errors.js';

export interface Tlv {
  /** the 14-bit type, without U and F */
  type: number;
  u: boolean;
  f: boolean;
  value: Buffer;
}

/** Splits a message body into TLVs; every length must fit exactly. */
export function readTlvs(body: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let off = 0;
  while (off < body.length) {
    if (body.length - off < TLV_HEADER_SIZE) throw new LdpError(Status.BadTlvLength, `${body.length - off} trailing bytes cannot hold a TLV header`);
    const raw = body.readUInt16BE(off);
    const len = body.readUInt16BE(off + 2);
    if (off + TLV_HEADER_SIZE + len > body.length) {
      throw new LdpError(Status.BadTlvLength, `TLV 0x${(raw & 0x3fff).toString(16)} length ${len} runs past its message (${body.length - off - TLV_HEADER_SIZE} bytes left)`);
    }
    out.push({ type: raw & 0x3fff, u: (raw & U_BIT) !== 0, f: (raw & F_BIT) !== 0, value: body.subarray(off + TLV_HEADER_SIZE, off + TLV_HEADER_SIZE + len) });
    off += TLV_HEADER_SIZE + len;
  }
  return out;
}

/** Serialises one TLV; `type` may carry U/F bits already or get them from the flags. */
export function tlv(type: number, value: Buffer, flags: { u?: boolean; f?: boolean } = {}): Buffer {
  if (value.length > 0xffff) throw new RangeError(`TLV value of ${value.length} bytes does not fit a 16-bit length`);
  const head = Buffer.alloc(TLV_HEADER_SIZE);
  head.writeUInt16BE((type & 0xffff) | (flags.u ? U_BIT : 0) | (flags.f ? F_BIT : 0), 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}

/**
 * Applies the RFC's rule for a TLV this message does not know: U set, ignore it; U clear,
 * Unknown TLV (advisory), and the caller ignores the message.
 */
export function unknownTlv(t: Tlv, where: string): void {
  if (!t.u) throw new LdpError(Status.UnknownTlv, `unknown TLV 0x${t.type.toString(16)} in ${where} without the U bit`);
}

export function expectLength(t: Tlv, len: number, what: string): void {
  if (t.value.length !== len) throw new LdpError(Status.BadTlvLength, `${what} TLV has length ${t.value.length}, want ${len}`);
}

export function ipv4ToString(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Parses a dotted quad strictly; throws RangeError on anything else. */
export function ipv4ToBuffer(addr: string): Buffer {
  const parts = addr.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new RangeError(`not an IPv4 address: ${addr}`);
  return Buffer.from(parts.map(Number));
}

export function ipv6ToString(b: Buffer, off = 0): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(off + i * 2).toString(16));
  // the longest run of zero groups (two or more) becomes '::' (RFC 5952)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function ipv6ToBuffer(addr: string): Buffer {
  const bad = (): never => {
    throw new RangeError(`not an IPv6 address: ${addr}`);
  };
  const halves = addr.split('::');
  if (halves.length > 2) bad();
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : bad())));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 2 && fill < 1) || head.length + fill + tail.length !== 8) bad();
  const groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
