// The operator's view of the running config, and the edits the API makes to it, in API terms
// (an ISP by name, a subscriber by its match). The config's own shape is control/config's;
// ./config-model.ts maps between the two, so this file and the API never depend on it.
import type { InterfaceRole } from './ports.js';

export type SubscriberMatch =
  | { mac: string }
  | { vlan: { interface: string; outer: number; inner?: number } }
  | { prefix: string };

/** How the headend hands an end-user's return traffic back (the router file's `deliver`);
 * what is left out comes from the match. */
export interface SubscriberDelivery {
  interface?: string;
  mac?: string;
  vlan?: { outer: number; inner?: number; tpid?: '802.1Q' | '802.1ad' };
  addresses?: string[];
}

export interface Subscriber {
  match: SubscriberMatch;
  isp: string;
  /** the config's name for it (generated from the match when the API creates it) */
  name?: string;
  /** the return path; without one, only upstream traffic is forwarded unless the match
   * implies it (a VLAN match delivers on its VLAN, a MAC match to its MAC) */
  deliver?: SubscriberDelivery;
  /** its own rate limit per direction (as the router file's `rate`); null removes it */
  rate?: { up?: { rate: string | number; burst: string | number }; down?: { rate: string | number; burst: string | number } } | null;
}

export interface RateLimit {
  /** bit/s as written in the config, e.g. '100Mbit' */
  rate: string | number;
  burst?: string | number;
}

export interface IspView {
  name: string;
  /** the ISP index used in the data plane (counters, classifier values) */
  index: number;
  up?: RateLimit;
  down?: RateLimit;
  subscribers: number;
  /** everything else the config says about this ISP, as written */
  spec: Record<string, unknown>;
}

export type Direction = 'up' | 'down';

export interface ImportSummary {
  added: number;
  moved: number;
  removed: number;
  unchanged: number;
}

/** A subscriber edit in API terms: what the API was asked, and what the audit log records. */
export type SubscriberOp =
  | { op: 'assign'; subscriber: Subscriber }
  | { op: 'move'; subscriber: Subscriber }
  | { op: 'remove'; match: SubscriberMatch }
  | { op: 'import'; subscribers: Subscriber[]; replace: boolean }
  /** sets (undefined: removes) top-level fields of subscribers' documents, by name: a
   * session admitting it, a rate from its ISP's RADIUS server */
  | { op: 'patch'; patches: Array<{ name: string; set: Record<string, unknown> }> };

/** One element of subscribers[] changed: replaced (index and after), removed (index only) or
 * appended (after only). */
export interface RawSubscriberChange {
  index?: number;
  after?: Record<string, unknown>;
}

/** A subscriber edit worked out against a raw config, not yet made. */
export interface SubscriberEdit {
  changes: RawSubscriberChange[];
  summary?: ImportSummary;
  /** makes the changes in the raw config, in place */
  apply(): void;
}

/** Reads and edits of a raw (unvalidated, plain-data) config. Edits mutate `raw` in place and
 * throw DaemonError not_found / conflict for names that do not fit; everything else is left to
 * the schema, which runs on the result. */
export interface ConfigModel {
  node(raw: unknown): string;
  interfaces(raw: unknown): InterfaceRole[];
  isps(raw: unknown): IspView[];
  /** ISP index -> name, without the subscriber counts of isps() (a scrape needs only this) */
  ispNames(raw: unknown): Map<number, string>;
  subscriberCount(raw: unknown): number;
  addIsp(raw: unknown, isp: Record<string, unknown>): void;
  removeIsp(raw: unknown, name: string, opts: { force: boolean }): void;
  setRate(raw: unknown, name: string, direction: Direction, limit: RateLimit | null): void;
  subscribers(raw: unknown): Subscriber[];
  /** add a new subscriber; conflict if the match exists */
  assign(raw: unknown, sub: Subscriber): void;
  /** change the ISP of an existing subscriber; not_found if the match does not exist */
  move(raw: unknown, sub: Subscriber): void;
  remove(raw: unknown, match: SubscriberMatch): void;
  /** add or move every row (replace: drop subscribers not listed) */
  importMany(raw: unknown, subs: Subscriber[], opts: { replace: boolean }): ImportSummary;
  /** works out a subscriber edit (throws like the edits above) without making it */
  planSubscriberEdit(raw: unknown, op: SubscriberOp): SubscriberEdit;
  /** builds the index planSubscriberEdit looks subscribers up in now, so no edit waits for it */
  warm?(raw: unknown): void;
}

/** A stable text key for a match, e.g. 'mac aa:bb:..' or 'vlan eth1:100:20'. */
export function matchKey(m: SubscriberMatch): string {
  if ('mac' in m) return `mac ${m.mac.toLowerCase()}`;
  if ('vlan' in m) return `vlan ${m.vlan.interface}:${m.vlan.outer}${m.vlan.inner ? `:${m.vlan.inner}` : ''}`;
  return `prefix ${m.prefix.toLowerCase()}`;
}

export function describeMatch(m: SubscriberMatch): string {
  return matchKey(m);
}

/** How many of the ascending numbers in `sorted` are below i (binary search). */
export function countBelow(sorted: readonly number[], i: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
