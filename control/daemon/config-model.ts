// The API's edits over control/config's document shape: ISPs in `isps[]` (id, name, policer),
// subscribers in `subscribers[]` (name, isp, match {mac, vlan {interface, outer, inner},
// prefix[]}). Edits work on the raw document (what the operator wrote, before defaults), so
// what is persisted stays close to the file they wrote; the schema then checks the result.
import { parseRate } from '../config/units.js';
import { MAX_ISPS } from '../tables/types.js';
import { conflict, invalid, notFound } from './errors.js';
import { matchKey, type ConfigModel, type Direction, type IspView, type RateLimit, type Subscriber, type SubscriberMatch } from './model.js';
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

function configMatch(m: SubscriberMatch): Obj {
  if ('mac' in m) return { mac: m.mac };
  if ('vlan' in m) return { vlan: { interface: m.vlan.interface, outer: m.vlan.outer, ...(m.vlan.inner !== undefined ? { inner: m.vlan.inner } : {}) } };
  return { prefix: [m.prefix] };
}

/** Index of match key -> subscriber position, built once per edit. */
function index(subs: Obj[]): Map<string, number> {
  const idx = new Map<string, number>();
  subs.forEach((s, i) => {
    for (const k of keysOf(s)) idx.set(k, i);
  });
  return idx;
}

function ispNameOf(isps: Obj[], ref: unknown): string {
  return (ispOf(isps, ref)?.name as string | undefined) ?? String(ref);
}

function uniqueName(taken: Set<string>, base: string): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
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

  isps(raw) {
    const isps = list(raw, 'isps');
    const counts = new Map<string, number>();
    for (const s of list(raw, 'subscribers')) {
      const n = ispNameOf(isps, s.isp);
      counts.set(n, (counts.get(n) ?? 0) + 1);
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
    return list(raw, 'subscribers').map((s): Subscriber => ({ name: String(s.name), match: primaryMatch(s), isp: ispNameOf(isps, s.isp) }));
  },

  assign(raw, sub) {
    const subs = list(raw, 'subscribers');
    ispByName(raw, sub.isp);
    const at = index(subs).get(keyOf(sub.match));
    if (at !== undefined) {
      throw conflict(`${keyOf(sub.match)} is already subscriber '${String(subs[at]!.name)}' of ${ispNameOf(list(raw, 'isps'), subs[at]!.isp)}: use move`);
    }
    const taken = new Set(subs.map((s) => String(s.name)));
    subs.push({ name: sub.name ?? uniqueName(taken, nameFor(sub.match)), isp: sub.isp, match: configMatch(sub.match) });
  },

  move(raw, sub) {
    const subs = list(raw, 'subscribers');
    ispByName(raw, sub.isp);
    const at = index(subs).get(keyOf(sub.match));
    if (at === undefined) throw notFound(`no subscriber matches ${keyOf(sub.match)}: use assign to add one`);
    subs[at]!.isp = sub.isp;
  },

  remove(raw, match) {
    const subs = list(raw, 'subscribers');
    const at = index(subs).get(keyOf(match));
    if (at === undefined) throw notFound(`no subscriber matches ${keyOf(match)}`);
    subs.splice(at, 1);
  },

  importMany(raw, rows, { replace }) {
    const isps = list(raw, 'isps');
    const subs = list(raw, 'subscribers');
    const idx = index(subs);
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

    const taken = new Set(subs.map((s) => String(s.name)));
    const touched = new Set<number>();
    let added = 0;
    let moved = 0;
    let unchanged = 0;
    for (const r of rows) {
      const at = idx.get(keyOf(r.match));
      if (at === undefined) {
        subs.push({ name: uniqueName(taken, nameFor(r.match)), isp: r.isp, match: configMatch(r.match) });
        touched.add(subs.length - 1);
        added++;
      } else {
        touched.add(at);
        if (ispOf(isps, subs[at]!.isp) === ispOf(isps, r.isp)) unchanged++;
        else {
          subs[at]!.isp = r.isp;
          moved++;
        }
      }
    }
    let removed = 0;
    if (replace) {
      const kept = subs.filter((_s, i) => touched.has(i));
      removed = subs.length - kept.length;
      asObj(raw).subscribers = kept;
    }
    return { added, moved, removed, unchanged };
  },
};
