// Rating and bills: exact money arithmetic, the tariff applied line by line, and the property
// billing rests on — the same usage replayed, duplicated and shuffled gives byte-identical
// invoices (CSV, JSON and the table), here through the ledger API and `fecflow bill`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney, parseMoney, rate, usageDocument, periodOf } from '../../control/broker/billing.js';
import { zeroUsage } from '../../control/daemon/usage.js';
import type { ProviderProfile } from '../../control/registry/broker.js';
import { main } from '../../control/cli/main.js';
import { call, startHarness, type Harness } from '../api/fakes.js';
import { PROFILE, enrolDevice } from './helpers.js';
import { Prng } from '../differential/prng.js';

function mulberry32(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.u32() / 0x1_0000_0000;
}

describe('money', () => {
  it('parses decimals to micro-units exactly and refuses anything else', () => {
    expect(parseMoney('0')).toBe(0n);
    expect(parseMoney('1.25')).toBe(1_250_000n);
    expect(parseMoney('0.000001')).toBe(1n);
    expect(parseMoney('999999999999.999999')).toBe(999_999_999_999_999_999n);
    for (const bad of ['-1', '1.0000001', '1e3', ' 1', '01', '1.', '.5', '0x10', 'NaN', '']) expect(parseMoney(bad), bad).toBeUndefined();
    expect(formatMoney(1_250_000n)).toBe('1.250000');
    expect(formatMoney(5n)).toBe('0.000005');
  });

  it('prices each line from the sums, rounding half up once per line', () => {
    const profile: ProviderProfile = { plan: { traffic: [] }, tariff: { currency: 'EUR', perGb: { '*': '0.50', ipv4_udp: '0.25' }, perMinute: '0.000001', monthly: '5' }, billTo: 'cpe', tokenTtl: 600 };
    const u = zeroUsage();
    u.up.ipv4_tcp = { packets: 1n, bytes: 1_500_000_000n };
    u.down.ipv4_udp = { packets: 1n, bytes: 2_000_000_000n };
    u.down.ipv6_tcp = { packets: 1n, bytes: 1n }; // 0.0000000005: rounds to 0
    const bill = rate('2026-11', [{ id: 'e1', cpe: 'alice', provider: 'alpha', seconds: 90, usage: usageDocument(u) }], new Map([['alpha', profile]]));
    expect(bill.lines.map((l) => [l.item, l.quantity, l.amount])).toEqual([
      ['monthly fee', '1', '5.000000'],
      ['session time', '90', '0.000002'], // 1.5 micro-units, half up
      ['data up ipv4_tcp', '1500000000', '0.750000'],
      ['data down ipv4_udp', '2000000000', '0.500000'],
      ['data down ipv6_tcp', '1', '0.000000'],
    ]);
    expect(bill.totals).toEqual([{ account: 'cpe:alice', currency: 'EUR', amount: '6.250002' }]);
  });

  it('puts a time in its UTC month', () => {
    expect(periodOf(Date.parse('2026-11-30T23:59:59.999Z'))).toBe('2026-11');
    expect(periodOf(Date.parse('2026-12-01T00:00:00Z'))).toBe('2026-12');
  });
});

const TYPES = ['ipv4_tcp', 'ipv4_udp', 'ipv6_tcp', 'ipv4_icmp'] as const;

/** A seeded month of usage events for alice and bob with alpha (billed to the CPE) and beta
 * (billed to the provider), plus events of the next month that must not show. */
function events(seed: number) {
  const rnd = mulberry32(seed);
  const out: any[] = [];
  for (let i = 0; i < 300; i++) {
    const cpe = rnd() < 0.5 ? 'alice' : 'bob';
    const provider = rnd() < 0.6 ? 'alpha' : 'beta';
    const day = 1 + Math.floor(rnd() * 30);
    const usage: any = { up: {}, down: {} };
    for (const t of TYPES) if (rnd() < 0.5) usage[rnd() < 0.5 ? 'up' : 'down'][t] = { packets: Math.floor(rnd() * 1e6), bytes: String(Math.floor(rnd() * 1e9) * 1000) };
    out.push({ id: `ev-${i}`, cpe, provider, at: `2026-11-${String(day).padStart(2, '0')}T10:00:00Z`, seconds: Math.floor(rnd() * 3600), usage });
  }
  out.push({ id: 'ev-december', cpe: 'alice', provider: 'alpha', at: '2026-12-01T00:00:00Z', seconds: 60, usage: { up: { ipv4_tcp: { packets: 1, bytes: 1e9 } } } });
  return out;
}

