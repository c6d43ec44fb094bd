// The fast path for subscriber edits (assign, move, remove, import): instead of validating,
// compiling and diffing a whole new config, the changed subscribers alone are checked by the
// schema's per-subscriber rules against an index of all the others (control/config
// incremental.ts), compiled by the compiler's own per-subscriber function, encoded by the
// layout's encodeTables, and planned key by key against the reconciler's shadow of the maps.
// The result is the same as a full recompile (test/daemon/incremental.test.ts checks it).
import { SubscriberIndex, type Config, type ConfigIssue, type Subscriber } from '../config/index.js';
import { compileSubscriber, subscriberContext, subVlanEntry, type CompileEnv, type SubscriberContext, type SubscriberEntries } from '../compile/index.js';
import { encodeTables, skipBits, type PrefixTable } from '../tables/layout.js';
import { emptyTables, type Tables } from '../tables/types.js';
import type { DesiredChanges } from '../reconcile/index.js';
import { countBelow, type RawSubscriberChange } from './model.js';

/** The maps a subscriber's entries go to (a prefix table's _exact hash too). */
const SUBSCRIBER_MAPS = new Set(['sub_mac', 'sub_vlan', 'sub_v4', 'sub_v6', 'down_v4', 'down_v6', 'tx_port', 'sub_policer']);
const SUBSCRIBER_TABLES = ['sub_v4', 'sub_v6', 'down_v4', 'down_v6'] as const;
type SubscriberTable = (typeof SUBSCRIBER_TABLES)[number];

const prefixLen = (p: string): number => Number(p.slice(p.lastIndexOf('/') + 1));

/** How many keys are added less those removed, going from `before` to `after`. */
function setDelta(before: string[], after: string[]): number {
  const a = new Set(after);
  const b = new Set(before);
  let d = 0;
  for (const k of a) if (!b.has(k)) d++;
  for (const k of b) if (!a.has(k)) d--;
  return d;
}

export type SubscriberPlan =
  | { ok: false; issues: ConfigIssue[] }
  | {
      ok: true;
      changes: DesiredChanges;
      /** make the change in the running config and tables (after the maps were written) */
      commit(): void;
      /** forget it (not applied) */
      abandon(): void;
    };

/** Per running config: the subscriber index, the compile context, deliveries per port. */
export class SubscriberPath {
  private index: SubscriberIndex | undefined;
  private readonly ctx: SubscriberContext;
  /** subscribers delivered through each tx port (a port stays while one is left) */
  private deliveries: Map<number, number> | undefined;
  private readonly nexthopPorts: Set<number>;
  private lens: Record<SubscriberTable, Map<number, number>> | undefined;
  /** the settings value as last written (it carries skip bits that subscribers change) */
  private settings: Buffer | undefined;

  constructor(
    private readonly config: Config,
    private readonly tables: Tables,
    env: CompileEnv,
    private readonly rawSubscriber: (i: number) => unknown,
  ) {
    this.ctx = subscriberContext(config, env);
    this.nexthopPorts = new Set([...tables.nexthops.values()].map((n) => n.ifindex));
  }

  /** Builds the indexes now (they are otherwise built by the first edit). */
  warm(): void {
    this.subscriberIndex();
    this.deliveriesPerPort();
    this.prefixLengths();
    this.settingsNow();
  }

  private subscriberIndex(): SubscriberIndex {
    return (this.index ??= new SubscriberIndex(this.config, this.rawSubscriber));
  }

  private deliveriesPerPort(): Map<number, number> {
    if (!this.deliveries) {
      this.deliveries = new Map();
      for (const s of this.config.subscribers) {
        if (!s.deliver) continue;
        const port = compileSubscriber(s, this.ctx).txPort;
        if (port !== undefined) this.deliveries.set(port, (this.deliveries.get(port) ?? 0) + 1);
      }
    }
    return this.deliveries;
  }

