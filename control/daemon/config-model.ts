// The API's edits over control/config's document shape: ISPs in `isps[]` (id, name, policer),
// subscribers in `subscribers[]` (name, isp, match {mac, vlan {interface, outer, inner},
// prefix[]}). Edits work on the raw document (what the operator wrote, before defaults), so
// what is persisted stays close to the file they wrote; the schema then checks the result.
import { parseRate } from '../config/units.js';
import { MAX_ISPS } from '../tables/types.js';
import { conflict, invalid, notFound } from './errors.js';
import {
  countBelow,
  matchKey,
  type ConfigModel,
  type Direction,
  type ImportSummary,
  type IspView,
  type RateLimit,
  type RawSubscriberChange,
  type Subscriber,
  type SubscriberEdit,
  type SubscriberMatch,
} from './model.js';
import type { InterfaceRole, Role } from './ports.js';

type Obj = Record<string, any>;

const asObj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
function list(raw: unknown, key: string): Obj[] {
  const doc = asObj(raw);
  if (!Array.isArray(doc[key])) doc[key] = [];
  return doc[key] as Obj[];
}

function ispOf(isps: Obj[], ref: unknown): Obj | undefined {
  if (typeof ref === 'number' || (typeof ref === 'string' && /^\d+$/.test(ref))) return isps.find((i) => Number(i.id) === Number(ref));
  return isps.find((i) => i.name === ref);
}

function ispByName(raw: unknown, name: string): Obj {
  const isp = ispOf(list(raw, 'isps'), name);
  if (!isp) throw notFound(`no ISP named '${name}'`);
  return isp;
}

/** Every match key a config subscriber answers to (its MAC, its VLAN, each prefix). */
function keysOf(sub: Obj): string[] {
  const m = asObj(sub.match);
  const keys: string[] = [];
  if (typeof m.mac === 'string') keys.push(matchKey({ mac: m.mac }));
  if (m.vlan && typeof m.vlan === 'object') {
    keys.push(matchKey({ vlan: { interface: String(m.vlan.interface), outer: Number(m.vlan.outer), ...(m.vlan.inner !== undefined ? { inner: Number(m.vlan.inner) } : {}) } }));
  }
  const prefixes = Array.isArray(m.prefix) ? m.prefix : m.prefix !== undefined ? [m.prefix] : [];
  for (const p of prefixes) keys.push(matchKey({ prefix: normPrefix(String(p)) }));
  return keys;
}

