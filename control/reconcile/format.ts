// A dry run: the plan as an operator reads it — per table, how many entries are added,
// changed and removed, and each entry decoded (labels, prefixes, MACs, ids) rather than hex.

import {
  fecCodec,
  ilmCodec,
  ispPortKeyCodec,
  icmpLimitCodec,
  icmpSrcCodec,
  icmpSrcKeyCodec,
  localKeyCodec,
  lpmV4KeyCodec,
  lpmV6KeyCodec,
  macKeyCodec,
  nexthopCodec,
  nhGroupCodec,
  policerCodec,
  scopedV4KeyCodec,
  scopedV6KeyCodec,
  settingsCodec,
  subClassCodec,
  subRouteCodec,
  vlanKeyCodec,
} from '../tables/layout.js';
import { ipv4, ipv6 } from '../bpf/codec.js';
import type { Plan } from './plan.js';

const u32 = (b: Buffer) => b.readUInt32LE(0);
const ACTIONS = ['?', 'swap', 'pop-forward', 'pop-continue', 'pop-to-isp', 'pop-to-sub'];

function fec(b: Buffer): string {
  const f = fecCodec.decode(b);
  return `push [${f.label.slice(0, f.nlabels).join(' ')}] tc ${f.tc} via group ${f.nhGroup}`;
}

function vlanTag(outer: number, inner: number, tpid?: number): string {
  if (!outer) return 'untagged';
  const t = tpid === 0x88a8 ? '802.1ad ' : '';
  return `vlan ${t}${outer}${inner ? `.${inner}` : ''}`;
}

function describeKey(map: string, k: Buffer): string {
  map = map.replace(/_exact$/, ''); // a prefix table's hash holds the same entries as its trie
  switch (map) {
    case 'sub_mac':
      return macKeyCodec.decode(k).mac;
    case 'sub_vlan': {
      const v = vlanKeyCodec.decode(k);
      return `if ${v.ifindex} ${vlanTag(v.outerVid, v.innerVid)}`;
    }
    case 'sub_v4':
    case 'sub_v6': {
      const v = (map === 'sub_v4' ? lpmV4KeyCodec : lpmV6KeyCodec).decode(k);
      return `${v.addr}/${v.prefixlen}`;
    }
    case 'down_v4':
    case 'down_v6':
    case 'isp_route_v4':
    case 'isp_route_v6': {
      const v = (map.endsWith('v4') ? scopedV4KeyCodec : scopedV6KeyCodec).decode(k);
      return `isp ${v.isp} ${v.addr}/${v.prefixlen - 32}`;
    }
    case 'fec_up':
      return `isp ${u32(k)}`;
    case 'nh_group':
      return `group ${u32(k)}`;
    case 'nexthop':
      return `nexthop ${u32(k)}`;
    case 'tx_port':
      return `ifindex ${u32(k)}`;
    case 'ilm':
    case 'label_stats':
      return `label ${u32(k)}`;
    case 'isp_port': {
      const v = ispPortKeyCodec.decode(k);
      return `if ${v.ifindex} ${v.vid ? `vlan ${v.vid}` : 'untagged'}`;
    }
    case 'local': {
      const v = localKeyCodec.decode(k);
      return v.family === 4 ? ipv4.decode(v.addr) : ipv6.decode(v.addr);
    }
    case 'policer': {
      const i = u32(k);
      return `isp ${i >> 1} ${i & 1 ? 'down' : 'up'}`;
    }
    case 'settings':
      return 'settings';
    case 'icmp_limit':
      return 'icmp errors';
    case 'icmp_src': {
      const v = icmpSrcKeyCodec.decode(k);
      return `icmp source if ${v.ifindex}${v.vid ? ` vlan ${v.vid}` : ''}`;
    }
    default:
      return k.toString('hex');
  }
}

