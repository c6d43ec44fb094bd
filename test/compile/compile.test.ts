// The compiler: exact tables for small configurations, deterministic and stable ids, and the
// documented examples compiling against fake interfaces.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compile, CompileError, staticEnv, assignIds, fnv1a } from '../../control/compile/index.js';
import { loadConfigFile, validateConfig } from '../../control/config/index.js';
import { emptyTables, type Tables } from '../../control/tables/types.js';

const env = staticEnv({
  eth0: { ifindex: 10, mac: '02:ee:00:00:00:10' },
  eth1: { ifindex: 11, mac: '02:ee:00:00:00:11' },
  eth2: { ifindex: 12, mac: '02:ee:00:00:00:12' },
  eth3: { ifindex: 13, mac: '02:ee:00:00:00:13' },
});

const P1 = '02:00:00:00:00:01';
const P2 = '02:00:00:00:00:02';
const GW = '02:00:00:00:00:a1';
const GWB = '02:00:00:00:00:b1';
// Ids are derived from identities (see control/compile/ids.ts); these are those values.
const NH_P1 = 14131; // eth1 untagged -> P1
const NH_P2 = 16108; // eth1 untagged -> P2
const NH_GW = 47524; // eth2 untagged -> GW
const NH_GWB = 25206; // eth3 VLAN 200 -> GWB
const G_P1P2 = 2909; // ECMP group {P1, P2}

function interfaces(): any[] {
  return [
    { name: 'acc0', device: 'eth0', role: 'access', mtu: 1500, addresses: ['192.0.2.1/24'] },
    { name: 'core0', device: 'eth1', role: 'core', mtu: 9000, addresses: ['10.255.0.0/31', '2001:db8:ff::/127'], neighbours: { p1: P1, p2: P2 } },
    { name: 'isp0', device: 'eth2', role: 'isp', mtu: 1500, neighbours: { gw: GW } },
    { name: 'isp-b', device: 'eth3', role: 'isp', vlan: 200, mtu: 1496, neighbours: { gw: GWB } },
  ];
}

// ICMP errors of interfaces(): each port's own first address, else the node's lowest one (acc0 has
// no IPv6 address, isp0 and isp-b none at all); the ISP VLAN port keyed by its VLAN; Linux's limits.
const ICMP: Pick<Tables, 'icmpSources' | 'icmpLimit'> = {
  icmpSources: [
    [{ ifindex: 10, vid: 0 }, { v4: '192.0.2.1', v6: '2001:db8:ff::' }],
    [{ ifindex: 11, vid: 0 }, { v4: '10.255.0.0', v6: '2001:db8:ff::' }],
    [{ ifindex: 12, vid: 0 }, { v4: '10.255.0.0', v6: '2001:db8:ff::' }],
    [{ ifindex: 13, vid: 200 }, { v4: '10.255.0.0', v6: '2001:db8:ff::' }],
  ],
  icmpLimit: { rate: 1000, burst: 50 },
};

function tables(patch: Partial<Tables>): Tables {
  return { ...emptyTables(), ...patch };
}

