// What LDP's labels become in the running config (control/daemon/ldp-tables.ts), on the lab's
// three router files: the egress FECs per role, the push/swap/pop entries from the speaker's
// FECs, implicit null, retiring labels, stale tables after a restart, and that the composed
// document passes the same validation as any router file.
import { describe, expect, it } from 'vitest';
import { checkConfig, type Config } from '../../control/config/index.js';
import { routerDocument } from '../../control/lab/plan.js';
import { ldpFecs } from '../../control/lab/topology.js';
import { EMPTY_TABLES, applyTables, egressPrefixes, ldpTables, nextHopFor, withStale, type LdpTables } from '../../control/daemon/ldp-tables.js';
import type { FecChange } from '../../control/ldp/lib.js';
import { neighborEvent } from '../../control/daemon/ldp-host.js';

const doc = (r: 'headend' | 'lsr' | 'tailend') => routerDocument(r, undefined, undefined, { ldp: true });
const cfg = (r: 'headend' | 'lsr' | 'tailend'): Config => {
  const c = checkConfig(doc(r));
  if (!c.config) throw new Error(JSON.stringify(c.issues));
  return c.config;
};
const A = ldpFecs('alpha');
const B = ldpFecs('beta');
const fecs = (...c: FecChange[]) => new Map(c.map((x) => [x.prefix, x]));
const resolveLab = (c: Config) => (nh: string) => nextHopFor(c, nh, () => undefined);

describe('egress FECs', () => {
  it('a tailend is egress for each ISP\'s hand-off FEC, a headend for each return FEC, an LSR for none', () => {
    expect(egressPrefixes(cfg('tailend'))).toEqual([A.upstream, B.upstream].sort());
    expect(egressPrefixes(cfg('headend'))).toEqual([A.downstream, B.downstream].sort());
    expect(egressPrefixes(cfg('lsr'))).toEqual([]);
  });
});

describe('next hops', () => {
  it('finds the core interface whose subnet holds the address and its only neighbour', () => {
    const c = cfg('lsr');
    expect(nextHopFor(c, '10.255.2.2', () => undefined)).toEqual({ interface: 'core1', neighbour: 'tailend' });
    expect(nextHopFor(c, '10.255.1.1', () => undefined)).toEqual({ interface: 'core0', neighbour: 'headend' });
    expect(nextHopFor(c, '192.0.2.1', () => undefined)).toBeUndefined();
  });

  it('with several neighbours on the link, takes the one the kernel resolved the address to', () => {
    const c = cfg('lsr');
    const two: Config = { ...c, interfaces: c.interfaces.map((i) => (i.name === 'core1' ? { ...i, neighbours: { a: '02:00:00:00:00:0a', b: '02:00:00:00:00:0b' } } : i)) };
    expect(nextHopFor(two, '10.255.2.2', () => '02:00:00:00:00:0B')).toEqual({ interface: 'core1', neighbour: 'b' });
    expect(nextHopFor(two, '10.255.2.2', () => undefined)).toBeUndefined();
  });
});

