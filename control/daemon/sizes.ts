// Entries per configuration map of a compiled table set, by map name (fecflow_shared.h),
// for `status` and the fecflow_table_entries metric.
import type { Tables } from '../tables/types.js';

export function tableSizes(t: Tables): Record<string, number> {
  return {
    sub_mac: t.subMac.size,
    sub_vlan: t.subVlan.length,
    sub_v4: t.subV4.size,
    sub_v6: t.subV6.size,
    fec_up: t.fecUp.size,
    nh_group: t.nhGroups.size,
    nexthop: t.nexthops.size,
    tx_port: t.txPorts.size,
    ilm: t.ilm.size,
    down_v4: t.downV4.length,
    down_v6: t.downV6.length,
    isp_port: t.ispPorts.length,
    isp_route_v4: t.ispRouteV4.length,
    isp_route_v6: t.ispRouteV6.length,
    local: t.local.size,
    policer: t.policers.size,
    sub_policer: t.subPolicers.size,
  };
}
