// The capacity check with the data plane's table sizes made small (the generated constants are
// mocked), so every table can be overflowed cheaply: the whole-config check names each table
// that cannot fit, and an incremental subscriber change (the API's path) is refused at the
// limit and leaves the index as it was.
import { describe, expect, it, vi } from 'vitest';

vi.mock('../../control/tables/shared.gen.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  FF_SUB_MAC_ENTRIES: 3,
  FF_SUB_V4_ENTRIES: 2,
  FF_DOWN_V6_ENTRIES: 2,
  FF_ILM_ENTRIES: 2,
  FF_MAX_NEXTHOPS: 3,
  FF_MAX_NH_GROUPS: 2,
  FF_ISP_ROUTE_ENTRIES: 1,
  FF_ISP_PORT_ENTRIES: 1,
  FF_TX_PORT_ENTRIES: 2,
}));

const { checkConfig, parseConfig, SubscriberIndex } = await import('../../control/config/index.js');

const BASE = `node: r1
interfaces:
  - { name: acc0, role: access }
  - { name: core0, role: core, neighbours: { a: "02:00:00:00:00:0a", b: "02:00:00:00:00:0b", c: "02:00:00:00:00:0c" } }
isps:
  - { id: 1, name: alpha }
subscribers:
  - { name: m1, isp: alpha, match: { mac: "02:00:00:00:01:01" } }
  - { name: m2, isp: alpha, match: { mac: "02:00:00:00:01:02" } }
  - { name: d6, isp: alpha, match: { prefix: "2001:db8:1::/64" }, deliver: { interface: acc0, mac: "02:00:00:00:02:01" } }
`;

describe('whole configuration', () => {
  it('fits at the limits', () => {
    expect(checkConfig(parseDoc(BASE)).issues).toEqual([]);
  });

  it('names every table that overflows', () => {
    const doc = parseDoc(BASE);
    doc.subscribers.push(
      { name: 'm3', isp: 'alpha', match: { mac: '02:00:00:00:01:03' } },
      { name: 'm4', isp: 'alpha', match: { mac: '02:00:00:00:01:04' } },
      { name: 'v4', isp: 'alpha', match: { prefix: ['100.64.0.0/24', '100.64.1.0/24', '100.64.2.0/24'] } },
      { name: 'e6', isp: 'alpha', match: { prefix: ['2001:db8:2::/64', '2001:db8:3::/64'] }, deliver: { interface: 'acc0', mac: '02:00:00:00:02:02' } },
    );
    doc.ilm = [1000, 1001, 1002].map((label) => ({ label, action: 'pop-continue' }));
    expect(checkConfig(doc).issues).toEqual([
      { path: 'subscribers', message: "4 subscribers matched by MAC, but the data plane's sub_mac table holds at most 3: the configuration cannot fit" },
      { path: 'subscribers', message: "3 IPv4 match prefixes, but the data plane's sub_v4 table holds at most 2: the configuration cannot fit" },
      { path: 'subscribers', message: "3 delivered IPv6 addresses, but the data plane's down_v6 table holds at most 2: the configuration cannot fit" },
      { path: 'ilm', message: "3 incoming labels, but the data plane's ilm table holds at most 2: the configuration cannot fit" },
    ]);
  });

  it('counts distinct next hops and groups as the compiler numbers them, and ISP routes and links', () => {
    const doc = parseDoc(BASE);
    doc.interfaces.push({ name: 'isp0', role: 'isp' }, { name: 'isp1', role: 'isp' });
    doc.isps = [
      // two ISPs using the same next hop: one next hop, one group
      { id: 1, name: 'alpha', upstream: { labels: [100], nexthop: { interface: 'core0', neighbour: 'a' } } },
      { id: 2, name: 'beta', upstream: { labels: [200], nexthop: { interface: 'core0', neighbour: 'a' } } },
    ];
    expect(checkConfig(doc).issues).toEqual([]);
    doc.isps.push({
      id: 3,
      name: 'gamma',
      upstream: { labels: [300], nexthop: [{ interface: 'core0', neighbour: 'b' }, { interface: 'core0', neighbour: 'c' }] },
      downstream: {
        links: [{ interface: 'isp0' }, { interface: 'isp1' }],
        routes: [
          { prefix: '100.64.0.0/10', labels: [3001], nexthop: { interface: 'core0', neighbour: 'a' } },
          { prefix: '10.0.0.0/8', labels: [3001], nexthop: { interface: 'core0', neighbour: 'a' } },
        ],
      },
    });
    expect(checkConfig(doc).issues).toEqual([
      { path: 'isps', message: "2 IPv4 ISP routes, but the data plane's isp_route_v4 table holds at most 1: the configuration cannot fit" },
      { path: 'interfaces', message: "3 distinct next hops, but the data plane's nexthop table holds at most 2: the configuration cannot fit" },
      { path: 'isps', message: "2 distinct next-hop groups, but the data plane's nh_group table holds at most 1: the configuration cannot fit" },
      { path: 'isps', message: "2 ISP links, but the data plane's isp_port table holds at most 1: the configuration cannot fit" },
    ]);
  });
});

describe('incremental subscriber changes', () => {
  function index() {
    const config = parseConfig(BASE);
    return { config, index: new SubscriberIndex(config, () => undefined) };
  }

  it('refuses the MAC subscriber past sub_mac and keeps the index as it was', () => {
    const { index: ix } = index();
    const ok = ix.check([{ after: { name: 'm3', isp: 'alpha', match: { mac: '02:00:00:00:01:03' } }, at: () => 3 }]);
    expect(ok.ok).toBe(true);
    const r = ix.check([{ after: { name: 'm4', isp: 'alpha', match: { mac: '02:00:00:00:01:04' } }, at: () => 4 }]);
    expect(r).toEqual({
      ok: false,
      issues: [{ path: 'subscribers[4]', message: "4 subscribers matched by MAC, but the data plane's sub_mac table holds at most 3: the configuration cannot fit" }],
    });
    expect(ix.size).toBe(4);
    // undoing m3 makes room again
    if (ok.ok) ok.undo();
    expect(ix.check([{ after: { name: 'm4', isp: 'alpha', match: { mac: '02:00:00:00:01:04' } }, at: () => 3 }]).ok).toBe(true);
  });

  it('counts delivered IPv6 addresses through replace, refusal and undo', () => {
    const { config, index: ix } = index();
    const d6 = config.subscribers[2]!;
    const two = { name: 'd6', isp: 'alpha', match: { prefix: ['2001:db8:1::/64', '2001:db8:9::/64'] }, deliver: { interface: 'acc0', mac: '02:00:00:00:02:01' } };
    const three = { ...two, match: { prefix: ['2001:db8:1::/64', '2001:db8:9::/64', '2001:db8:a::/64'] } };
    const bad = ix.check([{ before: d6, after: three, at: () => 2 }]);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0]!.message).toBe("3 delivered IPv6 addresses, but the data plane's down_v6 table holds at most 2: the configuration cannot fit");
    const good = ix.check([{ before: d6, after: two, at: () => 2 }]);
    expect(good.ok).toBe(true);
    if (good.ok) good.undo();
    // back to one address: two more would be three
    const again = ix.check([{ after: { name: 'x', isp: 'alpha', match: { prefix: ['2001:db8:5::/64', '2001:db8:6::/64'] }, deliver: { interface: 'acc0', mac: '02:00:00:00:02:05' } }, at: () => 3 }]);
    expect(again.ok).toBe(false);
  });
});

function parseDoc(text: string): any {
  const c = parseConfig(text);
  return JSON.parse(JSON.stringify(c));
}