describe('tables', () => {
  it('headend: pushes the label learned for each ISP\'s hand-off, pops its own return labels to the end-users', () => {
    const c = cfg('headend');
    const t = ldpTables({
      config: c,
      fecs: fecs(
        { prefix: A.upstream, egress: false, localLabel: 110002, downstream: { lsrId: '10.255.0.2', nextHop: '10.255.1.2', label: 120000 } },
        { prefix: A.downstream, egress: true, localLabel: 110000 },
        // implicit null from downstream: nothing to push, so no FEC for beta yet
        { prefix: B.upstream, egress: false, localLabel: 110003, downstream: { lsrId: '10.255.0.2', nextHop: '10.255.1.2', label: 3 } },
      ),
      retiring: new Set(),
      installed: EMPTY_TABLES,
      resolve: resolveLab(c),
    });
    expect(t.upstream).toEqual({ alpha: { label: 120000, nexthop: { interface: 'core0', neighbour: 'lsr' } } });
    expect(t.downstream).toEqual({});
    expect(t.ilm).toEqual([
      { label: 110000, action: 'pop-to-subscriber', isp: 'alpha' },
      { label: 110002, action: 'swap', labels: [120000], nexthop: { interface: 'core0', neighbour: 'lsr' }, isp: 'alpha', direction: 'up' },
      { label: 110003, action: 'pop-forward', nexthop: { interface: 'core0', neighbour: 'lsr' }, isp: 'beta', direction: 'up' },
    ]);
    const running = checkConfig(applyTables(doc('headend'), t));
    expect(running.issues).toEqual([]);
    expect(running.config!.isps.find((i) => i.name === 'alpha')!.upstream).toEqual({ labels: [120000], tc: 0, nexthop: [{ interface: 'core0', neighbour: 'lsr' }] });
  });

  it('lsr: swaps each FEC it has a downstream label for, counted for its ISP and direction; a FEC of no ISP is swapped uncounted', () => {
    const c = cfg('lsr');
    const t = ldpTables({
      config: c,
      fecs: fecs(
        { prefix: A.upstream, egress: false, localLabel: 120000, downstream: { lsrId: '10.255.0.3', nextHop: '10.255.2.2', label: 130000 } },
        { prefix: A.downstream, egress: false, localLabel: 120002, downstream: { lsrId: '10.255.0.1', nextHop: '10.255.1.1', label: 110000 } },
        { prefix: '10.255.0.4/32', egress: false, localLabel: 120004, downstream: { lsrId: '10.255.0.4', nextHop: '10.255.4.2', label: 3 } },
        // no route: nothing installed
        { prefix: '192.0.2.0/24', egress: false, localLabel: 120009, downstream: { lsrId: '10.9.9.9', nextHop: '10.9.9.9', label: 500 } },
      ),
      retiring: new Set(),
      installed: EMPTY_TABLES,
      resolve: resolveLab(c),
    });
    expect(t.ilm).toEqual([
      { label: 120000, action: 'swap', labels: [130000], nexthop: { interface: 'core1', neighbour: 'tailend' }, isp: 'alpha', direction: 'up' },
      { label: 120002, action: 'swap', labels: [110000], nexthop: { interface: 'core0', neighbour: 'headend' }, isp: 'alpha', direction: 'down' },
      { label: 120004, action: 'pop-forward', nexthop: { interface: 'core2', neighbour: 'frr' } },
    ]);
    expect(checkConfig(applyTables(doc('lsr'), t)).issues).toEqual([]);
  });

  it('tailend: pops each hand-off label to its ISP\'s link, labels the ISP\'s return routes; a retiring label keeps its entry until released', () => {
    const c = cfg('tailend');
    const installed: LdpTables = { upstream: {}, downstream: {}, ilm: [{ label: 130000, action: 'pop-to-isp', isp: 'alpha', nexthop: { interface: 'ispa', neighbour: 'alpha-host' } }] };
    const input = {
      config: c,
      fecs: fecs(
        { prefix: A.upstream, egress: true, localLabel: 130005 },
        { prefix: A.downstream, egress: false, localLabel: 130002, downstream: { lsrId: '10.255.0.2', nextHop: '10.255.2.1', label: 120002 } },
      ),
      installed,
      resolve: resolveLab(c),
    };
    const during = ldpTables({ ...input, retiring: new Set([130000]) });
    // the return FEC's local label is a swap (any upstream neighbour may use it), not a pop
    expect(during.ilm.map((e) => [e.label, e.action])).toEqual([
      [130000, 'pop-to-isp'],
      [130002, 'swap'],
      [130005, 'pop-to-isp'],
    ]);
    expect(during.downstream).toEqual({ alpha: { label: 120002, nexthop: { interface: 'core0', neighbour: 'lsr' }, routes: ['100.64.0.0/16', '2001:db8:64::/48'] } });
    const after = ldpTables({ ...input, retiring: new Set() });
    expect(after.ilm.map((e) => e.label)).toEqual([130002, 130005]);
    const running = checkConfig(applyTables(doc('tailend'), during));
    expect(running.issues).toEqual([]);
    expect(running.config!.isps.find((i) => i.name === 'alpha')!.downstream!.routes.map((r) => [r.prefix, r.labels])).toEqual([
      ['100.64.0.0/16', [120002]],
      ['2001:db8:64::/48', [120002]],
    ]);
  });

  it('after a restart, what was installed stays where LDP has nothing newer', () => {
    const stale: LdpTables = {
      upstream: { alpha: { label: 1, nexthop: { interface: 'core0', neighbour: 'lsr' } }, beta: { label: 2, nexthop: { interface: 'core0', neighbour: 'lsr' } } },
      downstream: {},
      ilm: [
        { label: 100, action: 'pop-to-subscriber', isp: 'alpha' },
        { label: 101, action: 'pop-to-subscriber', isp: 'beta' },
      ],
    };
    const live: LdpTables = { upstream: { alpha: { label: 9, nexthop: { interface: 'core0', neighbour: 'lsr' } } }, downstream: {}, ilm: [{ label: 101, action: 'pop-to-subscriber', isp: 'alpha' }] };
    expect(withStale(live, stale)).toEqual({
      upstream: { alpha: live.upstream.alpha, beta: stale.upstream.beta },
      downstream: {},
      ilm: [stale.ilm[0], live.ilm[0]],
    });
    expect(applyTables(doc('headend'), EMPTY_TABLES)).toEqual(doc('headend'));
  });
});

describe('neighbour events', () => {
  it('a session reaching OPERATIONAL is ldp.neighbor.up, one leaving it ldp.neighbor.down, the steps between are none', () => {
    expect(neighborEvent({ neighborId: '10.255.0.3', from: 'OPENREC', to: 'OPERATIONAL', why: 'KeepAlive received' }, '10.255.0.3')).toEqual({
      type: 'ldp.neighbor.up',
      subject: '10.255.0.3',
      data: { transportAddress: '10.255.0.3', from: 'OPENREC', to: 'OPERATIONAL', reason: 'KeepAlive received' },
    });
    expect(neighborEvent({ neighborId: '10.255.0.3', from: 'OPERATIONAL', to: 'NON EXISTENT', why: 'connection closed' }, null)).toMatchObject({ type: 'ldp.neighbor.down', subject: '10.255.0.3', data: { reason: 'connection closed' } });
    expect(neighborEvent({ neighborId: '10.255.0.3', from: 'NON EXISTENT', to: 'INITIALIZED', why: 'connected' }, null)).toBeUndefined();
    expect(neighborEvent({ neighborId: '10.255.0.3', from: 'OPENSENT', to: 'NON EXISTENT', why: 'init timeout' }, null)).toBeUndefined();
  });
});