  /**
   * Checks and plans a positional change of subscribers[]. Undefined when this change cannot
   * take the fast path (the full path then handles it).
   */
  plan(changes: readonly RawSubscriberChange[]): SubscriberPlan | undefined {
    const subs = this.config.subscribers;
    const removedAt = changes.filter((c) => c.index !== undefined && !c.after).map((c) => c.index!).sort((a, b) => a - b);
    const removedBefore = (i: number): number => countBelow(removedAt, i);
    let appended = 0;
    const base = subs.length - removedAt.length;
    const checked = this.subscriberIndex().check(
      changes.map((c) => {
        const before = c.index !== undefined ? subs[c.index] : undefined;
        const at = c.index !== undefined ? c.index - removedBefore(c.index) : base + appended++;
        return { before, after: c.after, at: () => at };
      }),
    );
    if (!checked.ok) return { ok: false, issues: checked.issues };

    const old = emptyTables();
    const now = emptyTables();
    old.settings = now.settings = this.tables.settings;
    const olds: SubscriberEntries[] = [];
    const news: SubscriberEntries[] = [];
    changes.forEach((c, i) => {
      if (c.index !== undefined) olds.push(compileSubscriber(subs[c.index]!, this.ctx));
      const s = checked.subscribers[i];
      if (s) news.push(compileSubscriber(s, this.ctx));
    });
    for (const [t, list] of [[old, olds], [now, news]] as const) {
      for (const e of list) {
        if (e.mac !== undefined) t.subMac.set(e.mac, e.cls);
        if (e.vlan) t.subVlan.push(subVlanEntry(e));
        for (const [i, p] of e.policers) t.subPolicers.set(i, p);
        for (const p of e.v4) t.subV4.set(p, e.cls);
        for (const p of e.v6) t.subV6.set(p, e.cls);
        for (const r of e.down) (r[0].prefix.includes(':') ? t.downV6 : t.downV4).push(r);
      }
    }
    // tx ports: present while a next hop or a delivered subscriber uses them
    const deliveries = this.deliveriesPerPort();
    const delta = new Map<number, number>();
    for (const e of olds) if (e.txPort !== undefined) delta.set(e.txPort, (delta.get(e.txPort) ?? 0) - 1);
    for (const e of news) if (e.txPort !== undefined) delta.set(e.txPort, (delta.get(e.txPort) ?? 0) + 1);
    for (const [port, d] of delta) {
      if (d === 0) continue;
      const was = (deliveries.get(port) ?? 0) > 0 || this.nexthopPorts.has(port);
      const will = (deliveries.get(port) ?? 0) + d > 0 || this.nexthopPorts.has(port);
      if (was && !will) old.txPorts.add(port);
      if (will) now.txPorts.add(port);
    }

    // What the whole tables decide: which prefix length each table hashes (a change of it
    // moves every entry of the table: the full path does that) and which maps are empty.
    const lens = this.prefixLengths();
    const lenDelta = new Map<SubscriberTable, Map<number, number>>();
    const count = (table: SubscriberTable, prefix: string, d: number) => {
      const m = lenDelta.get(table) ?? lenDelta.set(table, new Map()).get(table)!;
      const len = prefixLen(prefix);
      m.set(len, (m.get(len) ?? 0) + d);
    };
    for (const [list, d] of [[olds, -1], [news, 1]] as const) {
      for (const e of list) {
        for (const p of e.v4) count('sub_v4', p, d);
        for (const p of e.v6) count('sub_v6', p, d);
        for (const [k] of e.down) count(k.prefix.includes(':') ? 'down_v6' : 'down_v4', k.prefix, d);
      }
    }
    const exactLen = { ...this.exactLen() };
    const trie: Partial<Record<PrefixTable, number>> = { ...this.ispRouteTries() };
    for (const table of SUBSCRIBER_TABLES) {
      const after = new Map(lens[table]);
      for (const [len, d] of lenDelta.get(table) ?? []) after.set(len, (after.get(len) ?? 0) + d);
      let longest = 0;
      let total = 0;
      for (const [len, n] of after) {
        if (n > 0 && len > longest) longest = len;
        total += n;
      }
      if (longest !== exactLen[table]) return this.give(checked);
      trie[table] = total - (longest > 0 ? (after.get(longest) ?? 0) : 0);
    }
    const macs = this.tables.subMac.size + setDelta(olds.flatMap((e) => (e.mac === undefined ? [] : [e.mac])), news.flatMap((e) => (e.mac === undefined ? [] : [e.mac])));
    const vlanOf = (e: SubscriberEntries) => (e.vlan ? [`${e.vlan.ifindex}/${e.vlan.outerVid}/${e.vlan.innerVid}`] : []);
    const vlans = this.tables.subVlan.length + setDelta(olds.flatMap(vlanOf), news.flatMap(vlanOf));
    const skip = skipBits((m) => (m === 'sub_mac' ? macs === 0 : m === 'sub_vlan' ? vlans === 0 : trie[m as PrefixTable] === 0));
    const context = { exactLen, skip };

    const encOld = encodeTables(old, context);
    const encNew = encodeTables(now, context);
    const out: DesiredChanges = new Map();
    for (const [map, entries] of encNew) {
      const gone = encOld.get(map) ?? [];
      if (map === 'settings') {
        if (!entries[0]![1].equals(this.settingsNow())) out.set(map, entries);
        continue;
      }
      if (!SUBSCRIBER_MAPS.has(map.replace(/_exact$/, ''))) {
        if (entries.length || gone.length) return this.give(checked);
        continue;
      }
      const want = new Map<string, [Buffer, Buffer | undefined]>();
      for (const [k] of gone) want.set(k.toString('hex'), [k, undefined]);
      for (const [k, v] of entries) want.set(k.toString('hex'), [k, v]);
      if (want.size) out.set(map, [...want.values()]);
    }
    const settingsAfter = out.get('settings')?.[0]?.[1];

    return {
      ok: true,
      changes: out,
      abandon: () => checked.undo(),
      commit: () => {
        for (const [port, d] of delta) deliveries.set(port, (deliveries.get(port) ?? 0) + d);
        for (const [table, m] of lenDelta) for (const [len, d] of m) lens[table].set(len, (lens[table].get(len) ?? 0) + d);
        if (settingsAfter) this.settings = settingsAfter;
        this.commitTables(olds, news);
        this.commitConfig(changes, checked.subscribers);
      },
    };
  }

