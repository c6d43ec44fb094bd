// Seeded random but valid `Tables` for the differential test: subscribers by MAC, VLAN and
// IPv4/IPv6 prefix (nested, so longest match matters), FECs of 1-3 labels, ECMP groups of 1-8
// members, ILM entries of every action, downstream routes, ISP ports and routes, local
// addresses, both TTL modes and both unknown-subscriber policies. Some references point at
// nothing on purpose (a missing group, a next hop on a port outside tx_port) so the drop paths
// are reached too. Policers are left out: time in the kernel and in the model differ.

import {
  DIRECTIONS,
  emptyTables,
  MAX_ECMP,
  meterWord,
  policerIndex,
  subPolicerIndex,
  MAX_LABEL,
  type Fec,
  type IlmEntry,
  type NextHop,
  type SubClass,
  type SubRoute,
  type Tables,
} from '../../control/tables/types.js';
import { formatIp, formatMac, parsePrefix } from '../model/addr.js';
import { Prng } from './prng.js';
import { FF_METER_SLOTS } from '../../control/tables/shared.gen.js';

export interface TableOptions {
  /** real ifindexes that go into tx_port */
  txPorts: number[];
  /** the ifindex frames arrive on */
  ingressIfindex: number;
}

/** An ifindex that exists nowhere: next hops on it are dropped as TX_PORT. */
export const ABSENT_IFINDEX = 999_999;

export function randomMac(rng: Prng): string {
  const b = rng.bytes(6);
  b[0] = (b[0] & 0xfe) | 0x02; // unicast, locally administered
  return formatMac(b);
}

/** A random address inside `prefix` (host bits random). */
export function addressIn(rng: Prng, prefix: string): Buffer {
  const p = parsePrefix(prefix);
  const out = rng.bytes(p.addr.length);
  for (let bit = 0; bit < p.length; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    out[byte] = (out[byte] & ~mask) | (p.addr[byte] & mask);
  }
  return out;
}

function prefixString(addr: Buffer, length: number): string {
  return `${formatIp(addr)}/${length}`;
}

/** A prefix nested inside `parent` (or a fresh one), of a length between min and max. */
function randomPrefix(rng: Prng, family: 4 | 6, parent?: string): string {
  const bits = family === 4 ? 32 : 128;
  if (parent) {
    const p = parsePrefix(parent);
    const length = rng.range(Math.min(p.length + 1, bits), Math.min(p.length + (family === 4 ? 12 : 40), bits));
    return canonicalPrefix(prefixString(addressIn(rng, parent), length));
  }
  const length = family === 4 ? rng.weighted([[1, 0], [3, 8], [6, rng.range(9, 24)], [2, 32]] as const) : rng.weighted([[1, 0], [6, rng.range(16, 64)], [2, 128]] as const);
  const base = family === 4 ? Buffer.from([rng.pick([10, 100, 172, 198, 203]), ...rng.bytes(3)]) : Buffer.concat([Buffer.from([0x20, 0x01, 0x0d, 0xb8]), rng.bytes(12)]);
  return canonicalPrefix(prefixString(base, length));
}

function randomLabel(rng: Prng): number {
  return rng.weighted([[6, rng.range(16, 20_000)], [2, rng.range(16, MAX_LABEL)], [1, MAX_LABEL], [1, 16]] as const);
}

function randomFec(rng: Prng, groups: number[]): Fec {
  const n = rng.range(1, 3);
  return {
    labels: Array.from({ length: n }, () => randomLabel(rng)),
    tc: rng.int(8),
    nhGroup: rng.chance(0.9) ? rng.pick(groups) : rng.range(60_000, 65_535),
  };
}

function randomVid(rng: Prng): number {
  return rng.weighted([[4, rng.range(1, 20)], [2, rng.range(1, 4094)], [1, 4095]] as const);
}

/**
 * A MAC or prefix subscriber's access line: mostly the ingress port (untagged, one tag or two),
 * sometimes another port, so that frames hit both the right line and wrong_port.
 */
