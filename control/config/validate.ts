// Validation of a whole configuration: first the shape of the document and of every element
// (./schema.ts), then the references between elements. Every mistake is collected; nothing
// stops at the first one. An element whose shape is wrong is still known by its name, so a
// reference to it is not reported a second time as "unknown".

import type { z } from 'zod';
import { comparePrefixes, contains, parsePrefix, type ParsedPrefix } from './addr.js';
import { capacityIssues } from './capacity.js';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { ldpSchema, type LdpConfig } from './ldp.js';
import { documentSchema, fastSubscriber, interfaceSchema, ispSchema, labelBindingSchema, sessionsSchema, subscriberSchema } from './schema.js';
import {
  neighbourMac,
  resolveDelivery,
  resolveIsp,
  type Config,
  type Interface,
  type Isp,
  type IspRef,
  type LabelBinding,
  type NextHopRef,
  type Role,
  type Subscriber,
} from './types.js';

export type Path = Array<string | number>;

const SECTIONS = ['node', 'ttlMode', 'unknownSubscriber', 'interfaces', 'isps', 'subscribers', 'ilm', 'sessions', 'icmp', 'ldp'];

interface Parsed<T> {
  index: number;
  value: T;
  raw: unknown;
}

/** Validates API or file input; throws ConfigError listing every problem. */
export function validateConfig(input: unknown, source?: string): Config {
  const r = checkConfig(input);
  if (!r.config) throw new ConfigError(r.issues, source);
  return r.config;
}

/** Like validateConfig, but returns the issues instead of throwing. */
export function checkConfig(input: unknown): { config?: Config; issues: ConfigIssue[] } {
  const c = new Checker();
  return c.run(input);
}

function get(raw: unknown, ...path: Path): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

/** The path of item k of a field that may have been written as a single item. */
function itemPath(base: Path, raw: unknown, k: number): Path {
  return Array.isArray(raw) ? [...base, k] : base;
}

/** A subscriber that holds a key (its name, MAC, VLAN, delivered address). */
export interface Holder {
  name: string;
  /** its position in subscribers[] (computed when a message needs it) */
  index(): number;
}

export interface PrefixEntry {
  p: ParsedPrefix;
  isp: Isp;
  sub: string;
  path: Path;
}

/** The keys the other subscribers hold, as the per-subscriber rules see them. */
export interface SubscriberKeys {
  /** the subscriber already holding key, or undefined after recording `holder` as its holder */
  claim(kind: 'name' | 'mac' | 'vlan' | 'down', key: string, holder: Holder): Holder | undefined;
  /** a classifier prefix, checked for duplicates and cross-ISP overlaps */
  prefix(e: PrefixEntry): void;
}

export function vlanKey(i: Interface, mv: { outer: number; inner?: number }): string {
  return `${i.device}/${mv.outer}/${mv.inner ?? 0}`;
}

export function downKey(isp: number, address: string): string {
  return `${isp} ${address}`;
}

/**
 * The problem with prefix `e` given `o`, which contains it (or equals it) and comes first:
 * the same prefix twice, or prefixes of different ISPs that overlap. Undefined if none.
 */
export function prefixConflict(o: Omit<PrefixEntry, 'path'>, e: Omit<PrefixEntry, 'path'>): string | undefined {
  if (o.p.len === e.p.len) return `prefix ${e.p.text} already matches subscriber '${o.sub}'`;
  if (o.isp.id !== e.isp.id) {
    return `prefix ${e.p.text} (ISP '${e.isp.name}') overlaps ${o.p.text} of subscriber '${o.sub}' (ISP '${o.isp.name}'); prefixes of different ISPs must not overlap`;
  }
  return undefined;
}

export class Checker {
  private found: Array<{ path: Path; message: string }> = [];
  private ifaces = new Map<string, Interface>();
  private brokenIfaces = new Set<string>();
  private isps: Isp[] = [];
  private brokenIsps = new Set<string | number>();

  /** A checker that knows a valid running config's interfaces and ISPs (./incremental.ts). */
  static forConfig(config: Config): Checker {
    const c = new Checker();
    for (const i of config.interfaces) c.ifaces.set(i.name, i);
    // the config's own list (never changed here): resolveIsp's index of it is kept
    c.isps = config.isps as Isp[];
    return c;
  }

