// The network-wide accounting check: per ISP and direction, what the fleet's headends took in
// (point `in`: a label pushed, after the policer) must equal what its tailends delivered (point
// `out`: the last label popped), up to what was in flight between the routers' snapshots and
// what was dropped on the way. This is the evidence an access operator and an ISP look at when
// they disagree about a bill: a gap beyond the tolerance says traffic was taken in and never
// delivered, and the per-node counts (`in`, `transit` at each LSR, `out`) show where it went
// missing. Pure: the controller gathers the routers' counters and calls it.
//
// Drops are counted per reason and router, not per ISP: a drop after classification (a label
// the next router does not know, an expired TTL, a frame too big for the next link...) could be
// any ISP's. Such drops excuse a gap of up to their number in every ISP's balance; drops that
// happen before a packet is counted in (no subscriber, no FEC, the policer, a wrong port) do
// not enter it.
import type { RouterCounters } from './intent.js';

/** Drop reasons that happen before a packet is counted in, and so never excuse a gap. */
const BEFORE_IN = new Set(['unknown_subscriber', 'no_fec', 'policed', 'wrong_port']);

export interface Tolerance {
  /** packets a balance may be off by (in flight between snapshots) */
  packets: number;
  /** and this fraction of what was taken in */
  ratio: number;
  /** a router's counters older than this (ms) make the check incomplete */
  maxAgeMs: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { packets: 100, ratio: 0.001, maxAgeMs: 60_000 };

export interface NodeCounters {
  node: string;
  /** when the router read them (ms since the epoch) */
  at: number;
  counters: RouterCounters;
}

export interface Balance {
  isp: string;
  direction: 'up' | 'down';
  /** packets counted in (summed over the fleet) */
  in: number;
  out: number;
  /** in − out: positive is traffic taken in and not delivered */
  gap: number;
  /** drops after classification, fleet-wide, that may explain part of a gap */
  unattributedDrops: number;
  /** what the gap may be: tolerance + unattributed drops */
  allowed: number;
  ok: boolean;
  /** per node: in, transit, out — where the packets were seen */
  nodes: Array<{ node: string; in: number; transit: number; out: number }>;
}

export interface AccountingReport {
  at: string;
  /** every router reported counters recently enough to judge */
  complete: boolean;
  missing: string[];
  stale: string[];
  tolerance: Tolerance;
  balances: Balance[];
  mismatches: Balance[];
}

/**
 * Balances every ISP and direction over the nodes' counters. `expected` names every router of
 * the fleet: one that sent no counters, or old ones, makes the report incomplete and its
 * balances are not judged (a missing tailend would look like every ISP's traffic lost).
 */
export function checkAccounting(expected: string[], reports: NodeCounters[], tolerance: Tolerance = DEFAULT_TOLERANCE, now = Date.now()): AccountingReport {
  const byNode = new Map(reports.map((r) => [r.node, r]));
  const missing = expected.filter((n) => !byNode.has(n));
  const stale = reports.filter((r) => now - r.at > tolerance.maxAgeMs).map((r) => r.node);
  const complete = missing.length === 0 && stale.length === 0;
  let unattributed = 0;
  for (const r of reports) for (const d of r.counters.drops) if (!BEFORE_IN.has(d.reason)) unattributed += num(d.packets);

  const keyed = new Map<string, Balance>();
  for (const r of [...reports].sort((a, b) => (a.node < b.node ? -1 : 1))) {
    for (const isp of r.counters.isps) {
      for (const direction of ['up', 'down'] as const) {
        const p = isp[direction];
        const k = `${isp.isp}\u0000${direction}`;
        let b = keyed.get(k);
        if (!b) keyed.set(k, (b = { isp: isp.isp, direction, in: 0, out: 0, gap: 0, unattributedDrops: unattributed, allowed: 0, ok: true, nodes: [] }));
        const n = { node: r.node, in: num(p.in.packets), transit: num(p.transit.packets), out: num(p.out.packets) };
        b.in += n.in;
        b.out += n.out;
        if (n.in || n.transit || n.out) b.nodes.push(n);
      }
    }
  }
  const balances = [...keyed.values()].sort((a, b) => (a.isp < b.isp ? -1 : a.isp > b.isp ? 1 : a.direction < b.direction ? 1 : -1));
  for (const b of balances) {
    b.gap = b.in - b.out;
    const inFlight = tolerance.packets + Math.ceil(tolerance.ratio * b.in);
    b.allowed = inFlight + unattributed;
    // more delivered than taken in is as wrong as less, and no drop explains it
    b.ok = !complete || (b.gap <= b.allowed && -b.gap <= inFlight);
  }
  return {
    at: new Date(now).toISOString(),
    complete,
    missing,
    stale,
    tolerance,
    balances,
    mismatches: complete ? balances.filter((b) => !b.ok) : [],
  };
}

function num(s: string): number {
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}
