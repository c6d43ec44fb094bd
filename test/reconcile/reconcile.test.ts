// The reconciler end to end on in-memory maps: compiled Tables in, batch writes out. Checks the
// number and order of writes for the changes operators make, that forwarding state is
// consistent after every single write, and that a failed write is reported and a retry
// converges.
import { describe, expect, test } from 'vitest';
import { compile, staticEnv } from '../../control/compile/index.js';
import { validateConfig } from '../../control/config/index.js';
import {
  apply,
  ApplyError,
  dryRun,
  memoryMaps,
  observe,
  planTables,
  reconcile,
  WriteLog,
  MemoryMap,
  type WriteEvent,
} from '../../control/reconcile/index.js';
import { decodeTables, macKeyCodec, policerCodec, type EncodedTables } from '../../control/tables/layout.js';
import type { Tables } from '../../control/tables/types.js';

const env = staticEnv({
  acc0: { ifindex: 2, mac: '02:ee:00:00:00:02' },
  core0: { ifindex: 3, mac: '02:ee:00:00:00:03' },
  core1: { ifindex: 4, mac: '02:ee:00:00:00:04' },
  isp0: { ifindex: 5, mac: '02:ee:00:00:00:05' },
});

/** A router that is headend, LSR and tailend at once, so every map has entries. */
function site(): any {
  return {
    node: 'site',
    interfaces: [
      { name: 'acc0', role: 'access', addresses: ['192.0.2.1/24'] },
      { name: 'core0', role: 'core', neighbours: { p1: '02:00:00:00:00:01', p2: '02:00:00:00:00:02' } },
      { name: 'core1', role: 'core', neighbours: { p3: '02:00:00:00:00:03' } },
      { name: 'isp0', role: 'isp', neighbours: { gw: '02:00:00:00:00:a1' } },
    ],
    isps: [
      {
        id: 1,
        name: 'alpha',
        policer: { up: { rate: '100Mbit', burst: '256KB' } },
        upstream: { labels: [1001], nexthop: [{ interface: 'core0', neighbour: 'p1' }, { interface: 'core0', neighbour: 'p2' }] },
      },
      {
        id: 2,
        name: 'beta',
        upstream: { labels: [1002], nexthop: { interface: 'core0', neighbour: 'p1' } },
        downstream: { links: [{ interface: 'isp0' }], routes: [{ prefix: '10.0.0.0/8', labels: [3002], nexthop: { interface: 'core1', neighbour: 'p3' } }] },
      },
    ],
    subscribers: [
      { name: 'alice', isp: 'alpha', match: { mac: '02:aa:00:00:00:01' }, deliver: { interface: 'acc0', addresses: '100.64.1.7' } },
      { name: 'bob', isp: 'beta', match: { vlan: { interface: 'acc0', outer: 100, inner: 7 } }, deliver: { mac: '02:aa:00:00:00:02', addresses: '10.0.0.2' } },
      { name: 'carol', isp: 'alpha', match: { prefix: ['100.64.2.0/24', '2001:db8:2::/48'] }, deliver: { interface: 'acc0', mac: '02:aa:00:00:00:03' } },
    ],
    ilm: [
      { label: 4001, action: 'pop-to-subscriber', isp: 'alpha' },
      { label: 4002, action: 'pop-to-subscriber', isp: 'beta' },
      { label: 2002, action: 'pop-to-isp', isp: 'beta', nexthop: { interface: 'isp0', neighbour: 'gw' } },
      { label: 5000, action: 'swap', labels: [5001], nexthop: { interface: 'core1', neighbour: 'p3' } },
    ],
  };
}

const tablesOf = (config: unknown): Tables => compile(validateConfig(config), env);

/** What the maps mean right now, decoded (empty array slots left out). */
function state(maps: MemoryMap[]): { tables: Tables; labelStats: Set<number> } {
  const enc: EncodedTables = new Map();
  for (const [name, m] of observe(maps)) {
    const zero = (v: Buffer) => (name === 'policer' ? v.subarray(8, 24) : v).every((x) => x === 0);
    enc.set(name, m.entries.filter(([, v]) => m.kind === 'hash' || !zero(v)));
  }
  const labelStats = new Set((enc.get('label_stats') ?? []).map(([k]) => k.readUInt32LE(0)));
  enc.delete('label_stats');
  return { tables: decodeTables(enc), labelStats };
}