  /** Prefix lengths per subscriber table: how many entries of each length. */
  private prefixLengths(): Record<SubscriberTable, Map<number, number>> {
    if (!this.lens) {
      const t = this.tables;
      const of = (list: Iterable<string>) => {
        const m = new Map<number, number>();
        for (const p of list) {
          const len = prefixLen(p);
          m.set(len, (m.get(len) ?? 0) + 1);
        }
        return m;
      };
      this.lens = {
        sub_v4: of(t.subV4.keys()),
        sub_v6: of(t.subV6.keys()),
        down_v4: of(t.downV4.map(([k]) => k.prefix)),
        down_v6: of(t.downV6.map(([k]) => k.prefix)),
      };
    }
    return this.lens;
  }

  /** The prefix length each table's hash holds now (as encodeTables decides it). */
  private exactLen(): Record<PrefixTable, number> {
    const longest = (m: Map<number, number>) => Math.max(0, ...[...m].filter(([, n]) => n > 0).map(([l]) => l));
    const lens = this.prefixLengths();
    const routes = (list: Array<[{ prefix: string }, unknown]>) => longest(new Map(list.map(([k]) => [prefixLen(k.prefix), 1])));
    return {
      sub_v4: longest(lens.sub_v4),
      sub_v6: longest(lens.sub_v6),
      down_v4: longest(lens.down_v4),
      down_v6: longest(lens.down_v6),
      isp_route_v4: routes(this.tables.ispRouteV4),
      isp_route_v6: routes(this.tables.ispRouteV6),
    };
  }

