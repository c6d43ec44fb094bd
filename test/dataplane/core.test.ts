// xdp_core: ILM lookup and swap / pop actions, explicit null, TTL rules, counters — byte-exact
// (FORWARDING.md, core program).
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ether, ETH_P_8021AD, ETH_P_IP, ETH_P_IPV6, parseFrame, type Label } from '../helpers/frames.js';
import { describeRoot } from '../helpers/root.js';
import { u32 } from '../../control/bpf/codec.js';
import { ilmCodec } from '../../control/tables/layout.js';
import { counter, Dataplane, XDP_DROP, XDP_PASS, XDP_REDIRECT } from './harness.js';
import {
  downV4, downV6, G_CORE, ISP_A, ISP_B, ISP_NH, L_BAD_ACTION, L_CONT, L_PHP, L_SWAP, L_SWAP_PUSH2, L_SWAP_PUSH3, L_TO_ISP, L_TO_ISP_VLAN,
  L_TO_SUB_A, L_TO_SUB_B, labelled, NH_CORE, NH_ISP, ROUTER, standardTables, SUB_MAC, SUB_MAC2, toCore, UPSTREAM, upV4, upV6,
} from './topo.js';

const hex = (b: Buffer) => b.toString('hex');
const L = (label: number, ttl: number, o: { tc?: number; s?: boolean } = {}): Label => ({ label, ttl, ...o });

function toIsp(ip: Buffer, tags?: Array<{ vid: number }>): Buffer {
  return ether({ dst: ISP_NH, src: ROUTER, tags, payload: ip });
}