  /** The issues found so far, in document order; the checker starts over. */
  takeIssues(): ConfigIssue[] {
    const out = this.issues;
    this.found = [];
    return out;
  }

  /** One subscriber as written, through the same fast path and schema as a whole config. */
  parseSubscriber(raw: unknown, index: number): Subscriber | undefined {
    const quick = fastSubscriber(raw);
    if (quick !== undefined) return quick;
    const r = subscriberSchema.safeParse(raw);
    if (r.success) return r.data;
    this.zodIssues(['subscribers', index], r.error);
    return undefined;
  }

  /** Records a problem found outside the per-element rules (./incremental.ts's prefix index). */
  report(path: Path, message: string): void {
    this.issue(path, message);
  }

  private issue(path: Path, message: string): void {
    this.found.push({ path, message });
  }

  /** Issues in document order: by section, then element; within an element as found. */
  private get issues(): ConfigIssue[] {
    const rank = (p: Path): [number, number] => {
      const s = SECTIONS.indexOf(String(p[0]));
      return [s < 0 ? SECTIONS.length : s, typeof p[1] === 'number' ? p[1] : -1];
    };
    return this.found
      .map((f, i) => ({ f, i, r: rank(f.path) }))
      .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
      .map(({ f }) => ({ path: formatPath(f.path), message: f.message }));
  }

