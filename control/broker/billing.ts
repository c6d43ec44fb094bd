// Rating and invoices: a pure function from the usage ledger of one month and the providers'
// tariffs to invoice lines, in exact integer arithmetic (money in micro-units as BigInt). Events
// are first summed per account, CPE and provider, then priced, so the order in which they were
// recorded or replayed cannot change a line; lines are sorted by fixed keys, so the same ledger
// always prints the same bytes.
import { TRAFFIC_TYPES, type SubscriberUsage } from '../daemon/usage.js';
import type { ProviderProfile } from '../registry/broker.js';

export const MICRO = 1_000_000n;
const BYTES_PER_GB = 1_000_000_000n;
const MONEY = /^(0|[1-9]\d{0,11})(?:\.(\d{1,6}))?$/;
const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** '1.25' -> 1250000n micro-units; undefined when not a plain non-negative decimal with at most
 * 6 decimals. */
export function parseMoney(s: string): bigint | undefined {
  const m = MONEY.exec(s);
  if (!m) return undefined;
  return BigInt(m[1]!) * MICRO + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** 1250000n -> '1.250000' */
export function formatMoney(micro: bigint): string {
  const neg = micro < 0n;
  const v = neg ? -micro : micro;
  return `${neg ? '-' : ''}${v / MICRO}.${String(v % MICRO).padStart(6, '0')}`;
}

/** n / d rounded half up, for n >= 0, d > 0. */
function divRound(n: bigint, d: bigint): bigint {
  return (2n * n + d) / (2n * d);
}

export function isPeriod(s: string): boolean {
  return PERIOD.test(s);
}

/** The billing period ('2026-11') a time (ms since the epoch) falls in, in UTC. */
export function periodOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** A usage event as the ledger holds it (counts as decimal strings). */
export interface LedgerEvent {
  id: string;
  cpe: string;
  provider: string;
  /** session time this event covers, in seconds */
  seconds: number;
  usage: string;
}

export interface InvoiceLine {
  account: string;
  provider: string;
  cpe: string;
  /** 'data up ipv4_tcp', 'session time', 'monthly fee' */
  item: string;
  quantity: string;
  unit: 'byte' | 'second' | 'month';
  unitPrice: string;
  /** per GB, per minute or per month */
  per: 'GB' | 'minute' | 'month';
  amount: string;
  currency: string;
}

export interface Bill {
  period: string;
  lines: InvoiceLine[];
  totals: Array<{ account: string; currency: string; amount: string }>;
}

interface Sum {
  account: string;
  provider: string;
  cpe: string;
  seconds: bigint;
  bytes: Map<string, bigint>;
}

/** Parses a ledger event's usage document (decimal strings) into bytes per `dir type`. */
function bytesOf(usage: string): Map<string, bigint> {
  const u = JSON.parse(usage) as Record<'up' | 'down', Record<string, { bytes: string }>>;
  const out = new Map<string, bigint>();
  for (const d of ['up', 'down'] as const) {
    for (const t of TRAFFIC_TYPES) {
      const v = u[d]?.[t]?.bytes;
      if (v !== undefined) out.set(`${d} ${t}`, BigInt(v));
    }
  }
  return out;
}

/** Usage in the ledger's form (decimal strings). */
export function usageDocument(u: SubscriberUsage): string {
  const side = (d: 'up' | 'down') => Object.fromEntries(TRAFFIC_TYPES.map((t) => [t, { packets: String(u[d][t].packets), bytes: String(u[d][t].bytes) }]));
  return JSON.stringify({ up: side('up'), down: side('down') });
}

/** Invoice lines of a period from its ledger events and the providers' profiles. Events of
 * providers not in `profiles` are left out (the caller filters by provider that way). */
export function rate(period: string, events: readonly LedgerEvent[], profiles: ReadonlyMap<string, ProviderProfile>): Bill {
  const sums = new Map<string, Sum>();
  for (const e of events) {
    const p = profiles.get(e.provider);
    if (!p) continue;
    const account = p.billTo === 'cpe' ? `cpe:${e.cpe}` : `provider:${e.provider}`;
    const key = `${account}\u0000${e.provider}\u0000${e.cpe}`;
    let s = sums.get(key);
    if (!s) sums.set(key, (s = { account, provider: e.provider, cpe: e.cpe, seconds: 0n, bytes: new Map() }));
    s.seconds += BigInt(e.seconds);
    for (const [k, v] of bytesOf(e.usage)) s.bytes.set(k, (s.bytes.get(k) ?? 0n) + v);
  }
  const lines: InvoiceLine[] = [];
  const totals = new Map<string, bigint>();
  const keys = [...sums.keys()].sort();
  for (const key of keys) {
    const s = sums.get(key)!;
    const t = profiles.get(s.provider)!.tariff;
    const currency = t.currency;
    const add = (item: string, quantity: bigint, unit: InvoiceLine['unit'], per: InvoiceLine['per'], price: bigint, amount: bigint): void => {
      lines.push({ account: s.account, provider: s.provider, cpe: s.cpe, item, quantity: String(quantity), unit, unitPrice: formatMoney(price), per, amount: formatMoney(amount), currency });
      const tk = `${s.account}\u0000${currency}`;
      totals.set(tk, (totals.get(tk) ?? 0n) + amount);
    };
    add('monthly fee', 1n, 'month', 'month', parseMoney(t.monthly)!, parseMoney(t.monthly)!);
    if (s.seconds > 0n) {
      const price = parseMoney(t.perMinute)!;
      add('session time', s.seconds, 'second', 'minute', price, divRound(s.seconds * price, 60n));
    }
    for (const d of ['up', 'down'] as const) {
      for (const ty of TRAFFIC_TYPES) {
        const bytes = s.bytes.get(`${d} ${ty}`) ?? 0n;
        if (bytes === 0n) continue;
        const price = parseMoney(t.perGb[ty] ?? t.perGb['*'] ?? '0')!;
        add(`data ${d} ${ty}`, bytes, 'byte', 'GB', price, divRound(bytes * price, BYTES_PER_GB));
      }
    }
  }
  const totalList = [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => {
      const [account, currency] = k.split('\u0000') as [string, string];
      return { account, currency, amount: formatMoney(v) };
    });
  return { period, lines, totals: totalList };
}

const COLUMNS = ['account', 'provider', 'cpe', 'item', 'quantity', 'unit', 'unitPrice', 'per', 'amount', 'currency'] as const;

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The bill as CSV: a header, one row per line, then one `total` row per account and currency. */
export function billCsv(b: Bill): string {
  const rows = [['period', ...COLUMNS].join(',')];
  for (const l of b.lines) rows.push([b.period, ...COLUMNS.map((c) => l[c])].map(csvCell).join(','));
  for (const t of b.totals) rows.push([b.period, t.account, '', '', 'total', '', '', '', '', t.amount, t.currency].map(csvCell).join(','));
  return rows.join('\r\n') + '\r\n';
}