describeRoot('xdp_core', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
  });
  afterAll(() => dp?.close());
  beforeEach(() => dp.load(standardTables()));

  const pipe = () => {
    const t = standardTables();
    t.settings.ttlMode = 'pipe';
    dp.load(t);
  };

  it('swaps the label, decrements its TTL, keeps TC from the ILM and counts the label', () => {
    const ip = upV4(40);
    const frame = labelled([L(L_SWAP, 64, { tc: 6 })], ip);
    const r = dp.runCounted('xdp_core', frame, { labels: [L_SWAP] });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([L(101, 63)], ip)));
    expect(r.delta.labels[L_SWAP]).toEqual(counter(1, frame.length));
    expect(r.delta.drops).toEqual({});
  });

  it('swaps a label that is not the bottom one and keeps its S = 0 and the labels below', () => {
    const ip = upV6(9);
    const r = dp.run('xdp_core', labelled([L(L_SWAP, 20), L(777, 5)], ip));
    expect(hex(r.data)).toBe(hex(toCore([L(101, 19, { s: false }), L(777, 5)], ip)));
  });

  it('swap + push: two outgoing labels, S only on the swapped bottom one', () => {
    const ip = upV4(40);
    const r = dp.run('xdp_core', labelled([L(L_SWAP_PUSH2, 64)], ip));
    expect(hex(r.data)).toBe(hex(toCore([L(901, 63, { tc: 1 }), L(103, 63, { tc: 1 })], ip)));
  });

  it('swap + push of three labels over a stack of two', () => {
    const ip = upV4(40);
    const r = dp.run('xdp_core', labelled([L(L_SWAP_PUSH3, 64), L(555, 7)], ip));
    expect(hex(r.data)).toBe(hex(toCore([L(902, 63, { tc: 2, s: false }), L(903, 63, { tc: 2, s: false }), L(105, 63, { tc: 2, s: false }), L(555, 7)], ip)));
  });

  it('PHP at the bottom (IPv4, uniform): IP TTL becomes the label TTL − 1, checksum updated', () => {
    const frame = labelled([L(L_PHP, 30)], upV4(64));
    const r = dp.run('xdp_core', frame);
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(ether({ dst: '02:00:00:00:20:01', src: ROUTER, type: ETH_P_IP, payload: upV4(29) })));
    expect(parseFrame(r.data).ip!.checksumOk).toBe(true);
  });

  it('uniform last pop never raises the IP TTL: a label TTL above it leaves the IP header as it is (RFC 3443 min)', () => {
    // PHP with a label TTL of 200 over an IPv4 TTL of 7: the IP TTL stays 7, checksum untouched
    let r = dp.run('xdp_core', labelled([L(L_PHP, 200)], upV4(7)));
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(ether({ dst: '02:00:00:00:20:01', src: ROUTER, type: ETH_P_IP, payload: upV4(7) })));
    // pop to the ISP, IPv6: hop limit 3 under a label TTL 255 stays 3
    r = dp.run('xdp_core', labelled([L(L_TO_ISP, 255)], upV6(3)));
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toIsp(upV6(3))));
    // equal after the decrement: label 11 -> t' = 10 over IP TTL 10
    r = dp.run('xdp_core', labelled([L(L_TO_ISP, 11)], upV4(10)));
    expect(hex(r.data)).toBe(hex(toIsp(upV4(10))));
    // the label TTL still wins when it is the smaller one
    r = dp.run('xdp_core', labelled([L(L_TO_ISP, 11)], upV4(64)));
    expect(hex(r.data)).toBe(hex(toIsp(upV4(10))));
  });

  it('PHP at the bottom (IPv6, pipe): hop limit decremented once, label TTL ignored', () => {
    pipe();
    const r = dp.run('xdp_core', labelled([L(L_PHP, 30)], upV6(64)));
    expect(hex(r.data)).toBe(hex(ether({ dst: '02:00:00:00:20:01', src: ROUTER, type: ETH_P_IPV6, payload: upV6(63) })));
  });

  it('PHP above another label: ethertype stays MPLS, uniform copies t − 1 into the exposed label', () => {
    const ip = upV4(64);
    expect(hex(dp.run('xdp_core', labelled([L(L_PHP, 30, { s: false }), L(888, 200, { tc: 3 })], ip)).data)).toBe(hex(toCore([L(888, 29, { tc: 3 })], ip)));
    pipe();
    expect(hex(dp.run('xdp_core', labelled([L(L_PHP, 30, { s: false }), L(888, 200, { tc: 3 })], ip)).data)).toBe(hex(toCore([L(888, 200, { tc: 3 })], ip)));
  });

  it('pop-continue then swap: the popped label goes, one TTL decrement in uniform mode', () => {
    const ip = upV4(64);
    const frame = labelled([L(L_CONT, 50, { s: false }), L(L_SWAP, 9)], ip);
    const r = dp.runCounted('xdp_core', frame, { labels: [L_CONT, L_SWAP] });
    expect(hex(r.data)).toBe(hex(toCore([L(101, 49)], ip)));
    expect(r.delta.labels).toEqual({ [L_CONT]: counter(1, frame.length), [L_SWAP]: counter(1, frame.length) });
  });

  it('pop-continue then swap in pipe mode: the exposed label is checked and decremented itself', () => {
    pipe();
    const ip = upV4(64);
    expect(hex(dp.run('xdp_core', labelled([L(L_CONT, 50, { s: false }), L(L_SWAP, 9)], ip)).data)).toBe(hex(toCore([L(101, 8)], ip)));
    const frame = labelled([L(L_CONT, 50, { s: false }), L(L_SWAP, 1)], ip);
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ ttl_expired: counter(1, frame.length) });
  });

  it('an LSR counts per ISP: swap and PHP of a label whose ILM entry names the ISP count at point transit', () => {
    const t = standardTables();
    t.ilm.set(L_SWAP, { action: 'swap', labels: [101], tc: 0, nhGroup: G_CORE, isp: ISP_A, direction: 'up' });
    t.ilm.set(L_PHP, { action: 'pop-forward', nhGroup: G_CORE, isp: ISP_B, direction: 'down' });
    dp.load(t);
    const watch = { isp: [[ISP_A, 'up', 'transit'], [ISP_B, 'down', 'transit'], [ISP_A, 'down', 'transit'], [ISP_B, 'up', 'transit']] as Array<[number, 'up' | 'down', 'transit']> };
    const ip = upV4(40);
    // swap: the IP packet under the one label
    const f1 = labelled([L(L_SWAP, 64)], ip);
    const r1 = dp.runCounted('xdp_core', f1, watch);
    expect(r1.action).toBe(XDP_REDIRECT);
    expect(r1.delta.isp).toEqual({ [`${ISP_A}/up/transit`]: counter(1, ip.length), [`${ISP_B}/down/transit`]: counter(0, 0), [`${ISP_A}/down/transit`]: counter(0, 0), [`${ISP_B}/up/transit`]: counter(0, 0) });
    // PHP above another label: what lies below the popped label (the label left and the packet)
    const f2 = labelled([L(L_PHP, 30, { s: false }), L(888, 200)], ip);
    const r2 = dp.runCounted('xdp_core', f2, watch);
    expect(r2.action).toBe(XDP_REDIRECT);
    expect(r2.delta.isp[`${ISP_B}/down/transit`]).toEqual(counter(1, ip.length + 4));
    expect(r2.delta.isp[`${ISP_A}/up/transit`]).toEqual(counter(0, 0));
    // an entry that names no ISP counts for none
    const r3 = dp.runCounted('xdp_core', labelled([L(L_SWAP_PUSH2, 64)], ip), watch);
    expect(Object.values(r3.delta.isp)).toEqual([counter(0, 0), counter(0, 0), counter(0, 0), counter(0, 0)]);
    // a drop after the lookup (TTL) counts no transit either
    expect(dp.runCounted('xdp_core', labelled([L(L_SWAP, 1)], ip), watch).delta.isp[`${ISP_A}/up/transit`]).toEqual(counter(0, 0));
  });

  it('pop-continue on a bottom label is MALFORMED', () => {
    const frame = labelled([L(L_CONT, 50)], upV4());
    const r = dp.runCounted('xdp_core', frame);
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ malformed: counter(1, frame.length) });
  });

  it('a fourth lookup is STACK_TOO_DEEP', () => {
    const frame = labelled([L(L_CONT, 50, { s: false }), L(L_CONT, 50, { s: false }), L(L_CONT, 50, { s: false }), L(L_SWAP, 50)], upV4());
    const r = dp.runCounted('xdp_core', frame);
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ stack_too_deep: counter(1, frame.length) });
  });

  for (const [name, ip, type, ttlOut] of [
    ['IPv4', upV4, ETH_P_IP, 'ttl'],
    ['IPv6', upV6, ETH_P_IPV6, 'hop limit'],
  ] as const) {
    it(`pop-to-ISP (${name}): last pop, ${ttlOut} = label TTL − 1, counted up/out with the IP length`, () => {
      const frame = labelled([L(L_TO_ISP, 33)], ip(64));
      const r = dp.runCounted('xdp_core', frame, { isp: [[ISP_A, 'up', 'out']], labels: [L_TO_ISP] });
      expect(r.action).toBe(XDP_REDIRECT);
      expect(hex(r.data)).toBe(hex(toIsp(ip(32))));
      expect(parseFrame(r.data).type).toBe(type);
      expect(r.delta.isp[`${ISP_A}/up/out`]).toEqual(counter(1, ip(64).length));
      expect(r.delta.labels[L_TO_ISP]).toEqual(counter(1, frame.length));
    });
  }

  it('pop-to-ISP onto a VLAN of a shared port adds the 802.1Q tag', () => {
    const r = dp.run('xdp_core', labelled([L(L_TO_ISP_VLAN, 33)], upV4(64)));
    expect(hex(r.data)).toBe(hex(toIsp(upV4(32), [{ vid: 300 }])));
  });

  it('pop-to-ISP in pipe mode decrements the IP TTL once; IP TTL 1 is TTL_EXPIRED', () => {
    pipe();
    expect(hex(dp.run('xdp_core', labelled([L(L_TO_ISP, 33)], upV4(64))).data)).toBe(hex(toIsp(upV4(63))));
    const frame = labelled([L(L_TO_ISP, 33)], upV4(1));
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ ttl_expired: counter(1, frame.length) });
  });

  it('pop-to-ISP on a label that is not the bottom one is MALFORMED', () => {
    const frame = labelled([L(L_TO_ISP, 33, { s: false }), L(5, 1)], upV4());
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ malformed: counter(1, frame.length) });
  });

  it('pop-to-subscriber (untagged, IPv4 and IPv6), counted down/out', () => {
    for (const ip of [downV4, downV6]) {
      const frame = labelled([L(L_TO_SUB_A, 10)], ip(64));
      const r = dp.runCounted('xdp_core', frame, { isp: [[ISP_A, 'down', 'out']] });
      expect(r.action).toBe(XDP_REDIRECT);
      expect(hex(r.data)).toBe(hex(ether({ dst: SUB_MAC, src: ROUTER, payload: ip(9) })));
      expect(r.delta.isp[`${ISP_A}/down/out`]).toEqual(counter(1, ip(64).length));
    }
  });

  it("pop-to-subscriber restores the subscriber's two tags (802.1ad outer) scoped by ISP", () => {
    const r = dp.run('xdp_core', labelled([L(L_TO_SUB_B, 10)], downV4(64)));
    expect(hex(r.data)).toBe(hex(ether({ dst: SUB_MAC2, src: ROUTER, tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30 }], payload: downV4(9) })));
  });

  it('pop-to-subscriber restores one 802.1Q tag (IPv6)', () => {
    const r = dp.run('xdp_core', labelled([L(L_TO_SUB_B, 10)], downV6(64)));
    expect(hex(r.data)).toBe(hex(ether({ dst: SUB_MAC2, src: ROUTER, tags: [{ vid: 10 }], payload: downV6(9) })));
  });

  it('pop-to-subscriber with no route for the destination is NO_ROUTE', () => {
    const frame = labelled([L(L_TO_SUB_A, 10)], downV4(64, '100.64.9.9'));
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ no_route: counter(1, frame.length) });
  });

  it('pop-continue then pop-to-subscriber', () => {
    const r = dp.run('xdp_core', labelled([L(L_CONT, 10, { s: false }), L(L_TO_SUB_A, 99)], downV4(64)));
    expect(hex(r.data)).toBe(hex(ether({ dst: SUB_MAC, src: ROUTER, payload: downV4(9) })));
  });

  // the router's own addresses in standardTables().local
  const toRouterV4 = (ttl: number) => upV4(ttl, { dst: '100.64.0.1' });
  const toRouterV6 = (ttl: number) => upV6(ttl, { dst: '2001:db8:100::1' });
  for (const [label, ip, toRouter, type] of [
    [0, upV4, toRouterV4, ETH_P_IP],
    [2, upV6, toRouterV6, ETH_P_IPV6],
  ] as const) {
    it(`explicit null ${label} at the bottom, addressed to the router: popped and passed to the kernel as IP (uniform TTL)`, () => {
      const frame = labelled([L(label, 20)], toRouter(64));
      const r = dp.runCounted('xdp_core', frame);
      expect(r.action).toBe(XDP_PASS);
      expect(hex(r.data)).toBe(hex(ether({ dst: ROUTER, src: UPSTREAM, type, payload: toRouter(19) })));
      expect(r.delta.drops).toEqual({});
    });
    it(`explicit null ${label} at the bottom, addressed elsewhere: dropped NO_ROUTE, never handed to the kernel`, () => {
      const frame = labelled([L(label, 20)], ip(64));
      const r = dp.runCounted('xdp_core', frame);
      expect(r.action).toBe(XDP_DROP);
      expect(r.delta.drops).toEqual({ no_route: counter(1, frame.length) });
    });
    it(`explicit null ${label} above a label: popped, the label below is looked up`, () => {
      const inner = ip(64);
      const r = dp.run('xdp_core', labelled([L(label, 20, { s: false }), L(L_SWAP, 99)], inner));
      expect(hex(r.data)).toBe(hex(toCore([L(101, 19)], inner)));
    });
  }

  it('explicit null at the bottom in pipe mode decrements the IP TTL', () => {
    pipe();
    const r = dp.run('xdp_core', labelled([L(0, 20)], toRouterV4(64)));
    expect(hex(r.data)).toBe(hex(ether({ dst: ROUTER, src: UPSTREAM, type: ETH_P_IP, payload: toRouterV4(63) })));
  });

  it('explicit null with a non-IP packet below is MALFORMED', () => {
    const frame = labelled([L(0, 20)], Buffer.from('hello world, not an IP packet'));
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ malformed: counter(1, frame.length) });
  });

  for (const mode of ['uniform', 'pipe'] as const) {
    for (const ttl of [1, 2, 64, 255]) {
      it(`label TTL ${ttl} (${mode}): ${ttl <= 1 ? 'TTL_EXPIRED' : `swap to ${ttl - 1}, PHP sets IP TTL per mode (uniform: min with the IP TTL 100)`}`, () => {
        const t = standardTables();
        t.settings.ttlMode = mode;
        dp.load(t);
        const ip = upV4(100);
        const frame = labelled([L(L_SWAP, ttl)], ip);
        const r = dp.runCounted('xdp_core', frame, { labels: [L_SWAP] });
        if (ttl <= 1) {
          expect(r.action).toBe(XDP_DROP);
          expect(r.delta.drops).toEqual({ ttl_expired: counter(1, frame.length) });
          expect(r.delta.labels[L_SWAP]).toEqual(counter(0, 0));
          return;
        }
        expect(hex(r.data)).toBe(hex(toCore([L(101, ttl - 1)], ip)));
        const php = dp.run('xdp_core', labelled([L(L_PHP, ttl)], ip));
        const want = ether({ dst: '02:00:00:00:20:01', src: ROUTER, type: ETH_P_IP, payload: upV4(mode === 'uniform' ? Math.min(ttl - 1, 100) : 99) });
        expect(hex(php.data)).toBe(hex(want));
        expect(parseFrame(php.data).ip!.checksumOk).toBe(true);
      });
    }
  }

  it('forwards at exactly the MTU and drops one byte over (swap + push grows the frame)', () => {
    const ip = upV4(64);
    const t = standardTables();
    t.nexthops.set(NH_CORE, { ...t.nexthops.get(NH_CORE)!, mtu: ip.length + 8 });
    dp.load(t);
    expect(dp.run('xdp_core', labelled([L(L_SWAP_PUSH2, 64)], ip)).action).toBe(XDP_REDIRECT);
    t.nexthops.set(NH_CORE, { ...t.nexthops.get(NH_CORE)!, mtu: ip.length + 7 });
    dp.load(t);
    const frame = labelled([L(L_SWAP_PUSH2, 64)], ip);
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ mtu_exceeded: counter(1, frame.length) });
  });

  it('MTU on pop-to-ISP uses the output length', () => {
    const ip = upV4(64);
    const t = standardTables();
    t.nexthops.set(NH_ISP, { ...t.nexthops.get(NH_ISP)!, mtu: ip.length });
    dp.load(t);
    expect(dp.run('xdp_core', labelled([L(L_TO_ISP, 64)], ip)).action).toBe(XDP_REDIRECT);
    t.nexthops.set(NH_ISP, { ...t.nexthops.get(NH_ISP)!, mtu: ip.length - 1 });
    dp.load(t);
    expect(dp.run('xdp_core', labelled([L(L_TO_ISP, 64)], ip)).action).toBe(XDP_DROP);
  });

  it('an unknown label is UNKNOWN_LABEL and counts no label', () => {
    const frame = labelled([L(4242, 64)], upV4());
    const r = dp.runCounted('xdp_core', frame);
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ unknown_label: counter(1, frame.length) });
  });

  for (const label of [3, 7, 15]) {
    it(`reserved label ${label} is UNKNOWN_LABEL`, () => {
      const frame = labelled([L(label, 64)], upV4());
      expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ unknown_label: counter(1, frame.length) });
    });
  }

  it('a SWAP entry without outgoing labels, or an unknown action value, is UNKNOWN_LABEL', () => {
    const t = standardTables();
    t.ilm.set(L_BAD_ACTION, { action: 'swap', labels: [], tc: 0, nhGroup: G_CORE });
    dp.load(t);
    const frame = labelled([L(L_BAD_ACTION, 64)], upV4());
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ unknown_label: counter(1, frame.length) });
    const key = u32.encode(L_BAD_ACTION);
    dp.map('ilm').set(key, ilmCodec.encode({ action: 9, nlabels: 1, tc: 0, dir: 0, label: [5, 0, 0], nhGroup: G_CORE, isp: 0 }));
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ unknown_label: counter(1, frame.length) });
  });

  it('the router alert label goes to the kernel unchanged', () => {
    const frame = labelled([L(1, 64, { s: false }), L(L_SWAP, 64)], upV4());
    const r = dp.runCounted('xdp_core', frame);
    expect(r.action).toBe(XDP_PASS);
    expect(hex(r.data)).toBe(hex(frame));
    expect(r.delta.drops).toEqual({});
  });

  it('non-MPLS frames (IP to the router, ARP, tagged) go to the kernel', () => {
    for (const frame of [ether({ dst: ROUTER, src: UPSTREAM, payload: upV4() }), ether({ dst: ROUTER, src: UPSTREAM, tags: [{ vid: 5 }], labels: [L(L_SWAP, 9)], payload: upV4() })]) {
      const r = dp.runCounted('xdp_core', frame);
      expect(r.action).toBe(XDP_PASS);
      expect(r.delta.drops).toEqual({});
    }
  });

  it('a missing next hop or tx port is counted (NO_NEXTHOP, TX_PORT)', () => {
    const t = standardTables();
    t.nhGroups.delete(G_CORE);
    dp.load(t);
    const frame = labelled([L(L_SWAP, 64)], upV4());
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ no_nexthop: counter(1, frame.length) });
    const t2 = standardTables();
    t2.txPorts.clear();
    dp.load(t2);
    expect(dp.runCounted('xdp_core', frame).delta.drops).toEqual({ tx_port: counter(1, frame.length) });
  });

  it('a label counter missing from label_stats is skipped, forwarding goes on', () => {
    dp.map('label_stats').delete(Buffer.from(Uint32Array.of(L_SWAP).buffer));
    expect(dp.run('xdp_core', labelled([L(L_SWAP, 64)], upV4())).action).toBe(XDP_REDIRECT);
  });

  it('counts ISP B separately from ISP A on the same addresses', () => {
    const r = dp.runCounted('xdp_core', labelled([L(L_TO_SUB_B, 10)], downV4(64)), { isp: [[ISP_A, 'down', 'out'], [ISP_B, 'down', 'out']] });
    expect(r.delta.isp[`${ISP_B}/down/out`]!.packets).toBe(1n);
    expect(r.delta.isp[`${ISP_A}/down/out`]!.packets).toBe(0n);
  });
});
