// Does a validated configuration fit the data plane? Counts, per BPF map, the entries the
// compiler would write and compares them with the map's size in dataplane/fecflow_shared.h
// (through ../tables/shared.gen.ts). Counting needs no host and no BPF object, so
// `fecflow check` runs it offline, and validation runs it before anything is written: a config
// that cannot fit is refused whole, not half-applied until a map update fails with E2BIG.
import {
  FF_DOWN_V4_ENTRIES,
  FF_DOWN_V6_ENTRIES,
  FF_ILM_ENTRIES,
  FF_ISP_PORT_ENTRIES,
  FF_ISP_ROUTE_ENTRIES,
  FF_LOCAL_ENTRIES,
  FF_MAX_ISPS,
  FF_MAX_NEXTHOPS,
  FF_MAX_NH_GROUPS,
  FF_SUB_MAC_ENTRIES,
  FF_SUB_V4_ENTRIES,
  FF_SUB_V6_ENTRIES,
  FF_SUB_VLAN_ENTRIES,
  FF_TX_PORT_ENTRIES,
} from '../tables/shared.gen.js';
import type { ConfigIssue } from './errors.js';
import { neighbourMac, resolveDelivery, type Config, type Interface, type NextHopRef } from './types.js';

/** The capacity of each table a config fills; ids 0 mean "none", so id tables hold one fewer. */
export const CAPACITY = {
  sub_mac: FF_SUB_MAC_ENTRIES,
  sub_vlan: FF_SUB_VLAN_ENTRIES,
  sub_v4: FF_SUB_V4_ENTRIES,
  sub_v6: FF_SUB_V6_ENTRIES,
  down_v4: FF_DOWN_V4_ENTRIES,
  down_v6: FF_DOWN_V6_ENTRIES,
  isp_route_v4: FF_ISP_ROUTE_ENTRIES,
  isp_route_v6: FF_ISP_ROUTE_ENTRIES,
  ilm: FF_ILM_ENTRIES,
  nexthop: FF_MAX_NEXTHOPS - 1,
  nh_group: FF_MAX_NH_GROUPS - 1,
  isps: FF_MAX_ISPS - 1,
  isp_port: FF_ISP_PORT_ENTRIES,
  local: FF_LOCAL_ENTRIES,
  tx_port: FF_TX_PORT_ENTRIES,
} as const;

export type CapacityTable = keyof typeof CAPACITY;

export interface TableUsage {
  table: CapacityTable;
  entries: number;
  capacity: number;
  /** where in the file the entries come from */
  path: string;
  /** what one entry is, in the operator's words */
  what: string;
}

const isV6 = (prefix: string): boolean => prefix.includes(':');

/** Entries per table the compiler would write for `config` (one pass over the subscribers). */
export function tableUsage(config: Config): TableUsage[] {
  let mac = 0;
  let vlan = 0;
  let v4 = 0;
  let v6 = 0;
  let down4 = 0;
  let down6 = 0;
  const ifaces = new Map<string, Interface>(config.interfaces.map((i) => [i.name, i]));
  const txDevices = new Set<string>();
  for (const s of config.subscribers) {
    if (s.match.mac !== undefined) mac++;
    if (s.match.vlan !== undefined) vlan++;
    for (const p of s.match.prefix ?? []) if (isV6(p)) v6++;
    else v4++;
    const d = resolveDelivery(s);
    if (!d) continue;
    for (const a of d.addresses ?? []) if (isV6(a)) down6++;
    else down4++;
    const i = d.interface === undefined ? undefined : ifaces.get(d.interface);
    if (i) txDevices.add(i.device);
  }

  // Next hops and groups are numbered by identity, as the compiler does: one next hop per
  // (device, VLAN, neighbour MAC), one group per distinct set of next hops.
  const nexthops = new Set<string>();
  const groups = new Set<string>();
  const group = (refs: NextHopRef[]): void => {
    const keys = new Set<string>();
    for (const r of refs) {
      const i = ifaces.get(r.interface);
      const dmac = i && neighbourMac(i, r.neighbour);
      if (!i || dmac === undefined) continue;
      const key = `${i.device}.${i.vlan ?? 0}>${dmac}`;
      keys.add(key);
      nexthops.add(key);
      txDevices.add(i.device);
    }
    groups.add([...keys].sort().join(','));
  };
  let route4 = 0;
  let route6 = 0;
  let links = 0;
  for (const isp of config.isps) {
    if (isp.upstream) group(isp.upstream.nexthop);
    for (const r of isp.downstream?.routes ?? []) {
      group(r.nexthop);
      if (isV6(r.prefix)) route6++;
      else route4++;
    }
    links += isp.downstream?.links.length ?? 0;
  }
  for (const b of config.ilm) if ('nexthop' in b) group(b.nexthop);
  const locals = new Set(config.interfaces.flatMap((i) => i.addresses.map((a) => a.split('/')[0]!)));

  const row = (table: CapacityTable, entries: number, path: string, what: string): TableUsage => ({
    table,
    entries,
    capacity: CAPACITY[table],
    path,
    what,
  });
  return [
    row('sub_mac', mac, 'subscribers', 'subscribers matched by MAC'),
    row('sub_vlan', vlan, 'subscribers', 'subscribers matched by VLAN'),
    row('sub_v4', v4, 'subscribers', 'IPv4 match prefixes'),
    row('sub_v6', v6, 'subscribers', 'IPv6 match prefixes'),
    row('down_v4', down4, 'subscribers', 'delivered IPv4 addresses'),
    row('down_v6', down6, 'subscribers', 'delivered IPv6 addresses'),
    row('isp_route_v4', route4, 'isps', 'IPv4 ISP routes'),
    row('isp_route_v6', route6, 'isps', 'IPv6 ISP routes'),
    row('ilm', config.ilm.length, 'ilm', 'incoming labels'),
    row('nexthop', nexthops.size, 'interfaces', 'distinct next hops'),
    row('nh_group', groups.size, 'isps', 'distinct next-hop groups'),
    row('isps', config.isps.length, 'isps', 'ISPs'),
    row('isp_port', links, 'isps', 'ISP links'),
    row('local', locals.size, 'interfaces', "the router's own addresses"),
    row('tx_port', txDevices.size, 'interfaces', 'egress devices'),
  ];
}

export function overflowMessage(table: CapacityTable, entries: number, what: string): string {
  return `${entries} ${what}, but the data plane's ${table} table holds at most ${CAPACITY[table]}: the configuration cannot fit`;
}

/** One issue per table the config would overflow; empty when it fits. */
export function capacityIssues(config: Config): ConfigIssue[] {
  return tableUsage(config)
    .filter((u) => u.entries > u.capacity)
    .map((u) => ({ path: u.path, message: overflowMessage(u.table, u.entries, u.what) }));
}
