// The compiler: a validated Config and the host's interfaces in, the desired content of every
// data-plane table out. A pure function — the environment (interface name → ifindex and MAC)
// is passed in, so the daemon gives it the real interfaces and tests give it fakes.

import { comparePrefixes, parsePrefix, type ParsedPrefix } from '../config/addr.js';
import {
  DEFAULT_ICMP,
  neighbourMac,
  resolveDelivery,
  resolveIsp,
  type Config,
  type FecConfig,
  type Interface,
  type Isp,
  type IspRef,
  type LabelBinding,
  type NextHopRef,
  type Subscriber,
} from '../config/types.js';
import {
  emptyTables,
  meterWord,
  policerIndex,
  subPolicerIndex,
  type Policer,
  type Fec,
  type IcmpSource,
  type IcmpSourceKey,
  type IlmEntry,
  type Mac,
  type NextHop,
  type ScopedPrefix,
  type SubClass,
  type SubRoute,
  type Tables,
  type VlanKey,
} from '../tables/types.js';
import { FF_MAX_NEXTHOPS, FF_MAX_NH_GROUPS } from '../tables/shared.gen.js';
import { assignIds } from './ids.js';

export interface InterfaceInfo {
  ifindex: number;
  mac: Mac;
}

/** What the compiler needs to know about the host: a device name's ifindex and MAC; and,
 * where the node meters subscribers, each subscriber's meter slot (1.., held by the registry so
 * it follows the subscriber across moves and restarts). Without meterSlot nothing is metered
 * and a subscriber's `rate` cannot be enforced (a compile error). */
export interface CompileEnv {
  resolve(device: string): InterfaceInfo | undefined;
  meterSlot?(subscriber: string): number;
}

/** An environment from a fixed table, for tests and for a daemon that listed the links once. */
export function staticEnv(devices: Record<string, InterfaceInfo>): CompileEnv {
  // a device may be called 'constructor': only the table's own entries exist
  return { resolve: (device) => (Object.hasOwn(devices, device) ? devices[device] : undefined) };
}