describe('exact tables', () => {
  test('a headend: MAC, VLAN and prefix classifiers, an ECMP FEC, a policer, downstream delivery', () => {
    const config = validateConfig({
      node: 'he',
      interfaces: interfaces(),
      isps: [
        {
          id: 1,
          name: 'alpha',
          policer: { up: { rate: '100Mbit', burst: '256KB' } },
          upstream: { labels: [1001], nexthop: [{ interface: 'core0', neighbour: 'p2' }, { interface: 'core0', neighbour: 'p1' }] },
        },
        { id: 2, name: 'beta', upstream: { labels: [1002, 16], tc: 5, nexthop: { interface: 'core0', neighbour: 'p1' } } },
      ],
      subscribers: [
        { name: 'alice', isp: 'alpha', match: { mac: '02:AA:00:00:00:01' }, deliver: { interface: 'acc0', addresses: ['100.64.1.7', '2001:db8:1::/64'] } },
        {
          name: 'bob',
          isp: 'beta',
          match: { vlan: { interface: 'acc0', outer: 100, inner: 7, tpid: '802.1ad' } },
          deliver: { mac: '02:aa:00:00:00:02', addresses: '10.0.0.2' },
        },
        { name: 'carol', isp: 'alpha', match: { prefix: ['100.64.2.0/24'] }, deliver: { interface: 'acc0', mac: '02:aa:00:00:00:03' } },
      ],
      ilm: [
        { label: 4002, action: 'pop-to-subscriber', isp: 'beta' },
        { label: 4001, action: 'pop-to-subscriber', isp: 1 },
      ],
    });
    const alice = { ifindex: 10, mtu: 1500, outerTpid: 0, outerVid: 0, innerVid: 0, dmac: '02:aa:00:00:00:01', smac: '02:ee:00:00:00:10' };
    expect(compile(config, env)).toEqual(
      tables({
        // MAC and prefix matches carry the subscriber's access line: acc0 (ifindex 10), untagged
        subMac: new Map([['02:aa:00:00:00:01', { isp: 1, ifindex: 10, outerVid: 0, innerVid: 0 }]]),
        subVlan: [[{ ifindex: 10, outerVid: 100, innerVid: 7 }, 2]],
        subV4: new Map([['100.64.2.0/24', { isp: 1, ifindex: 10, outerVid: 0, innerVid: 0 }]]),
        fecUp: new Map([
          [1, { labels: [1001], tc: 0, nhGroup: G_P1P2 }],
          [2, { labels: [1002, 16], tc: 5, nhGroup: NH_P1 }],
        ]),
        nhGroups: new Map([
          [G_P1P2, { nexthops: [NH_P1, NH_P2] }],
          [NH_P1, { nexthops: [NH_P1] }],
        ]),
        nexthops: new Map([
          [NH_P1, { ifindex: 11, mtu: 9000, vid: 0, dmac: P1, smac: '02:ee:00:00:00:11' }],
          [NH_P2, { ifindex: 11, mtu: 9000, vid: 0, dmac: P2, smac: '02:ee:00:00:00:11' }],
        ]),
        txPorts: new Set([10, 11]),
        ilm: new Map([
          [4001, { action: 'pop-to-sub', isp: 1 }],
          [4002, { action: 'pop-to-sub', isp: 2 }],
        ]),
        downV4: [
          [{ isp: 1, prefix: '100.64.1.7/32' }, alice],
          [{ isp: 1, prefix: '100.64.2.0/24' }, { ...alice, dmac: '02:aa:00:00:00:03' }],
          [{ isp: 2, prefix: '10.0.0.2/32' }, { ...alice, outerTpid: 0x88a8, outerVid: 100, innerVid: 7, dmac: '02:aa:00:00:00:02' }],
        ],
        downV6: [[{ isp: 1, prefix: '2001:db8:1::/64' }, alice]],
        local: new Set(['10.255.0.0', '192.0.2.1', '2001:db8:ff::']),
        policers: new Map([[2, { rate: 12_500_000n, burst: 262_144n }]]),
        ...ICMP,
      }),
    );
  });

  test('a tailend: ISP ports (one a VLAN), scoped routes, pop-to-isp, a downstream policer', () => {
    const config = validateConfig({
      node: 'te',
      ttlMode: 'pipe',
      unknownSubscriber: 'pass',
      interfaces: interfaces(),
      isps: [
        {
          id: 1,
          name: 'alpha',
          policer: { down: { rate: '1Gbit', burst: '1MB' } },
          downstream: {
            links: [{ interface: 'isp0' }],
            routes: [
              { prefix: '100.64.0.0/16', labels: [3001], nexthop: { interface: 'core0', neighbour: 'p1' } },
              { prefix: '10.0.0.0/8', labels: [3001], nexthop: { interface: 'core0', neighbour: 'p1' } },
              { prefix: '2001:db8::/32', labels: [3001], tc: 2, nexthop: { interface: 'core0', neighbour: 'p1' } },
            ],
          },
        },
        {
          id: 2,
          name: 'beta',
          downstream: {
            links: [{ interface: 'isp-b' }],
            routes: [{ prefix: '10.0.0.0/8', labels: [3002], nexthop: [{ interface: 'core0', neighbour: 'p1' }, { interface: 'core0', neighbour: 'p2' }] }],
          },
        },
      ],
      ilm: [
        { label: 2001, action: 'pop-to-isp', isp: 'alpha', nexthop: { interface: 'isp0', neighbour: 'gw' } },
        { label: 2002, action: 'pop-to-isp', isp: 'beta', nexthop: { interface: 'isp-b', neighbour: 'gw' } },
      ],
    });
    expect(compile(config, env)).toEqual(
      tables({
        settings: { ttlMode: 'pipe', unknownPolicy: 'pass' },
        nhGroups: new Map([
          [G_P1P2, { nexthops: [NH_P1, NH_P2] }],
          [NH_P1, { nexthops: [NH_P1] }],
          [NH_GWB, { nexthops: [NH_GWB] }],
          [NH_GW, { nexthops: [NH_GW] }],
        ]),
        nexthops: new Map([
          [NH_P1, { ifindex: 11, mtu: 9000, vid: 0, dmac: P1, smac: '02:ee:00:00:00:11' }],
          [NH_P2, { ifindex: 11, mtu: 9000, vid: 0, dmac: P2, smac: '02:ee:00:00:00:11' }],
          [NH_GWB, { ifindex: 13, mtu: 1496, vid: 200, dmac: GWB, smac: '02:ee:00:00:00:13' }],
          [NH_GW, { ifindex: 12, mtu: 1500, vid: 0, dmac: GW, smac: '02:ee:00:00:00:12' }],
        ]),
        txPorts: new Set([11, 12, 13]),
        ilm: new Map([
          [2001, { action: 'pop-to-isp', isp: 1, nhGroup: NH_GW }],
          [2002, { action: 'pop-to-isp', isp: 2, nhGroup: NH_GWB }],
        ]),
        ispPorts: [
          [{ ifindex: 12, vid: 0 }, 1],
          [{ ifindex: 13, vid: 200 }, 2],
        ],
        ispRouteV4: [
          [{ isp: 1, prefix: '10.0.0.0/8' }, { labels: [3001], tc: 0, nhGroup: NH_P1 }],
          [{ isp: 1, prefix: '100.64.0.0/16' }, { labels: [3001], tc: 0, nhGroup: NH_P1 }],
          [{ isp: 2, prefix: '10.0.0.0/8' }, { labels: [3002], tc: 0, nhGroup: G_P1P2 }],
        ],
        ispRouteV6: [[{ isp: 1, prefix: '2001:db8::/32' }, { labels: [3001], tc: 2, nhGroup: NH_P1 }]],
        local: new Set(['10.255.0.0', '192.0.2.1', '2001:db8:ff::']),
        policers: new Map([[3, { rate: 125_000_000n, burst: 1_048_576n }]]),
        ...ICMP,
      }),
    );
  });

  test('ICMP errors: the file sets the bucket (rate 0 sends none); an unnumbered port borrows the node\'s lowest address; link-local IPv6 is never a source', () => {
    const c = validateConfig({
      node: 'x',
      icmp: { rate: 0, burst: 5 },
      interfaces: [
        { name: 'acc0', device: 'eth0', role: 'access', addresses: ['fe80::1/64', '198.51.100.9/24'] },
        { name: 'core0', device: 'eth1', role: 'core', addresses: ['10.9.0.1/31', '10.1.0.1/31'] },
      ],
    });
    const t = compile(c, env);
    expect(t.icmpLimit).toEqual({ rate: 0, burst: 5 });
    expect(t.icmpSources).toEqual([
      [{ ifindex: 10, vid: 0 }, { v4: '198.51.100.9' }],
      [{ ifindex: 11, vid: 0 }, { v4: '10.9.0.1' }],
    ]);
    expect(() => validateConfig({ node: 'x', icmp: { rate: 1_000_001 } })).toThrow(/icmp/);
    expect(() => validateConfig({ node: 'x', icmp: { rate: 10, burst: 0 } })).toThrow(/icmp/);
    expect(() => validateConfig({ node: 'x', icmp: { rate: 10, every: 1 } })).toThrow(/every/);
  });

  test('an LSR: swap, PHP and pop-continue entries', () => {
    const config = validateConfig({
      node: 'lsr',
      interfaces: interfaces().slice(1, 2),
      ilm: [
        { label: 100, action: 'swap', labels: [200, 300], tc: 3, nexthop: { interface: 'core0', neighbour: 'p2' } },
        { label: 101, action: 'pop-forward', nexthop: [{ interface: 'core0', neighbour: 'p1' }, { interface: 'core0', neighbour: 'p2' }] },
        { label: 102, action: 'pop-continue' },
      ],
    });
    const t = compile(config, env);
    expect(t.ilm).toEqual(
      new Map([
        [100, { action: 'swap', labels: [200, 300], tc: 3, nhGroup: NH_P2 }],
        [101, { action: 'pop-forward', nhGroup: G_P1P2 }],
        [102, { action: 'pop-continue' }],
      ]),
    );
    expect([...t.nhGroups.keys()].sort()).toEqual([NH_P2, G_P1P2].sort());
    expect(t.txPorts).toEqual(new Set([11]));
  });
});