function randomLine(rng: Prng, isp: number, ingressIfindex: number): SubClass {
  const tags = rng.weighted([[4, 0], [2, 1], [1, 2]] as const);
  return {
    isp,
    ifindex: rng.chance(0.85) ? ingressIfindex : rng.range(2, 50),
    outerVid: tags >= 1 ? randomVid(rng) : 0,
    innerVid: tags === 2 ? randomVid(rng) : 0,
  };
}

export function randomTables(rng: Prng, opts: TableOptions): Tables {
  const t = emptyTables();
  t.settings = { ttlMode: rng.chance(0.5) ? 'uniform' : 'pipe', unknownPolicy: rng.chance(0.3) ? 'pass' : 'drop' };
  for (const ifindex of opts.txPorts) t.txPorts.add(ifindex);
  const egress = (): number =>
    rng.weighted([[12, rng.pick(opts.txPorts)], [1, ABSENT_IFINDEX]] as const);
  const mtu = (): number => rng.weighted([[3, 0], [4, 1500], [2, rng.range(64, 1500)], [1, rng.range(20, 120)]] as const);

  // ISPs: small and edge indexes
  const isps = new Set<number>();
  const nIsps = rng.range(3, 6);
  while (isps.size < nIsps) isps.add(rng.weighted([[3, rng.range(1, 8)], [1, 4095], [1, rng.range(9, 4094)]] as const));
  const ispList = [...isps];

  // next hops 1..N, a few with a VLAN, a few on a port outside tx_port
  const nNexthops = rng.range(4, 14);
  for (let id = 1; id <= nNexthops; id++) {
    const nh: NextHop = {
      ifindex: rng.chance(0.03) ? 0 : egress(),
      mtu: mtu(),
      vid: rng.chance(0.25) ? randomVid(rng) : 0,
      dmac: randomMac(rng),
      smac: randomMac(rng),
    };
    t.nexthops.set(id, nh);
  }
  // groups: 1..8 members, sometimes naming a next hop that does not exist
  const groups: number[] = [];
  const nGroups = rng.range(3, 8);
  for (let id = 1; id <= nGroups; id++) {
    const size = rng.weighted([[3, 1], [2, 2], [3, rng.range(3, MAX_ECMP)]] as const);
    const nexthops = Array.from({ length: size }, () => (rng.chance(0.05) ? nNexthops + 1 + rng.int(100) : rng.range(1, nNexthops)));
    t.nhGroups.set(id, { nexthops });
    groups.push(id);
  }

  // upstream FECs: most ISPs have one
  for (const isp of ispList) if (rng.chance(0.85)) t.fecUp.set(isp, randomFec(rng, groups));

  // subscribers
  const nMacs = rng.range(2, 12);
  for (let i = 0; i < nMacs; i++) t.subMac.set(randomMac(rng), randomLine(rng, rng.pick(ispList), opts.ingressIfindex));
  // a classifier naming no valid ISP (0, or past 4095) must still drop as UNKNOWN_SUBSCRIBER
  if (rng.chance(0.3)) t.subMac.set(randomMac(rng), randomLine(rng, rng.pick([0, 4096, 70_000]), opts.ingressIfindex));
  const nVlans = rng.range(2, 12);
  for (let i = 0; i < nVlans; i++) {
    const key = {
      ifindex: rng.chance(0.85) ? opts.ingressIfindex : rng.range(2, 50),
      outerVid: randomVid(rng),
      innerVid: rng.chance(0.5) ? randomVid(rng) : 0,
    };
    if (!t.subVlan.some(([k]) => k.ifindex === key.ifindex && k.outerVid === key.outerVid && k.innerVid === key.innerVid)) {
      t.subVlan.push([key, rng.pick(ispList)]);
    }
  }
  for (const [family, map] of [[4, t.subV4], [6, t.subV6]] as const) {
    const roots = Array.from({ length: rng.range(1, 4) }, () => randomPrefix(rng, family));
    for (const root of roots) {
      map.set(root, randomLine(rng, rng.pick(ispList), opts.ingressIfindex));
      let parent = root;
      for (let depth = rng.int(4); depth > 0; depth--) {
        const child = randomPrefix(rng, family, parent);
        map.set(child, randomLine(rng, rng.pick(ispList), opts.ingressIfindex));
        parent = child;
      }
    }
  }

  // ILM: every action, on a pool of labels the frame generator draws from
  const nIlm = rng.range(10, 40);
  for (let i = 0; i < nIlm; i++) {
    const label = randomLabel(rng);
    const action = rng.weighted([[4, 'swap'], [2, 'pop-forward'], [2, 'pop-continue'], [3, 'pop-to-isp'], [3, 'pop-to-sub']] as const);
    const group = (): number => (rng.chance(0.92) ? rng.pick(groups) : rng.range(60_000, 65_535));
    // an LSR's label counted for an ISP (transit), or for none
    const transit = (): { isp?: number; direction?: 'up' | 'down' } => (rng.chance(0.5) ? { isp: rng.pick(ispList), direction: rng.pick(['up', 'down'] as const) } : {});
    let entry: IlmEntry;
    switch (action) {
      case 'swap': {
        const n = rng.weighted([[5, 1], [2, 2], [1, 3]] as const);
        entry = { action, labels: Array.from({ length: n }, () => (rng.chance(0.05) ? rng.pick([0, 2]) : randomLabel(rng))), tc: rng.int(8), nhGroup: group(), ...transit() };
        break;
      }
      case 'pop-forward':
        entry = { action, nhGroup: group(), ...transit() };
        break;
      case 'pop-continue':
        entry = { action };
        break;
      case 'pop-to-isp':
        entry = { action, isp: rng.pick(ispList), nhGroup: group() };
        break;
      case 'pop-to-sub':
        entry = { action, isp: rng.pick(ispList) };
        break;
    }
    t.ilm.set(label, entry);
  }

  // downstream routes to subscribers, scoped by ISP; the same prefix in two ISPs sometimes
  const subRoute = (): SubRoute => {
    const tags = rng.weighted([[3, 0], [3, 1], [2, 2]] as const);
    return {
      ifindex: egress(),
      mtu: mtu(),
      outerTpid: tags === 2 ? rng.pick([0x8100, 0x88a8]) : 0x8100,
      outerVid: tags >= 1 ? randomVid(rng) : 0,
      innerVid: tags === 2 ? randomVid(rng) : 0,
      dmac: randomMac(rng),
      smac: randomMac(rng),
    };
  };
  for (const [family, list] of [[4, t.downV4], [6, t.downV6]] as const) {
    const shared = randomPrefix(rng, family);
    for (const isp of ispList) {
      if (rng.chance(0.6)) list.push([{ isp, prefix: shared }, subRoute()]);
      let parent = randomPrefix(rng, family);
      list.push([{ isp, prefix: parent }, subRoute()]);
      for (let depth = rng.int(3); depth > 0; depth--) {
        parent = randomPrefix(rng, family, parent);
        list.push([{ isp, prefix: parent }, subRoute()]);
      }
    }
  }

  // ISP ports: the ingress port untagged and on some VLANs, plus ports elsewhere
  const portVids = new Set<number>();
  if (rng.chance(0.7)) portVids.add(0);
  for (let i = rng.range(1, 4); i > 0; i--) portVids.add(randomVid(rng));
  for (const vid of portVids) t.ispPorts.push([{ ifindex: opts.ingressIfindex, vid }, rng.pick(ispList)]);
  t.ispPorts.push([{ ifindex: rng.range(2, 50), vid: 0 }, rng.pick(ispList)]);
  for (const [family, list] of [[4, t.ispRouteV4], [6, t.ispRouteV6]] as const) {
    for (const isp of ispList) {
      let parent = randomPrefix(rng, family);
      list.push([{ isp, prefix: parent }, randomFec(rng, groups)]);
      for (let depth = rng.int(3); depth > 0; depth--) {
        parent = randomPrefix(rng, family, parent);
        list.push([{ isp, prefix: parent }, randomFec(rng, groups)]);
      }
    }
  }

  // the router's own addresses
  for (let i = rng.range(1, 3); i > 0; i--) t.local.add(formatIp(Buffer.from([10, ...rng.bytes(3)])));
  for (let i = rng.range(1, 3); i > 0; i--) t.local.add(formatIp(Buffer.concat([Buffer.from([0x20, 0x01, 0x0d, 0xb8]), rng.bytes(12)])));

  // policers: none, or present with rate 0 (no limit)
  for (const isp of ispList) if (rng.chance(0.3)) t.policers.set(policerIndex(isp, DIRECTIONS[rng.int(2)]!), { rate: 0n, burst: BigInt(rng.range(0, 100_000)) });

  dedupeScoped(t);
  addMeters(new Prng(rng.int(0x7fffffff)), t);
  return t;
}

