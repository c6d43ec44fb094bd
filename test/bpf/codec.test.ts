// Codecs: round trips, byte order, rejection of wrong sizes and values, struct layouts.
import { describe, expect, it } from 'vitest';
import { be16, be32, bytes, CodecError, ipv4, ipv6, lpmKey, mac, pad, struct, u16, u32, u64, u8 } from '../../control/bpf/codec.js';
import { sumPerCpu } from '../../control/bpf/map.js';

describe('integer codecs', () => {
  it('encodes u8/u16/u32 little-endian on x86 and be16/be32 big-endian', () => {
    expect(u8.encode(0xab)).toEqual(Buffer.from([0xab]));
    expect(u16.encode(0x1234)).toEqual(Buffer.from([0x34, 0x12]));
    expect(u32.encode(0x01020304)).toEqual(Buffer.from([4, 3, 2, 1]));
    expect(be16.encode(0x8847)).toEqual(Buffer.from([0x88, 0x47]));
    expect(be32.encode(0x01020304)).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(u32.decode(Buffer.from([4, 3, 2, 1]))).toBe(0x01020304);
    expect(be32.decode(Buffer.from([1, 2, 3, 4]))).toBe(0x01020304);
  });

  it('encodes u64 as a little-endian bigint and round-trips 2^64-1', () => {
    expect(u64.encode(0x0102030405060708n)).toEqual(Buffer.from([8, 7, 6, 5, 4, 3, 2, 1]));
    expect(u64.decode(u64.encode((1n << 64n) - 1n))).toBe((1n << 64n) - 1n);
  });

  it('rejects out-of-range and non-integer values', () => {
    expect(() => u8.encode(300)).toThrow(CodecError);
    expect(() => u8.encode(300)).toThrow(/300 is not an integer in 0\.\.255/);
    expect(() => u16.encode(-1)).toThrow(CodecError);
    expect(() => u32.encode(1.5)).toThrow(CodecError);
    expect(() => u32.encode(2 ** 32)).toThrow(CodecError);
    expect(() => u64.encode(-1n)).toThrow(CodecError);
    expect(() => u64.encode(1n << 64n)).toThrow(CodecError);
    expect(() => u64.encode(5 as unknown as bigint)).toThrow(/not a bigint/);
  });

  it('rejects buffers too short to decode from and writes at an offset', () => {
    expect(() => u32.decode(Buffer.alloc(3))).toThrow(/needs 4 bytes at offset 0, buffer has 3/);
    expect(() => u16.decode(Buffer.alloc(4), 3)).toThrow(CodecError);
    const b = Buffer.alloc(6);
    u32.encode(0xdeadbeef, b, 2);
    expect(b).toEqual(Buffer.from([0, 0, 0xef, 0xbe, 0xad, 0xde]));
    expect(() => u32.encode(1, Buffer.alloc(4), 1)).toThrow(CodecError);
  });
});

