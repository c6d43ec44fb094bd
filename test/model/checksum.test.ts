// RFC 1624's incremental update must agree with a full RFC 791 recompute on valid headers, and
// keep a wrong checksum wrong by the same amount.
import { describe, expect, it } from 'vitest';
import { incrementalChecksum, ipv4HeaderChecksum } from './checksum.js';
import { ipv4 } from './frames.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

describe('IPv4 checksum', () => {
  it('computes the RFC 791 checksum of a known header', () => {
    // the classic example header 4500 0073 0000 4000 4011 ____ c0a8 0001 c0a8 00c7 -> b861
    const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(ipv4HeaderChecksum(h)).toBe(0xb861);
  });

  it('incremental TTL update equals a full recompute for 10,000 random valid headers', () => {
    const rand = lcg(1624);
    for (let i = 0; i < 10_000; i++) {
      const h = Buffer.alloc(20);
      for (let j = 0; j < 20; j += 4) h.writeUInt32BE(rand(), j);
      h[0] = 0x45;
      h.writeUInt16BE(ipv4HeaderChecksum(h), 10);
      const newTtl = rand() & 0xff;
      const oldWord = h.readUInt16BE(8);
      h[8] = newTtl;
      const updated = incrementalChecksum(h.readUInt16BE(10), oldWord, h.readUInt16BE(8));
      expect(updated).toBe(ipv4HeaderChecksum(h));
    }
  });

  it('keeps a wrong checksum wrong by the same amount', () => {
    const h = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 64, protocol: 6 });
    const good = h.readUInt16BE(10);
    const off = (good + 0x0101) & 0xffff;
    const oldWord = h.readUInt16BE(8);
    h[8] = 63;
    const fromGood = incrementalChecksum(good, oldWord, h.readUInt16BE(8));
    const fromBad = incrementalChecksum(off, oldWord, h.readUInt16BE(8));
    expect(fromGood).toBe(ipv4HeaderChecksum(h));
    expect((fromBad - fromGood) & 0xffff).toBe(0x0101);
  });
});