/**
 * Meter words on most subscriber entries (a few slots shared, some out of sub_stats' range,
 * which the data plane must skip), some with the policer bit: the bucket is then absent or has
 * rate 0 (no limit), so the outcome does not depend on the clock.
 */
function addMeters(rng: Prng, t: Tables): void {
  const word = (): number | undefined => {
    if (rng.chance(0.2)) return undefined;
    const slot = rng.weighted([[8, rng.range(1, 40)], [1, FF_METER_SLOTS - 1], [1, rng.range(FF_METER_SLOTS, 0xffffff)]] as const);
    const policed = rng.chance(0.3);
    if (policed && rng.chance(0.5)) {
      for (const d of DIRECTIONS) t.subPolicers.set(subPolicerIndex(slot, d), { rate: 0n, burst: BigInt(rng.range(0, 100_000)) });
    }
    return meterWord(slot, policed);
  };
  const withMeter = <T extends { meter?: number }>(v: T): T => {
    const m = word();
    return m === undefined ? v : { ...v, meter: m };
  };
  for (const map of [t.subMac, t.subV4, t.subV6] as const) for (const [k, c] of map) map.set(k, withMeter(c));
  t.subVlan = t.subVlan.map(([k, isp]) => {
    const m = word();
    return m === undefined ? [k, isp] : [k, isp, m];
  });
  t.downV4 = t.downV4.map(([k, r]) => [k, withMeter(r)]);
  t.downV6 = t.downV6.map(([k, r]) => [k, withMeter(r)]);
  // slots beyond sub_policer's range have no bucket to write
  for (const i of [...t.subPolicers.keys()]) if (i >= FF_METER_SLOTS * 2) t.subPolicers.delete(i);
}

