// Addresses as the configuration writes them: MACs, IPv4/IPv6 addresses and prefixes. Each
// parser returns the canonical form (lowercase MAC, RFC 5952 IPv6, no leading zeros) or a
// reason the text is wrong, so the schema can report every mistake instead of throwing.

import { isIPv4, isIPv6 } from 'node:net';
import { ipv4, ipv6 } from '../bpf/codec.js';

export type Family = 4 | 6;

export interface ParsedPrefix {
  family: Family;
  /** network bytes, host bits zero */
  bytes: Uint8Array;
  len: number;
  /** canonical text, e.g. '100.64.0.0/24' or '2001:db8::/48' */
  text: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

const MAC_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i;

/** 'AA-bb-…' or 'aa:bb:…' → 'aa:bb:cc:dd:ee:ff'; a station MAC must be unicast and not zero. */
export function parseMac(text: string): Parsed<string> {
  if (!MAC_RE.test(text)) return fail(`malformed MAC address '${text}' (expected six hex pairs like 02:00:5e:00:53:01)`);
  const mac = text.toLowerCase().replace(/-/g, ':');
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 1) return fail(`MAC address '${text}' is a multicast/broadcast address, not a station`);
  if (mac === '00:00:00:00:00:00') return fail(`MAC address '${text}' is all zeros`);
  return ok(mac);
}

export function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function ipBytes(text: string): { family: Family; bytes: Uint8Array } | undefined {
  if (isIPv4(text)) return { family: 4, bytes: ipv4.encode(text) };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, bytes: ipv6.encode(text) };
  return undefined;
}

/** Canonical text: dotted quad, or RFC 5952 (the codec's, so compiled and decoded tables agree). */
export function formatIp(family: Family, bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return family === 4 ? ipv4.decode(b) : ipv6.decode(b);
}

/** An address, optionally with '/len' (an interface address); returns the bare canonical address. */
export function parseHostAddress(text: string): Parsed<{ family: Family; address: string; len?: number }> {
  const [addr, lenText, extra] = text.split('/');
  if (extra !== undefined) return fail(`malformed address '${text}'`);
  const ip = ipBytes(addr!);
  if (!ip) return fail(`malformed IP address '${text}'`);
  const max = ip.family === 4 ? 32 : 128;
  if (lenText !== undefined) {
    const len = parsePrefixLen(lenText);
    if (len === undefined || len > max) return fail(`prefix length '/${lenText}' out of range 0..${max}`);
    return ok({ family: ip.family, address: formatIp(ip.family, ip.bytes), len });
  }
  return ok({ family: ip.family, address: formatIp(ip.family, ip.bytes) });
}

function parsePrefixLen(text: string): number | undefined {
  return /^\d{1,3}$/.test(text) ? Number(text) : undefined;
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4_PREFIX_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}(?:/(\\d{1,3}))?$`);

/**
 * 'a.b.c.d/len' or 'v6/len'. A bare address is a host route (/32 or /128). A prefix with host
 * bits set is rejected, not silently masked: it is usually a typo and masking would hide it.
 */
export function parsePrefix(text: string): Parsed<ParsedPrefix> {
  const quick = canonicalV4(text);
  if (quick) return quick;
  // IPv4 without allocations beyond the result: subscriber lists hold a million of these.
  const m = V4_PREFIX_RE.exec(text);
  if (m) {
    const len = m[5] === undefined ? 32 : Number(m[5]);
    if (len > 32) return fail(`prefix length '/${m[5]}' out of range 0..32`);
    const addr = ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
    const net = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
    const bytes = Uint8Array.of(net >>> 24, (net >>> 16) & 0xff, (net >>> 8) & 0xff, net & 0xff);
    const canonical = `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}/${len}`;
    if (net !== addr) return fail(`prefix '${text}' has host bits set (did you mean ${canonical}?)`);
    return ok({ family: 4, bytes, len, text: canonical });
  }
  const [addr, lenText, extra] = text.split('/');
  if (extra !== undefined) return fail(`malformed prefix '${text}'`);
  const ip = ipBytes(addr!);
  if (!ip) return fail(`malformed IP prefix '${text}'`);
  const max = ip.family === 4 ? 32 : 128;
  let len = max;
  if (lenText !== undefined) {
    const l = parsePrefixLen(lenText);
    if (l === undefined || l > max) return fail(`prefix length '/${lenText}' out of range 0..${max}`);
    len = l;
  }
  const masked = maskBytes(ip.bytes, len);
  const text2 = `${formatIp(ip.family, masked)}/${len}`;
  if (!masked.every((b, i) => b === ip.bytes[i])) {
    return fail(`prefix '${text}' has host bits set (did you mean ${text2}?)`);
  }
  return ok({ family: ip.family, bytes: masked, len, text: text2 });
}

/**
 * An IPv4 prefix already written canonically ('100.64.0.1/32', '10.0.0.0/8', no leading zeros,
 * no host bits), read by one scan of the characters: the text is its own canonical form. Any
 * other text (a bare address, a mistake) is left to the regular expression and its messages.
 */
function canonicalV4(text: string): Parsed<ParsedPrefix> | undefined {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return undefined;
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
  if (parts !== 4 || i === text.length) return undefined;
  let len = 0;
  let ld = 0;
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57 || ++ld > 2 || (ld === 2 && len === 0)) return undefined;
    len = len * 10 + (c - 48);
  }
  if (ld === 0 || len > 32) return undefined;
  const net = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
  if (net !== addr) return undefined;
  return ok({ family: 4, bytes: Uint8Array.of(net >>> 24, (net >>> 16) & 0xff, (net >>> 8) & 0xff, net & 0xff), len, text });
}

export function maskBytes(bytes: Uint8Array, len: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    out[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** True when prefix a contains prefix b (same family, a.len <= b.len, same leading a.len bits). */
export function contains(a: ParsedPrefix, b: ParsedPrefix): boolean {
  if (a.family !== b.family || a.len > b.len) return false;
  const m = maskBytes(b.bytes, a.len);
  return m.every((x, i) => x === a.bytes[i]);
}

/** Sort key: family, then network bytes, then length (a covering prefix before what it covers). */
export function comparePrefixes(a: ParsedPrefix, b: ParsedPrefix): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) {
    if (a.bytes[i] !== b.bytes[i]) return a.bytes[i]! - b.bytes[i]!;
  }
  return a.len - b.len;
}