/** Prefix tables are sets: each is two maps (an exact-match hash and a trie), so the order read back is not the order written. */
function prefixOrderFree(t: Tables): Tables {
  const sorted = <V>(xs: Array<[{ isp: number; prefix: string }, V]>) => [...xs].sort(([a], [b]) => a.isp - b.isp || a.prefix.localeCompare(b.prefix));
  return { ...t, downV4: sorted(t.downV4), downV6: sorted(t.downV6), ispRouteV4: sorted(t.ispRouteV4), ispRouteV6: sorted(t.ispRouteV6) };
}

/** Nothing points at something missing: the invariant make-before-break keeps at every step. */
function checkConsistent(maps: MemoryMap[], at: string): void {
  const { tables: t, labelStats } = state(maps);
  const problems: string[] = [];
  const group = (id: number, who: string) => {
    const g = t.nhGroups.get(id);
    if (!g || g.nexthops.length === 0) return problems.push(`${who} -> missing group ${id}`);
    for (const nh of g.nexthops) {
      const n = t.nexthops.get(nh);
      if (!n) problems.push(`${who} -> group ${id} -> missing nexthop ${nh}`);
      else if (!t.txPorts.has(n.ifindex)) problems.push(`${who} -> nexthop ${nh} on ifindex ${n.ifindex}, not a tx port`);
    }
  };
  for (const [isp, f] of t.fecUp) group(f.nhGroup, `fec_up[${isp}]`);
  for (const [k, f] of [...t.ispRouteV4, ...t.ispRouteV6]) group(f.nhGroup, `isp route ${k.isp} ${k.prefix}`);
  for (const [label, e] of t.ilm) {
    if ('nhGroup' in e) group(e.nhGroup, `ilm ${label}`);
    if (!labelStats.has(label)) problems.push(`ilm ${label} has no counter`);
  }
  const classified = [...[...t.subMac.values()].map((c) => c.isp), ...t.subVlan.map(([, i]) => i), ...[...t.subV4.values()].map((c) => c.isp), ...[...t.subV6.values()].map((c) => c.isp)];
  for (const isp of classified) if (!t.fecUp.has(isp)) problems.push(`a classifier -> ISP ${isp} without a FEC`);
  for (const [k, r] of [...t.downV4, ...t.downV6]) if (!t.txPorts.has(r.ifindex)) problems.push(`down ${k.prefix} -> ifindex ${r.ifindex}, not a tx port`);
  expect(problems, `inconsistent after ${at}`).toEqual([]);
}

/** Fresh maps holding `config`, with a log and the consistency check after every write. */
function installed(config: unknown): { maps: MemoryMap[]; log: WriteLog } {
  const log = new WriteLog();
  const maps = memoryMaps({ log });
  reconcile(tablesOf(config), maps);
  log.clear();
  log.afterEach = (e) => checkConsistent(maps, `${e.op} ${e.map}`);
  return { maps, log };
}

const summary = (events: WriteEvent[]) => events.map((e) => `${e.cleared ? 'clear' : e.op} ${e.map} ${e.keys.length}`);

describe('idempotence', () => {
  test('a fresh install writes every table, pointees first; applying again writes nothing', () => {
    const log = new WriteLog();
    const maps = memoryMaps({ log });
    log.afterEach = (e) => checkConsistent(maps, `${e.op} ${e.map}`);
    const t = tablesOf(site());
    const first = reconcile(t, maps);
    expect(summary(log.events)).toEqual([
      'set nexthop 4',
      'set nh_group 4',
      'set tx_port 4',
      'set label_stats 4',
      'set ilm 4',
      'set fec_up 2',
      'set isp_route_v4_exact 1',
      'set isp_port 1',
      'set down_v4_exact 2',
      'set down_v4 1',
      'set down_v6_exact 1',
      'set sub_mac 1',
      'set sub_vlan 1',
      'set sub_v4_exact 1',
      'set sub_v6_exact 1',
      'set local 1',
      // every port sends ICMP errors from acc0's address, the node's only one
      'set icmp_src 4',
      'set settings 1',
      'set policer 1',
      'set icmp_limit 1',
    ]);
    expect(first.result).toEqual({ steps: 20, written: 40, deleted: 0 });
    log.clear();
    const second = reconcile(t, maps);
    expect(second.plan.empty).toBe(true);
    expect(log.events).toEqual([]);
    expect(prefixOrderFree(state(maps).tables)).toEqual(prefixOrderFree({ ...t, ilm: new Map([...t.ilm]) }));
  });

  test('re-compiling an unchanged config writes nothing', () => {
    const { maps, log } = installed(site());
    reconcile(tablesOf(site()), maps);
    expect(log.events).toEqual([]);
  });
});

