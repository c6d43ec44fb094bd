// The diff: desired map content against what the maps hold, as an ordered list of batch
// writes. Pure — it reads nothing and writes nothing.
//
// Order is make-before-break (DESIGN.md): every add and change is written first, pointees
// before pointers — next hops, groups, tx ports, label counters and ILM entries, FECs and ISP
// routes, ISP ports, subscriber routes, classifiers, the router's addresses, settings,
// policers. Only then are stale entries removed, in the reverse order: classifiers first,
// then what they pointed at, next hops last. At no point between two steps does an entry
// point at one that is missing, so a reconcile that stops half-way leaves forwarding
// consistent and running it again converges.

import { policerCodec, sameConfigValue } from '../tables/layout.js';
import type { Desired, Observed, ObservedMap } from './mapio.js';

/** Write order of the maps the reconciler manages; removals run in the reverse order. */
export const WRITE_ORDER = [
  'nexthop',
  'nh_group',
  'tx_port',
  'label_stats',
  'ilm',
  'fec_up',
  'isp_route_v4_exact',
  'isp_route_v4',
  'isp_route_v6_exact',
  'isp_route_v6',
  'isp_port',
  'down_v4_exact',
  'down_v4',
  'down_v6_exact',
  'down_v6',
  'sub_mac',
  'sub_vlan',
  'sub_v4_exact',
  'sub_v4',
  'sub_v6_exact',
  'sub_v6',
  'local',
  'settings',
  'policer',
] as const;

export type ManagedMap = (typeof WRITE_ORDER)[number];

/**
 * label_stats holds the data plane's per-label counters. The control plane creates a zeroed
 * entry for each ILM label and deletes the entries of labels that are gone, but never writes
 * over an existing entry: that would reset a counter Prometheus has already scraped.
 */
export const LABEL_STATS = 'label_stats';

/** Maps that are arrays in the object, for when a desired map was not observed. */
const ARRAY_MAPS = new Set(['settings', 'fec_up', 'nh_group', 'nexthop', 'policer']);

export interface Change {
  key: Buffer;
  from: Buffer;
  to: Buffer;
}

export interface MapDiff {
  map: string;
  kind: 'hash' | 'array';
  adds: Array<[Buffer, Buffer]>;
  changes: Change[];
  /** entries as observed; an array 'remove' writes zeros */
  removes: Array<[Buffer, Buffer]>;
}

export interface PlanStep {
  map: string;
  /** 'write': adds and changes; 'remove': deletes (hash) or zero writes (array) */
  phase: 'write' | 'remove';
  op: 'set' | 'delete';
  entries: Array<[Buffer, Buffer]>;
  keys: Buffer[];
}

export interface Plan {
  /** per managed map, in write order (maps without differences included, with empty lists) */
  diffs: MapDiff[];
  /** the batch operations to run, in order */
  steps: PlanStep[];
  /** nothing to do */
  empty: boolean;
}

const hex = (b: Buffer) => b.toString('hex');

function isZero(map: string, v: Buffer): boolean {
  return sameConfigValue(map, v, Buffer.alloc(v.length));
}

/**
 * A policer value as written: rate and burst from the desired value, a full bucket
 * (tokens = burst) and last_ns = 0, whatever the desired encoding carried.
 */
function freshPolicer(v: Buffer): Buffer {
  const p = policerCodec.decode(v);
  return policerCodec.encode({ rate: p.rate, burst: p.burst, tokens: p.burst, lastNs: 0n });
}

function diffMap(map: string, want: ReadonlyArray<readonly [Buffer, Buffer]>, have: ObservedMap): MapDiff {
  const diff: MapDiff = { map, kind: have.kind, adds: [], changes: [], removes: [] };
  const observed = new Map<string, [Buffer, Buffer]>();
  for (const e of have.entries) {
    // An all-zero array slot is an empty slot.
    if (have.kind === 'array' && isZero(map, e[1])) continue;
    observed.set(hex(e[0]), e);
  }
  const wanted = new Set<string>();
  for (const [key, value] of want) {
    if (have.kind === 'array' && isZero(map, value)) continue;
    const k = hex(key);
    if (wanted.has(k)) throw new Error(`reconcile: desired state of ${map} has key ${k} twice`);
    wanted.add(k);
    const cur = observed.get(k);
    if (map === LABEL_STATS) {
      // Create missing counters at zero; an existing counter is never written.
      if (!cur) diff.adds.push([key, Buffer.alloc(have.valueSize)]);
      continue;
    }
    const to = map === 'policer' ? freshPolicer(value) : value;
    if (!cur) diff.adds.push([key, to]);
    else if (!sameConfigValue(map, cur[1], value)) diff.changes.push({ key, from: cur[1], to });
  }
  for (const [k, e] of observed) if (!wanted.has(k)) diff.removes.push(e);
  return diff;
}

/**
 * Plans the writes that turn `observed` into `desired`. Only maps of WRITE_ORDER are touched;
 * a managed map missing from `desired` is desired empty. label_stats is optional on both sides.
 */
export function plan(desired: Desired, observed: Observed): Plan {
  for (const name of desired.keys()) {
    if (!(WRITE_ORDER as readonly string[]).includes(name)) throw new Error(`reconcile: '${name}' is not a map the reconciler manages`);
  }
  const diffs: MapDiff[] = [];
  for (const map of WRITE_ORDER) {
    const have = observed.get(map);
    const want = desired.get(map) ?? [];
    if (!have) {
      if (map === LABEL_STATS) continue;
      if (want.length) throw new Error(`reconcile: map '${map}' was not observed (is it in the loaded object?)`);
      diffs.push({ map, kind: ARRAY_MAPS.has(map) ? 'array' : 'hash', adds: [], changes: [], removes: [] });
      continue;
    }
    diffs.push(diffMap(map, want, have));
  }

  const steps: PlanStep[] = [];
  for (const d of diffs) {
    const entries: Array<[Buffer, Buffer]> = [...d.adds, ...d.changes.map((c): [Buffer, Buffer] => [c.key, c.to])];
    if (entries.length) steps.push({ map: d.map, phase: 'write', op: 'set', entries, keys: entries.map(([k]) => k) });
  }
  for (const d of [...diffs].reverse()) {
    if (!d.removes.length) continue;
    const keys = d.removes.map(([k]) => k);
    if (d.kind === 'array') {
      const size = d.removes[0]![1].length;
      steps.push({ map: d.map, phase: 'remove', op: 'set', entries: keys.map((k) => [k, Buffer.alloc(size)]), keys });
    } else {
      steps.push({ map: d.map, phase: 'remove', op: 'delete', entries: [], keys });
    }
  }
  return { diffs, steps, empty: steps.length === 0 };
}

/** Reads every managed map (label_stats included when given). */
export function observe(maps: Iterable<{ name: string; kind: 'hash' | 'array'; valueSize: number; entries(): Array<[Buffer, Buffer]> }>): Observed {
  const out: Observed = new Map();
  for (const m of maps) {
    if (!(WRITE_ORDER as readonly string[]).includes(m.name)) continue;
    out.set(m.name, { kind: m.kind, valueSize: m.valueSize, entries: m.entries() });
  }
  return out;
}

/** Entries written (set) and keys deleted by a plan: what a fake map counts. */
export function planSize(p: Plan): { writes: number; deletes: number } {
  let writes = 0;
  let deletes = 0;
  for (const s of p.steps) {
    if (s.op === 'set') writes += s.entries.length;
    else deletes += s.keys.length;
  }
  return { writes, deletes };
}
