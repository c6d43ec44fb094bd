// The contract between the per-subscriber meters in the data plane and what reads them
// (sessions and their RADIUS accounting, `fecflow usage`, billing, the portal).
//
// Meters count packets and bytes per subscriber, per direction and per traffic type. A reader
// sees cumulative totals that only ever grow: the meter derives them from the data plane's
// counters and the readings it stored in the registry, so a counter reset (a map recreated by a
// layout change), a daemon restart or a subscriber moved between ISPs never makes a total go
// back or count anything twice. Usage over an interval (a session, a billing period) is the
// difference of two totals.

export const TRAFFIC_TYPES = ['ipv4_tcp', 'ipv4_udp', 'ipv4_icmp', 'ipv4_other', 'ipv6_tcp', 'ipv6_udp', 'ipv6_icmp', 'ipv6_other', 'other'] as const;
export type TrafficType = (typeof TRAFFIC_TYPES)[number];

export interface Count {
  packets: bigint;
  bytes: bigint;
}

/** One subscriber's totals: `up` is from the end-user towards the ISP, `down` the reverse. */
export interface SubscriberUsage {
  up: Record<TrafficType, Count>;
  down: Record<TrafficType, Count>;
}

export interface UsageMeter {
  /** Cumulative totals of one subscriber as of now (reads the data plane), or undefined if the
   * subscriber is unknown. */
  current(subscriber: string): SubscriberUsage | undefined;
}

export function zeroUsage(): SubscriberUsage {
  const z = (): Record<TrafficType, Count> => Object.fromEntries(TRAFFIC_TYPES.map((t) => [t, { packets: 0n, bytes: 0n }])) as Record<TrafficType, Count>;
  return { up: z(), down: z() };
}

/** b - a, per direction and type (never negative: totals only grow). */
export function usageDelta(a: SubscriberUsage, b: SubscriberUsage): SubscriberUsage {
  const out = zeroUsage();
  for (const d of ['up', 'down'] as const) {
    for (const t of TRAFFIC_TYPES) {
      const p = b[d][t].packets - a[d][t].packets;
      const y = b[d][t].bytes - a[d][t].bytes;
      out[d][t] = { packets: p > 0n ? p : 0n, bytes: y > 0n ? y : 0n };
    }
  }
  return out;
}

/** Sum over types of one direction. */
export function usageTotal(u: SubscriberUsage, d: 'up' | 'down'): Count {
  let packets = 0n;
  let bytes = 0n;
  for (const t of TRAFFIC_TYPES) {
    packets += u[d][t].packets;
    bytes += u[d][t].bytes;
  }
  return { packets, bytes };
}