/** A bare address is a host prefix; the schema canonicalises the rest. */
function normPrefix(p: string): string {
  const s = p.trim().toLowerCase();
  return s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`;
}

function keyOf(m: SubscriberMatch): string {
  return 'prefix' in m ? matchKey({ prefix: normPrefix(m.prefix) }) : matchKey(m);
}

function primaryMatch(sub: Obj): SubscriberMatch {
  const m = asObj(sub.match);
  if (typeof m.mac === 'string') return { mac: m.mac.toLowerCase() };
  if (m.vlan && typeof m.vlan === 'object') {
    const v = m.vlan;
    return { vlan: { interface: String(v.interface), outer: Number(v.outer), ...(v.inner !== undefined ? { inner: Number(v.inner) } : {}) } };
  }
  const prefixes = Array.isArray(m.prefix) ? m.prefix : [m.prefix];
  return { prefix: prefixes.map(String).join(',') };
}

/** A subscriber name from its match, e.g. mac-aabbccddeeff, vlan-eth1-100-20. */
function nameFor(m: SubscriberMatch): string {
  if ('mac' in m) return `mac-${m.mac.replace(/:/g, '')}`;
  if ('vlan' in m) return `vlan-${m.vlan.interface}-${m.vlan.outer}${m.vlan.inner ? `-${m.vlan.inner}` : ''}`;
  return `prefix-${m.prefix.replace(/\//g, '-').replace(/:/g, '.')}`.slice(0, 63);
}

/** The router file's document for a new subscriber. */
function docOf(name: string, sub: Subscriber): Obj {
  const doc: Obj = { name, isp: sub.isp, match: configMatch(sub.match) };
  if (sub.deliver) doc.deliver = sub.deliver;
  if (sub.rate) doc.rate = sub.rate;
  return doc;
}

/** An existing subscriber's document with a new ISP (and delivery, when one is given). */
function withChanges(old: Obj, sub: Subscriber): Obj {
  const doc: Obj = { ...old, isp: sub.isp };
  if (sub.deliver) doc.deliver = sub.deliver;
  if (sub.rate === null) delete doc.rate;
  else if (sub.rate) doc.rate = sub.rate;
  return doc;
}

function configMatch(m: SubscriberMatch): Obj {
  if ('mac' in m) return { mac: m.mac };
  if ('vlan' in m) return { vlan: { interface: m.vlan.interface, outer: m.vlan.outer, ...(m.vlan.inner !== undefined ? { inner: m.vlan.inner } : {}) } };
  return { prefix: [m.prefix] };
}

/** Match key -> position in subscribers[], and the names taken, of one raw subscribers array. */
interface RawIndex {
  byKey: Map<string, number>;
  names: Set<string>;
  byName: Map<string, number>;
}

// Kept per array while edits change it: appends and replacements update it, a removal moves it
// to the new array with the positions after the removed ones shifted.
const indexes = new WeakMap<Obj[], RawIndex>();

function index(subs: Obj[]): RawIndex {
  let idx = indexes.get(subs);
  if (!idx) {
    idx = { byKey: new Map(), names: new Set(), byName: new Map() };
    for (let i = 0; i < subs.length; i++) {
      for (const k of keysOf(subs[i]!)) idx.byKey.set(k, i);
      idx.names.add(String(subs[i]!.name));
      idx.byName.set(String(subs[i]!.name), i);
    }
    indexes.set(subs, idx);
  }
  return idx;
}

/** Makes positional changes in subscribers[]: replacements, then removals, then appends. */
function applyChanges(raw: unknown, changes: RawSubscriberChange[]): void {
  const subs = list(raw, 'subscribers');
  const idx = indexes.get(subs);
  let removed = false;
  for (const c of changes) {
    if (c.index !== undefined && c.after) {
      const was = String(subs[c.index]!.name);
      if (idx && was !== String(c.after.name)) {
        idx.names.delete(was);
        idx.byName.delete(was);
        idx.names.add(String(c.after.name));
        idx.byName.set(String(c.after.name), c.index);
      }
      subs[c.index] = c.after;
    } else if (c.index !== undefined) removed = true;
  }
  let out = subs;
  if (removed) {
    const gone = new Set(changes.filter((c) => c.index !== undefined && !c.after).map((c) => c.index!));
    out = subs.filter((_s, i) => !gone.has(i));
    asObj(raw).subscribers = out;
    if (idx) {
      shiftIndex(idx, subs, gone);
      indexes.set(out, idx);
    }
  }
  const keep = idx;
  for (const c of changes) {
    if (c.index !== undefined) continue;
    out.push(c.after!);
    if (keep) {
      for (const k of keysOf(c.after!)) keep.byKey.set(k, out.length - 1);
      keep.names.add(String(c.after!.name));
      keep.byName.set(String(c.after!.name), out.length - 1);
    }
  }
}

/** The index of `subs` made to fit the array without the positions in `gone`: one pass. */
function shiftIndex(idx: RawIndex, subs: Obj[], gone: ReadonlySet<number>): void {
  const order = [...gone].sort((a, b) => a - b);
  for (const [k, i] of idx.byKey) {
    if (gone.has(i)) idx.byKey.delete(k);
    else if (i > order[0]!) idx.byKey.set(k, i - countBelow(order, i));
  }
  for (const i of gone) {
    idx.names.delete(String(subs[i]!.name));
    idx.byName.delete(String(subs[i]!.name));
  }
  for (const [n, i] of idx.byName) if (i > order[0]!) idx.byName.set(n, i - countBelow(order, i));
}

function planEdit(raw: unknown, changes: RawSubscriberChange[], summary?: ImportSummary): SubscriberEdit {
  return { changes, ...(summary ? { summary } : {}), apply: () => applyChanges(raw, changes) };
}

function ispNameOf(isps: Obj[], ref: unknown): string {
  return (ispOf(isps, ref)?.name as string | undefined) ?? String(ref);
}

function uniqueName(taken: ReadonlySet<string>, fresh: Set<string>, base: string): string {
  let name = base;
  for (let n = 2; taken.has(name) || fresh.has(name); n++) name = `${base}-${n}`;
  fresh.add(name);
  return name;
}

/** Default burst: 10 ms at the rate, and at least ten full frames. */
function defaultBurst(rate: string | number): number | undefined {
  const r = parseRate(rate);
  if (!r.ok) return undefined;
  return Math.max(15_180, Math.ceil(r.value / 8 / 100));
}

export const configModel: ConfigModel = {
  node(raw) {
    return String(asObj(raw).node ?? '');
  },

  interfaces(raw) {
    return list(raw, 'interfaces').map((i): InterfaceRole => ({ ifname: String(i.device ?? i.name), role: i.role as Role }));
  },

  ispNames(raw) {
    return new Map(list(raw, 'isps').map((i) => [Number(i.id), String(i.name)]));
  },

  subscriberCount(raw) {
    return list(raw, 'subscribers').length;
  },

  isps(raw) {
    const isps = list(raw, 'isps');
    // subscribers name their ISP by name or id: count per reference, then resolve each once
    const perRef = new Map<unknown, number>();
    for (const s of list(raw, 'subscribers')) perRef.set(s.isp, (perRef.get(s.isp) ?? 0) + 1);
    const counts = new Map<string, number>();
    for (const [ref, n] of perRef) {
      const name = ispNameOf(isps, ref);
      counts.set(name, (counts.get(name) ?? 0) + n);
    }
    return isps.map((i): IspView => {
      const pol = asObj(i.policer);
      const view: IspView = { name: String(i.name), index: Number(i.id), subscribers: counts.get(String(i.name)) ?? 0, spec: i };
      if (pol.up) view.up = { rate: pol.up.rate, burst: pol.up.burst };
      if (pol.down) view.down = { rate: pol.down.rate, burst: pol.down.burst };
      return view;
    });
  },

  addIsp(raw, isp) {
    const isps = list(raw, 'isps');
    if (isps.some((i) => i.name === isp.name)) throw conflict(`an ISP named '${String(isp.name)}' already exists`);
    const spec: Obj = { ...isp };
    if (spec.id === undefined) {
      const used = new Set(isps.map((i) => Number(i.id)));
      let id = 1;
      while (used.has(id) && id < MAX_ISPS) id++;
      if (id >= MAX_ISPS) throw conflict(`no free ISP id left (1..${MAX_ISPS - 1})`);
      spec.id = id;
    } else if (isps.some((i) => Number(i.id) === Number(spec.id))) {
      throw conflict(`ISP id ${String(spec.id)} is already used by '${String(ispOf(isps, spec.id)?.name)}'`);
    }
    // id first, as operators write it
    const { id, name, ...rest } = spec;
    isps.push({ id, name, ...rest });
  },

  removeIsp(raw, name, { force }) {
    const isps = list(raw, 'isps');
    const isp = ispByName(raw, name);
    const subs = list(raw, 'subscribers');
    const mine = (s: Obj) => ispOf(isps, s.isp) === isp;
    const n = subs.filter(mine).length;
    if (n > 0 && !force) throw conflict(`ISP '${name}' still has ${n} subscriber(s): move them first, or remove with --force to drop them too`);
    if (n > 0) asObj(raw).subscribers = subs.filter((s) => !mine(s));
    isps.splice(isps.indexOf(isp), 1);
  },

  setRate(raw, name, direction: Direction, limit: RateLimit | null) {
    const isp = ispByName(raw, name);
    const pol = (isp.policer = asObj(isp.policer));
    if (limit === null) {
      delete pol[direction];
      if (Object.keys(pol).length === 0) delete isp.policer;
      return;
    }
    const burst = limit.burst ?? pol[direction]?.burst ?? defaultBurst(limit.rate);
    if (burst === undefined) throw invalid('invalid rate', [{ path: `rate`, message: `malformed rate '${limit.rate}' (e.g. 100Mbit)` }]);
    pol[direction] = { rate: limit.rate, burst };
  },

  subscribers(raw) {
    const isps = list(raw, 'isps');
    return list(raw, 'subscribers').map((s): Subscriber => {
      const out: Subscriber = { name: String(s.name), match: primaryMatch(s), isp: ispNameOf(isps, s.isp) };
      if (s.deliver && typeof s.deliver === 'object') out.deliver = s.deliver as Subscriber['deliver'];
      if (s.rate && typeof s.rate === 'object') out.rate = s.rate as Subscriber['rate'];
      return out;
    });
  },

  assign(raw, sub) {
    configModel.planSubscriberEdit(raw, { op: 'assign', subscriber: sub }).apply();
  },

  move(raw, sub) {
    configModel.planSubscriberEdit(raw, { op: 'move', subscriber: sub }).apply();
  },

  remove(raw, match) {
    configModel.planSubscriberEdit(raw, { op: 'remove', match }).apply();
  },

  importMany(raw, rows, { replace }) {
    const e = configModel.planSubscriberEdit(raw, { op: 'import', subscribers: rows, replace });
    e.apply();
    return e.summary!;
  },

  warm(raw) {
    index(list(raw, 'subscribers'));
  },

  planSubscriberEdit(raw, op) {
    const isps = list(raw, 'isps');
    const subs = list(raw, 'subscribers');
    const idx = index(subs);
    switch (op.op) {
      case 'assign': {
        const sub = op.subscriber;
        ispByName(raw, sub.isp);
        const at = idx.byKey.get(keyOf(sub.match));
        if (at !== undefined) {
          throw conflict(`${keyOf(sub.match)} is already subscriber '${String(subs[at]!.name)}' of ${ispNameOf(isps, subs[at]!.isp)}: use move`);
        }
        if (sub.name !== undefined && idx.names.has(sub.name)) throw conflict(`a subscriber named '${sub.name}' already exists`);
        const name = sub.name ?? uniqueName(idx.names, new Set(), nameFor(sub.match));
        return planEdit(raw, [{ after: docOf(name, sub) }]);
      }
      case 'move': {
        const sub = op.subscriber;
        ispByName(raw, sub.isp);
        const at = idx.byKey.get(keyOf(sub.match));
        if (at === undefined) throw notFound(`no subscriber matches ${keyOf(sub.match)}: use assign to add one`);
        return planEdit(raw, [{ index: at, after: withChanges(subs[at]!, sub) }]);
      }
      case 'patch': {
        const changes: RawSubscriberChange[] = [];
        const seen = new Set<number>();
        for (const p of op.patches) {
          const at = idx.byName.get(p.name);
          if (at === undefined) throw notFound(`no subscriber named '${p.name}'`);
          if (seen.has(at)) throw conflict(`subscriber '${p.name}' is patched twice in one change`);
          seen.add(at);
          const doc: Obj = { ...subs[at]! };
          for (const [k, v] of Object.entries(p.set)) {
            if (k === 'name' || k === 'match') throw invalid(`a patch cannot change a subscriber's ${k}`);
            if (v === undefined) delete doc[k];
            else doc[k] = v;
          }
          changes.push({ index: at, after: doc });
        }
        return planEdit(raw, changes);
      }
      case 'remove': {
        const at = idx.byKey.get(keyOf(op.match));
        if (at === undefined) throw notFound(`no subscriber matches ${keyOf(op.match)}`);
        return planEdit(raw, [{ index: at }]);
      }
      case 'import': {
        const rows = op.subscribers;
        const seen = new Map<string, number>();
        const issues: Array<{ path: string; message: string }> = [];
        rows.forEach((r, i) => {
          const k = keyOf(r.match);
          const prev = seen.get(k);
          if (prev !== undefined) issues.push({ path: `subscribers[${i}]`, message: `${k} is listed twice (also row ${prev + 1})` });
          seen.set(k, i);
          if (!ispOf(isps, r.isp)) issues.push({ path: `subscribers[${i}].isp`, message: `no ISP named '${r.isp}'` });
        });
        if (issues.length) throw invalid(`the import has ${issues.length} problem(s); nothing was changed`, issues.slice(0, 100));

        const fresh = new Set<string>();
        const touched = new Set<number>();
        const changes: RawSubscriberChange[] = [];
        const summary: ImportSummary = { added: 0, moved: 0, removed: 0, unchanged: 0 };
        for (const r of rows) {
          const at = idx.byKey.get(keyOf(r.match));
          if (at === undefined) {
            const name = r.name !== undefined && !idx.names.has(r.name) && !fresh.has(r.name) ? (fresh.add(r.name), r.name) : uniqueName(idx.names, fresh, nameFor(r.match));
            changes.push({ after: docOf(name, r) });
            summary.added++;
          } else {
            touched.add(at);
            const old = subs[at]!;
            const sameDeliver = r.deliver === undefined || JSON.stringify(old.deliver) === JSON.stringify(r.deliver);
            const sameRate = r.rate === undefined || JSON.stringify(old.rate ?? null) === JSON.stringify(r.rate);
            if (ispOf(isps, old.isp) === ispOf(isps, r.isp) && sameDeliver && sameRate) summary.unchanged++;
            else {
              changes.push({ index: at, after: withChanges(old, r) });
              summary.moved++;
            }
          }
        }
        if (op.replace) {
          for (let i = 0; i < subs.length; i++) {
            if (touched.has(i)) continue;
            changes.push({ index: i });
            summary.removed++;
          }
        }
        return planEdit(raw, changes, summary);
      }
    }
  },
};