function shuffle<T>(a: T[], seed: number): T[] {
  const rnd = mulberry32(seed);
  const out = a.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function prepared(): Promise<Harness> {
  const h = await startHarness();
  expect((await call(h, 'POST', '/v1/broker/providers', { name: 'alpha', kind: 'isp', profile: PROFILE })).status).toBe(201);
  expect((await call(h, 'POST', '/v1/broker/providers', { name: 'beta', kind: 'isp', profile: { ...PROFILE, billTo: 'provider', tariff: { currency: 'USD', perGb: { ipv6_tcp: '0.10' }, perMinute: '0', monthly: '2.5' } } })).status).toBe(201);
  await enrolDevice(h, 'alice', 's1');
  await enrolDevice(h, 'bob', 's2');
  return h;
}

async function bills(h: Harness): Promise<string[]> {
  const out: string[] = [];
  for (const extra of [['--csv'], ['--json'], [], ['--isp', 'beta', '--csv']]) {
    let text = '';
    const code = await main(['node', 'fecflow', 'bill', '--period', '2026-11', ...extra], { out: (t) => void (text += t), err: () => undefined, isTTY: false }, { FECFLOW_URL: h.url, FECFLOW_TOKEN: h.token });
    expect(code).toBe(0);
    out.push(text);
  }
  return out;
}

describe('bills from the ledger', () => {
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    a = await prepared();
    b = await prepared();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('the same usage replayed twice and shuffled gives byte-identical invoices', async () => {
    const evs = events(7);
    const first = await call(a, 'POST', '/v1/broker/usage', { events: evs });
    expect(first.json).toMatchObject({ added: evs.length, duplicates: 0 });
    const once = await bills(a);
    expect(once[0]).toMatch(/^period,account,provider,cpe,item,quantity,unit,unitPrice,per,amount,currency\r\n/);
    expect(once[0]).toContain('2026-11,cpe:alice,alpha,alice,monthly fee,1,month,5.000000,month,5.000000,EUR');
    expect(once[0]).toContain('provider:beta');
    expect(once[0]).not.toContain('cpe:alice,beta'); // beta bills the provider
    expect(once[3]).not.toContain('alpha');

    // replayed in full, then again shuffled in three batches: all duplicates, nothing changes
    expect((await call(a, 'POST', '/v1/broker/usage', { events: evs })).json).toMatchObject({ added: 0, duplicates: evs.length });
    const sh = shuffle(evs, 99);
    for (const part of [sh.slice(0, 100), sh.slice(100, 200), sh.slice(200)]) expect((await call(a, 'POST', '/v1/broker/usage', { events: part })).json.added).toBe(0);
    expect(await bills(a)).toEqual(once);

    // another node's ledger fed the same events shuffled, in two overlapping batches
    const other = shuffle(evs, 12345);
    expect((await call(b, 'POST', '/v1/broker/usage', { events: other.slice(0, 200) })).status).toBe(200);
    expect((await call(b, 'POST', '/v1/broker/usage', { events: other.slice(150) })).json.duplicates).toBe(50);
    expect(await bills(b)).toEqual(once);

    // and the totals are the sum of the lines, exactly
    const bill = JSON.parse(once[1]!);
    for (const t of bill.totals) {
      const sum = bill.lines.filter((l: any) => l.account === t.account && l.currency === t.currency).reduce((s: bigint, l: any) => s + parseMoney(l.amount)!, 0n);
      expect(formatMoney(sum)).toBe(t.amount);
    }
  });

  it('refuses hostile usage bodies and records none of them', async () => {
    const h = b;
    const before = (await bills(h))[0];
    const ok = { id: 'x-1', cpe: 'alice', provider: 'alpha', at: '2026-11-05T00:00:00Z', seconds: 1, usage: { up: { ipv4_tcp: { packets: 1, bytes: 1 } } } };
    const bad: Array<[unknown, number]> = [
      [{ events: [{ ...ok, usage: { up: { ipv4_tcp: { packets: -1, bytes: 1 } } } }] }, 400],
      [{ events: [{ ...ok, usage: { up: { ipv4_tcp: { packets: 1, bytes: 1.5 } } } }] }, 400],
      [{ events: [{ ...ok, usage: { up: { ipv4_tcp: { packets: '1e3', bytes: 1 } } } }] }, 400],
      ['{"events":[{"id":"x-1","cpe":"alice","provider":"alpha","at":"2026-11-05T00:00:00Z","usage":{"up":{"__proto__":{"packets":1,"bytes":1}}}}]}', 400],
      [{ events: [{ ...ok, at: 'yesterday' }] }, 400],
      [{ events: [{ ...ok, provider: 'nobody' }] }, 404],
      [{ events: [{ ...ok, cpe: 'nobody' }] }, 404],
      [{ events: [] }, 400],
      [{ events: Array.from({ length: 10_001 }, (_v, i) => ({ ...ok, id: `x-${i}` })) }, 400],
      [{ events: [ok], more: 1 }, 400],
    ];
    for (const [body, status] of bad) expect((await call(h, 'POST', '/v1/broker/usage', body)).status, JSON.stringify(body).slice(0, 100)).toBe(status);
    expect((await bills(h))[0]).toBe(before);
    expect((await call(h, 'GET', '/v1/broker/bill?period=2026-13')).status).toBe(400);
    expect((await call(h, 'GET', '/v1/broker/bill?period=2026-11&isp=nobody')).status).toBe(404);
  });
});
