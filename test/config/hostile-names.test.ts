// Names an operator writes that collide with what every JavaScript object inherits
// (constructor, toString, hasOwnProperty, __proto__, valueOf): validation refuses them with a
// clear message where they refer to nothing, accepts them where they are legitimate names, and
// never lets an inherited member stand in for a neighbour, a TPID, a unit or a device.
import { describe, expect, it } from 'vitest';
import { compile, CompileError, staticEnv } from '../../control/compile/index.js';
import { checkConfig, parseConfig, parseRate, parseSize, SubscriberIndex, type ConfigIssue } from '../../control/config/index.js';
import { fastSubscriber } from '../../control/config/schema.js';

const PROTO_KEYS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__proto__', '__defineGetter__'];

function base(): any {
  return {
    node: 'r1',
    interfaces: [
      { name: 'acc0', role: 'access' },
      { name: 'core0', role: 'core', neighbours: { p1: '02:00:00:00:00:01' } },
    ],
    isps: [{ id: 1, name: 'alpha', upstream: { labels: [100], nexthop: { interface: 'core0', neighbour: 'p1' } } }],
    subscribers: [{ name: 'alice', isp: 'alpha', match: { mac: '02:00:00:00:01:01' } }],
    ilm: [{ label: 1000, action: 'pop-forward', nexthop: { interface: 'core0', neighbour: 'p1' } }],
  };
}

const ENV = staticEnv({
  acc0: { ifindex: 2, mac: '02:00:00:00:aa:02' },
  core0: { ifindex: 3, mac: '02:00:00:00:aa:03' },
});

function issues(input: unknown): ConfigIssue[] {
  const r = checkConfig(input);
  if (r.config) expect(r.issues).toEqual([]);
  return r.issues;
}

describe('a next hop naming an inherited member as its neighbour', () => {
  for (const n of PROTO_KEYS.filter((k) => /^[A-Za-z]/.test(k))) {
    it(`neighbour '${n}' that the interface does not have is an unknown neighbour`, () => {
      const c = base();
      c.isps[0].upstream.nexthop.neighbour = n;
      c.ilm[0].nexthop = [{ interface: 'core0', neighbour: 'p1' }, { interface: 'core0', neighbour: n }];
      expect(issues(c)).toEqual([
        { path: 'isps[0].upstream.nexthop.neighbour', message: `unknown neighbour '${n}' on interface 'core0' (known: p1)` },
        { path: 'ilm[0].nexthop[1].neighbour', message: `unknown neighbour '${n}' on interface 'core0' (known: p1)` },
      ]);
    });
  }

  it("a neighbour really called 'constructor' is accepted and compiles to its own MAC", () => {
    const c = base();
    c.interfaces[1].neighbours = { constructor: '02:00:00:00:00:c0', toString: '02:00:00:00:00:c1' };
    c.isps[0].upstream.nexthop.neighbour = 'constructor';
    c.ilm[0].nexthop.neighbour = 'toString';
    const r = checkConfig(c);
    expect(r.issues).toEqual([]);
    const t = compile(r.config!, ENV);
    expect([...t.nexthops.values()].map((n) => n.dmac).sort()).toEqual(['02:00:00:00:00:c0', '02:00:00:00:00:c1']);
  });

  it("an interface with no neighbours says so for 'hasOwnProperty'", () => {
    const c = base();
    c.interfaces[1].neighbours = {};
    c.interfaces[1].name = 'core0';
    c.isps[0].upstream.nexthop.neighbour = 'hasOwnProperty';
    c.ilm = [];
    expect(issues(c)).toEqual([
      { path: 'isps[0].upstream.nexthop.neighbour', message: "unknown neighbour 'hasOwnProperty' on interface 'core0' (it has no neighbours)" },
    ]);
  });

  it("a neighbours key '__proto__' (JSON keeps it as an own key) is refused by the name rule", () => {
    const c = base();
    c.interfaces[1].neighbours = JSON.parse('{"__proto__": "02:00:00:00:00:09", "p1": "02:00:00:00:00:01"}');
    expect(issues(c)).toEqual([
      {
        path: 'interfaces[1].neighbours.__proto__',
        message: 'neighbour name must start with a letter and hold only letters, digits, ".", "_" or "-" (at most 63)',
      },
    ]);
  });
});

describe('a VLAN tpid that is an inherited member', () => {
  for (const t of PROTO_KEYS) {
    it(`tpid '${t}' is refused in match.vlan and deliver.vlan, by the fast path and the schema`, () => {
      const c = base();
      c.subscribers = [
        { name: 'a', isp: 'alpha', match: { vlan: { interface: 'acc0', outer: 5, tpid: t } } },
        { name: 'b', isp: 'alpha', match: { mac: '02:00:00:00:01:02' }, deliver: { interface: 'acc0', vlan: { outer: 6, tpid: t }, addresses: '100.64.0.2/32' } },
      ];
      expect(fastSubscriber(c.subscribers[0])).toBeUndefined();
      expect(fastSubscriber(c.subscribers[1])).toBeUndefined();
      const msg = `tpid '${t}' must be '802.1Q' (0x8100) or '802.1ad' (0x88a8)`;
      expect(issues(c)).toEqual([
        { path: 'subscribers[0].match.vlan.tpid', message: msg },
        { path: 'subscribers[1].deliver.vlan.tpid', message: msg },
      ]);
    });
  }

  it('an incremental change (API edit) with tpid toString is refused and leaves the index as it was', () => {
    const config = parseConfig(`node: r1
interfaces:
  - { name: acc0, role: access }
isps:
  - { id: 1, name: alpha }
subscribers:
  - { name: alice, isp: alpha, match: { mac: "02:00:00:00:01:01" } }
`);
    const index = new SubscriberIndex(config, () => undefined);
    const r = index.check([{ after: { name: 'x', isp: 'alpha', match: { vlan: { interface: 'acc0', outer: 5, tpid: 'toString' } } }, at: () => 1 }]);
    expect(r).toEqual({ ok: false, issues: [{ path: 'subscribers[1].match.vlan.tpid', message: "tpid 'toString' must be '802.1Q' (0x8100) or '802.1ad' (0x88a8)" }] });
    expect(index.size).toBe(1);
  });
});