describe("moving a subscriber to another ISP", () => {
  test('by MAC: one write to its classifier; its downstream route is made before the old is removed', () => {
    const { maps, log } = installed(site());
    const c = site();
    c.subscribers[0].isp = 'beta';
    reconcile(tablesOf(c), maps);
    expect(log.events.map((e) => `${e.op} ${e.map}`)).toEqual(['set down_v4_exact', 'set sub_mac', 'delete down_v4_exact']);
    expect(log.events.map((e) => e.keys.length)).toEqual([1, 1, 1]);
    const upstream = log.events.filter((e) => e.map.startsWith('sub_'));
    expect(upstream).toHaveLength(1);
    expect(upstream[0]!.keys).toEqual([macKeyCodec.encode({ mac: '02:aa:00:00:00:01' }).toString('hex')]);
    expect(maps.find((m) => m.name === 'sub_mac')!.get(macKeyCodec.encode({ mac: '02:aa:00:00:00:01' }))!.readUInt32LE(0)).toBe(2);
  });

  test('by prefix: one write to sub_v4, its delivery moves scope around it', () => {
    const oneBlock = () => {
      const c = site();
      c.subscribers[2].match.prefix = ['100.64.2.0/24'];
      return c;
    };
    const { maps, log } = installed(oneBlock());
    const c = oneBlock();
    c.subscribers[2].isp = 'beta';
    reconcile(tablesOf(c), maps);
    expect(summary(log.events)).toEqual(['set down_v4 1', 'set sub_v4_exact 1', 'delete down_v4 1']);
  });

  test('by VLAN: one write to sub_vlan', () => {
    const { maps, log } = installed(site());
    const c = site();
    c.subscribers[1].isp = 'alpha';
    reconcile(tablesOf(c), maps);
    expect(summary(log.events)).toEqual(['set down_v4_exact 1', 'set sub_vlan 1', 'delete down_v4_exact 1']);
  });
});

describe('a new label plan (whole-table replacement)', () => {
  function renumbered(): any {
    const c = site();
    c.isps[0].upstream.labels = [7001];
    c.isps[1].upstream = { labels: [7002], nexthop: { interface: 'core1', neighbour: 'p3' } }; // also a new path
    c.isps[1].downstream.routes[0].labels = [7302];
    c.ilm = [
      { label: 8001, action: 'pop-to-subscriber', isp: 'alpha' },
      { label: 8002, action: 'pop-to-subscriber', isp: 'beta' },
      { label: 8202, action: 'pop-to-isp', isp: 'beta', nexthop: { interface: 'isp0', neighbour: 'gw' } },
      { label: 8500, action: 'swap', labels: [8501], nexthop: [{ interface: 'core1', neighbour: 'p3' }, { interface: 'core0', neighbour: 'p2' }] },
    ];
    return c;
  }

  test('new ILM entries and groups are written alongside the old, pointers switch, the old go last', () => {
    const { maps, log } = installed(site());
    const r = reconcile(tablesOf(renumbered()), maps);
    expect(summary(log.events)).toEqual([
      'set nh_group 1', // {p3, p2} for the new swap
      'set label_stats 4', // counters for the new labels, before the labels exist
      'set ilm 4', // the new labels, next to the old ones
      'set fec_up 2', // upstream pointers switch to the new labels
      'set isp_route_v4_exact 1', // downstream pointer switches to the new label
      'delete ilm 4', // the old labels, once nothing pushes them
      'delete label_stats 4',
      'clear nh_group 1', // {p1}: beta's old path, unused now (p1 stays, alpha's group uses it)
    ]);
    expect(r.plan.diffs.find((x) => x.map === 'nexthop')!.removes).toEqual([]);
  });
});