/** An LPM map holds one value per (prefix, length): keep the last entry of each, as map writes would. */
function dedupeScoped(t: Tables): void {
  for (const key of ['downV4', 'downV6', 'ispRouteV4', 'ispRouteV6'] as const) {
    const byKey = new Map<string, number>();
    const list = t[key] as Array<[{ isp: number; prefix: string }, unknown]>;
    list.forEach(([k], i) => byKey.set(`${k.isp}|${canonicalPrefix(k.prefix)}`, i));
    const keep = new Set(byKey.values());
    (t[key] as unknown[]) = list.filter((_, i) => keep.has(i));
  }
  for (const map of [t.subV4, t.subV6]) {
    const seen = new Map<string, string>();
    for (const prefix of [...map.keys()]) {
      const c = canonicalPrefix(prefix);
      const earlier = seen.get(c);
      if (earlier !== undefined) map.delete(earlier);
      seen.set(c, prefix);
    }
  }
}

/** The prefix with its host bits cleared: what an LPM trie actually stores. */
export function canonicalPrefix(prefix: string): string {
  const p = parsePrefix(prefix);
  const addr = Buffer.from(p.addr);
  for (let bit = p.length; bit < addr.length * 8; bit++) addr[bit >> 3] &= ~(0x80 >> (bit & 7));
  return prefixString(addr, p.length);
}
