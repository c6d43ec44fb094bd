// Codecs between JavaScript values and the bytes of BPF map keys and values. Integers are
// host-endian (as the BPF program sees them on this machine) unless named be16/be32; addresses
// are in network order. Struct codecs have explicit fields and explicit padding, and expose each
// field's offset so tests can check them against the object's BTF.
import { endianness } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';

export interface Codec<T> {
  /** Encoded size in bytes. */
  readonly size: number;
  /** Writes v into buf at offset (a new buffer of size bytes when buf is omitted). */
  encode(v: T, buf?: Buffer, offset?: number): Buffer;
  /** Reads a value from buf at offset; buf must hold at least size bytes from there. */
  decode(buf: Buffer, offset?: number): T;
}

/** The decoded type of a codec. */
export type Decoded<C> = C extends Codec<infer T> ? T : never;

/** A codec error: wrong input size or value. */
export class CodecError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

const LE = endianness() === 'LE';

function target(size: number, buf: Buffer | undefined, offset: number, what: string): Buffer {
  if (!buf) return Buffer.alloc(size);
  checkRoom(buf, offset, size, what);
  return buf;
}

function checkRoom(buf: Buffer, offset: number, size: number, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > buf.length) {
    throw new CodecError(`${what}: needs ${size} bytes at offset ${offset}, buffer has ${buf.length}`);
  }
}

function makeInt(name: string, size: 1 | 2 | 4, bigEndian: boolean): Codec<number> {
  const max = 2 ** (size * 8) - 1;
  const be = bigEndian || (!LE && size > 1);
  return {
    size,
    encode(v, buf, offset = 0) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
        throw new CodecError(`${name}: ${String(v)} is not an integer in 0..${max}`);
      }
      const b = target(size, buf, offset, name);
      if (be) b.writeUIntBE(v, offset, size);
      else b.writeUIntLE(v, offset, size);
      return b;
    },
    decode(buf, offset = 0) {
      checkRoom(buf, offset, size, name);
      return be ? buf.readUIntBE(offset, size) : buf.readUIntLE(offset, size);
    },
  };
}

/** Unsigned integers in host byte order. */
export const u8: Codec<number> = makeInt('u8', 1, false);
export const u16: Codec<number> = makeInt('u16', 2, false);
export const u32: Codec<number> = makeInt('u32', 4, false);
/** Unsigned integers in network (big-endian) byte order, as on the wire. */
export const be16: Codec<number> = makeInt('be16', 2, true);
export const be32: Codec<number> = makeInt('be32', 4, true);

const U64_MAX = (1n << 64n) - 1n;

/** Unsigned 64-bit integer in host byte order, as a bigint. */
export const u64: Codec<bigint> = {
  size: 8,
  encode(v, buf, offset = 0) {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
      throw new CodecError(`u64: ${String(v)} is not a bigint in 0..2^64-1`);
    }
    const b = target(8, buf, offset, 'u64');
    if (LE) b.writeBigUInt64LE(v, offset);
    else b.writeBigUInt64BE(v, offset);
    return b;
  },
  decode(buf, offset = 0) {
    checkRoom(buf, offset, 8, 'u64');
    return LE ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset);
  },
};

/** Exactly n raw bytes. */
export function bytes(n: number): Codec<Buffer> {
  if (!Number.isInteger(n) || n < 0) throw new CodecError(`bytes: bad size ${n}`);
  const name = `bytes(${n})`;
  return {
    size: n,
    encode(v, buf, offset = 0) {
      if (!Buffer.isBuffer(v) || v.length !== n) {
        throw new CodecError(`${name}: expected a ${n}-byte Buffer, got ${Buffer.isBuffer(v) ? `${v.length} bytes` : typeof v}`);
      }
      const b = target(n, buf, offset, name);
      v.copy(b, offset);
      return b;
    },
    decode(buf, offset = 0) {
      checkRoom(buf, offset, n, name);
      return Buffer.from(buf.subarray(offset, offset + n));
    },
  };
}

/** IPv4 address as dotted quad ↔ 4 bytes in network order. */
export const ipv4: Codec<string> = {
  size: 4,
  encode(v, buf, offset = 0) {
    if (typeof v !== 'string' || !isIPv4(v)) throw new CodecError(`ipv4: '${String(v)}' is not an IPv4 address`);
    const b = target(4, buf, offset, 'ipv4');
    v.split('.').forEach((p, i) => (b[offset + i] = Number(p)));
    return b;
  },
  decode(buf, offset = 0) {
    checkRoom(buf, offset, 4, 'ipv4');
    return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
  },
};

function parseIpv6(s: string): number[] {
  // isIPv6 has validated the syntax; expand '::' and a trailing embedded IPv4 to 8 groups.
  let text = s.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = text.slice(0, v4.index) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff)) {
    throw new CodecError(`ipv6: '${s}' is not an IPv6 address`);
  }
  return groups;
}

