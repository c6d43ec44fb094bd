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

describe('IPv4 prefixes read by one scan', () => {
  test('give the same result as the address parser for random prefixes, host bits or not', () => {
    let seed = 1;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const octets = [rnd(256), rnd(256), rnd(256), rnd(256)];
      const len = rnd(33);
      const text = `${octets.join('.')}/${len}`;
      const bytes = ipBytes(octets.join('.'))!.bytes;
      const masked = Uint8Array.from(bytes, (b, k) => b & ((0xff << (8 - Math.max(0, Math.min(8, len - k * 8)))) & 0xff));
      const want = `${formatIp(4, masked)}/${len}`;
      const r = parsePrefix(text);
      if (want === text) expect(r).toEqual({ ok: true, value: { family: 4, bytes: masked, len, text } });
      else expect(r).toEqual({ ok: false, reason: `prefix '${text}' has host bits set (did you mean ${want}?)` });
    }
  });

  test('leave leading zeros and odd lengths to the full parser', () => {
    expect(prefix('10.0.0.0/08').text).toBe('10.0.0.0/8');
    expect(parsePrefix('010.0.0.0/8').ok).toBe(false);
    expect(parsePrefix('10.0.0.0/033').ok).toBe(false);
  });
});