describe('a failed write', () => {
  test('stops at the failing step, reports it, leaves the maps consistent; a retry converges', () => {
    const { maps, log } = installed(site());
    const c = site();
    c.isps[0].upstream.labels = [7001];
    c.ilm[0].label = 8001;
    c.subscribers[0].isp = 'beta';
    log.failWhen = (e) => (e.map === 'fec_up' ? new Error('EPERM: operation not permitted') : undefined);
    let err: unknown;
    try {
      reconcile(tablesOf(c), maps);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApplyError);
    const ae = err as ApplyError;
    expect(ae.step.map).toBe('fec_up');
    expect(ae.completed.steps).toBe(ae.index);
    expect(ae.message).toMatch(/^reconcile stopped at step \d+ \(write 1 to fec_up\): EPERM: operation not permitted; .* reconcile again to converge$/);
    // new entries are in place, the classifier has not moved, nothing was removed
    expect(summary(log.events)).toEqual(['set label_stats 1', 'set ilm 1']);
    checkConsistent(maps, 'the failure');

    log.failWhen = undefined;
    log.clear();
    reconcile(tablesOf(c), maps);
    expect(summary(log.events)).toEqual(['set fec_up 1', 'set down_v4_exact 1', 'set sub_mac 1', 'delete down_v4_exact 1', 'delete ilm 1', 'delete label_stats 1']);
    log.clear();
    expect(reconcile(tablesOf(c), maps).plan.empty).toBe(true);
  });

  test('a failure while removing leaves stale but harmless entries; a retry removes them', () => {
    const { maps, log } = installed(site());
    const c = site();
    c.isps[0].upstream.nexthop = { interface: 'core1', neighbour: 'p3' };
    log.failWhen = (e) => (e.cleared ? new Error('EIO') : undefined); // the first removal fails
    expect(() => reconcile(tablesOf(c), maps)).toThrow(ApplyError);
    expect(summary(log.events)).toEqual(['set fec_up 1']);
    checkConsistent(maps, 'the failure');
    log.failWhen = undefined;
    log.clear();
    reconcile(tablesOf(c), maps);
    // {p1, p2} is unused now, and so is p2
    expect(summary(log.events)).toEqual(['clear nh_group 1', 'clear nexthop 1']);
    expect(reconcile(tablesOf(c), maps).plan.empty).toBe(true);
  });

  test('failing at every possible step of a big change: each stop is consistent and a retry converges', () => {
    const target = (() => {
      const c = site();
      c.isps[0].upstream = { labels: [7001, 17], tc: 3, nexthop: { interface: 'core1', neighbour: 'p3' } };
      c.isps.push({ id: 9, name: 'gamma', upstream: { labels: [1009], nexthop: { interface: 'core0', neighbour: 'p2' } } });
      c.subscribers[0].isp = 'gamma';
      c.subscribers[1].isp = 'alpha';
      c.subscribers.splice(2, 1);
      c.ilm.splice(3, 1, { label: 6000, action: 'pop-forward', nexthop: { interface: 'core0', neighbour: 'p1' } });
      c.ttlMode = 'pipe';
      return c;
    })();
    const steps = planTables(tablesOf(target), installed(site()).maps).steps.length;
    expect(steps).toBeGreaterThan(10);
    for (let failAt = 0; failAt < steps; failAt++) {
      const { maps, log } = installed(site());
      let calls = 0;
      log.failWhen = () => (calls++ === failAt ? new Error('injected') : undefined);
      expect(() => reconcile(tablesOf(target), maps)).toThrow(ApplyError);
      log.failWhen = undefined;
      reconcile(tablesOf(target), maps);
      expect(planTables(tablesOf(target), maps).empty).toBe(true);
    }
  });
});

