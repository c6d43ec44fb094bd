// Read-only views of the running daemon for the API and the CLI: status, FECs, the ILM with
// its counters, per-ISP counters. They join the compiled tables (numbers) with the config's
// names (ISPs) and the interface names, so an operator reads "isp-a via eth1", not "3 via 7".
import type { Fec, IlmEntry, NhGroup, NextHop, Tables, Direction, Point } from '../tables/types.js';
import { DROP_REASONS, ICMP_KINDS, ICMP_OUTCOMES } from '../tables/types.js';
import type { Daemon } from './daemon.js';
import type { ConfigModel } from './model.js';

export interface ViewDeps {
  daemon: Daemon<unknown>;
  model: ConfigModel;
  /** ifindex -> interface name, from the last resolution */
  ifname(ifindex: number): string;
}

export function ispNames(deps: ViewDeps): Map<number, string> {
  const raw = deps.daemon.runningRaw;
  if (raw === undefined) return new Map();
  return deps.model.ispNames(raw);
}

export function status(deps: ViewDeps) {
  const d = deps.daemon;
  const raw = d.runningRaw;
  const last = d.lastReconcile;
  return {
    node: raw === undefined ? null : deps.model.node(raw),
    ready: d.ready(),
    detached: d.isDetached,
    configPath: d.configPath,
    uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
    programs: d.isDetached ? [] : d.dataplane.programs().map((p) => ({ ifname: p.ifname, role: p.role, mode: p.mode, progId: p.progId, tag: p.tag, reused: p.reused })),
    tables: d.tableSizes(),
    isps: raw === undefined ? 0 : deps.model.ispNames(raw).size,
    subscribers: raw === undefined ? 0 : deps.model.subscriberCount(raw),
    lastReconcile: last
      ? { at: new Date(last.at).toISOString(), ok: last.ok, trigger: last.trigger, error: last.error ?? null, durationMs: Math.round(last.durationMs * 10) / 10 }
      : null,
  };
}

function nexthopsOf(t: Tables, group: number, ifname: (i: number) => string) {
  const g: NhGroup | undefined = t.nhGroups.get(group);
  if (!g) return [];
  return g.nexthops.map((id) => {
    const nh: NextHop | undefined = t.nexthops.get(id);
    return nh
      ? { id, ifname: ifname(nh.ifindex), dmac: nh.dmac, smac: nh.smac, vid: nh.vid, mtu: nh.mtu }
      : { id, ifname: null, dmac: null, smac: null, vid: 0, mtu: 0 };
  });
}

function fecView(f: Fec, t: Tables, ifname: (i: number) => string) {
  return { labels: f.labels, tc: f.tc, nhGroup: f.nhGroup, nexthops: nexthopsOf(t, f.nhGroup, ifname) };
}

export function fecs(deps: ViewDeps) {
  const t = deps.daemon.runningTables;
  if (!t) return { upstream: [], ispRoutes: [] };
  const names = ispNames(deps);
  const name = (i: number) => names.get(i) ?? String(i);
  const upstream = [...t.fecUp.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([isp, f]) => ({ isp: name(isp), ispIndex: isp, ...fecView(f, t, deps.ifname) }));
  const ispRoutes = [...t.ispRouteV4, ...t.ispRouteV6].map(([k, f]) => ({
    isp: name(k.isp),
    ispIndex: k.isp,
    prefix: k.prefix,
    ...fecView(f, t, deps.ifname),
  }));
  return { upstream, ispRoutes };
}

/** The ISP (and direction) a transit label is counted for, when it names one. */
function transitView(e: { isp?: number; direction?: Direction }, name: (i: number) => string) {
  return e.isp ? { isp: name(e.isp), direction: e.direction ?? 'up' } : {};
}

function ilmView(e: IlmEntry, t: Tables, name: (i: number) => string, ifname: (i: number) => string) {
  switch (e.action) {
    case 'swap':
      return { action: e.action, outLabels: e.labels, tc: e.tc, ...transitView(e, name), nexthops: nexthopsOf(t, e.nhGroup, ifname) };
    case 'pop-forward':
      return { action: e.action, ...transitView(e, name), nexthops: nexthopsOf(t, e.nhGroup, ifname) };
    case 'pop-continue':
      return { action: e.action };
    case 'pop-to-isp':
      return { action: e.action, isp: name(e.isp), nexthops: nexthopsOf(t, e.nhGroup, ifname) };
    case 'pop-to-sub':
      return { action: e.action, isp: name(e.isp) };
  }
}

