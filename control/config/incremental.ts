// Checking a change of a few subscribers against a valid running config without validating
// the whole config again. The change is parsed by the same schema (./schema.ts) and checked by
// the same per-subscriber rules (Checker.checkSubscriber in ./validate.ts); only where those
// rules look up what the other subscribers hold is different: an index kept next to the
// running config instead of maps built from scratch, and a prefix index answering "what
// contains this prefix, what does it contain" instead of a sweep over every sorted prefix.

import { contains, maskBytes, parsePrefix, type Family, type ParsedPrefix } from './addr.js';
import { CAPACITY, overflowMessage, type CapacityTable } from './capacity.js';
import { formatPath, type ConfigIssue } from './errors.js';
import { resolveDelivery, resolveIsp, type Config, type Isp, type Subscriber } from './types.js';
import { Checker, downKey, prefixConflict, vlanKey, type Holder, type Path, type PrefixEntry, type SubscriberKeys } from './validate.js';

/** One subscriber replaced, added (no before) or removed (no after). */
export interface SubscriberChange {
  /** the subscriber as the running config holds it */
  before?: Subscriber;
  /** the new subscriber as written (raw: it is parsed here) */
  after?: unknown;
  /** its position in subscribers[] once changed, for the issue paths */
  at(): number;
}

export type ChangeCheck =
  | { ok: true; subscribers: Array<Subscriber | undefined>; undo(): void }
  | { ok: false; issues: ConfigIssue[] };

interface IndexedPrefix {
  p: ParsedPrefix;
  isp: Isp;
  sub: string;
  holder: Subscriber;
  /** position of the prefix in match.prefix */
  k: number;
}

type Kind = 'name' | 'mac' | 'vlan' | 'down';

/** Sets `width` bits of `bytes` from bit `from` (MSB first) to `value`. */
function setBits(bytes: Uint8Array, from: number, width: number, value: number): void {
  for (let b = 0; b < width; b++) {
    const pos = from + b;
    const bit = (value >>> (width - 1 - b)) & 1;
    const mask = 0x80 >> (pos & 7);
    bytes[pos >> 3] = bit ? bytes[pos >> 3]! | mask : bytes[pos >> 3]! & ~mask;
  }
}

/** An IPv4 network as a number (no string for each of a million /32s), an IPv6 one as text. */
const keyOf = (bytes: Uint8Array): string | number =>
  bytes.length === 4
    ? ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

/** Classifier prefixes by family and length, for containment queries in both directions. */
export class PrefixIndex {
  private readonly byFamily: Record<Family, Map<number, Map<string | number, IndexedPrefix>>> = { 4: new Map(), 6: new Map() };

  get size(): number {
    return this.count(4) + this.count(6);
  }

  /** Prefixes of one family (a walk over at most 129 lengths). */
  count(family: Family): number {
    let n = 0;
    for (const m of this.byFamily[family].values()) n += m.size;
    return n;
  }

  add(e: IndexedPrefix): void {
    const lens = this.byFamily[e.p.family];
    let m = lens.get(e.p.len);
    if (!m) lens.set(e.p.len, (m = new Map()));
    m.set(keyOf(e.p.bytes), e);
  }

  /** Removes the entry of p if `holder` holds it. */
  delete(p: ParsedPrefix, holder: Subscriber): IndexedPrefix | undefined {
    const m = this.byFamily[p.family].get(p.len);
    const k = keyOf(p.bytes);
    const e = m?.get(k);
    if (!e || e.holder !== holder) return undefined;
    m!.delete(k);
    if (m!.size === 0) this.byFamily[p.family].delete(p.len);
    return e;
  }

  /** Entries that contain p or equal it, innermost first. */
  ancestors(p: ParsedPrefix): IndexedPrefix[] {
    const out: IndexedPrefix[] = [];
    const lens = [...this.byFamily[p.family].keys()].filter((l) => l <= p.len).sort((a, b) => b - a);
    for (const l of lens) {
      const e = this.byFamily[p.family].get(l)!.get(keyOf(maskBytes(p.bytes, l)));
      if (e) out.push(e);
    }
    return out;
  }

