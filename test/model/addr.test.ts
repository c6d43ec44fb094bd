// Address parsing and prefix matching used by the model's LPM lookups.
import { describe, expect, it } from 'vitest';
import { formatIpv6, parseIpv6, parsePrefix, prefixContains } from './addr.js';

describe('addresses', () => {
  it('parses compressed IPv6 and an embedded IPv4 tail', () => {
    expect(parseIpv6('2001:db8::1').toString('hex')).toBe('20010db8000000000000000000000001');
    expect(parseIpv6('::').toString('hex')).toBe('0'.repeat(32));
    expect(parseIpv6('::ffff:192.0.2.1').toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(formatIpv6(parseIpv6('fe80::1:2'))).toBe('fe80:0:0:0:0:0:1:2');
    expect(() => parseIpv6('1::2::3')).toThrow();
  });

  it('matches prefixes bit by bit and ignores host bits', () => {
    const p = parsePrefix('100.64.1.77/23');
    expect(prefixContains(p, Buffer.from([100, 64, 0, 1]))).toBe(true);
    expect(prefixContains(p, Buffer.from([100, 64, 2, 1]))).toBe(false);
    expect(prefixContains(parsePrefix('0.0.0.0/0'), Buffer.from([1, 2, 3, 4]))).toBe(true);
    expect(prefixContains(parsePrefix('fe80::/10'), parseIpv6('febf::1'))).toBe(true);
    expect(prefixContains(parsePrefix('fe80::/10'), parseIpv6('fec0::1'))).toBe(false);
  });
});
