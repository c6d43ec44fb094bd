// The diff: desired map content against what the maps hold, as an ordered list of batch
// writes. Pure — it reads nothing and writes nothing.
//
// Order is make-before-break (docs/ARCHITECTURE.md): every add and change is written first, pointees
// before pointers — next hops, groups, tx ports, label counters and ILM entries, FECs and ISP
// routes, ISP ports, subscriber routes, classifiers, the router's addresses, settings,
// policers. Only then are stale entries removed, in the reverse order: classifiers first,
// then what they pointed at, next hops last. At no point between two steps does an entry
// point at one that is missing, so a reconcile that stops half-way leaves forwarding
// consistent and running it again converges.

import { MAP_WRITE_ORDER, policerCodec, sameConfigValue } from '../tables/layout.js';
import type { Desired, Observed, ObservedMap } from './mapio.js';

/** Write order of the maps the reconciler manages (one list, in tables/layout.ts); removals run
 * in the reverse order. */
export const WRITE_ORDER = MAP_WRITE_ORDER;

export type ManagedMap = (typeof WRITE_ORDER)[number];

/**
 * label_stats holds the data plane's per-label counters. The control plane creates a zeroed
 * entry for each ILM label and deletes the entries of labels that are gone, but never writes
 * over an existing entry: that would reset a counter Prometheus has already scraped.
 */
export const LABEL_STATS = 'label_stats';

/** Maps that are arrays in the object, for when a desired map was not observed. */
const ARRAY_MAPS = new Set(['settings', 'fec_up', 'nh_group', 'nexthop', 'policer', 'icmp_limit']);

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
  return policerCodec.encode({ frac: 0, rate: p.rate, burst: p.burst, tokens: p.burst, lastNs: 0n });
}

/** What a map holds, indexed: hex key -> value. For arrays, only the non-zero slots. */
export type MapIndex = Map<string, Buffer>;

/** A map's kind, value size and indexed content: what the planner diffs against. */
export interface IndexedMap {
  kind: 'hash' | 'array';
  valueSize: number;
  index: MapIndex;
}

/** Indexes an observed map, leaving out empty (all-zero) array slots. */
export function indexMap(map: string, have: ObservedMap): IndexedMap {
  const index: MapIndex = new Map();
  for (const [k, v] of have.entries) {
    // An all-zero array slot is an empty slot.
    if (have.kind === 'array' && isZero(map, v)) continue;
    index.set(hex(k), v);
  }
  return { kind: have.kind, valueSize: have.valueSize, index };
}

/** One desired entry against what the map holds; value undefined: the key must be absent. */
function diffEntry(map: string, have: IndexedMap, diff: MapDiff, key: Buffer, k: string, value: Buffer | undefined): void {
  const cur = have.index.get(k);
  if (value === undefined) {
    if (cur !== undefined) diff.removes.push([key, cur]);
    return;
  }
  if (map === LABEL_STATS) {
    // Create missing counters at zero; an existing counter is never written.
    if (cur === undefined) diff.adds.push([key, Buffer.alloc(have.valueSize)]);
    return;
  }
  const to = map === 'policer' ? freshPolicer(value) : value;
  if (cur === undefined) diff.adds.push([key, to]);
  else if (!sameConfigValue(map, cur, value)) diff.changes.push({ key, from: cur, to });
}

function diffMap(map: string, want: ReadonlyArray<readonly [Buffer, Buffer]>, have: IndexedMap): MapDiff {
  const diff: MapDiff = { map, kind: have.kind, adds: [], changes: [], removes: [] };
  const wanted = new Set<string>();
  for (const [key, value] of want) {
    if (have.kind === 'array' && isZero(map, value)) continue;
    const k = hex(key);
    if (wanted.has(k)) throw new Error(`reconcile: desired state of ${map} has key ${k} twice`);
    wanted.add(k);
    diffEntry(map, have, diff, key, k, value);
  }
  // Every wanted key that is not an add was found in the map: when they account for all of
  // it, nothing is left to remove and the scan is skipped (the common no-op reconcile).
  if (wanted.size - diff.adds.length < have.index.size) {
    for (const [k, v] of have.index) if (!wanted.has(k)) diff.removes.push([Buffer.from(k, 'hex'), v]);
  }
  return diff;
}

function checkNames(names: Iterable<string>): void {
  for (const name of names) {
    if (!(WRITE_ORDER as readonly string[]).includes(name)) throw new Error(`reconcile: '${name}' is not a map the reconciler manages`);
  }
}

/** The batch steps of a set of diffs: every write in WRITE_ORDER, then removals in reverse. */
function stepsOf(diffs: MapDiff[]): PlanStep[] {
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
  return steps;
}

/**
 * Plans the writes that turn `observed` into `desired`. Only maps of WRITE_ORDER are touched;
 * a managed map missing from `desired` is desired empty. label_stats is optional on both sides.
 */
export function plan(desired: Desired, observed: Observed): Plan {
  const indexed = new Map<string, IndexedMap>();
  for (const [name, have] of observed) if ((WRITE_ORDER as readonly string[]).includes(name)) indexed.set(name, indexMap(name, have));
  return planIndexed(desired, indexed);
}

/** plan() against maps already indexed (the reconciler's shadow of what the maps hold). */
export function planIndexed(desired: Desired, observed: ReadonlyMap<string, IndexedMap>): Plan {
  checkNames(desired.keys());
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
  const steps = stepsOf(diffs);
  return { diffs, steps, empty: steps.length === 0 };
}

/**
 * Desired content of some keys only: per map, (key, value) to hold that value, (key, undefined)
 * to be absent. Keys not listed are left as they are.
 */
export type DesiredChanges = Map<string, ReadonlyArray<readonly [Buffer, Buffer | undefined]>>;

/** Plans only the listed keys, in the same make-before-break order as plan(). */
export function planChanges(changes: DesiredChanges, observed: ReadonlyMap<string, IndexedMap>): Plan {
  checkNames(changes.keys());
  const diffs: MapDiff[] = [];
  for (const map of WRITE_ORDER) {
    const want = changes.get(map);
    const have = observed.get(map);
    if (!have) {
      if (want?.some(([, v]) => v !== undefined)) throw new Error(`reconcile: map '${map}' was not observed (is it in the loaded object?)`);
      if (map !== LABEL_STATS) diffs.push({ map, kind: ARRAY_MAPS.has(map) ? 'array' : 'hash', adds: [], changes: [], removes: [] });
      continue;
    }
    const diff: MapDiff = { map, kind: have.kind, adds: [], changes: [], removes: [] };
    const seen = new Set<string>();
    for (const [key, value] of want ?? []) {
      const k = hex(key);
      if (seen.has(k)) throw new Error(`reconcile: desired changes of ${map} have key ${k} twice`);
      seen.add(k);
      diffEntry(map, have, diff, key, k, have.kind === 'array' && value !== undefined && isZero(map, value) ? undefined : value);
    }
    diffs.push(diff);
  }
  const steps = stepsOf(diffs);
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
