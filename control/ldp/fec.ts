// The FEC TLV (RFC 5036 3.4.1) with Wildcard, Prefix (IPv4, IPv6) and, from RFC 5918, Typed
// Wildcard elements, and the Generic Label TLV (3.4.2.1). A prefix is kept in canonical text
// form ('10.0.0.0/8', '2001:db8::/32') with host bits cleared, so it can key a table.
import { AddressFamily, FecType, IMPLICIT_NULL, IPV4_EXPLICIT_NULL, IPV6_EXPLICIT_NULL, MAX_LABEL, Status, TlvType } from './constants.js';
import { LdpError } from './errors.js';
import { ipv4ToBuffer, ipv4ToString, ipv6ToBuffer, ipv6ToString, tlv, type Tlv } from './tlv.js';

export type FecElement =
  | { type: 'wildcard' }
  | { type: 'prefix'; prefix: string }
  | { type: 'typed-wildcard'; fecType: number; family?: 'ipv4' | 'ipv6' };

export function prefixFamily(prefix: string): 'ipv4' | 'ipv6' {
  return prefix.includes(':') ? 'ipv6' : 'ipv4';
}

/** '10.1.2.3/8' -> '10.0.0.0/8'; throws RangeError on a malformed prefix. */
export function canonicalPrefix(prefix: string): string {
  const slash = prefix.indexOf('/');
  if (slash < 0) throw new RangeError(`not a prefix: ${prefix}`);
  const fam = prefixFamily(prefix);
  const lenText = prefix.slice(slash + 1);
  const len = Number(lenText);
  const max = fam === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(lenText) || len > max) throw new RangeError(`bad prefix length in ${prefix}`);
  const bytes = fam === 'ipv4' ? ipv4ToBuffer(prefix.slice(0, slash)) : ipv6ToBuffer(prefix.slice(0, slash));
  maskBytes(bytes, len);
  return `${fam === 'ipv4' ? ipv4ToString(bytes) : ipv6ToString(bytes)}/${len}`;
}

function maskBytes(bytes: Buffer, len: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
}

export function decodeFecTlv(t: Tlv): FecElement[] {
  const v = t.value;
  if (v.length < 1) throw new LdpError(Status.BadTlvLength, 'empty FEC TLV');
  const out: FecElement[] = [];
  let off = 0;
  while (off < v.length) {
    const type = v[off]!;
    if (type === FecType.Wildcard) {
      out.push({ type: 'wildcard' });
      off += 1;
    } else if (type === FecType.Prefix) {
      if (v.length - off < 4) throw new LdpError(Status.BadTlvLength, 'Prefix FEC element truncated');
      const af = v.readUInt16BE(off + 1);
      const len = v[off + 3]!;
      if (af !== AddressFamily.Ipv4 && af !== AddressFamily.Ipv6) throw new LdpError(Status.UnsupportedAddressFamily, `Prefix FEC element with address family ${af}`);
      const size = af === AddressFamily.Ipv4 ? 4 : 16;
      if (len > size * 8) throw new LdpError(Status.MalformedTlvValue, `prefix length ${len} for address family ${af}`);
      const n = Math.ceil(len / 8);
      if (v.length - off - 4 < n) throw new LdpError(Status.BadTlvLength, `prefix of ${len} bits needs ${n} bytes`);
      const bytes = Buffer.alloc(size);
      v.copy(bytes, 0, off + 4, off + 4 + n);
      maskBytes(bytes, len);
      out.push({ type: 'prefix', prefix: `${size === 4 ? ipv4ToString(bytes) : ipv6ToString(bytes)}/${len}` });
      off += 4 + n;
    } else if (type === FecType.TypedWildcard) {
      if (v.length - off < 3) throw new LdpError(Status.BadTlvLength, 'Typed Wildcard FEC element truncated');
      const fecType = v[off + 1]!;
      const len = v[off + 2]!;
      if (v.length - off - 3 < len) throw new LdpError(Status.BadTlvLength, `Typed Wildcard FEC element says ${len} more bytes`);
      const el: FecElement = { type: 'typed-wildcard', fecType };
      if (fecType === FecType.Prefix) {
        if (len !== 2) throw new LdpError(Status.BadTlvLength, `Typed Wildcard for Prefix FECs has length ${len}, want 2`);
        const af = v.readUInt16BE(off + 3);
        if (af !== AddressFamily.Ipv4 && af !== AddressFamily.Ipv6) throw new LdpError(Status.UnsupportedAddressFamily, `Typed Wildcard with address family ${af}`);
        el.family = af === AddressFamily.Ipv4 ? 'ipv4' : 'ipv6';
      }
      out.push(el);
      off += 3 + len;
    } else {
      // RFC 5036 3.4.1: an element type we do not support is Unknown FEC (advisory)
      throw new LdpError(Status.UnknownFec, `FEC element type 0x${type.toString(16)}`);
    }
  }
  // RFC 5036 3.4.1: a wildcard FEC element must be the only one in its FEC TLV
  if (out.length > 1 && out.some((e) => e.type !== 'prefix')) throw new LdpError(Status.MalformedTlvValue, 'a wildcard FEC element is not alone in its FEC TLV');
  const seen = new Set<string>();
  for (const e of out) {
    if (e.type !== 'prefix') continue;
    if (seen.has(e.prefix)) throw new LdpError(Status.MalformedTlvValue, `FEC ${e.prefix} twice in one FEC TLV`);
    seen.add(e.prefix);
  }
  return out;
}