test('an ISP link may name the VLAN the ISP tags with on an untagged interface', () => {
  const c = validateConfig({
    node: 'te',
    interfaces: interfaces(),
    isps: [{ id: 4, name: 'delta', downstream: { links: [{ interface: 'isp0', vlan: 30 }, { interface: 'isp-b' }] } }],
  });
  expect(compile(c, env).ispPorts).toEqual([
    [{ ifindex: 12, vid: 30 }, 4],
    [{ ifindex: 13, vid: 200 }, 4],
  ]);
});

describe('ids', () => {
  test('an id is 1 + FNV-1a(key) mod 65535', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(assignIds(['k'])).toEqual(new Map([['k', (fnv1a('k') % 65535) + 1]]));
  });

  test('collisions probe forward to the next free id, keys taken in sorted order', () => {
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const ids = assignIds([...keys].reverse(), 5);
    expect(new Set(ids.values())).toEqual(new Set([1, 2, 3, 4, 5]));
    const used = new Set<number>();
    for (const k of keys) {
      let id = (fnv1a(k) % 5) + 1;
      while (used.has(id)) id = (id % 5) + 1;
      used.add(id);
      expect(ids.get(k)).toBe(id);
    }
    expect(() => assignIds(['a', 'b'], 1)).toThrow(RangeError);
  });
});