export function labels(deps: ViewDeps) {
  const t = deps.daemon.runningTables;
  if (!t) return { labels: [] };
  const names = ispNames(deps);
  const name = (i: number) => names.get(i) ?? String(i);
  const counts = new Map<number, { packets: bigint; bytes: bigint }>();
  let countersOk = true;
  try {
    if (!deps.daemon.isDetached) for (const r of deps.daemon.dataplane.counters().labelStats()) counts.set(r.label, r);
  } catch {
    countersOk = false;
  }
  const rows = [...t.ilm.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([label, e]) => ({
      label,
      ...ilmView(e, t, name, deps.ifname),
      packets: countersOk ? String(counts.get(label)?.packets ?? 0n) : null,
      bytes: countersOk ? String(counts.get(label)?.bytes ?? 0n) : null,
    }));
  return { labels: rows };
}

/**
 * Counters are 64-bit: JSON numbers (doubles) round them above 2^53, so they are sent as
 * decimal strings (parse with BigInt).
 */
type PointCounters = Record<Point, { packets: string; bytes: string }>;

export function stats(deps: ViewDeps) {
  const names = ispNames(deps);
  const c = deps.daemon.dataplane.counters();
  const rows = c.ispStats();
  const drops = c.dropStats();
  const byIsp = new Map<number, Record<Direction, PointCounters>>();
  const zero = () => ({ packets: '0', bytes: '0' });
  const empty = (): PointCounters => ({ in: zero(), out: zero(), policed: zero(), transit: zero() });
  for (const i of names.keys()) byIsp.set(i, { up: empty(), down: empty() });
  for (const r of rows) {
    if (r.packets === 0n && r.bytes === 0n && !byIsp.has(r.isp)) continue;
    let e = byIsp.get(r.isp);
    if (!e) byIsp.set(r.isp, (e = { up: empty(), down: empty() }));
    e[r.direction][r.point] = { packets: String(r.packets), bytes: String(r.bytes) };
  }
  const dropBy = new Map(drops.map((d) => [d.reason, d]));
  const icmpBy = new Map((c.icmpStats?.() ?? []).map((r) => [`${r.kind}/${r.outcome}`, r]));
  return {
    at: Date.now(),
    isps: [...byIsp.entries()].sort((a, b) => a[0] - b[0]).map(([index, v]) => ({ isp: names.get(index) ?? String(index), index, ...v })),
    drops: DROP_REASONS.map((reason) => ({
      reason,
      packets: String(dropBy.get(reason)?.packets ?? 0n),
      bytes: String(dropBy.get(reason)?.bytes ?? 0n),
    })),
    /** ICMP errors owed per kind: how many were sent, rate-limited, had no source address, were
     * suppressed (never about an ICMP error) or had no way back */
    icmp: ICMP_KINDS.map((kind) => ({
      kind,
      ...Object.fromEntries(ICMP_OUTCOMES.map((o) => [o, String(icmpBy.get(`${kind}/${o}`)?.packets ?? 0n)])),
    })),
  };
}

const HIDDEN = '(hidden)';

/** The running config as reads show it: the ISPs' RADIUS secrets and passwords replaced (the
 * running config itself is not touched). */
export function withoutSecrets(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || !Array.isArray((raw as { isps?: unknown }).isps)) return raw;
  const doc = raw as { isps: Array<Record<string, unknown>> };
  if (!doc.isps.some((i) => i && typeof i === 'object' && i.radius)) return raw;
  const isps = doc.isps.map((i) => {
    const r = i?.radius as Record<string, unknown> | undefined;
    if (!r || typeof r !== 'object') return i;
    const radius: Record<string, unknown> = { ...r };
    if ('secret' in radius) radius.secret = HIDDEN;
    if ('password' in radius) radius.password = HIDDEN;
    if (radius.coa && typeof radius.coa === 'object' && 'secret' in (radius.coa as object)) radius.coa = { ...(radius.coa as object), secret: HIDDEN };
    return { ...i, radius };
  });
  return { ...doc, isps };
}