  /** Entries strictly inside p: candidates enumerated when fewer than the entries of that length. */
  descendants(p: ParsedPrefix): IndexedPrefix[] {
    const out: IndexedPrefix[] = [];
    for (const [l, m] of this.byFamily[p.family]) {
      if (l <= p.len) continue;
      const width = l - p.len;
      if (width <= 16 && 2 ** width <= m.size) {
        const b = Uint8Array.from(p.bytes);
        for (let v = 0; v < 2 ** width; v++) {
          setBits(b, p.len, width, v);
          const e = m.get(keyOf(b));
          if (e) out.push(e);
        }
      } else {
        for (const e of m.values()) if (contains(p, e.p)) out.push(e);
      }
    }
    return out;
  }
}

/**
 * The keys every subscriber of a valid running config holds (name, MAC, VLAN, delivered
 * addresses, classifier prefixes). Built once from the config; a checked change updates it,
 * and undo() puts it back when the change is not applied after all.
 */
export class SubscriberIndex {
  private readonly keys: Record<Kind, Map<string, Subscriber>> = { name: new Map(), mac: new Map(), vlan: new Map(), down: new Map() };
  private readonly prefixes = new PrefixIndex();
  /** positions of the subscribers of a change being checked (not yet in config.subscribers) */
  private readonly pending = new Map<Subscriber, number>();

  /**
   * @param config the running config; its subscribers[] is kept up to date by the caller
   * @param rawSubscriber the subscriber at a position as the operator wrote it (issue paths)
   */
  constructor(
    private readonly config: Config,
    private readonly rawSubscriber: (index: number) => unknown,
  ) {
    for (const s of config.subscribers) this.addKeys(s, undefined);
  }

  // Delivered addresses of both families share keys.down; the IPv6 ones are counted apart
  // for the capacity check of down_v4 / down_v6.
  private downV6 = 0;

  private setKey(kind: Kind, key: string, s: Subscriber): void {
    const m = this.keys[kind];
    if (kind === 'down' && !m.has(key) && key.includes(':')) this.downV6++;
    m.set(key, s);
  }

  private deleteKey(kind: Kind, key: string): void {
    if (this.keys[kind].delete(key) && kind === 'down' && key.includes(':')) this.downV6--;
  }

  /** Entries of the subscriber tables past their capacity once the checked change is in. */
  private overflows(): Array<{ table: CapacityTable; entries: number; what: string }> {
    const down = this.keys.down.size;
    const rows: Array<{ table: CapacityTable; entries: number; what: string }> = [
      { table: 'sub_mac', entries: this.keys.mac.size, what: 'subscribers matched by MAC' },
      { table: 'sub_vlan', entries: this.keys.vlan.size, what: 'subscribers matched by VLAN' },
      { table: 'sub_v4', entries: this.prefixes.count(4), what: 'IPv4 match prefixes' },
      { table: 'sub_v6', entries: this.prefixes.count(6), what: 'IPv6 match prefixes' },
      { table: 'down_v4', entries: down - this.downV6, what: 'delivered IPv4 addresses' },
      { table: 'down_v6', entries: this.downV6, what: 'delivered IPv6 addresses' },
    ];
    return rows.filter((r) => r.entries > CAPACITY[r.table]);
  }

  private holder(s: Subscriber): Holder {
    return { name: s.name, index: () => this.pending.get(s) ?? this.config.subscribers.indexOf(s) };
  }

  /** Number of subscribers indexed (by name). */
  get size(): number {
    return this.keys.name.size;
  }

  /** The keys s holds, as Checker.checkSubscriber claims them (s is valid). */
  private keysOf(s: Subscriber): Array<[Kind, string]> {
    const out: Array<[Kind, string]> = [['name', s.name]];
    if (s.match.mac) out.push(['mac', s.match.mac]);
    const mv = s.match.vlan;
    if (mv) {
      const i = this.config.interfaces.find((x) => x.name === mv.interface);
      if (i) out.push(['vlan', vlanKey(i, mv)]);
    }
    const isp = resolveIsp(this.config.isps, s.isp);
    const d = resolveDelivery(s);
    if (isp && d?.addresses) for (const a of d.addresses) out.push(['down', downKey(isp.id, a)]);
    return out;
  }