/** RFC 5952 canonical text of 8 16-bit groups. */
export function formatIpv6(groups: number[]): string {
  // Longest run of two or more zero groups, the first one on a tie, becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((g) => g.toString(16)).join(':');
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 section 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const g6 = groups[6]!;
    const g7 = groups[7]!;
    return `::ffff:${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`;
  }
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** IPv6 address as text (any valid form in, RFC 5952 canonical out) ↔ 16 bytes. */
export const ipv6: Codec<string> = {
  size: 16,
  encode(v, buf, offset = 0) {
    if (typeof v !== 'string' || !isIPv6(v) || v.includes('%')) {
      throw new CodecError(`ipv6: '${String(v)}' is not an IPv6 address`);
    }
    const groups = parseIpv6(v);
    const b = target(16, buf, offset, 'ipv6');
    groups.forEach((g, i) => b.writeUInt16BE(g, offset + 2 * i));
    return b;
  },
  decode(buf, offset = 0) {
    checkRoom(buf, offset, 16, 'ipv6');
    const groups: number[] = [];
    for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + 2 * i));
    return formatIpv6(groups);
  },
};

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Ethernet address 'aa:bb:cc:dd:ee:ff' ↔ 6 bytes; decodes lowercase. */
export const mac: Codec<string> = {
  size: 6,
  encode(v, buf, offset = 0) {
    if (typeof v !== 'string' || !MAC_RE.test(v)) throw new CodecError(`mac: '${String(v)}' is not a MAC address like aa:bb:cc:dd:ee:ff`);
    const b = target(6, buf, offset, 'mac');
    v.split(':').forEach((p, i) => (b[offset + i] = parseInt(p, 16)));
    return b;
  },
  decode(buf, offset = 0) {
    checkRoom(buf, offset, 6, 'mac');
    return [...buf.subarray(offset, offset + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  },
};

/** Explicit padding of n zero bytes inside a struct; decodes to nothing. */
export interface Pad {
  readonly pad: number;
}

export function pad(n: number): Pad {
  if (!Number.isInteger(n) || n <= 0) throw new CodecError(`pad: bad size ${n}`);
  return { pad: n };
}

type FieldSpec = Record<string, Codec<unknown> | Pad>;

/** Decoded object of a struct spec: every non-padding field. */
export type StructValue<S extends FieldSpec> = {
  [K in keyof S as S[K] extends Pad ? never : K]: S[K] extends Codec<infer T> ? T : never;
};

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly padding: boolean;
}

export interface StructCodec<T> extends Codec<T> {
  /** Offset of each named (non-padding) field. */
  readonly offsets: Readonly<Record<string, number>>;
  /** Every field in order, padding included (named _pad<offset>). */
  readonly fields: readonly FieldLayout[];
  /** Names of the fields that are bigint or number (for field-wise per-CPU sums). */
  readonly numericFields: readonly string[];
}

function isPad(x: Codec<unknown> | Pad): x is Pad {
  return typeof (x as Pad).pad === 'number' && typeof (x as Codec<unknown>).encode !== 'function';
}

/**
 * A C struct laid out exactly as listed: fields follow each other with no implicit holes, so any
 * alignment padding the C compiler adds must be written as pad(n).
 */
export function struct<S extends FieldSpec>(spec: S): StructCodec<StructValue<S>> {
  const fields: FieldLayout[] = [];
  const offsets: Record<string, number> = {};
  let size = 0;
  for (const [name, f] of Object.entries(spec)) {
    const fsize = isPad(f) ? f.pad : f.size;
    fields.push({ name: isPad(f) ? `_pad${size}` : name, offset: size, size: fsize, padding: isPad(f) });
    if (!isPad(f)) offsets[name] = size;
    size += fsize;
  }
  const named = Object.entries(spec).filter((e): e is [string, Codec<unknown>] => !isPad(e[1]));
  const numeric = named.filter(([, c]) => c === u8 || c === u16 || c === u32 || c === u64 || c === be16 || c === be32).map(([n]) => n);
  return {
    size,
    offsets,
    fields,
    numericFields: numeric,
    encode(v, buf, offset = 0) {
      if (typeof v !== 'object' || v === null) throw new CodecError(`struct: expected an object, got ${String(v)}`);
      const b = target(size, buf, offset, 'struct');
      b.fill(0, offset, offset + size);
      const rec = v as Record<string, unknown>;
      for (const [name, c] of named) {
        if (!(name in rec)) throw new CodecError(`struct: field '${name}' is missing`);
        try {
          c.encode(rec[name], b, offset + offsets[name]!);
        } catch (e) {
          throw new CodecError(`struct field '${name}': ${(e as Error).message}`);
        }
      }
      return b;
    },
    decode(buf, offset = 0) {
      checkRoom(buf, offset, size, 'struct');
      const out: Record<string, unknown> = {};
      for (const [name, c] of named) out[name] = c.decode(buf, offset + offsets[name]!);
      return out as StructValue<S>;
    },
  };
}

/** Key of an LPM trie: host-endian u32 prefix length followed by the address bytes. */
export interface LpmKey<T> {
  prefixLen: number;
  addr: T;
}

export function lpmKey<T>(addr: Codec<T>): StructCodec<LpmKey<T>> {
  const inner = struct({ prefixLen: u32, addr });
  const maxBits = addr.size * 8;
  return {
    ...inner,
    encode(v, buf, offset) {
      if (v && typeof v === 'object' && (v.prefixLen > maxBits || v.prefixLen < 0)) {
        throw new CodecError(`lpmKey: prefix length ${v.prefixLen} exceeds ${maxBits} bits`);
      }
      return inner.encode(v as StructValue<{ prefixLen: Codec<number>; addr: Codec<T> }>, buf, offset);
    },
    decode: (buf, offset) => inner.decode(buf, offset) as LpmKey<T>,
  };
}