describe('determinism and stability', () => {
  function headend(extra: any = {}): any {
    return {
      node: 'he',
      interfaces: interfaces(),
      isps: [
        { id: 1, name: 'alpha', upstream: { labels: [1001], nexthop: { interface: 'core0', neighbour: 'p1' } } },
        { id: 2, name: 'beta', upstream: { labels: [1002], nexthop: [{ interface: 'core0', neighbour: 'p1' }, { interface: 'core0', neighbour: 'p2' }] } },
      ],
      subscribers: Array.from({ length: 20 }, (_, i) => ({
        name: `s${i}`,
        isp: i % 2 ? 'alpha' : 'beta',
        match: { mac: `02:aa:00:00:00:${i.toString(16).padStart(2, '0')}`, prefix: `100.64.${i}.0/24` },
        deliver: { interface: 'acc0' },
      })),
      ...extra,
    };
  }

  test('compiling the same config twice gives identical tables', () => {
    const c = validateConfig(headend());
    expect(compile(c, env)).toEqual(compile(c, env));
  });

  test('the order of the lists in the file does not matter', () => {
    const a = headend();
    const b = headend();
    b.isps.reverse();
    b.subscribers.reverse();
    b.interfaces.reverse();
    b.isps[0].upstream.nexthop.reverse();
    const ta = compile(validateConfig(a), env);
    const tb = compile(validateConfig(b), env);
    expect(tb).toEqual(ta);
    // …down to the iteration order, which is what the reconciler and a dry run print
    expect([...tb.subMac]).toEqual([...ta.subMac]);
    expect([...tb.nexthops.keys()]).toEqual([...ta.nexthops.keys()]);
    expect(tb.downV4).toEqual(ta.downV4);
  });

  test('adding an ISP with a new next hop changes no existing id', () => {
    const before = compile(validateConfig(headend()), env);
    const edited = headend();
    edited.interfaces[1].neighbours.p3 = '02:00:00:00:00:03';
    edited.isps.push({ id: 3, name: 'gamma', upstream: { labels: [1003], nexthop: { interface: 'core0', neighbour: 'p3' } } });
    const after = compile(validateConfig(edited), env);
    for (const [id, nh] of before.nexthops) expect(after.nexthops.get(id)).toEqual(nh);
    for (const [id, g] of before.nhGroups) expect(after.nhGroups.get(id)).toEqual(g);
    expect(after.nexthops.size).toBe(before.nexthops.size + 1);
    expect(after.fecUp.get(1)).toEqual(before.fecUp.get(1));
    expect(after.fecUp.get(2)).toEqual(before.fecUp.get(2));
  });

  test('changing the members of an ECMP group makes a new group; the next hops keep their ids', () => {
    const before = compile(validateConfig(headend()), env);
    const edited = headend();
    edited.isps[1].upstream.nexthop = { interface: 'core0', neighbour: 'p2' };
    const after = compile(validateConfig(edited), env);
    expect(after.fecUp.get(2)!.nhGroup).toBe(NH_P2);
    expect(before.fecUp.get(2)!.nhGroup).toBe(G_P1P2);
    expect(after.nexthops.get(NH_P1)).toEqual(before.nexthops.get(NH_P1));
    expect(after.nexthops.get(NH_P2)).toEqual(before.nexthops.get(NH_P2));
  });

  test('moving a subscriber to another ISP changes its classifier value and its delivery scope only', () => {
    const before = compile(validateConfig(headend()), env);
    const edited = headend();
    edited.subscribers[3].isp = 'beta';
    const after = compile(validateConfig(edited), env);
    expect(after.subMac.get('02:aa:00:00:00:03')).toEqual({ ...before.subMac.get('02:aa:00:00:00:03'), isp: 2 });
    expect(after.subV4.get('100.64.3.0/24')).toEqual({ ...before.subV4.get('100.64.3.0/24'), isp: 2 });
    const scoped = (t: Tables) => t.downV4.filter(([k]) => k.prefix === '100.64.3.0/24').map(([k]) => k.isp);
    expect(scoped(before)).toEqual([1]);
    expect(scoped(after)).toEqual([2]);
    expect({ ...after, subMac: 0, subV4: 0, downV4: 0 }).toEqual({ ...before, subMac: 0, subV4: 0, downV4: 0 });
  });
});