export function encodeFecElement(e: FecElement): Buffer {
  switch (e.type) {
    case 'wildcard':
      return Buffer.from([FecType.Wildcard]);
    case 'prefix': {
      const canon = canonicalPrefix(e.prefix);
      const [addr, lenText] = canon.split('/') as [string, string];
      const len = Number(lenText);
      const fam = prefixFamily(canon);
      const bytes = fam === 'ipv4' ? ipv4ToBuffer(addr) : ipv6ToBuffer(addr);
      const head = Buffer.from([FecType.Prefix, 0, fam === 'ipv4' ? AddressFamily.Ipv4 : AddressFamily.Ipv6, len]);
      return Buffer.concat([head, bytes.subarray(0, Math.ceil(len / 8))]);
    }
    case 'typed-wildcard': {
      const extra = e.family ? Buffer.from([0, e.family === 'ipv4' ? AddressFamily.Ipv4 : AddressFamily.Ipv6]) : Buffer.alloc(0);
      return Buffer.concat([Buffer.from([FecType.TypedWildcard, e.fecType, extra.length]), extra]);
    }
  }
}

export function encodeFecTlv(elements: FecElement[]): Buffer {
  return tlv(TlvType.Fec, Buffer.concat(elements.map(encodeFecElement)));
}

/** A label we accept from a peer: 20 bits, not a reserved value other than the nulls. */
export function validLabel(label: number): boolean {
  return label <= MAX_LABEL && (label >= 16 || label === IMPLICIT_NULL || label === IPV4_EXPLICIT_NULL || label === IPV6_EXPLICIT_NULL);
}

export function decodeGenericLabel(t: Tlv): number {
  if (t.value.length !== 4) throw new LdpError(Status.BadTlvLength, `Generic Label TLV has length ${t.value.length}, want 4`);
  const raw = t.value.readUInt32BE(0);
  if (!validLabel(raw)) throw new LdpError(Status.MalformedTlvValue, `label ${raw} is out of range or reserved`);
  return raw;
}

export function encodeGenericLabel(label: number): Buffer {
  if (!validLabel(label)) throw new RangeError(`label ${label} is out of range or reserved`);
  const v = Buffer.alloc(4);
  v.writeUInt32BE(label);
  return tlv(TlvType.GenericLabel, v);
}