  /** Entries of the ISP route tables' tries (subscribers do not change them). */
  private ispRouteTries(): Record<'isp_route_v4' | 'isp_route_v6', number> {
    const exact = this.exactLen();
    const trie = (list: Array<[{ prefix: string }, unknown]>, len: number) => list.filter(([k]) => len === 0 || prefixLen(k.prefix) !== len).length;
    return { isp_route_v4: trie(this.tables.ispRouteV4, exact.isp_route_v4), isp_route_v6: trie(this.tables.ispRouteV6, exact.isp_route_v6) };
  }

  /** The settings value in the maps now (from the counts, not by encoding every entry). */
  private settingsNow(): Buffer {
    if (!this.settings) {
      const lens = this.prefixLengths();
      const exactLen = this.exactLen();
      const trie: Record<string, number> = { ...this.ispRouteTries() };
      for (const table of SUBSCRIBER_TABLES) {
        let total = 0;
        for (const n of lens[table].values()) total += n;
        trie[table] = total - (exactLen[table] > 0 ? (lens[table].get(exactLen[table]) ?? 0) : 0);
      }
      const t = this.tables;
      const skip = skipBits((m) => (m === 'sub_mac' ? t.subMac.size === 0 : m === 'sub_vlan' ? t.subVlan.length === 0 : trie[m] === 0));
      this.settings = encodeTables({ ...emptyTables(), settings: t.settings }, { exactLen, skip }).get('settings')![0]![1];
    }
    return this.settings;
  }

  /** Undoes a check and declines the fast path. */
  private give(checked: { undo(): void }): undefined {
    checked.undo();
    return undefined;
  }

  private commitConfig(changes: readonly RawSubscriberChange[], validated: Array<Subscriber | undefined>): void {
    const subs = this.config.subscribers;
    let removed = false;
    changes.forEach((c, i) => {
      if (c.index !== undefined && c.after) subs[c.index] = validated[i]!;
      else if (c.index !== undefined) removed = true;
    });
    if (removed) {
      const gone = new Set(changes.filter((c) => c.index !== undefined && !c.after).map((c) => c.index!));
      const kept = subs.filter((_s, i) => !gone.has(i));
      subs.length = 0;
      for (const s of kept) subs.push(s);
    }
    changes.forEach((c, i) => {
      if (c.index === undefined) subs.push(validated[i]!);
    });
  }

  private commitTables(olds: SubscriberEntries[], news: SubscriberEntries[]): void {
    const t = this.tables;
    const sameVlan = (a: { ifindex: number; outerVid: number; innerVid: number }, b: typeof a) =>
      a.ifindex === b.ifindex && a.outerVid === b.outerVid && a.innerVid === b.innerVid;
    for (const e of olds) {
      if (e.mac !== undefined) t.subMac.delete(e.mac);
      if (e.vlan) t.subVlan = t.subVlan.filter(([k]) => !sameVlan(k, e.vlan!));
      for (const p of e.v4) t.subV4.delete(p);
      for (const p of e.v6) t.subV6.delete(p);
      for (const [i] of e.policers) t.subPolicers.delete(i);
      if (e.down.length) {
        const gone = new Set(e.down.map(([k]) => `${k.isp} ${k.prefix}`));
        t.downV4 = t.downV4.filter(([k]) => !gone.has(`${k.isp} ${k.prefix}`));
        t.downV6 = t.downV6.filter(([k]) => !gone.has(`${k.isp} ${k.prefix}`));
      }
    }
    for (const e of news) {
      if (e.mac !== undefined) t.subMac.set(e.mac, e.cls);
      if (e.vlan) t.subVlan.push(subVlanEntry(e));
      for (const [i, p] of e.policers) t.subPolicers.set(i, p);
      for (const p of e.v4) t.subV4.set(p, e.cls);
      for (const p of e.v6) t.subV6.set(p, e.cls);
      for (const r of e.down) (r[0].prefix.includes(':') ? t.downV6 : t.downV4).push(r);
    }
    const ports = this.deliveriesPerPort();
    for (const e of [...olds, ...news]) {
      if (e.txPort === undefined) continue;
      if ((ports.get(e.txPort) ?? 0) > 0 || this.nexthopPorts.has(e.txPort)) t.txPorts.add(e.txPort);
      else t.txPorts.delete(e.txPort);
    }
  }
}