describe('access lines of MAC and prefix matches', () => {
  const base = (subscribers: any[], extraInterfaces: any[] = []): any => ({
    node: 'he',
    interfaces: [...interfaces(), ...extraInterfaces],
    isps: [{ id: 1, name: 'alpha', upstream: { labels: [1001], nexthop: { interface: 'core0', neighbour: 'p1' } } }],
    subscribers,
  });
  const env5 = staticEnv({
    eth0: { ifindex: 10, mac: '02:ee:00:00:00:10' },
    eth1: { ifindex: 11, mac: '02:ee:00:00:00:11' },
    eth2: { ifindex: 12, mac: '02:ee:00:00:00:12' },
    eth3: { ifindex: 13, mac: '02:ee:00:00:00:13' },
    eth4: { ifindex: 14, mac: '02:ee:00:00:00:14' },
  });

  test('the line is match.vlan, else deliver.interface with deliver.vlan, else the only access port', () => {
    const t = compile(
      validateConfig(
        base([
          { name: 'qinq', isp: 'alpha', match: { mac: '02:aa:00:00:00:01', vlan: { interface: 'acc0', outer: 100, inner: 7 } } },
          { name: 'tagged', isp: 'alpha', match: { prefix: '100.64.9.0/24' }, deliver: { interface: 'acc0', mac: '02:aa:00:00:00:02', vlan: { outer: 300 } } },
          { name: 'bare', isp: 'alpha', match: { mac: '02:aa:00:00:00:03' } },
        ]),
      ),
      env5,
    );
    expect(t.subMac.get('02:aa:00:00:00:01')).toEqual({ isp: 1, ifindex: 10, outerVid: 100, innerVid: 7 });
    expect(t.subV4.get('100.64.9.0/24')).toEqual({ isp: 1, ifindex: 10, outerVid: 300, innerVid: 0 });
    expect(t.subMac.get('02:aa:00:00:00:03')).toEqual({ isp: 1, ifindex: 10, outerVid: 0, innerVid: 0 });
  });

  test('with two access ports a MAC or prefix match must name its port; naming it compiles to that port', () => {
    const acc1 = { name: 'acc1', device: 'eth4', role: 'access' };
    expect(() => validateConfig(base([{ name: 'bare', isp: 'alpha', match: { prefix: '100.64.9.0/24' } }], [acc1]))).toThrow(
      /subscribers\[0\]\.match.*access port.*this node has 2 access interfaces/s,
    );
    const t = compile(validateConfig(base([{ name: 'named', isp: 'alpha', match: { prefix: '100.64.9.0/24' }, deliver: { interface: 'acc1', mac: '02:aa:00:00:00:09' } }], [acc1])), env5);
    expect(t.subV4.get('100.64.9.0/24')).toEqual({ isp: 1, ifindex: 14, outerVid: 0, innerVid: 0 });
    // a subscriber matched by VLAN alone needs nothing more
    expect(() => validateConfig(base([{ name: 'v', isp: 'alpha', match: { vlan: { interface: 'acc1', outer: 5 } } }], [acc1]))).not.toThrow();
  });
});

