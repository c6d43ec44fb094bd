// What LDP's labels become in a router file, as a pure function: from the FECs the speaker
// knows (local label, egress, the downstream neighbour's label and next hop) and the node's
// config, the ISP FECs a headend pushes, the return routes a tailend pushes and the incoming
// labels (pop to the ISP, pop to the end-user, swap) — written into the running config the way
// an operator would write a static plan, so they go through the same validation, compiler and
// reconciler as any change. Nothing here touches a socket or a map.
import { maskBytes, parsePrefix, type ParsedPrefix } from '../config/addr.js';
import type { Config, Interface, NextHopRef } from '../config/types.js';
import type { FecChange } from '../ldp/lib.js';

/** An incoming label as the router file writes it. */
export type LdpIlmEntry =
  | { label: number; action: 'pop-to-isp'; isp: string; nexthop: NextHopRef }
  | { label: number; action: 'pop-to-subscriber'; isp: string }
  | { label: number; action: 'swap'; labels: number[]; nexthop: NextHopRef; isp?: string; direction?: 'up' | 'down' }
  | { label: number; action: 'pop-forward'; nexthop: NextHopRef; isp?: string; direction?: 'up' | 'down' };

/** LDP's part of the running config; also what the registry keeps for a restart. */
export interface LdpTables {
  /** headend: ISP name -> the label pushed on its end-users' traffic, and where it goes */
  upstream: Record<string, { label: number; nexthop: NextHopRef }>;
  /** tailend: ISP name -> the label pushed on traffic back to its end-users */
  downstream: Record<string, { label: number; nexthop: NextHopRef; routes: string[] }>;
  ilm: LdpIlmEntry[];
}

export const EMPTY_TABLES: LdpTables = { upstream: {}, downstream: {}, ilm: [] };

/** The node's part in each ISP's LSPs, from its file: a headend has access ports; a tailend
 * has the ISP's links. */
export function roles(config: Config, isp: string): { headend: boolean; tailend: boolean } {
  const i = config.isps.find((x) => x.name === isp);
  return { headend: config.interfaces.some((x) => x.role === 'access'), tailend: (i?.downstream?.links.length ?? 0) > 0 };
}

/** The FECs this node is egress for: the hand-off FEC of each ISP it is tailend for, the return
 * FEC of each ISP it is headend for. */
export function egressPrefixes(config: Config): string[] {
  const out = new Set<string>();
  for (const [isp, f] of Object.entries(config.ldp?.fecs ?? {})) {
    const r = roles(config, isp);
    if (r.tailend) out.add(f.upstream);
    if (r.headend) out.add(f.downstream);
  }
  return [...out].sort();
}

/** The next hop reference of an IPv4 next-hop address: the core interface whose subnet holds
 * it, and its neighbour (the only one, or the one whose MAC the kernel resolved it to). */
export function nextHopFor(config: Config, address: string, macOf: (address: string) => string | undefined): NextHopRef | undefined {
  const a = parsePrefix(address);
  if (!a.ok) return undefined;
  for (const i of config.interfaces) {
    if (i.role !== 'core' || !onLink(i, a.value)) continue;
    const names = Object.keys(i.neighbours);
    if (names.length === 1) return { interface: i.name, neighbour: names[0]! };
    const mac = macOf(address)?.toLowerCase();
    const n = names.find((k) => i.neighbours[k] === mac);
    return n ? { interface: i.name, neighbour: n } : undefined;
  }
  return undefined;
}

function onLink(i: Interface, a: ParsedPrefix): boolean {
  for (const text of i.addresses) {
    const [addr, len] = text.split('/');
    if (len === undefined) continue;
    const p = parsePrefix(addr!);
    if (p.ok && p.value.family === a.family && covers(maskedPrefix(p.value, Number(len)), a)) return true;
  }
  return false;
}

function maskedPrefix(p: ParsedPrefix, len: number): ParsedPrefix {
  return { ...p, bytes: maskBytes(p.bytes, len), len };
}

function covers(net: ParsedPrefix, a: ParsedPrefix): boolean {
  const m = maskedPrefix(a, net.len);
  return m.bytes.every((b, k) => b === net.bytes[k]);
}

export interface TablesInput {
  config: Config;
  /** the speaker's FECs by prefix (the last change seen for each) */
  fecs: ReadonlyMap<string, FecChange>;
  /** labels withdrawn or replaced and not yet released: they keep their entry */
  retiring: ReadonlySet<number>;
  /** the tables installed now, where retiring labels' entries come from */
  installed: LdpTables;
  resolve(nextHop: string): NextHopRef | undefined;
}