  private addKeys(s: Subscriber, undo: Array<() => void> | undefined): void {
    for (const [kind, key] of this.keysOf(s)) {
      if (!this.keys[kind].has(key)) {
        this.setKey(kind, key, s);
        undo?.push(() => this.deleteKey(kind, key));
      }
    }
    const isp = resolveIsp(this.config.isps, s.isp);
    if (!isp) return;
    s.match.prefix?.forEach((text, k) => {
      const p = parsePrefix(text);
      if (!p.ok) return;
      const e: IndexedPrefix = { p: p.value, isp, sub: s.name, holder: s, k };
      this.prefixes.add(e);
      undo?.push(() => this.prefixes.delete(e.p, s));
    });
  }

  private removeKeys(s: Subscriber, undo: Array<() => void>): void {
    for (const [kind, key] of this.keysOf(s)) {
      if (this.keys[kind].get(key) === s) {
        this.deleteKey(kind, key);
        undo.push(() => this.setKey(kind, key, s));
      }
    }
    for (const text of s.match.prefix ?? []) {
      const p = parsePrefix(text);
      const e = p.ok ? this.prefixes.delete(p.value, s) : undefined;
      if (e) undo.push(() => this.prefixes.add(e));
    }
  }

  /** The path of an indexed prefix, as the whole-config check would report it. */
  private prefixPath(e: IndexedPrefix): Path {
    const at = this.holder(e.holder).index();
    const raw = this.rawSubscriber(at);
    const list = (raw as { match?: { prefix?: unknown } } | undefined)?.match?.prefix;
    const base: Path = ['subscribers', at, 'match', 'prefix'];
    return Array.isArray(list) ? [...base, e.k] : base;
  }

  /**
   * Checks the changes together (all are applied to the index, or none): each new subscriber
   * by the schema and the per-subscriber rules against every other subscriber. On success
   * the index holds the changed subscribers; call undo() if they are not applied after all.
   */
  check(changes: readonly SubscriberChange[]): ChangeCheck {
    const undo: Array<() => void> = [];
    const rollback = () => {
      for (const u of undo.splice(0).reverse()) u();
    };
    for (const c of changes) if (c.before) this.removeKeys(c.before, undo);

    const checker = Checker.forConfig(this.config);
    const out: Array<Subscriber | undefined> = [];
    try {
      for (const c of changes) {
        if (c.after === undefined) {
          out.push(undefined);
          continue;
        }
        const at = c.at();
        const s = checker.parseSubscriber(c.after, at);
        out.push(s);
        if (!s) continue;
        this.pending.set(s, at);
        const added: Array<[IndexedPrefix, Path]> = [];
        const keys: SubscriberKeys = {
          claim: (kind, key) => {
            const other = this.keys[kind].get(key);
            if (other !== undefined) return this.holder(other);
            this.setKey(kind, key, s);
            undo.push(() => this.deleteKey(kind, key));
            return undefined;
          },
          prefix: (e: PrefixEntry) => {
            for (const o of this.prefixes.ancestors(e.p)) {
              const problem = prefixConflict(o, e);
              if (problem !== undefined) {
                checker.report(e.path, problem);
                break;
              }
            }
            for (const d of this.prefixes.descendants(e.p)) {
              const problem = prefixConflict(e, d);
              if (problem !== undefined) checker.report(this.prefixPath(d), problem);
            }
            const last = e.path[e.path.length - 1];
            added.push([{ p: e.p, isp: e.isp, sub: e.sub, holder: s, k: typeof last === 'number' ? last : 0 }, e.path]);
          },
        };
        checker.checkSubscriber(s, at, c.after, keys);
        // Its own prefixes go in after they were checked against the others; the same prefix
        // listed twice is still reported, as the whole-config sweep does (one ISP: no overlap).
        for (const [e, path] of added) {
          const twin = this.prefixes.ancestors(e.p)[0];
          if (twin?.holder === s && twin.p.len === e.p.len) checker.report(path, prefixConflict(twin, e)!);
          else {
            this.prefixes.add(e);
            undo.push(() => this.prefixes.delete(e.p, s));
          }
        }
      }
    } finally {
      this.pending.clear();
    }
    let issues = checker.takeIssues();
    if (!issues.length) {
      // Only a change that adds entries can overflow; the first added subscriber is blamed.
      const first = changes.find((c) => c.after !== undefined);
      const path = first ? formatPath(['subscribers', first.at()]) : 'subscribers';
      issues = this.overflows().map((o) => ({ path, message: overflowMessage(o.table, o.entries, o.what) }));
    }
    if (issues.length) {
      rollback();
      return { ok: false, issues };
    }
    return { ok: true, subscribers: out, undo: rollback };
  }
}