  private zodIssues(base: Path, err: z.ZodError): void {
    for (const i of err.issues) {
      // An unknown key is reported where it is, not on the object around it.
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys) this.issue([...base, ...i.path, k], `unknown field '${k}'`);
      } else {
        this.issue([...base, ...i.path], i.message);
      }
    }
  }

  private elements<T>(
    key: string,
    raw: unknown,
    schema: z.ZodType<T, z.ZodTypeDef, unknown>,
    broken: (raw: unknown, index: number) => void,
    fast?: (raw: unknown) => T | undefined,
  ): Array<Parsed<T>> {
    if (!Array.isArray(raw)) return [];
    const out: Array<Parsed<T>> = [];
    raw.forEach((item, index) => {
      const quick = fast?.(item);
      if (quick !== undefined) {
        out.push({ index, value: quick, raw: item });
        return;
      }
      const r = schema.safeParse(item);
      if (r.success) out.push({ index, value: r.data, raw: item });
      else {
        this.zodIssues([key, index], r.error);
        broken(item, index);
      }
    });
    return out;
  }

  run(input: unknown): { config?: Config; issues: ConfigIssue[] } {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      this.issue([], 'the configuration must be a mapping with node, interfaces, isps, subscribers and ilm');
      return { issues: this.issues };
    }
    const doc = documentSchema.safeParse(input);
    if (!doc.success) this.zodIssues([], doc.error);

    const raw = input as Record<string, unknown>;
    const brokenIfaceAt = new Map<number, string>();
    const brokenIspAt = new Map<number, { id: unknown; name: unknown }>();
    const interfaces = this.elements('interfaces', raw.interfaces, interfaceSchema, (r, index) => {
      const n = get(r, 'name');
      if (typeof n === 'string') {
        this.brokenIfaces.add(n);
        brokenIfaceAt.set(index, n);
      }
    });
    const isps = this.elements('isps', raw.isps, ispSchema, (r, index) => {
      brokenIspAt.set(index, { id: get(r, 'id'), name: get(r, 'name') });
      for (const k of ['id', 'name']) {
        const v = get(r, k);
        if (typeof v === 'string' || typeof v === 'number') this.brokenIsps.add(v);
      }
    });
    const subscribers = this.elements('subscribers', raw.subscribers, subscriberSchema, () => {}, fastSubscriber);
    const ilm = this.elements('ilm', raw.ilm, labelBindingSchema, () => {});

    this.checkInterfaces(interfaces, brokenIfaceAt);
    this.checkIsps(isps, brokenIspAt);
    this.checkSubscribers(subscribers);
    this.checkIlm(ilm);
    const sessions = raw.sessions === undefined ? undefined : sessionsSchema.safeParse(raw.sessions);
    if (sessions && !sessions.success) this.zodIssues(['sessions'], sessions.error);
    if (sessions?.success && sessions.data.walledGarden !== undefined) this.isp(['sessions', 'walledGarden'], sessions.data.walledGarden);
    const ldp = raw.ldp === undefined ? undefined : this.checkLdp(raw.ldp, interfaces.map((e) => e.value), isps.map((e) => e.value));

    if (this.found.length || !doc.success) return { issues: this.issues };
    const config: Config = {
      node: doc.data.node,
      ttlMode: doc.data.ttlMode,
      unknownSubscriber: doc.data.unknownSubscriber,
      interfaces: interfaces.map((e) => e.value),
      isps: isps.map((e) => e.value),
      subscribers: subscribers.map((e) => e.value),
      ilm: ilm.map((e) => e.value),
    };
    if (sessions?.success) config.sessions = sessions.data;
    if (doc.data.icmp) config.icmp = { rate: doc.data.icmp.rate, burst: doc.data.icmp.burst };
    if (ldp) config.ldp = ldp;
    // Sizes last: counting is only meaningful on a config whose references all resolve.
    const tooBig = capacityIssues(config);
    if (tooBig.length) return { issues: tooBig };
    return { issues: [], config };
  }

  private checkInterfaces(list: Array<Parsed<Interface>>, brokenAt: Map<number, string>): void {
    const byName = new Map<string, number>();
    // Duplicates among broken elements count too (the first one in the file wins).
    for (const [index, n] of brokenAt) {
      const first = list.find((e) => e.value.name === n && e.index < index);
      if (first) this.issue(['interfaces', index, 'name'], `duplicate interface name '${n}' (also interfaces[${first.index}])`);
      else if (!byName.has(n)) byName.set(n, index);
    }
    const byPort = new Map<string, Parsed<Interface>>();
    const byDevice = new Map<string, Array<Parsed<Interface>>>();
    for (const e of list) {
      const i = e.value;
      const prev = byName.get(i.name);
      if (prev !== undefined) {
        this.issue(['interfaces', e.index, 'name'], `duplicate interface name '${i.name}' (also interfaces[${prev}])`);
        continue;
      }
      byName.set(i.name, e.index);
      this.ifaces.set(i.name, i);
      if (i.vlan !== undefined && i.role !== 'isp') {
        this.issue(['interfaces', e.index, 'vlan'], `only isp interfaces can be a VLAN of a port; '${i.name}' is ${i.role}`);
      }
      const port = `${i.device}.${i.vlan ?? 0}`;
      const other = byPort.get(port);
      if (other) {
        const what = i.vlan === undefined ? 'untagged' : `VLAN ${i.vlan}`;
        this.issue(['interfaces', e.index], `interfaces '${other.value.name}' and '${i.name}' are both device ${i.device} ${what}`);
      } else byPort.set(port, e);
      byDevice.set(i.device, [...(byDevice.get(i.device) ?? []), e]);
    }
    for (const [device, members] of byDevice) {
      if (members.length < 2 || members.every((m) => m.value.role === 'isp')) continue;
      const names = members.map((m) => `'${m.value.name}' (${m.value.role})`).join(', ');
      for (const m of members) {
        if (m.value.role !== 'isp') {
          this.issue(['interfaces', m.index, 'device'], `device ${device} is shared by ${names}: only isp interfaces (VLANs of one port) can share a device`);
        }
      }
    }
  }

  /** The name of the node's access interface when it has exactly one. */
  private onlyAccessPort(): string | undefined {
    let found: string | undefined;
    for (const i of this.ifaces.values()) {
      if (i.role !== 'access') continue;
      if (found !== undefined) return undefined;
      found = i.name;
    }
    return found;
  }

  private isp(path: Path, ref: IspRef): Isp | undefined {
    const isp = resolveIsp(this.isps, ref);
    if (isp) return isp;
    const key = typeof ref === 'string' && /^\d+$/.test(ref) ? Number(ref) : ref;
    if (!this.brokenIsps.has(key)) this.issue(path, `unknown ISP '${ref}'`);
    return undefined;
  }

  /** The interface a reference names, if it exists and has one of the roles; reports otherwise. */
  private iface(path: Path, name: string, roles: Role[], purpose: string): Interface | undefined {
    const i = this.ifaces.get(name);
    if (!i) {
      if (!this.brokenIfaces.has(name)) this.issue(path, `unknown interface '${name}'`);
      return undefined;
    }
    if (!roles.includes(i.role)) {
      this.issue(path, `interface '${name}' is ${i.role}; ${purpose} must be on ${roles.join(' or ')} interfaces`);
      return undefined;
    }
    return i;
  }

  private nexthops(base: Path, rawList: unknown, refs: NextHopRef[], role: Role, purpose: string): void {
    const seen = new Set<string>();
    refs.forEach((ref, k) => {
      const p = itemPath(base, rawList, k);
      const i = this.iface([...p, 'interface'], ref.interface, [role], purpose);
      if (i && neighbourMac(i, ref.neighbour) === undefined) {
        const known = Object.keys(i.neighbours);
        this.issue(
          [...p, 'neighbour'],
          `unknown neighbour '${ref.neighbour}' on interface '${ref.interface}'${known.length ? ` (known: ${known.join(', ')})` : ' (it has no neighbours)'}`,
        );
      }
      const key = `${ref.interface}/${ref.neighbour}`;
      if (seen.has(key)) this.issue(p, `next hop ${key} is listed twice in one ECMP group`);
      seen.add(key);
    });
  }

  private checkIsps(list: Array<Parsed<Isp>>, brokenAt: Map<number, { id: unknown; name: unknown }>): void {
    const ids = new Map<number, number>();
    const names = new Map<string, number>();
    // Duplicates among broken elements count too (the first one in the file wins).
    for (const [index, b] of [...brokenAt].sort((x, y) => x[0] - y[0])) {
      const first = (pick: (i: Isp) => unknown, v: unknown) => list.find((e) => e.index < index && pick(e.value) === v);
      const fi = first((i) => i.id, b.id);
      const fn = first((i) => i.name, b.name);
      if (fi) this.issue(['isps', index, 'id'], `duplicate ISP id ${String(b.id)} (also isps[${fi.index}])`);
      else if (typeof b.id === 'number' && !ids.has(b.id)) ids.set(b.id, index);
      if (fn) this.issue(['isps', index, 'name'], `duplicate ISP name '${String(b.name)}' (also isps[${fn.index}])`);
      else if (typeof b.name === 'string' && !names.has(b.name)) names.set(b.name, index);
    }
    for (const e of list) {
      const isp = e.value;
      const a = ids.get(isp.id);
      const b = names.get(isp.name);
      if (a !== undefined) this.issue(['isps', e.index, 'id'], `duplicate ISP id ${isp.id} (also isps[${a}])`);
      if (b !== undefined) this.issue(['isps', e.index, 'name'], `duplicate ISP name '${isp.name}' (also isps[${b}])`);
      if (a === undefined && b === undefined) this.isps.push(isp);
      else {
        // a duplicate is reported once, here; references to it are not "unknown"
        this.brokenIsps.add(isp.id);
        this.brokenIsps.add(isp.name);
      }
      if (a === undefined) ids.set(isp.id, e.index);
      if (b === undefined) names.set(isp.name, e.index);
    }

    const ports = new Map<string, string>();
    for (const e of list) {
      const base: Path = ['isps', e.index];
      const isp = e.value;
      if (isp.upstream) {
        this.nexthops([...base, 'upstream', 'nexthop'], get(e.raw, 'upstream', 'nexthop'), isp.upstream.nexthop, 'core', 'upstream FEC next hops');
      }
      if (!isp.downstream) continue;
      isp.downstream.links.forEach((link, k) => {
        const p: Path = [...base, 'downstream', 'links', k];
        const i = this.iface([...p, 'interface'], link.interface, ['isp'], "an ISP's links");
        if (!i) return;
        if (link.vlan !== undefined && i.vlan !== undefined && link.vlan !== i.vlan) {
          this.issue([...p, 'vlan'], `link VLAN ${link.vlan} differs from interface '${i.name}' VLAN ${i.vlan}`);
          return;
        }
        const vid = link.vlan ?? i.vlan ?? 0;
        const port = `${i.device} ${vid ? `VLAN ${vid}` : 'untagged'}`;
        const owner = ports.get(port);
        if (owner !== undefined) this.issue(p, `port ${port} is already a link of ISP '${owner}'`);
        else ports.set(port, isp.name);
      });
      const prefixes = new Map<string, number>();
      isp.downstream.routes.forEach((route, k) => {
        const p: Path = [...base, 'downstream', 'routes', k];
        const prev = prefixes.get(route.prefix);
        if (prev !== undefined) this.issue([...p, 'prefix'], `duplicate route ${route.prefix} (also routes[${prev}])`);
        else prefixes.set(route.prefix, k);
        this.nexthops([...p, 'nexthop'], get(e.raw, 'downstream', 'routes', k, 'nexthop'), route.nexthop, 'core', 'ISP route next hops');
      });
    }
  }

  private checkSubscribers(list: Array<Parsed<Subscriber>>): void {
    const claimed = { name: new Map<string, Holder>(), mac: new Map<string, Holder>(), vlan: new Map<string, Holder>(), down: new Map<string, Holder>() };
    const prefixes: PrefixEntry[] = [];
    const keys: SubscriberKeys = {
      claim(kind, key, holder) {
        const other = claimed[kind].get(key);
        if (other === undefined) claimed[kind].set(key, holder);
        return other;
      },
      prefix(e) {
        prefixes.push(e);
      },
    };
    for (const e of list) this.checkSubscriber(e.value, e.index, e.raw, keys);
    this.checkOverlaps(prefixes);
  }

  /**
   * The rules of one subscriber against the others (whose keys `keys` holds): the whole-config
   * check runs it on every subscriber, and an incremental change on the changed ones only.
   */
  checkSubscriber(s: Subscriber, index: number, raw: unknown, keys: SubscriberKeys): void {
    const base: Path = ['subscribers', index];
    const me: Holder = { name: s.name, index: () => index };
    const prev = keys.claim('name', s.name, me);
    if (prev !== undefined) this.issue([...base, 'name'], `duplicate subscriber name '${s.name}' (also subscribers[${prev.index()}])`);
    const isp = this.isp([...base, 'isp'], s.isp);

    if (s.match.mac) {
      const other = keys.claim('mac', s.match.mac, me);
      if (other !== undefined) this.issue([...base, 'match', 'mac'], `MAC ${s.match.mac} already matches subscriber '${other.name}'`);
    }
    const mv = s.match.vlan;
    if (mv) {
      const i = this.iface([...base, 'match', 'vlan', 'interface'], mv.interface, ['access'], 'VLAN matches');
      if (i) {
        const other = keys.claim('vlan', vlanKey(i, mv), me);
        const tag = `${mv.outer}${mv.inner !== undefined ? `.${mv.inner}` : ''}`;
        if (other !== undefined) this.issue([...base, 'match', 'vlan'], `VLAN ${tag} on ${i.device} already matches subscriber '${other.name}'`);
      }
    }
    s.match.prefix?.forEach((text, k) => {
      const p = parsePrefix(text);
      if (p.ok && isp) keys.prefix({ p: p.value, isp, sub: s.name, path: itemPath([...base, 'match', 'prefix'], get(raw, 'match', 'prefix'), k) });
    });

    // A MAC or prefix match is honoured only on the subscriber's access line (DESIGN.md): the
    // port must be known, from match.vlan, deliver.interface, or the node's only access port.
    if ((s.match.mac !== undefined || s.match.prefix !== undefined) && !s.match.vlan && s.deliver?.interface === undefined && !this.onlyAccessPort()) {
      const n = [...this.ifaces.values()].filter((i) => i.role === 'access').length;
      this.issue([...base, 'match'], `a match by MAC or prefix holds only on the subscriber's access port: name it in deliver.interface (or match.vlan); this node has ${n} access interfaces`);
    }

    const d = resolveDelivery(s);
    if (!d) return;
    const dp: Path = [...base, 'deliver'];
    if (d.interface === undefined) this.issue([...dp, 'interface'], 'deliver needs an interface (or a match.vlan to take it from)');
    // an interface taken from match.vlan was checked there
    else if (s.deliver!.interface !== undefined) this.iface([...dp, 'interface'], d.interface, ['access'], 'subscriber delivery');
    if (d.mac === undefined) this.issue([...dp, 'mac'], "deliver needs the subscriber's MAC (or a match.mac to take it from)");
    if (!d.addresses?.length) this.issue([...dp, 'addresses'], "deliver needs the subscriber's addresses (or a match.prefix to take them from)");
    else if (isp) {
      const rawAddrs = s.deliver!.addresses !== undefined ? get(raw, 'deliver', 'addresses') : get(raw, 'match', 'prefix');
      const at: Path = s.deliver!.addresses !== undefined ? [...dp, 'addresses'] : [...base, 'match', 'prefix'];
      d.addresses.forEach((a, k) => {
        const other = keys.claim('down', downKey(isp.id, a), me);
        if (other !== undefined) this.issue(itemPath(at, rawAddrs, k), `address ${a} of ISP '${isp.name}' is already delivered to subscriber '${other.name}'`);
      });
    }
  }

  /** Subscriber prefixes: a sweep over the sorted list finds duplicates and cross-ISP overlaps. */
  private checkOverlaps(entries: PrefixEntry[]): void {
    entries.sort((a, b) => comparePrefixes(a.p, b.p));
    const stack: typeof entries = [];
    for (const e of entries) {
      while (stack.length && !contains(stack[stack.length - 1]!.p, e.p)) stack.pop();
      for (let k = stack.length - 1; k >= 0; k--) {
        const o = stack[k]!;
        const problem = prefixConflict(o, e);
        if (problem !== undefined) {
          this.issue(e.path, problem);
          break;
        }
      }
      stack.push(e);
    }
  }

  /** isp and direction of a transit label come together: a count needs both. */
  private transitCount(base: Path, b: { isp?: IspRef; direction?: 'up' | 'down' }): void {
    if (b.isp !== undefined) this.isp([...base, 'isp'], b.isp);
    if (b.isp !== undefined && b.direction === undefined) this.issue([...base, 'direction'], "direction ('up' or 'down') is required with isp: it says which counter the label's traffic goes to");
    if (b.isp === undefined && b.direction !== undefined) this.issue([...base, 'isp'], 'isp is required with direction: the ISP whose traffic the label carries');
  }

  /** The `ldp:` section: its shape, then its interfaces (core ones of this file) and ISPs. */
  private checkLdp(input: unknown, interfaces: Interface[], isps: Isp[]): LdpConfig | undefined {
    const r = ldpSchema.safeParse(input);
    if (!r.success) {
      this.zodIssues(['ldp'], r.error);
      return undefined;
    }
    const l = r.data;
    l.interfaces.forEach((n, k) => {
      const i = interfaces.find((x) => x.name === n);
      if (!i) {
        if (!this.brokenIfaces.has(n)) this.issue(['ldp', 'interfaces', k], `unknown interface '${n}'`);
      } else if (i.role !== 'core') this.issue(['ldp', 'interfaces', k], `LDP runs on core interfaces; '${n}' has role ${i.role}`);
    });
    for (const name of Object.keys(l.fecs)) {
      if (!isps.some((i) => i.name === name) && !this.brokenIsps.has(name)) this.issue(['ldp', 'fecs', name], `unknown ISP '${name}' (fecs are keyed by ISP name)`);
    }
    return l;
  }

  private checkIlm(list: Array<Parsed<LabelBinding>>): void {
    const labels = new Map<number, number>();
    const linkOwners = new Map<string, Set<number>>();
    for (const isp of this.isps) {
      for (const l of isp.downstream?.links ?? []) {
        linkOwners.set(l.interface, (linkOwners.get(l.interface) ?? new Set()).add(isp.id));
      }
    }
    for (const e of list) {
      const b = e.value;
      const base: Path = ['ilm', e.index];
      const prev = labels.get(b.label);
      if (prev !== undefined) this.issue([...base, 'label'], `duplicate incoming label ${b.label} (also ilm[${prev}])`);
      else labels.set(b.label, e.index);
      const rawNh = get(e.raw, 'nexthop');
      switch (b.action) {
        case 'swap':
          this.nexthops([...base, 'nexthop'], rawNh, b.nexthop, 'core', 'swap next hops');
          this.transitCount(base, b);
          break;
        case 'pop-forward':
          this.nexthops([...base, 'nexthop'], rawNh, b.nexthop, 'core', 'pop-forward next hops');
          this.transitCount(base, b);
          break;
        case 'pop-to-isp': {
          const isp = this.isp([...base, 'isp'], b.isp);
          this.nexthops([...base, 'nexthop'], rawNh, b.nexthop, 'isp', 'pop-to-isp next hops');
          if (!isp) break;
          b.nexthop.forEach((ref, k) => {
            const owners = linkOwners.get(ref.interface);
            if (owners && !owners.has(isp.id)) {
              this.issue([...itemPath([...base, 'nexthop'], rawNh, k), 'interface'], `interface '${ref.interface}' is a link of another ISP, not of '${isp.name}'`);
            }
          });
          break;
        }
        case 'pop-to-subscriber':
          this.isp([...base, 'isp'], b.isp);
          break;
        case 'pop-continue':
          break;
      }
    }
  }
}