/** LDP's tables for the node as the speaker's FECs stand. */
export function ldpTables(i: TablesInput): LdpTables {
  const { config } = i;
  const out: LdpTables = { upstream: {}, downstream: {}, ilm: [] };
  const byPrefix = new Map<string, { isp: string; direction: 'up' | 'down' }>();
  const egressDone = new Set<number>();
  for (const [isp, f] of Object.entries(config.ldp?.fecs ?? {})) {
    if (!config.isps.some((x) => x.name === isp)) continue;
    byPrefix.set(f.upstream, { isp, direction: 'up' });
    byPrefix.set(f.downstream, { isp, direction: 'down' });
    const r = roles(config, isp);
    const up = i.fecs.get(f.upstream);
    const down = i.fecs.get(f.downstream);
    if (r.headend) {
      const ds = up?.downstream;
      const nh = ds && ds.label >= 16 ? i.resolve(ds.nextHop) : undefined;
      // implicit null towards the headend would mean pushing nothing: no FEC until a real label comes
      if (ds && nh) out.upstream[isp] = { label: ds.label, nexthop: nh };
      if (down?.egress && down.localLabel !== undefined && down.localLabel >= 16) {
        out.ilm.push({ label: down.localLabel, action: 'pop-to-subscriber', isp });
        egressDone.add(down.localLabel);
      }
    }
    if (r.tailend) {
      const handoff = handoffOf(config, isp);
      if (up?.egress && up.localLabel !== undefined && up.localLabel >= 16 && handoff) {
        out.ilm.push({ label: up.localLabel, action: 'pop-to-isp', isp, nexthop: handoff });
        egressDone.add(up.localLabel);
      }
      const ds = down?.downstream;
      const nh = ds && ds.label >= 16 ? i.resolve(ds.nextHop) : undefined;
      if (ds && nh && f.routes.length > 0) out.downstream[isp] = { label: ds.label, nexthop: nh, routes: [...f.routes] };
    }
  }
  // transit: every FEC with a local label and a downstream label is a swap (or a pop for PHP)
  for (const c of [...i.fecs.values()].sort((a, b) => a.prefix.localeCompare(b.prefix))) {
    if (c.egress || c.localLabel === undefined || c.localLabel < 16 || !c.downstream || egressDone.has(c.localLabel)) continue;
    const nh = i.resolve(c.downstream.nextHop);
    if (!nh) continue;
    const count = byPrefix.get(c.prefix);
    const tag = count ? { isp: count.isp, direction: count.direction } : {};
    const out_ = c.downstream.label;
    if (out_ === 3) out.ilm.push({ label: c.localLabel, action: 'pop-forward', nexthop: nh, ...tag });
    else if (out_ === 0 || out_ >= 16) out.ilm.push({ label: c.localLabel, action: 'swap', labels: [out_], nexthop: nh, ...tag });
  }
  // make-before-break: a label still held by a peer keeps the entry it had
  const live = new Set(out.ilm.map((e) => e.label));
  for (const e of i.installed.ilm) if (i.retiring.has(e.label) && !live.has(e.label)) out.ilm.push(e);
  out.ilm.sort((a, b) => a.label - b.label);
  return out;
}

/** Where a tailend hands an ISP's traffic over: its first link's only neighbour. */
export function handoffOf(config: Config, isp: string): NextHopRef | undefined {
  const link = config.isps.find((x) => x.name === isp)?.downstream?.links[0];
  const iface = link && config.interfaces.find((x) => x.name === link.interface);
  const names = iface ? Object.keys(iface.neighbours) : [];
  return iface && names.length === 1 ? { interface: iface.name, neighbour: names[0]! } : undefined;
}

/** While sessions re-form after a restart: what was installed before stays where LDP has
 * nothing newer for it. */
export function withStale(live: LdpTables, stale: LdpTables): LdpTables {
  const labels = new Set(live.ilm.map((e) => e.label));
  return {
    upstream: { ...stale.upstream, ...live.upstream },
    downstream: { ...stale.downstream, ...live.downstream },
    ilm: [...live.ilm, ...stale.ilm.filter((e) => !labels.has(e.label))].sort((a, b) => a.label - b.label),
  };
}

type Obj = Record<string, unknown>;

/** The running config document with LDP's tables in it: ISP FECs and return routes set, the
 * incoming labels added after the file's own. */
export function applyTables(raw: Obj, t: LdpTables): Obj {
  if (Object.keys(t.upstream).length === 0 && Object.keys(t.downstream).length === 0 && t.ilm.length === 0) return raw;
  const out: Obj = { ...raw };
  if (Array.isArray(raw.isps)) {
    out.isps = (raw.isps as unknown[]).map((x) => {
      if (x === null || typeof x !== 'object') return x;
      const isp = x as Obj;
      const name = String(isp.name);
      const up = Object.hasOwn(t.upstream, name) ? t.upstream[name] : undefined;
      const down = Object.hasOwn(t.downstream, name) ? t.downstream[name] : undefined;
      if (!up && !down) return isp;
      const copy: Obj = { ...isp };
      if (up) copy.upstream = { labels: [up.label], nexthop: up.nexthop };
      if (down) {
        const d = (isp.downstream ?? {}) as Obj;
        const routes = Array.isArray(d.routes) ? (d.routes as unknown[]) : [];
        copy.downstream = { ...d, routes: [...routes, ...down.routes.map((prefix) => ({ prefix, labels: [down.label], nexthop: down.nexthop }))] };
      }
      return copy;
    });
  }
  out.ilm = [...(Array.isArray(raw.ilm) ? (raw.ilm as unknown[]) : []), ...t.ilm];
  return out;
}