function describeValue(map: string, v: Buffer): string {
  map = map.replace(/_exact$/, ''); // a prefix table's hash holds the same entries as its trie
  switch (map) {
    case 'sub_mac':
    case 'sub_vlan':
    case 'sub_v4':
    case 'sub_v6':
    case 'isp_port':
      return `-> isp ${subClassCodec.decode(v).isp}`;
    case 'fec_up':
    case 'isp_route_v4':
    case 'isp_route_v6':
      return fec(v);
    case 'nh_group': {
      const g = nhGroupCodec.decode(v);
      return `members [${g.nexthop.slice(0, g.count).join(' ')}]`;
    }
    case 'nexthop': {
      const n = nexthopCodec.decode(v);
      return `if ${n.ifindex}${n.vid ? ` vlan ${n.vid}` : ''} mtu ${n.mtu} ${n.smac} -> ${n.dmac}`;
    }
    case 'ilm': {
      const e = ilmCodec.decode(v);
      const name = ACTIONS[e.action] ?? `action ${e.action}`;
      if (e.action === 1) return `swap to [${e.label.slice(0, e.nlabels).join(' ')}] tc ${e.tc} via group ${e.nhGroup}`;
      if (e.action === 2) return `${name} via group ${e.nhGroup}`;
      if (e.action === 4) return `${name} ${e.isp} via group ${e.nhGroup}`;
      if (e.action === 5) return `${name} isp ${e.isp}`;
      return name;
    }
    case 'down_v4':
    case 'down_v6': {
      const r = subRouteCodec.decode(v);
      return `if ${r.ifindex} ${vlanTag(r.outerVid, r.innerVid, r.outerTpid)} mtu ${r.mtu} ${r.smac} -> ${r.dmac}`;
    }
    case 'policer': {
      const p = policerCodec.decode(v);
      return p.rate === 0n ? 'no limit' : `rate ${p.rate * 8n} bit/s burst ${p.burst} B`;
    }
    case 'settings': {
      const s = settingsCodec.decode(v);
      return `ttl ${s.ttlMode ? 'pipe' : 'uniform'}, unknown subscribers ${s.unknownPolicy ? 'pass' : 'drop'}`;
    }
    case 'icmp_limit': {
      const l = icmpLimitCodec.decode(v);
      return `${l.rate}/s burst ${l.burst}`;
    }
    case 'icmp_src': {
      const x = icmpSrcCodec.decode(v);
      return [x.flags & 1 ? x.v4 : '', x.flags & 2 ? x.v6 : ''].filter(Boolean).join(' ');
    }
    case 'label_stats':
      return 'counter';
    case 'tx_port':
    case 'local':
      return '';
    default:
      return v.toString('hex');
  }
}

function safe(f: () => string, b: Buffer): string {
  try {
    return f();
  } catch {
    return b.toString('hex');
  }
}

function line(mark: string, map: string, k: Buffer, v: Buffer, from?: Buffer): string {
  const key = safe(() => describeKey(map, k), k);
  const val = safe(() => describeValue(map, v), v);
  const was = from ? ` (was ${safe(() => describeValue(map, from), from)})` : '';
  return `  ${mark} ${key}${val ? `  ${val}` : ''}${was}`;
}

export interface FormatOptions {
  /** list at most this many entries per table and kind (default 50) */
  limit?: number;
}

/** The plan as a per-table summary with the entries decoded; 'no changes' when empty. */
export function formatPlan(p: Plan, opts: FormatOptions = {}): string {
  const limit = opts.limit ?? 50;
  const out: string[] = [];
  for (const d of p.diffs) {
    if (!d.adds.length && !d.changes.length && !d.removes.length) continue;
    out.push(`${d.map}: ${d.adds.length} added, ${d.changes.length} changed, ${d.removes.length} removed`);
    const more = (n: number) => (n > limit ? [`  … ${n - limit} more`] : []);
    out.push(...d.adds.slice(0, limit).map(([k, v]) => line('+', d.map, k, v)), ...more(d.adds.length));
    out.push(...d.changes.slice(0, limit).map((c) => line('~', d.map, c.key, c.to, c.from)), ...more(d.changes.length));
    out.push(...d.removes.slice(0, limit).map(([k, v]) => line('-', d.map, k, v)), ...more(d.removes.length));
  }
  return out.length ? out.join('\n') : 'no changes';
}

/** Per map: added, changed and removed counts (maps without changes left out). */
export function summarize(p: Plan): Array<{ map: string; added: number; changed: number; removed: number }> {
  return p.diffs
    .filter((d) => d.adds.length || d.changes.length || d.removes.length)
    .map((d) => ({ map: d.map, added: d.adds.length, changed: d.changes.length, removed: d.removes.length }));
}
