// The hand-written subscriber check must agree with the zod schema: whatever it accepts, the
// schema accepts with the same result. Checked on seeded random subscribers, valid and not.
import { describe, expect, test } from 'vitest';
import { isIPv4 } from 'node:net';
import { parsePrefix } from '../../control/config/addr.js';
import { fastSubscriber, subscriberSchema } from '../../control/config/schema.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const NAMES = ['alice', 'b.2', 'x_y-z', '', '9lives', 'has space', 42];
const ISPS = ['alpha', 1, 4095, 4096, 0, '', '7', 1.5, null];
const MACS = ['02:aa:00:00:00:01', '02-AA-00-00-00-01', '01:00:5e:00:00:01', '02:aa:00:00:00', 12, '00:00:00:00:00:00'];
const PREFIXES = ['100.64.1.0/24', '100.64.1.7', '100.64.1.1/24', '2001:db8::/48', '2001:DB8::1', '10.0.0.0/33', 'x', ['100.64.0.0/16', '2001:db8::/32'], [], [7], '01.2.3.4/8'];
const TAGS = [
  { interface: 'acc0', outer: 100 },
  { interface: 'acc0', outer: 100, inner: 7, tpid: '802.1ad' },
  { interface: 'acc0', outer: 100, tpid: '802.1q' },
  { interface: 'acc0', outer: 100, tpid: 0x88a8 },
  { interface: 'acc0', outer: 0 },
  { interface: 'acc0', outer: 4095 },
  { outer: 100 },
  { interface: 'acc0', outer: 100, extra: 1 },
];
const DTAGS = [{ outer: 5 }, { outer: 5, inner: 6, tpid: '802.1Q' }, { outer: 5, interface: 'acc0' }, { outer: 5, inner: 0 }];

function subscriber(r: () => number): any {
  const s: any = { name: pick(r, NAMES), isp: pick(r, ISPS), match: {} };
  if (r() < 0.5) s.match.mac = pick(r, MACS);
  if (r() < 0.3) s.match.vlan = pick(r, TAGS);
  if (r() < 0.5) s.match.prefix = pick(r, PREFIXES);
  if (r() < 0.05) s.match.other = 1;
  if (r() < 0.6) {
    s.deliver = {};
    if (r() < 0.5) s.deliver.interface = pick(r, ['acc0', 'bad name']);
    if (r() < 0.5) s.deliver.mac = pick(r, MACS);
    if (r() < 0.3) s.deliver.vlan = pick(r, DTAGS);
    if (r() < 0.5) s.deliver.addresses = pick(r, PREFIXES);
  }
  if (r() < 0.05) s.comment = 'x';
  if (r() < 0.03) return pick(r, [null, [], 'alice']);
  return s;
}

describe('fastSubscriber agrees with subscriberSchema', () => {
  test('on 20000 seeded random subscribers', () => {
    const r = rng(20240607);
    let fast = 0;
    let invalid = 0;
    for (let i = 0; i < 20000; i++) {
      const s = subscriber(r);
      const slow = subscriberSchema.safeParse(s);
      const quick = fastSubscriber(s);
      if (!slow.success) invalid++;
      if (quick === undefined) continue;
      fast++;
      expect(slow.success, JSON.stringify(s)).toBe(true);
      expect(quick, JSON.stringify(s)).toEqual(slow.success ? slow.data : undefined);
      expect(JSON.stringify(quick)).toBe(JSON.stringify(slow.success ? slow.data : undefined));
    }
    // both paths were exercised
    expect(fast).toBeGreaterThan(300);
    expect(invalid).toBeGreaterThan(1000);
  });

  test('takes the usual shapes itself', () => {
    expect(fastSubscriber({ name: 'a', isp: 'alpha', match: { mac: '02:aa:00:00:00:01' }, deliver: { interface: 'acc0', addresses: '10.0.0.1' } })).toEqual({
      name: 'a',
      isp: 'alpha',
      match: { mac: '02:aa:00:00:00:01' },
      deliver: { interface: 'acc0', addresses: ['10.0.0.1/32'] },
    });
  });
});

test('the IPv4 fast path of parsePrefix agrees with node:net', () => {
  const r = rng(7);
  for (let i = 0; i < 20000; i++) {
    const octet = () => pick(r, ['0', '1', '9', '10', '99', '100', '199', '200', '249', '250', '255', '256', '300', '01', '00', '1000']);
    const addr = [octet(), octet(), octet(), octet()].join('.');
    const len = r() < 0.2 ? '' : `/${pick(r, ['0', '1', '8', '16', '24', '31', '32', '33', '08', '999'])}`;
    const res = parsePrefix(addr + len);
    const lenOk = len === '' || (/^\/\d{1,3}$/.test(len) && Number(len.slice(1)) <= 32);
    if (!isIPv4(addr) || !lenOk) {
      expect(res.ok, addr + len).toBe(false);
      continue;
    }
    const l = len === '' ? 32 : Number(len.slice(1));
    const n = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const net = l === 0 ? 0 : n - (n % 2 ** (32 - l));
    const text = `${[24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.')}/${l}`;
    if (net !== n) expect(res, addr + len).toEqual({ ok: false, reason: `prefix '${addr + len}' has host bits set (did you mean ${text}?)` });
    else expect(res.ok && res.value.text, addr + len).toBe(text);
  }
});