export class CompileError extends Error {
  override readonly name = 'CompileError';
  constructor(readonly problems: string[]) {
    super(`cannot compile the configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export interface Port {
  iface: Interface;
  info: InterfaceInfo;
}

function isV6(prefix: string): boolean {
  return prefix.includes(':');
}

function parseOrThrow(prefix: string): ParsedPrefix {
  const p = parsePrefix(prefix);
  if (!p.ok) throw new Error(`compile: invalid prefix ${prefix} in a validated config`);
  return p.value;
}

/** Sorts by (scope, prefix) with each prefix parsed once (lists may hold a million entries). */
function sortByPrefix<T>(list: T[], prefixOf: (e: T) => string, scopeOf: (e: T) => number = () => 0): T[] {
  const keyed = list.map((e) => ({ e, scope: scopeOf(e), p: parseOrThrow(prefixOf(e)) }));
  keyed.sort((a, b) => a.scope - b.scope || comparePrefixes(a.p, b.p));
  return keyed.map((k) => k.e);
}

const sortScoped = <V>(list: Array<[ScopedPrefix, V]>): Array<[ScopedPrefix, V]> =>
  sortByPrefix(list, (e) => e[0].prefix, (e) => e[0].isp);

/** The router's own address without its prefix length. */
function bareAddress(a: string): string {
  return a.split('/')[0]!;
}

export function compile(config: Config, env: CompileEnv): Tables {
  const problems: string[] = [];
  const ports = new Map<string, Port>();
  for (const iface of config.interfaces) {
    const info = env.resolve(iface.device);
    if (!info) problems.push(`interface '${iface.name}': device ${iface.device} does not exist on this host`);
    else ports.set(iface.name, { iface, info });
  }
  if (problems.length) throw new CompileError(problems);

  const port = (name: string): Port => {
    const p = ports.get(name);
    if (!p) throw new Error(`compile: unknown interface '${name}' in a validated config`);
    return p;
  };
  const ispId = (ref: IspRef): number => {
    const isp = resolveIsp(config.isps, ref);
    if (!isp) throw new Error(`compile: unknown ISP '${ref}' in a validated config`);
    return isp.id;
  };

  // Next hops and groups: collect every use, then number them by identity (./ids.ts).
  const nexthopByKey = new Map<string, NextHop>();
  const groupMembers = new Map<string, string[]>();
  const nhKey = (ref: NextHopRef): string => {
    const { iface, info } = port(ref.interface);
    const dmac = neighbourMac(iface, ref.neighbour);
    if (dmac === undefined) throw new Error(`compile: unknown neighbour '${ref.neighbour}' on '${iface.name}' in a validated config`);
    const vid = iface.vlan ?? 0;
    const key = `${iface.device}.${vid}>${dmac}`;
    nexthopByKey.set(key, { ifindex: info.ifindex, mtu: iface.mtu, vid, dmac, smac: info.mac });
    return key;
  };
  const groupKey = (refs: NextHopRef[]): string => {
    const members = [...new Set(refs.map(nhKey))].sort();
    const key = members.join(',');
    groupMembers.set(key, members);
    return key;
  };

  // First pass: group keys for everything that points at a group.
  const fecGroup = new Map<FecConfig, string>();
  const bindingGroup = new Map<LabelBinding, string>();
  for (const isp of config.isps) {
    if (isp.upstream) fecGroup.set(isp.upstream, groupKey(isp.upstream.nexthop));
    for (const r of isp.downstream?.routes ?? []) fecGroup.set(r, groupKey(r.nexthop));
  }
  for (const b of config.ilm) {
    if ('nexthop' in b) bindingGroup.set(b, groupKey(b.nexthop));
  }
  // id 0 means "none" in the data plane, so each table has one id fewer than entries
  const nhIds = assignIds(nexthopByKey.keys(), FF_MAX_NEXTHOPS - 1);
  const groupIds = assignIds(groupMembers.keys(), FF_MAX_NH_GROUPS - 1);

  const t = emptyTables();
  t.settings = { ttlMode: config.ttlMode, unknownPolicy: config.unknownSubscriber };

  for (const [key, id] of [...nhIds].sort((a, b) => a[1] - b[1])) {
    const nh = nexthopByKey.get(key)!;
    t.nexthops.set(id, nh);
    t.txPorts.add(nh.ifindex);
  }
  for (const [key, id] of [...groupIds].sort((a, b) => a[1] - b[1])) {
    t.nhGroups.set(id, { nexthops: groupMembers.get(key)!.map((k) => nhIds.get(k)!) });
  }
  const fec = (f: FecConfig): Fec => ({ labels: [...f.labels], tc: f.tc, nhGroup: groupIds.get(fecGroup.get(f)!)! });

  const isps = [...config.isps].sort((a, b) => a.id - b.id);
  for (const isp of isps) {
    if (isp.upstream) t.fecUp.set(isp.id, fec(isp.upstream));
    for (const dir of ['up', 'down'] as const) {
      const limit = isp.policer[dir];
      if (limit) t.policers.set(policerIndex(isp.id, dir), { rate: BigInt(Math.floor(limit.rate / 8)), burst: BigInt(limit.burst) });
    }
    compileDownstream(isp, port, fec, t);
  }

  for (const b of [...config.ilm].sort((x, y) => x.label - y.label)) {
    t.ilm.set(b.label, ilmEntry(b, ispId, groupIds.get(bindingGroup.get(b) ?? '')));
  }

  compileSubscribers(config, port, ispId, t, env.meterSlot?.bind(env));

  const locals = config.interfaces.flatMap((i) => i.addresses.map(bareAddress));
  for (const a of [...new Set(locals)].sort()) t.local.add(a);
  compileIcmp(config, ports, t);

  t.txPorts = new Set([...t.txPorts].sort((a, b) => a - b));
  return t;
}

/**
 * ICMP errors: the node's token bucket, and the address each port sends them from — its own
 * first address of the family, or for a port without one (unnumbered) the node's lowest address
 * of the family on any port; link-local IPv6 addresses never (an error must reach beyond the
 * link). An ISP link that is a VLAN of its device is keyed by that VLAN, as the isp program
 * looks it up.
 */
function compileIcmp(config: Config, ports: Map<string, Port>, t: Tables): void {
  t.icmpLimit = { ...(config.icmp ?? DEFAULT_ICMP) };
  const usable = (a: string, v6: boolean) => (a.includes(':') === v6 && !(v6 && /^fe[89ab]/i.test(a)) ? a : undefined);
  const first = (addrs: string[], v6: boolean) => addrs.map(bareAddress).find((a) => usable(a, v6));
  // the node's fallback is the lowest address of the family, whatever order the file lists ports in
  const all = config.interfaces.flatMap((i) => i.addresses.map(bareAddress)).sort();
  const node = { v4: first(all, false), v6: first(all, true) };
  const byKey = new Map<string, [IcmpSourceKey, IcmpSource]>();
  for (const { iface, info } of ports.values()) {
    const key = { ifindex: info.ifindex, vid: iface.role === 'isp' ? (iface.vlan ?? 0) : 0 };
    const src: IcmpSource = {};
    const v4 = first(iface.addresses, false) ?? node.v4;
    const v6 = first(iface.addresses, true) ?? node.v6;
    if (v4 !== undefined) src.v4 = v4;
    if (v6 !== undefined) src.v6 = v6;
    const k = `${key.ifindex}/${key.vid}`;
    if (!byKey.has(k) && (v4 !== undefined || v6 !== undefined)) byKey.set(k, [key, src]);
  }
  t.icmpSources = [...byKey.values()].sort((a, b) => a[0].ifindex - b[0].ifindex || a[0].vid - b[0].vid);
}

/** The transit counter of an LSR's label: its ISP's index and direction, if the binding names one. */
function transit(b: { isp?: IspRef; direction?: 'up' | 'down' }, ispId: (r: IspRef) => number): { isp?: number; direction?: 'up' | 'down' } {
  return b.isp === undefined ? {} : { isp: ispId(b.isp), direction: b.direction ?? 'up' };
}

function ilmEntry(b: LabelBinding, ispId: (r: IspRef) => number, group: number | undefined): IlmEntry {
  switch (b.action) {
    case 'swap':
      return { action: 'swap', labels: [...b.labels], tc: b.tc, nhGroup: group!, ...transit(b, ispId) };
    case 'pop-forward':
      return { action: 'pop-forward', nhGroup: group!, ...transit(b, ispId) };
    case 'pop-continue':
      return { action: 'pop-continue' };
    case 'pop-to-isp':
      return { action: 'pop-to-isp', isp: ispId(b.isp), nhGroup: group! };
    case 'pop-to-subscriber':
      return { action: 'pop-to-sub', isp: ispId(b.isp) };
  }
}

function compileDownstream(isp: Isp, port: (name: string) => Port, fec: (f: FecConfig) => Fec, t: Tables): void {
  if (!isp.downstream) return;
  for (const link of isp.downstream.links) {
    const { iface, info } = port(link.interface);
    t.ispPorts.push([{ ifindex: info.ifindex, vid: link.vlan ?? iface.vlan ?? 0 }, isp.id]);
  }
  t.ispPorts.sort((a, b) => a[0].ifindex - b[0].ifindex || a[0].vid - b[0].vid);
  for (const r of isp.downstream.routes) {
    const entry: [ScopedPrefix, Fec] = [{ isp: isp.id, prefix: r.prefix }, fec(r)];
    (isV6(r.prefix) ? t.ispRouteV6 : t.ispRouteV4).push(entry);
  }
  t.ispRouteV4 = sortScoped(t.ispRouteV4);
  t.ispRouteV6 = sortScoped(t.ispRouteV6);
}

/** The table entries of one subscriber: its classifier entries and its downstream routes. */
export interface SubscriberEntries {
  isp: number;
  /** the value of its MAC and prefix entries: the ISP and the access line they hold on */
  cls: SubClass;
  mac?: string;
  vlan?: VlanKey;
  v4: string[];
  v6: string[];
  /** downstream routes by ISP and address, with the delivery ifindex (a tx port) */
  down: Array<[ScopedPrefix, SubRoute]>;
  txPort?: number;
  /** the sub_vlan value's meter word (0: none) */
  meter: number;
  /** the subscriber's own buckets, by subPolicerIndex(slot, direction) */
  policers: Array<[number, Policer]>;
}

/** The sub_vlan entry of a subscriber's entries (the meter word only when there is one). */
export function subVlanEntry(e: SubscriberEntries): [VlanKey, number] | [VlanKey, number, number] {
  return e.meter ? [e.vlan!, e.isp, e.meter] : [e.vlan!, e.isp];
}

/** What compiling a subscriber needs from the rest of the config. */
export interface SubscriberContext {
  port(name: string): Port;
  ispId(ref: IspRef): number;
  /** the node's access interface when it has exactly one: the line of a subscriber naming none */
  onlyAccess?: string;
  /** shares one SubClass object per distinct (ISP, line, meter) among a million subscribers */
  intern?: Map<string, SubClass>;
  /** the subscriber's meter slot (CompileEnv.meterSlot) */
  meterSlot?(subscriber: string): number;
  /** the ISP id of the walled garden session-admitted subscribers go to while no session is open */
  walledGarden?: number;
}

/** A subscriber that forwards only while a session is open, and has none now. */
export function awaitingSession(s: Subscriber): boolean {
  return s.admission === 'session' && s.session === undefined;
}

/** The node's access interface when there is exactly one. */
function onlyAccess(config: Config): string | undefined {
  const access = config.interfaces.filter((i) => i.role === 'access');
  return access.length === 1 ? access[0]!.name : undefined;
}

/** A subscriber context over a validated config and the host (an incremental change uses it). */
export function subscriberContext(config: Config, env: CompileEnv): SubscriberContext {
  const ports = new Map<string, Port>();
  for (const iface of config.interfaces) {
    const info = env.resolve(iface.device);
    if (info) ports.set(iface.name, { iface, info });
  }
  return {
    onlyAccess: onlyAccess(config),
    intern: new Map(),
    meterSlot: env.meterSlot?.bind(env),
    walledGarden: walledGardenId(config),
    port(name) {
      const p = ports.get(name);
      if (!p) throw new Error(`compile: unknown interface '${name}' in a validated config`);
      return p;
    },
    ispId(ref) {
      const isp = resolveIsp(config.isps, ref);
      if (!isp) throw new Error(`compile: unknown ISP '${ref}' in a validated config`);
      return isp.id;
    },
  };
}

function walledGardenId(config: Config): number | undefined {
  const ref = config.sessions?.walledGarden;
  return ref === undefined ? undefined : resolveIsp(config.isps, ref)?.id;
}

/**
 * The entries one subscriber puts in the tables: the compiler and incremental changes share it.
 * A session-admitted subscriber without an open session puts none (it does not forward), or
 * those of the walled garden's ISP when the node names one.
 */
export function compileSubscriber(s: Subscriber, ctx: SubscriberContext): SubscriberEntries {
  const waiting = awaitingSession(s);
  const isp = waiting ? (ctx.walledGarden ?? ctx.ispId(s.isp)) : ctx.ispId(s.isp);
  const slot = ctx.meterSlot?.(s.name) ?? 0;
  const policers: Array<[number, Policer]> = [];
  if (s.rate && slot === 0) {
    throw new CompileError([`subscriber '${s.name}': a rate needs a per-subscriber meter slot, which this node does not have (fecflow serve allocates them)`]);
  }
  for (const d of ['up', 'down'] as const) {
    const limit = s.rate?.[d];
    if (limit) policers.push([subPolicerIndex(slot, d), { rate: BigInt(Math.floor(limit.rate / 8)), burst: BigInt(limit.burst) }]);
  }
  const up = slot ? meterWord(slot, s.rate?.up !== undefined) : 0;
  const down = slot ? meterWord(slot, s.rate?.down !== undefined) : 0;
  const out: SubscriberEntries = { isp, cls: subClassOf(s, isp, ctx, up), v4: [], v6: [], down: [], meter: up, policers };
  // waiting for a session with no walled garden: no classifier entry at all (it does not forward)
  if (waiting && ctx.walledGarden === undefined) return out;
  if (s.match.mac) out.mac = s.match.mac;
  const mv = s.match.vlan;
  if (mv) out.vlan = { ifindex: ctx.port(mv.interface).info.ifindex, outerVid: mv.outer, innerVid: mv.inner ?? 0 };
  for (const p of s.match.prefix ?? []) (isV6(p) ? out.v6 : out.v4).push(p);
  const d = resolveDelivery(s);
  if (!d) return out;
  const { iface, info } = ctx.port(d.interface!);
  const route: SubRoute = {
    ifindex: info.ifindex,
    mtu: iface.mtu,
    outerTpid: d.vlan ? (d.vlan.tpid === '802.1ad' ? 0x88a8 : 0x8100) : 0,
    outerVid: d.vlan?.outer ?? 0,
    innerVid: d.vlan?.inner ?? 0,
    dmac: d.mac!,
    smac: info.mac,
  };
  if (down) route.meter = down;
  out.txPort = info.ifindex;
  for (const a of d.addresses!) out.down.push([{ isp, prefix: a }, { ...route }]);
  return out;
}

/**
 * The access line a subscriber is on: the port of match.vlan, else of deliver.interface, else
 * the node's only access port; the tags of match.vlan, else of deliver.vlan, else none. A
 * subscriber matched only by VLAN needs none (ifindex 0: its MAC and prefix tables hold nothing
 * of it); one matched by MAC or prefix without a port is refused by the validator.
 */
function subClassOf(s: Subscriber, isp: number, ctx: SubscriberContext, meter: number): SubClass {
  const mv = s.match.vlan;
  const portName = mv?.interface ?? s.deliver?.interface ?? ctx.onlyAccess;
  const needsLine = s.match.mac !== undefined || s.match.prefix !== undefined;
  if (portName === undefined && needsLine) throw new Error(`compile: subscriber '${s.name}' has no access port in a validated config`);
  const ifindex = portName === undefined ? 0 : ctx.port(portName).info.ifindex;
  const tags = mv ?? s.deliver?.vlan;
  const outerVid = tags?.outer ?? 0;
  const innerVid = tags?.inner ?? 0;
  if (meter) return { isp, ifindex, outerVid, innerVid, meter }; // one per subscriber: nothing to share
  const key = `${isp},${ifindex},${outerVid},${innerVid}`;
  let c = ctx.intern?.get(key);
  if (!c) {
    c = { isp, ifindex, outerVid, innerVid };
    ctx.intern?.set(key, c);
  }
  return c;
}

function compileSubscribers(
  config: Config,
  port: (name: string) => Port,
  ispId: (r: IspRef) => number,
  t: Tables,
  meterSlot: ((subscriber: string) => number) | undefined,
): void {
  const ctx: SubscriberContext = { port, ispId, onlyAccess: onlyAccess(config), intern: new Map(), meterSlot, walledGarden: walledGardenId(config) };
  const macs: Array<[string, SubClass]> = [];
  const v4: Array<[string, SubClass]> = [];
  const v6: Array<[string, SubClass]> = [];
  for (const s of config.subscribers) {
    const e = compileSubscriber(s, ctx);
    if (e.mac !== undefined) macs.push([e.mac, e.cls]);
    if (e.vlan) t.subVlan.push(subVlanEntry(e));
    for (const [i, p] of e.policers) t.subPolicers.set(i, p);
    for (const p of e.v4) v4.push([p, e.cls]);
    for (const p of e.v6) v6.push([p, e.cls]);
    if (e.txPort !== undefined) t.txPorts.add(e.txPort);
    for (const r of e.down) (isV6(r[0].prefix) ? t.downV6 : t.downV4).push(r);
  }
  macs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  t.subMac = new Map(macs);
  t.subVlan.sort((a, b) => a[0].ifindex - b[0].ifindex || a[0].outerVid - b[0].outerVid || a[0].innerVid - b[0].innerVid);
  t.subV4 = new Map(sortByPrefix(v4, (e) => e[0]));
  t.subV6 = new Map(sortByPrefix(v6, (e) => e[0]));
  t.downV4 = sortScoped(t.downV4);
  t.downV6 = sortScoped(t.downV6);
}
