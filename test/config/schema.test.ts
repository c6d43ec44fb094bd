// The configuration schema: defaults, normalisation, and every mistake reported with its path
// and reason — all of them at once.
import { describe, expect, test } from 'vitest';
import { checkConfig, ConfigError, validateConfig, type ConfigIssue } from '../../control/config/index.js';

/** A small valid router: access, core and isp interfaces, two ISPs, two subscribers, two labels. */
function base(): any {
  return {
    node: 'r1',
    interfaces: [
      { name: 'acc0', role: 'access', addresses: ['192.0.2.1/24'] },
      { name: 'core0', role: 'core', mtu: 9000, neighbours: { p1: '02:00:00:00:00:01', p2: '02:00:00:00:00:02' } },
      { name: 'isp0', role: 'isp', neighbours: { gw: '02:00:00:00:00:a1' } },
    ],
    isps: [
      { id: 1, name: 'alpha', upstream: { labels: [100], nexthop: { interface: 'core0', neighbour: 'p1' } } },
      { id: 2, name: 'beta', upstream: { labels: [200], nexthop: { interface: 'core0', neighbour: 'p2' } } },
    ],
    subscribers: [
      { name: 'alice', isp: 'alpha', match: { mac: '02:00:00:00:01:01' } },
      { name: 'bob', isp: 2, match: { prefix: '100.64.2.0/24' } },
    ],
    ilm: [
      { label: 1000, action: 'pop-to-subscriber', isp: 'alpha' },
      { label: 1001, action: 'pop-to-isp', isp: 'beta', nexthop: { interface: 'isp0', neighbour: 'gw' } },
    ],
  };
}

function issues(input: unknown): ConfigIssue[] {
  const r = checkConfig(input);
  return r.issues;
}

