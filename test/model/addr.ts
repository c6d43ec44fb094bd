// Addresses for the reference model and its tests: the string forms of control/tables/types.ts
// (MACs, IPv4/IPv6 addresses and prefixes) to and from network-order bytes. Written here rather
// than shared so the model stays independent of the code it checks.

export type Family = 4 | 6;

export interface ParsedPrefix {
  family: Family;
  /** network order, 4 or 16 bytes */
  addr: Buffer;
  length: number;
}

export function parseMac(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`bad MAC ${mac}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(bytes: Buffer): string {
  return [...bytes.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseIpv4(text: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`bad IPv4 address ${text}`);
  }
  return Buffer.from(parts.map(Number));
}

export function parseIpv6(text: string): Buffer {
  let head = text;
  let tailV4: Buffer | undefined;
  // an embedded IPv4 tail, e.g. ::ffff:192.0.2.1
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address ${text}`);
  const groups = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address ${text}`);
          return parseInt(g, 16);
        });
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw new Error(`bad IPv6 address ${text}`);
  const all = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (tailV4) tailV4.copy(out, 12);
  return out;
}

export function parseIp(text: string): { family: Family; addr: Buffer } {
  return text.includes(':') ? { family: 6, addr: parseIpv6(text) } : { family: 4, addr: parseIpv4(text) };
}

export function formatIpv4(bytes: Buffer): string {
  return [...bytes.subarray(0, 4)].join('.');
}

/** Uncompressed lowercase form (every parser reads it). */
export function formatIpv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export function formatIp(bytes: Buffer): string {
  return bytes.length === 4 ? formatIpv4(bytes) : formatIpv6(bytes);
}

const prefixCache = new Map<string, ParsedPrefix>();

export function parsePrefix(prefix: string): ParsedPrefix {
  const cached = prefixCache.get(prefix);
  if (cached) return cached;
  const slash = prefix.indexOf('/');
  if (slash < 0) throw new Error(`prefix without length: ${prefix}`);
  const { family, addr } = parseIp(prefix.slice(0, slash));
  const lengthText = prefix.slice(slash + 1);
  const length = Number(lengthText);
  if (!/^\d+$/.test(lengthText) || length > addr.length * 8) throw new Error(`bad prefix ${prefix}`);
  const parsed = { family, addr, length };
  prefixCache.set(prefix, parsed);
  return parsed;
}

/** Whether the first `length` bits of `addr` equal those of the prefix (host bits ignored). */
export function prefixContains(prefix: ParsedPrefix, addr: Buffer): boolean {
  if (prefix.addr.length !== addr.length) return false;
  const whole = prefix.length >> 3;
  for (let i = 0; i < whole; i++) if (prefix.addr[i] !== addr[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (prefix.addr[whole] & mask) === (addr[whole] & mask);
}