describe('LSR labels counted per ISP', () => {
  const lsr = (ilm: any[]): any => ({
    node: 'lsr',
    interfaces: interfaces(),
    isps: [{ id: 1, name: 'alpha' }, { id: 2, name: 'beta' }],
    ilm,
  });

  test('swap and pop-forward carry the ISP and direction they name, others none', () => {
    const t = compile(
      validateConfig(
        lsr([
          { label: 100, action: 'swap', labels: [101], nexthop: { interface: 'core0', neighbour: 'p1' }, isp: 'beta', direction: 'down' },
          { label: 102, action: 'pop-forward', nexthop: { interface: 'core0', neighbour: 'p1' }, isp: 1, direction: 'up' },
          { label: 103, action: 'swap', labels: [104], nexthop: { interface: 'core0', neighbour: 'p1' } },
        ]),
      ),
      env,
    );
    expect(t.ilm.get(100)).toEqual({ action: 'swap', labels: [101], tc: 0, nhGroup: NH_P1, isp: 2, direction: 'down' });
    expect(t.ilm.get(102)).toEqual({ action: 'pop-forward', nhGroup: NH_P1, isp: 1, direction: 'up' });
    expect(t.ilm.get(103)).toEqual({ action: 'swap', labels: [104], tc: 0, nhGroup: NH_P1 });
  });

  test('an unknown ISP, or isp without direction (and the reverse), is refused', () => {
    const nh = { interface: 'core0', neighbour: 'p1' };
    expect(() => validateConfig(lsr([{ label: 100, action: 'swap', labels: [101], nexthop: nh, isp: 'gamma', direction: 'up' }]))).toThrow(/ilm\[0\]\.isp.*gamma/s);
    expect(() => validateConfig(lsr([{ label: 100, action: 'swap', labels: [101], nexthop: nh, isp: 'alpha' }]))).toThrow(/ilm\[0\]\.direction.*required with isp/s);
    expect(() => validateConfig(lsr([{ label: 100, action: 'pop-forward', nexthop: nh, direction: 'down' }]))).toThrow(/ilm\[0\]\.isp.*required with direction/s);
    expect(() => validateConfig(lsr([{ label: 100, action: 'pop-forward', nexthop: nh, isp: 'alpha', direction: 'sideways' }]))).toThrow(/direction must be 'up' or 'down'/);
  });
});