/** The single issue of a config that has exactly one mistake. */
function only(input: unknown): ConfigIssue {
  const list = issues(input);
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe('a valid configuration', () => {
  test('passes and fills in the defaults', () => {
    const c = validateConfig(base());
    expect(c.ttlMode).toBe('uniform');
    expect(c.unknownSubscriber).toBe('drop');
    expect(c.interfaces[0]).toEqual({ name: 'acc0', device: 'acc0', role: 'access', mtu: 1500, addresses: ['192.0.2.1/24'], neighbours: {} });
    expect(c.isps[0]!.upstream).toEqual({ labels: [100], tc: 0, nexthop: [{ interface: 'core0', neighbour: 'p1' }] });
    expect(c.subscribers[1]!.match.prefix).toEqual(['100.64.2.0/24']);
  });

  test('an empty router is valid: only node is required', () => {
    expect(validateConfig({ node: 'x' })).toEqual({
      node: 'x',
      ttlMode: 'uniform',
      unknownSubscriber: 'drop',
      interfaces: [],
      isps: [],
      subscribers: [],
      ilm: [],
    });
  });

  test('normalises MACs, prefixes, rates and sizes', () => {
    const c = base();
    c.subscribers[0].match.mac = '02-00-00-00-01-AB';
    c.subscribers[1].match.prefix = ['2001:DB8:0::/48', '100.64.2.0/24'];
    c.isps[0].policer = { up: { rate: '100Mbit', burst: '256KB' }, down: { rate: 5_000_000, burst: 4096 } };
    const v = validateConfig(c);
    expect(v.subscribers[0]!.match.mac).toBe('02:00:00:00:01:ab');
    expect(v.subscribers[1]!.match.prefix).toEqual(['2001:db8::/48', '100.64.2.0/24']);
    expect(v.isps[0]!.policer).toEqual({ up: { rate: 100_000_000, burst: 262_144 }, down: { rate: 5_000_000, burst: 4096 } });
  });

  test('its output validates again unchanged (API round trip)', () => {
    const c = base();
    c.isps[0].policer = { up: { rate: '1.5Gbit', burst: '1MB' } };
    const once = validateConfig(c);
    expect(validateConfig(JSON.parse(JSON.stringify(once)))).toEqual(once);
  });

  test('the same ISP may overlap its own prefixes', () => {
    const c = base();
    c.subscribers.push({ name: 'bob-host', isp: 'beta', match: { prefix: '100.64.2.7/32' } });
    expect(issues(c)).toEqual([]);
  });

  test('two ISPs may deliver the same address (scoped downstream)', () => {
    const c = base();
    c.subscribers[0].deliver = { interface: 'acc0', addresses: '10.0.0.2' };
    c.subscribers[1].deliver = { interface: 'acc0', mac: '02:00:00:00:01:02', addresses: ['10.0.0.2'] };
    expect(issues(c)).toEqual([]);
  });

  test('an ISP is referenced by name, by id, or by id as a string', () => {
    const c = base();
    c.subscribers[0].isp = '1';
    c.ilm[0].isp = 2;
    expect(issues(c)).toEqual([]);
  });
});

describe('each mistake, with its path and reason', () => {
  test('node name outside [a-z0-9-_]', () => {
    const c = base();
    c.node = 'R1/../../etc';
    expect(only(c)).toEqual({ path: 'node', message: expect.stringContaining('a-z, 0-9') });
  });

  test('an unknown top-level field', () => {
    const c = base();
    c.subscriber = [];
    expect(only(c)).toEqual({ path: 'subscriber', message: "unknown field 'subscriber'" });
  });

  test('a duplicate ISP id', () => {
    const c = base();
    c.isps[1].id = 1;
    c.subscribers[1].isp = 'beta';
    expect(only(c)).toEqual({ path: 'isps[1].id', message: 'duplicate ISP id 1 (also isps[0])' });
  });

  test('an ISP id out of range', () => {
    const c = base();
    c.isps[1].id = 4096;
    expect(issues(c)).toContainEqual({ path: 'isps[1].id', message: 'ISP id must be 1..4095' });
  });

  test('an unknown ISP', () => {
    const c = base();
    c.subscribers[0].isp = 'gamma';
    c.ilm[0].isp = 7;
    expect(issues(c)).toEqual([
      { path: 'subscribers[0].isp', message: "unknown ISP 'gamma'" },
      { path: 'ilm[0].isp', message: "unknown ISP '7'" },
    ]);
  });

  test('a reserved label as an incoming label', () => {
    const c = base();
    c.ilm[0].label = 3;
    expect(only(c)).toEqual({ path: 'ilm[0].label', message: 'label 3 is reserved (0..15) and cannot be an incoming label' });
  });

  test('a label above 1048575', () => {
    const c = base();
    c.ilm[0].label = 1048576;
    c.isps[0].upstream.labels = [2 ** 20];
    expect(issues(c)).toEqual([
      { path: 'isps[0].upstream.labels[0]', message: 'label must be 0..1048575' },
      { path: 'ilm[0].label', message: 'label must be 0..1048575' },
    ]);
  });

  test('a stack of 0 or more than 3 labels', () => {
    const c = base();
    c.isps[0].upstream.labels = [];
    c.isps[1].upstream.labels = [16, 17, 18, 19];
    expect(issues(c)).toEqual([
      { path: 'isps[0].upstream.labels', message: 'a label stack holds 1..3 labels, not 0' },
      { path: 'isps[1].upstream.labels', message: 'a label stack holds 1..3 labels' },
    ]);
  });

  test('label 3 in an outgoing stack points to pop-forward', () => {
    const c = base();
    c.ilm.push({ label: 2000, action: 'swap', labels: [3], nexthop: { interface: 'core0', neighbour: 'p1' } });
    expect(only(c)).toEqual({ path: 'ilm[2].labels[0]', message: expect.stringContaining('use action pop-forward (PHP)') });
  });

  test('other reserved labels cannot be pushed, explicit null can', () => {
    const c = base();
    c.isps[0].upstream.labels = [100, 0];
    c.isps[1].upstream.labels = [200, 7];
    expect(only(c)).toEqual({ path: 'isps[1].upstream.labels[1]', message: 'label 7 is reserved and cannot be pushed (explicit null 0 and 2 can)' });
  });

  test('overlapping subscriber prefixes of different ISPs', () => {
    const c = base();
    c.subscribers.push({ name: 'carol', isp: 'alpha', match: { prefix: ['10.0.0.0/8', '100.64.2.128/25'] } });
    expect(only(c)).toEqual({
      path: 'subscribers[2].match.prefix[1]',
      message: "prefix 100.64.2.128/25 (ISP 'alpha') overlaps 100.64.2.0/24 of subscriber 'bob' (ISP 'beta'); prefixes of different ISPs must not overlap",
    });
  });

  test('an overlap is found whichever prefix comes first in the file', () => {
    const c = base();
    c.subscribers.unshift({ name: 'wide', isp: 'alpha', match: { prefix: '100.64.0.0/16' } });
    expect(only(c)).toMatchObject({ path: 'subscribers[2].match.prefix', message: expect.stringContaining("overlaps 100.64.0.0/16 of subscriber 'wide'") });
  });

  test('a next hop on an interface that does not exist', () => {
    const c = base();
    c.isps[0].upstream.nexthop = { interface: 'core9', neighbour: 'p1' };
    expect(only(c)).toEqual({ path: 'isps[0].upstream.nexthop.interface', message: "unknown interface 'core9'" });
  });

  test('next hops on interfaces of the wrong role', () => {
    const c = base();
    c.isps[0].upstream.nexthop = [
      { interface: 'core0', neighbour: 'p1' },
      { interface: 'isp0', neighbour: 'gw' },
    ];
    c.ilm[1].nexthop = { interface: 'core0', neighbour: 'p1' };
    c.ilm.push({ label: 2000, action: 'swap', labels: [20], nexthop: { interface: 'acc0', neighbour: 'x' } });
    expect(issues(c)).toEqual([
      { path: 'isps[0].upstream.nexthop[1].interface', message: "interface 'isp0' is isp; upstream FEC next hops must be on core interfaces" },
      { path: 'ilm[1].nexthop.interface', message: "interface 'core0' is core; pop-to-isp next hops must be on isp interfaces" },
      { path: 'ilm[2].nexthop.interface', message: "interface 'acc0' is access; swap next hops must be on core interfaces" },
    ]);
  });

  test('an unknown neighbour', () => {
    const c = base();
    c.isps[1].upstream.nexthop.neighbour = 'p3';
    expect(only(c)).toEqual({ path: 'isps[1].upstream.nexthop.neighbour', message: "unknown neighbour 'p3' on interface 'core0' (known: p1, p2)" });
  });

  test('the same next hop twice in one ECMP group', () => {
    const c = base();
    c.isps[0].upstream.nexthop = [{ interface: 'core0', neighbour: 'p1' }, { interface: 'core0', neighbour: 'p1' }];
    expect(only(c)).toEqual({ path: 'isps[0].upstream.nexthop[1]', message: 'next hop core0/p1 is listed twice in one ECMP group' });
  });

  test('more than 8 next hops', () => {
    const c = base();
    c.isps[0].upstream.nexthop = Array.from({ length: 9 }, () => ({ interface: 'core0', neighbour: 'p1' }));
    expect(only(c)).toEqual({ path: 'isps[0].upstream.nexthop', message: 'nexthop takes 1..8 entries, not 9' });
  });

  test('a prefix length out of range', () => {
    const c = base();
    c.subscribers[1].match.prefix = '100.64.2.0/33';
    expect(only(c)).toEqual({ path: 'subscribers[1].match.prefix', message: "prefix length '/33' out of range 0..32" });
  });

  test('a prefix with host bits set', () => {
    const c = base();
    c.subscribers[1].match.prefix = ['100.64.2.1/24'];
    expect(only(c)).toEqual({ path: 'subscribers[1].match.prefix[0]', message: "prefix '100.64.2.1/24' has host bits set (did you mean 100.64.2.0/24?)" });
  });

  test('a malformed MAC', () => {
    const c = base();
    c.interfaces[1].neighbours.p1 = '02:00:00:00:00';
    expect(only(c)).toEqual({ path: 'interfaces[1].neighbours.p1', message: expect.stringContaining("malformed MAC address '02:00:00:00:00'") });
  });

  test('duplicate subscriber matches: MAC, VLAN and prefix', () => {
    const c = base();
    c.subscribers.push(
      { name: 'alice2', isp: 'beta', match: { mac: '02:00:00:00:01:01' } },
      { name: 'v1', isp: 'alpha', match: { vlan: { interface: 'acc0', outer: 10, inner: 20 } } },
      { name: 'v2', isp: 'beta', match: { vlan: { interface: 'acc0', outer: 10, inner: 20 } } },
      { name: 'v3', isp: 'beta', match: { vlan: { interface: 'acc0', outer: 10 } } },
      { name: 'bob2', isp: 'beta', match: { prefix: '100.64.2.0/24' } },
    );
    expect(issues(c)).toEqual([
      { path: 'subscribers[2].match.mac', message: "MAC 02:00:00:00:01:01 already matches subscriber 'alice'" },
      { path: 'subscribers[4].match.vlan', message: "VLAN 10.20 on acc0 already matches subscriber 'v1'" },
      { path: 'subscribers[6].match.prefix', message: "prefix 100.64.2.0/24 already matches subscriber 'bob'" },
    ]);
  });

  test('a VLAN match on a non-access interface', () => {
    const c = base();
    c.subscribers.push({ name: 'v', isp: 'alpha', match: { vlan: { interface: 'core0', outer: 10 } }, deliver: { mac: '02:00:00:00:09:09', addresses: '10.9.9.9' } });
    expect(only(c)).toEqual({ path: 'subscribers[2].match.vlan.interface', message: "interface 'core0' is core; VLAN matches must be on access interfaces" });
  });

  test('a match with nothing to match on', () => {
    const c = base();
    c.subscribers[0].match = {};
    expect(only(c)).toEqual({ path: 'subscribers[0].match', message: 'match needs at least one of mac, vlan, prefix' });
  });

  test('a delivery that lacks what match cannot supply', () => {
    const c = base();
    c.subscribers[1].deliver = {};
    expect(issues(c)).toEqual([
      { path: 'subscribers[1].deliver.interface', message: 'deliver needs an interface (or a match.vlan to take it from)' },
      { path: 'subscribers[1].deliver.mac', message: "deliver needs the subscriber's MAC (or a match.mac to take it from)" },
    ]);
  });

  test('the same delivered address twice in one ISP', () => {
    const c = base();
    c.subscribers[0].deliver = { interface: 'acc0', addresses: '10.0.0.2' };
    c.subscribers.push({ name: 'dup', isp: 'alpha', match: { mac: '02:00:00:00:01:09' }, deliver: { interface: 'acc0', addresses: ['10.0.0.1', '10.0.0.2'] } });
    expect(only(c)).toEqual({ path: 'subscribers[2].deliver.addresses[1]', message: "address 10.0.0.2/32 of ISP 'alpha' is already delivered to subscriber 'alice'" });
  });

  test('a duplicate incoming label', () => {
    const c = base();
    c.ilm.push({ label: 1000, action: 'pop-continue' });
    expect(only(c)).toEqual({ path: 'ilm[2].label', message: 'duplicate incoming label 1000 (also ilm[0])' });
  });

  test('an unknown action', () => {
    const c = base();
    c.ilm[0].action = 'php';
    expect(only(c)).toEqual({ path: 'ilm[0].action', message: expect.stringContaining("action must be one of 'swap'") });
  });

  test('a VLAN on a core interface, and two interfaces on one port', () => {
    const c = base();
    c.interfaces[1].vlan = 5;
    c.interfaces.push({ name: 'isp1', device: 'isp0', role: 'isp', neighbours: {} });
    expect(issues(c)).toEqual([
      { path: 'interfaces[1].vlan', message: "only isp interfaces can be a VLAN of a port; 'core0' is core" },
      { path: 'interfaces[3]', message: "interfaces 'isp0' and 'isp1' are both device isp0 untagged" },
    ]);
  });

  test('a port shared by an isp and a core interface', () => {
    const c = base();
    c.interfaces.push({ name: 'isp1', device: 'core0', role: 'isp', vlan: 7 });
    expect(only(c)).toEqual({ path: 'interfaces[1].device', message: expect.stringContaining('only isp interfaces (VLANs of one port) can share a device') });
  });

  test('the same ISP port claimed by two ISPs', () => {
    const c = base();
    c.isps[0].downstream = { links: [{ interface: 'isp0' }] };
    c.isps[1].downstream = { links: [{ interface: 'isp0' }] };
    c.ilm.pop();
    expect(only(c)).toEqual({ path: 'isps[1].downstream.links[0]', message: "port isp0 untagged is already a link of ISP 'alpha'" });
  });

  test("a link VLAN that contradicts its interface's", () => {
    const c = base();
    c.interfaces.push({ name: 'isp-v', device: 'eth9', role: 'isp', vlan: 200 });
    c.isps[1].downstream = { links: [{ interface: 'isp-v', vlan: 201 }, { interface: 'acc0' }] };
    expect(issues(c)).toEqual([
      { path: 'isps[1].downstream.links[0].vlan', message: "link VLAN 201 differs from interface 'isp-v' VLAN 200" },
      { path: 'isps[1].downstream.links[1].interface', message: "interface 'acc0' is access; an ISP's links must be on isp interfaces" },
    ]);
  });

  test("a pop-to-isp next hop on another ISP's link", () => {
    const c = base();
    c.isps[0].downstream = { links: [{ interface: 'isp0' }] };
    expect(only(c)).toEqual({ path: 'ilm[1].nexthop.interface', message: "interface 'isp0' is a link of another ISP, not of 'beta'" });
  });

  test('a policer burst smaller than a frame, and a rate without a unit', () => {
    const c = base();
    c.isps[0].policer = { up: { rate: '100', burst: 100 } };
    expect(issues(c)).toEqual([
      { path: 'isps[0].policer.up.rate', message: expect.stringContaining("malformed rate '100'") },
      { path: 'isps[0].policer.up.burst', message: expect.stringContaining('smaller than one full Ethernet frame') },
    ]);
  });
});

describe('all mistakes at once', () => {
  test('a config with many mistakes reports every one, in document order, and the error lists them all', () => {
    const c = base();
    c.node = 'Bad Name';
    c.interfaces[1].neighbours.p2 = 'zz:00:00:00:00:02';
    c.isps[1].id = 1;
    c.isps[0].upstream.labels = [100, 3];
    c.subscribers[0].isp = 'nobody';
    c.subscribers[1].match.prefix = '100.64.2.1/24';
    c.ilm[0].label = 15;
    c.ilm[1].nexthop = { interface: 'isp0', neighbour: 'nobody' };
    const list = issues(c);
    expect(list.map((i) => i.path)).toEqual([
      'node',
      'interfaces[1].neighbours.p2',
      'isps[0].upstream.labels[1]',
      'isps[1].id',
      'subscribers[0].isp',
      'subscribers[1].match.prefix',
      'ilm[0].label',
      'ilm[1].nexthop.neighbour',
    ]);
    let err: unknown;
    try {
      validateConfig(c, 'r1.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.issues).toEqual(list);
    expect(ce.message.split('\n')[0]).toBe('r1.yaml: invalid configuration (8 problems)');
    for (const i of list) expect(ce.message).toContain(`${i.path}: ${i.message}`);
  });

  test('a broken element is not reported again by the references to it', () => {
    const c = base();
    c.interfaces[1].mtu = 10; // core0 is broken, but still known by name
    c.isps[0].upstream.tc = 9; // alpha is broken; subscribers and the ILM refer to it
    expect(issues(c)).toEqual([
      { path: 'interfaces[1].mtu', message: 'mtu must be 68..65535' },
      { path: 'isps[0].upstream.tc', message: 'tc must be 0..7' },
    ]);
  });

  test('wrong types are reported, not thrown', () => {
    expect(issues(null)).toEqual([{ path: '', message: expect.stringContaining('must be a mapping') }]);
    expect(issues([])).toHaveLength(1);
    expect(issues({ node: 'a', interfaces: 'eth0' })).toEqual([{ path: 'interfaces', message: 'interfaces must be a list' }]);
    expect(issues({ node: 'a', isps: [{ id: '1', name: 2 }] })).toEqual([
      { path: 'isps[0].id', message: 'ISP id must be a number' },
      { path: 'isps[0].name', message: 'ISP name must be a string' },
    ]);
  });
});