describe('units that are inherited members', () => {
  it('a rate or size with the unit constructor is malformed, not a crash', () => {
    expect(parseRate('5constructor')).toEqual({
      ok: false,
      reason: "malformed rate '5constructor' (expected a number and one of bit, kbit, Mbit, Gbit, Tbit, e.g. 100Mbit)",
    });
    expect(parseSize('2constructor')).toEqual({ ok: false, reason: "malformed size '2constructor' (expected a number and one of B, KB, MB, GB, e.g. 256KB)" });
    for (const u of ['toString', 'valueOf', 'hasOwnProperty']) {
      expect(parseRate(`1${u}`).ok).toBe(false);
      expect(parseSize(`1${u}`).ok).toBe(false);
    }
    const c = base();
    c.isps[0].policer = { up: { rate: '5constructor', burst: '2constructor' } };
    expect(issues(c).map((i) => i.path)).toEqual(['isps[0].policer.up.rate', 'isps[0].policer.up.burst']);
  });
});

describe('interface, ISP and device names', () => {
  it("'__proto__' as an interface, ISP, subscriber or node name is refused by the name rule", () => {
    const c = base();
    c.interfaces[0].name = '__proto__';
    c.isps.push({ id: 2, name: '__proto__' });
    c.subscribers[0].name = '__proto__';
    const rule = 'must start with a letter and hold only letters, digits, ".", "_" or "-" (at most 63)';
    expect(issues(c)).toEqual([
      { path: 'interfaces[0].name', message: `interface name ${rule}` },
      { path: 'isps[1].name', message: `ISP name ${rule}` },
      { path: 'subscribers[0].name', message: `subscriber name ${rule}` },
    ]);
  });

  it("ISPs called 'constructor' and 'hasOwnProperty' are ordinary ISPs that subscribers and labels find by name", () => {
    const c = base();
    c.isps = [
      { id: 7, name: 'constructor', upstream: { labels: [100], nexthop: { interface: 'core0', neighbour: 'p1' } } },
      { id: 9, name: 'hasOwnProperty', upstream: { labels: [200], nexthop: { interface: 'core0', neighbour: 'p1' } } },
    ];
    c.subscribers = [
      { name: 'a', isp: 'constructor', match: { mac: '02:00:00:00:01:01' } },
      { name: 'b', isp: 'hasOwnProperty', match: { mac: '02:00:00:00:01:02' } },
    ];
    c.ilm.push({ label: 1001, action: 'pop-to-subscriber', isp: 'hasOwnProperty' });
    const r = checkConfig(c);
    expect(r.issues).toEqual([]);
    const t = compile(r.config!, ENV);
    expect([...t.subMac].map(([mac, c]) => [mac, c.isp])).toEqual([['02:00:00:00:01:01', 7], ['02:00:00:00:01:02', 9]]);
    expect(t.ilm.get(1001)).toEqual({ action: 'pop-to-sub', isp: 9 });
  });

  it("a subscriber naming ISP 'toString' when there is none is an unknown ISP", () => {
    const c = base();
    c.subscribers[0].isp = 'toString';
    c.ilm.push({ label: 1001, action: 'pop-to-subscriber', isp: 'valueOf' });
    expect(issues(c)).toEqual([
      { path: 'subscribers[0].isp', message: "unknown ISP 'toString'" },
      { path: 'ilm[1].isp', message: "unknown ISP 'valueOf'" },
    ]);
  });

  it("an interface and a device called 'constructor' work, and an absent device 'constructor' does not exist", () => {
    const c = base();
    c.interfaces[1].name = 'constructor';
    c.interfaces[1].device = 'constructor';
    c.isps[0].upstream.nexthop.interface = 'constructor';
    c.ilm[0].nexthop.interface = 'constructor';
    const r = checkConfig(c);
    expect(r.issues).toEqual([]);
    // the host has no device 'constructor': a CompileError naming it, not Object's constructor
    expect(() => compile(r.config!, ENV)).toThrow(CompileError);
    expect(() => compile(r.config!, ENV)).toThrow(/interface 'constructor': device constructor does not exist on this host/);
    const t = compile(r.config!, staticEnv({ acc0: { ifindex: 2, mac: '02:00:00:00:aa:02' }, constructor: { ifindex: 5, mac: '02:00:00:00:aa:05' } }));
    expect([...t.nexthops.values()]).toEqual([{ ifindex: 5, mtu: 1500, vid: 0, dmac: '02:00:00:00:00:01', smac: '02:00:00:00:aa:05' }]);
  });
});

describe('documents with __proto__ keys', () => {
  it('a top-level __proto__ in YAML or JSON is an unknown field and pollutes nothing', () => {
    for (const text of [
      'node: r1\n__proto__: { polluted: 1 }\n',
      '{"node": "r1", "__proto__": {"polluted": 1}}',
      'node: r1\ninterfaces:\n  - name: core0\n    role: core\n    __proto__: { polluted: 1 }\n',
    ]) {
      expect(() => parseConfig(text)).toThrow(/unknown field '__proto__'/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