describe('address codecs', () => {
  it('ipv4 is network order and rejects a 5-byte buffer or bad text', () => {
    expect(ipv4.encode('10.0.0.1')).toEqual(Buffer.from([10, 0, 0, 1]));
    expect(ipv4.decode(Buffer.from([192, 168, 1, 254]))).toBe('192.168.1.254');
    expect(() => ipv4.encode('10.0.0.256')).toThrow(CodecError);
    expect(() => ipv4.encode('10.0.0')).toThrow(CodecError);
    expect(() => bytes(4).encode(Buffer.alloc(5))).toThrow(/expected a 4-byte Buffer, got 5 bytes/);
  });

  it('ipv6 accepts compressed and embedded-IPv4 forms and decodes to RFC 5952 text', () => {
    expect(ipv6.encode('::')).toEqual(Buffer.alloc(16));
    expect(ipv6.encode('2001:db8::1')).toEqual(Buffer.from('20010db8000000000000000000000001', 'hex'));
    expect(ipv6.decode(ipv6.encode('2001:0DB8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1');
    expect(ipv6.decode(ipv6.encode('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(ipv6.decode(ipv6.encode('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(ipv6.decode(ipv6.encode('fe80::'))).toBe('fe80::');
    expect(ipv6.decode(ipv6.encode('::1'))).toBe('::1');
    expect(ipv6.encode('::ffff:10.0.0.1')).toEqual(Buffer.from('00000000000000000000ffff0a000001', 'hex'));
    expect(ipv6.decode(ipv6.encode('::ffff:10.0.0.1'))).toBe('::ffff:10.0.0.1');
    expect(ipv6.decode(ipv6.encode('64:ff9b::192.0.2.33'))).toBe('64:ff9b::c000:221');
    expect(() => ipv6.encode('2001:db8::1::2')).toThrow(CodecError);
    expect(() => ipv6.encode('10.0.0.1')).toThrow(CodecError);
    expect(() => ipv6.encode('fe80::1%eth0')).toThrow(CodecError);
  });

  it('mac accepts any case, decodes lowercase and rejects malformed text', () => {
    expect(mac.encode('AA:bb:CC:00:11:22')).toEqual(Buffer.from([0xaa, 0xbb, 0xcc, 0, 0x11, 0x22]));
    expect(mac.decode(Buffer.from([0xaa, 0xbb, 0xcc, 0, 0x11, 0x22]))).toBe('aa:bb:cc:00:11:22');
    for (const bad of ['aa:bb:cc:dd:ee', 'aa-bb-cc-dd-ee-ff', 'aa:bb:cc:dd:ee:fg', 'aabb.ccdd.eeff', '']) {
      expect(() => mac.encode(bad)).toThrow(CodecError);
    }
  });
});

describe('struct codecs', () => {
  // struct test_value { __u8 kind; __u8 pad[3]; __u32 ifindex; __u64 bytes; } in test/progs/maps.bpf.c
  const testValue = struct({ kind: u8, _pad: pad(3), ifindex: u32, bytes: u64 });

  it('computes size and offsets with explicit padding', () => {
    expect(testValue.size).toBe(16);
    expect(testValue.offsets).toEqual({ kind: 0, ifindex: 4, bytes: 8 });
    expect(testValue.fields.map((f) => [f.name, f.offset, f.size, f.padding])).toEqual([
      ['kind', 0, 1, false],
      ['_pad1', 1, 3, true],
      ['ifindex', 4, 4, false],
      ['bytes', 8, 8, false],
    ]);
  });

  it('round-trips with padding bytes zeroed', () => {
    const buf = testValue.encode({ kind: 7, ifindex: 3, bytes: 1500n }, Buffer.alloc(16, 0xff));
    expect(buf.subarray(0, 8)).toEqual(Buffer.from([7, 0, 0, 0, 3, 0, 0, 0]));
    expect(buf.readBigUInt64LE(8)).toBe(1500n);
    expect(testValue.decode(buf)).toEqual({ kind: 7, ifindex: 3, bytes: 1500n });
  });

  it('names the field that is wrong or missing', () => {
    expect(() => testValue.encode({ kind: 256, ifindex: 1, bytes: 0n })).toThrow(/field 'kind'.*0\.\.255/);
    expect(() => testValue.encode({ kind: 1, ifindex: 1 } as never)).toThrow(/field 'bytes' is missing/);
    expect(() => testValue.decode(Buffer.alloc(15))).toThrow(/needs 16 bytes/);
  });

  it('nests structs and builds LPM trie keys', () => {
    const key = lpmKey(ipv4);
    expect(key.size).toBe(8);
    expect(key.encode({ prefixLen: 24, addr: '10.1.2.0' })).toEqual(Buffer.from([24, 0, 0, 0, 10, 1, 2, 0]));
    expect(key.decode(Buffer.from([32, 0, 0, 0, 10, 1, 2, 3]))).toEqual({ prefixLen: 32, addr: '10.1.2.3' });
    expect(() => key.encode({ prefixLen: 33, addr: '10.0.0.0' })).toThrow(/exceeds 32 bits/);
    const outer = struct({ a: u16, _p: pad(2), inner: struct({ x: u32, y: mac, _q: pad(2) }) });
    expect(outer.size).toBe(16);
    expect(outer.offsets.inner).toBe(4);
    expect(outer.decode(outer.encode({ a: 1, inner: { x: 2, y: '02:00:00:00:00:01' } }))).toEqual({ a: 1, inner: { x: 2, y: '02:00:00:00:00:01' } });
  });
});

describe('sumPerCpu', () => {
  it('sums numbers, bigints and struct fields across CPUs', () => {
    expect(sumPerCpu([1, 2, 3])).toBe(6);
    expect(sumPerCpu([1n, 2n])).toBe(3n);
    expect(sumPerCpu([{ packets: 1n, bytes: 100n }, { packets: 2n, bytes: 50n }])).toEqual({ packets: 3n, bytes: 150n });
    expect(() => sumPerCpu([])).toThrow(RangeError);
  });
});
