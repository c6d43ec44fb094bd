// The lab's generated router configs (no root needed): each passes the config schema and
// compiles, the label plan chains hop to hop, and a plan change can hold two generations.
import { describe, expect, test } from 'vitest';
import { parseConfig, validateConfig } from '../../control/config/index.js';
import { compile, staticEnv } from '../../control/compile/index.js';
import { DEFAULT_ASSIGNMENT, label, labelTable, planOf, routerConfigText, routerDocument } from '../../control/lab/plan.js';
import { CORE_LINKS, ISP_PLAN, ROUTERS, USER_PLAN, labNames, mgmtAddresses, type RouterName } from '../../control/lab/topology.js';

/** Every device a router's config names, with made-up ifindexes and MACs. */
function envFor(router: RouterName) {
  const devices: Record<string, { ifindex: number; mac: string }> = {};
  const doc = routerDocument(router) as { interfaces: Array<{ name: string }> };
  doc.interfaces.forEach((i, k) => (devices[i.name] = { ifindex: 10 + k, mac: `02:00:00:00:00:${(0x10 + k).toString(16)}` }));
  return staticEnv(devices);
}

describe('lab router configs', () => {
  for (const router of ROUTERS) {
    test(`${router}: the generated YAML passes parseConfig and compiles`, () => {
      const c = parseConfig(routerConfigText(router));
      expect(c.node).toBe(router);
      expect(c.ttlMode).toBe('uniform');
      const t = compile(c, envFor(router));
      expect(t.ilm.size).toBeGreaterThan(0);
    });
  }

  test('headend: one subscriber per classifier, upstream labels 1001/1002 and pop-to-subscriber 4001/4002', () => {
    const c = validateConfig(routerDocument('headend'));
    const t = compile(c, envFor('headend'));
    expect([...t.fecUp.entries()].map(([isp, f]) => [isp, f.labels])).toEqual([
      [1, [1001]],
      [2, [1002]],
    ]);
    expect([...t.ilm.keys()].sort()).toEqual([4001, 4002]);
    // MAC and prefix matches hold on the user's access port only (untagged there)
    expect(t.subMac.get(USER_PLAN.alice.host.mac)).toMatchObject({ isp: 1, outerVid: 0, innerVid: 0 });
    // ... the port its downstream traffic is delivered on
    const deliveredOn = (dmac: string) => t.downV4.find(([, r]) => r.dmac === dmac)![1].ifindex;
    expect(t.subMac.get(USER_PLAN.alice.host.mac)!.ifindex).toBe(deliveredOn(USER_PLAN.alice.host.mac));
    expect(t.subVlan).toHaveLength(1);
    expect(t.subVlan[0]![0]).toMatchObject({ outerVid: 100, innerVid: 7 });
    expect(t.subV4.get('100.64.3.0/24')).toMatchObject({ isp: 1, outerVid: 0, innerVid: 0 });
    expect(t.subV6.get('2001:db8:64:3::/64')).toMatchObject({ isp: 1, outerVid: 0, innerVid: 0 });
    expect(t.subV4.get('100.64.3.0/24')!.ifindex).toBe(t.downV4.find(([k]) => k.prefix === '100.64.3.0/24')![1].ifindex);
    // bob's downstream frames carry his two tags, the outer one 802.1ad
    const bob = t.downV4.find(([k]) => k.prefix === '100.64.2.2/32')!;
    expect(bob[1]).toMatchObject({ outerVid: 100, innerVid: 7, dmac: USER_PLAN.bob.host.mac });
  });

  test('lsr swaps 1001->2001 towards the tailend and 3001->4001 towards the headend', () => {
    const t = compile(validateConfig(routerDocument('lsr')), envFor('lsr'));
    expect(t.ilm.get(1001)).toMatchObject({ action: 'swap', labels: [2001] });
    expect(t.ilm.get(1002)).toMatchObject({ action: 'swap', labels: [2002] });
    expect(t.ilm.get(3001)).toMatchObject({ action: 'swap', labels: [4001] });
    expect(t.ilm.get(3002)).toMatchObject({ action: 'swap', labels: [4002] });
  });

  test('tailend pops 2001/2002 to each ISP host and labels the subscriber space back with 3001/3002', () => {
    const t = compile(validateConfig(routerDocument('tailend')), envFor('tailend'));
    expect(t.ilm.get(2001)).toMatchObject({ action: 'pop-to-isp', isp: 1 });
    expect(t.ilm.get(2002)).toMatchObject({ action: 'pop-to-isp', isp: 2 });
    const routes = [...t.ispRouteV4, ...t.ispRouteV6].map(([k, f]) => [k.isp, k.prefix, f.labels[0]]);
    expect(routes).toEqual(
      expect.arrayContaining([
        [1, '100.64.0.0/16', 3001],
        [2, '100.64.0.0/16', 3002],
        [1, '2001:db8:64::/48', 3001],
        [2, '2001:db8:64::/48', 3002],
      ]),
    );
    const nexthopMacs = [...t.nexthops.values()].map((n) => n.dmac);
    expect(nexthopMacs).toEqual(expect.arrayContaining([ISP_PLAN.alpha.host.mac, ISP_PLAN.beta.host.mac, CORE_LINKS[1]!.a.mac]));
  });

  test('a new plan generation uses labels disjoint from the old one, and both fit in one ILM', () => {
    const g0 = Object.values(labelTable(0)).flatMap((x) => [...x.up, ...x.down]);
    const g1 = Object.values(labelTable(1)).flatMap((x) => [...x.up, ...x.down]);
    expect(g1.filter((l) => g0.includes(l))).toEqual([]);
    expect(label(1, 'headend-push', 'alpha')).toBe(11001);
    for (const router of ROUTERS) {
      const c = validateConfig(routerDocument(router, { fecGen: 0, ilmGens: [0, 1] }));
      const t = compile(c, envFor(router));
      expect(t.ilm.size).toBe(router === 'lsr' ? 8 : 4);
    }
    const switched = compile(validateConfig(routerDocument('headend', { fecGen: 1, ilmGens: [0, 1] })), envFor('headend'));
    expect(switched.fecUp.get(1)!.labels).toEqual([11001]);
  });

  test('a moved end-user changes only its ISP', () => {
    const moved = validateConfig(routerDocument('headend', planOf(0), { ...DEFAULT_ASSIGNMENT, alice: 'beta' }));
    expect(moved.subscribers.find((s) => s.name === 'alice')!.isp).toBe('beta');
  });
});

describe('lab names', () => {
  test('namespaces and host interfaces carry the lab name and fit IFNAMSIZ', () => {
    const n = labNames('e2eabcde');
    expect(n.namespaces).toContain('e2eabcde-he');
    expect(n.namespaces).toHaveLength(9);
    for (const r of ROUTERS) expect(n.mgmtHostIf(r).length).toBeLessThanOrEqual(15);
    expect(() => labNames('Bad-Name')).toThrow(/lab name/);
    expect(() => labNames('waytoolongname')).toThrow(/lab name/);
  });

  test('management addresses: a /30 per router, distinct per slot', () => {
    expect(mgmtAddresses(0, 'headend')).toEqual({ host: '169.254.100.1', router: '169.254.100.2', len: 30 });
    expect(mgmtAddresses(3, 'tailend')).toEqual({ host: '169.254.103.9', router: '169.254.103.10', len: 30 });
  });
});