describe('runtime state the data plane owns', () => {
  test("a policer's tokens and last_ns are left alone; a new rate resets the bucket", () => {
    const { maps, log } = installed(site());
    const pol = maps.find((m) => m.name === 'policer')!;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(2); // alpha up
    const v = policerCodec.decode(pol.get(key)!);
    expect(v).toMatchObject({ rate: 12_500_000n, burst: 262_144n, tokens: 262_144n, lastNs: 0n });
    pol.seed([[key, policerCodec.encode({ ...v, tokens: 17n, lastNs: 123_456_789n })]]); // traffic ran
    reconcile(tablesOf(site()), maps);
    expect(log.events).toEqual([]);
    const c = site();
    c.isps[0].policer.up.rate = '200Mbit';
    reconcile(tablesOf(c), maps);
    expect(summary(log.events)).toEqual(['set policer 1']);
    expect(policerCodec.decode(pol.get(key)!)).toMatchObject({ rate: 25_000_000n, burst: 262_144n, tokens: 262_144n, lastNs: 0n });
  });

  test('label counters in use are never overwritten; a removed label loses its counter', () => {
    const { maps, log } = installed(site());
    const stats = maps.find((m) => m.name === 'label_stats')!;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(4001);
    stats.seed([[key, Buffer.alloc(32, 9)]]);
    const c = site();
    c.ilm[0].action = 'pop-to-subscriber';
    c.ilm[0].isp = 'beta'; // the label's action changes, the label stays
    reconcile(tablesOf(c), maps);
    expect(summary(log.events)).toEqual(['set ilm 1']);
    expect(stats.get(key)).toEqual(Buffer.alloc(32, 9));
    log.clear();
    c.ilm.shift();
    reconcile(tablesOf(c), maps);
    expect(summary(log.events)).toEqual(['delete ilm 1', 'delete label_stats 1']);
  });
});

describe('dry run', () => {
  test('lists per table what would change, decoded, and writes nothing', () => {
    const { maps, log } = installed(site());
    const c = site();
    c.subscribers[0].isp = 'beta';
    c.ilm[3] = { label: 5100, action: 'swap', labels: [5101, 16], tc: 2, nexthop: { interface: 'core1', neighbour: 'p3' } };
    const text = dryRun(tablesOf(c), maps);
    expect(log.events).toEqual([]);
    const lines = text.split('\n');
    expect(lines).toContain('ilm: 1 added, 0 changed, 1 removed');
    expect(lines.some((l) => /^ {2}\+ label 5100 {2}swap to \[5101 16\] tc 2 via group \d+$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}- label 5000 {2}swap to \[5001\] tc 0 via group \d+$/.test(l))).toBe(true);
    expect(lines).toContain('sub_mac: 0 added, 1 changed, 0 removed');
    expect(lines).toContain('  ~ 02:aa:00:00:00:01  -> isp 2 (was -> isp 1)');
    expect(lines).toContain('down_v4_exact: 1 added, 0 changed, 1 removed');
    expect(lines).toContain('  + isp 2 100.64.1.7/32  if 2 untagged mtu 1500 02:ee:00:00:00:02 -> 02:aa:00:00:00:01');
    expect(lines).toContain('label_stats: 1 added, 0 changed, 1 removed');
  });

  test('an unchanged config is "no changes"', () => {
    const { maps } = installed(site());
    expect(dryRun(tablesOf(site()), maps)).toBe('no changes');
  });
});

test('arrays listed whole, as the kernel does, plan the same as sparse ones', () => {
  const sparse = memoryMaps();
  const dense = memoryMaps().map((m) => (m.kind === 'array' ? new MemoryMap(m.name, { kind: 'array', valueSize: m.valueSize, maxEntries: m.maxEntries, dense: true, log: m.log }) : m));
  const t = tablesOf(site());
  reconcile(t, sparse);
  reconcile(t, dense);
  expect(planTables(t, dense).empty).toBe(true);
  const c = site();
  c.isps.pop();
  c.subscribers.splice(1, 1);
  c.ilm.splice(1, 2);
  const a = planTables(tablesOf(c), sparse);
  const b = planTables(tablesOf(c), dense);
  expect(b.steps).toEqual(a.steps);
  expect(a.steps.some((s) => s.map === 'fec_up' && s.phase === 'remove')).toBe(true);
});

test('apply reports a map missing from the object as a failed step', () => {
  const log = new WriteLog();
  const maps = memoryMaps({ log });
  const p = planTables(tablesOf(site()), maps);
  const err = (() => {
    try {
      apply(p, maps.filter((m) => m.name !== 'ilm'));
    } catch (e) {
      return e as ApplyError;
    }
    return undefined;
  })();
  expect(err).toBeInstanceOf(ApplyError);
  expect(err!.step.map).toBe('ilm');
  expect(err!.message).toContain("no map named 'ilm'");
});