describe('the environment', () => {
  test('every interface whose device is missing is reported at once', () => {
    const c = validateConfig({ node: 'x', interfaces: [...interfaces(), { name: 'lost', device: 'eth9', role: 'core' }, { name: 'gone', role: 'access' }] });
    let err: unknown;
    try {
      compile(c, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompileError);
    expect((err as CompileError).problems).toEqual([
      "interface 'lost': device eth9 does not exist on this host",
      "interface 'gone': device gone does not exist on this host",
    ]);
  });
});

describe('the documented examples', () => {
  const dir = join(import.meta.dirname, '../../deploy/examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  test('there is one per role and a combined site', () => {
    expect(files.sort()).toEqual(['headend.yaml', 'lsr.yaml', 'small-site.yaml', 'tailend.yaml']);
  });

  test.each(files)('%s compiles against fake interfaces', async (file) => {
    const c = await loadConfigFile(join(dir, file));
    let n = 2;
    const devices: Record<string, { ifindex: number; mac: string }> = {};
    for (const i of c.interfaces) devices[i.device] ??= { ifindex: n, mac: `02:ee:00:00:00:${(n++).toString(16).padStart(2, '0')}` };
    const t = compile(c, staticEnv(devices));
    // every next hop a FEC, group or ILM entry names exists, and every egress port is a tx port
    const groups = [...t.fecUp.values(), ...t.ispRouteV4.map(([, f]) => f), ...t.ispRouteV6.map(([, f]) => f)].map((f) => f.nhGroup);
    for (const e of t.ilm.values()) if ('nhGroup' in e) groups.push(e.nhGroup);
    for (const g of groups) expect(t.nhGroups.has(g)).toBe(true);
    for (const g of t.nhGroups.values()) for (const nh of g.nexthops) expect(t.txPorts.has(t.nexthops.get(nh)!.ifindex)).toBe(true);
    for (const [, r] of [...t.downV4, ...t.downV6]) expect(t.txPorts.has(r.ifindex)).toBe(true);
  });

  test('headend.yaml delivers the same address to two ISPs, scoped', async () => {
    const c = await loadConfigFile(join(dir, 'headend.yaml'));
    const t = compile(c, staticEnv(Object.fromEntries(c.interfaces.map((i, k) => [i.device, { ifindex: k + 2, mac: '02:ee:00:00:00:01' }]))));
    expect(t.downV4.filter(([k]) => k.prefix === '10.0.0.2/32').map(([k, r]) => [k.isp, r.dmac, r.outerTpid, r.outerVid, r.innerVid])).toEqual([
      [1, '02:00:00:00:01:05', 0, 0, 0],
      [2, '02:00:00:00:01:02', 0x88a8, 100, 7],
    ]);
  });
});
