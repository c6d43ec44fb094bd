// Address parsing: canonical forms and the reasons for refusing malformed ones.
import { describe, expect, test } from 'vitest';
import { contains, formatIp, ipBytes, parseHostAddress, parseMac, parsePrefix } from '../../control/config/addr.js';

const prefix = (s: string) => {
  const r = parsePrefix(s);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

describe('MAC addresses', () => {
  test('normalises case and dashes to lowercase colons', () => {
    expect(parseMac('02-AB-cd-00-00-01')).toEqual({ ok: true, value: '02:ab:cd:00:00:01' });
  });
  test.each(['02:00:00:00:00', '02:00:00:00:00:0g', '0200.0000.0001', '02:00-00:00:00:01'])('refuses malformed %s', (m) => {
    expect(parseMac(m)).toMatchObject({ ok: false, reason: expect.stringContaining('malformed MAC') });
  });
  test('refuses multicast, broadcast and zero MACs as stations', () => {
    expect(parseMac('01:00:5e:00:00:01').ok).toBe(false);
    expect(parseMac('ff:ff:ff:ff:ff:ff').ok).toBe(false);
    expect(parseMac('00:00:00:00:00:00').ok).toBe(false);
  });
});

describe('IP addresses and prefixes', () => {
  test('formats IPv6 per RFC 5952', () => {
    const f = (s: string) => formatIp(6, ipBytes(s)!.bytes);
    expect(f('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(f('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(f('0:0:0:0:0:0:0:0')).toBe('::');
    expect(f('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2:3:4:5:6');
    expect(f('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(f('::ffff:c000:201')).toBe('::ffff:192.0.2.1');
  });

  test('a bare address is a host prefix', () => {
    expect(prefix('100.64.1.7').text).toBe('100.64.1.7/32');
    expect(prefix('2001:db8::7').text).toBe('2001:db8::7/128');
  });

  test('canonicalises the text of a prefix', () => {
    expect(prefix('2001:DB8:0::/48').text).toBe('2001:db8::/48');
    expect(prefix('0.0.0.0/0').text).toBe('0.0.0.0/0');
  });

  test('refuses host bits and suggests the network', () => {
    expect(parsePrefix('10.0.0.1/8')).toEqual({ ok: false, reason: "prefix '10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)" });
    expect(parsePrefix('2001:db8::1/64')).toMatchObject({ ok: false, reason: expect.stringContaining('did you mean 2001:db8::/64?') });
  });

  test('refuses lengths out of range and malformed text', () => {
    expect(parsePrefix('10.0.0.0/33')).toEqual({ ok: false, reason: "prefix length '/33' out of range 0..32" });
    expect(parsePrefix('2001:db8::/129')).toEqual({ ok: false, reason: "prefix length '/129' out of range 0..128" });
    expect(parsePrefix('10.0.0.0/-1').ok).toBe(false);
    expect(parsePrefix('10.0.0.256/32').ok).toBe(false);
    expect(parsePrefix('10.0.0.0/8/8').ok).toBe(false);
    expect(parseHostAddress('fe80::1%eth0').ok).toBe(false);
  });

  test('containment', () => {
    expect(contains(prefix('10.0.0.0/8'), prefix('10.1.0.0/16'))).toBe(true);
    expect(contains(prefix('10.1.0.0/16'), prefix('10.0.0.0/8'))).toBe(false);
    expect(contains(prefix('10.0.0.0/8'), prefix('11.0.0.0/8'))).toBe(false);
    expect(contains(prefix('::/0'), prefix('10.0.0.0/8'))).toBe(false);
  });
});
