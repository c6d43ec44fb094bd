// xdp_access: classify the end-user, push the ISP's FEC, redirect to the core — byte-exact
// output frames and counter deltas for every path and drop (FORWARDING.md, access program).
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ether, ETH_P_ARP, ETH_P_8021AD, ipv4, ipv6, parseFrame, udp } from '../helpers/frames.js';
import { describeRoot } from '../helpers/root.js';
import { counter, Dataplane, XDP_DROP, XDP_PASS, XDP_REDIRECT } from './harness.js';
import {
  CORE_NH, FEC_A, FEC_B, fromSub, ISP_A, ISP_B, line, NH_CORE, PAYLOAD, REMOTE_V4, ROUTER, standardTables, SUB_MAC2, SUB_V4, toCore, upV4, upV6,
} from './topo.js';

const hex = (b: Buffer) => b.toString('hex');

describeRoot('xdp_access', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
  });
  afterAll(() => dp?.close());
  beforeEach(() => dp.load(standardTables()));

  const upA: Array<[number, 'up', 'in' | 'policed']> = [[ISP_A, 'up', 'in']];

  it('pushes the ISP label with S=1 and TTL 63 on untagged IPv4 (uniform), IP untouched', () => {
    const ip = upV4(64);
    const r = dp.runCounted('xdp_access', fromSub(ip), { isp: upA });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_A[0]!, ttl: 63 }], ip)));
    expect(r.delta.drops).toEqual({});
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(1, ip.length));
  });

  it('pushes on untagged IPv6 with the hop limit − 1', () => {
    const ip = upV6(64);
    const r = dp.runCounted('xdp_access', fromSub(ip), { isp: upA });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_A[0]!, ttl: 63 }], ip)));
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(1, ip.length));
  });

  it('removes one 802.1Q tag (subscriber by VLAN) and counts the IP length only', () => {
    const t = standardTables();
    t.subV4.clear(); // only the VLAN can classify
    dp.load(t);
    const ip = upV4(64, { src: '10.9.9.9' });
    const r = dp.runCounted('xdp_access', fromSub(ip, { tags: [{ vid: 10 }] }), { isp: upA });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_A[0]!, ttl: 63 }], ip)));
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(1, ip.length));
  });

  it('removes two tags (802.1ad outer, 802.1Q inner) matched as (port, outer, inner)', () => {
    const t = standardTables();
    t.subV6.clear();
    dp.load(t);
    const ip = upV6(64, { src: '2001:db8:999::1' });
    const r = dp.runCounted('xdp_access', fromSub(ip, { tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30, pcp: 5 }] }), { isp: upA });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_A[0]!, ttl: 63 }], ip)));
  });

  it('classifies by source MAC first and pushes two labels with the FEC TC', () => {
    const ip = upV4(64); // its prefix says ISP A, the MAC says ISP B
    const r = dp.runCounted('xdp_access', fromSub(ip, { src: SUB_MAC2 }), { isp: [[ISP_B, 'up', 'in'], ...upA] });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_B[0]!, tc: 5, ttl: 63 }, { label: FEC_B[1]!, tc: 5, ttl: 63 }], ip)));
    expect(r.delta.isp[`${ISP_B}/up/in`]).toEqual(counter(1, ip.length));
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(0, 0));
  });

  it('pushes three labels, S only on the bottom one', () => {
    const t = standardTables();
    t.fecUp.set(ISP_A, { labels: [7001, 7002, 7003], tc: 7, nhGroup: 10 });
    dp.load(t);
    const ip = upV4(200);
    const r = dp.run('xdp_access', fromSub(ip));
    expect(hex(r.data)).toBe(hex(toCore([7001, 7002, 7003].map((label) => ({ label, tc: 7, ttl: 199 })), ip)));
    const f = parseFrame(r.data);
    expect(f.labels.map((l) => l.s)).toEqual([false, false, true]);
  });

  it('carries IPv4 options and Ethernet padding unchanged', () => {
    const opts = Buffer.from([0x94, 0x04, 0x00, 0x00]); // router alert option
    const ip = upV4(64, { options: opts });
    const pad = Buffer.alloc(6, 0xee);
    const r = dp.run('xdp_access', Buffer.concat([fromSub(ip), pad]));
    expect(hex(r.data)).toBe(hex(Buffer.concat([toCore([{ label: FEC_A[0]!, ttl: 63 }], ip), pad])));
  });

  it('adds an 802.1Q tag when the next hop has a vid, counted in the MTU', () => {
    const t = standardTables();
    t.nexthops.set(NH_CORE, { ...t.nexthops.get(NH_CORE)!, vid: 77, mtu: 0 });
    dp.load(t);
    const ip = upV4(64);
    const r = dp.run('xdp_access', fromSub(ip, { tags: [{ vid: 10 }] }));
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_A[0]!, ttl: 63 }], ip, { tags: [{ vid: 77 }] })));
  });

  for (const mode of ['uniform', 'pipe'] as const) {
    for (const ttl of [1, 2, 64, 255]) {
      it(`TTL ${ttl}, ${mode}: ${ttl <= 1 ? 'drops TTL_EXPIRED' : 'pushes with the RFC 3443 TTLs'} (IPv4 checksum valid)`, () => {
        const t = standardTables();
        t.settings.ttlMode = mode;
        dp.load(t);
        const ip = upV4(ttl);
        const frame = fromSub(ip);
        const r = dp.runCounted('xdp_access', frame, { isp: upA });
        if (ttl <= 1) {
          expect(r.action).toBe(XDP_DROP);
          expect(r.delta.drops).toEqual({ ttl_expired: counter(1, frame.length) });
          expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(0, 0));
          return;
        }
        expect(r.action).toBe(XDP_REDIRECT);
        const want = mode === 'uniform' ? toCore([{ label: FEC_A[0]!, ttl: ttl - 1 }], ip) : toCore([{ label: FEC_A[0]!, ttl: 255 }], upV4(ttl - 1));
        expect(hex(r.data)).toBe(hex(want));
        expect(parseFrame(r.data).ip!.checksumOk).toBe(true);
      });
      it(`hop limit ${ttl}, ${mode}, IPv6`, () => {
        const t = standardTables();
        t.settings.ttlMode = mode;
        dp.load(t);
        const r = dp.run('xdp_access', fromSub(upV6(ttl)));
        if (ttl <= 1) return void expect(r.action).toBe(XDP_DROP);
        const want = mode === 'uniform' ? toCore([{ label: FEC_A[0]!, ttl: ttl - 1 }], upV6(ttl)) : toCore([{ label: FEC_A[0]!, ttl: 255 }], upV6(ttl - 1));
        expect(hex(r.data)).toBe(hex(want));
      });
    }
  }

  it('forwards a frame at exactly the MTU and drops one byte over (MTU_EXCEEDED)', () => {
    const t = standardTables();
    const ip = upV4(64);
    // output = 14 + 4 (label) + ip; L3 length checked = 4 + ip
    t.nexthops.set(NH_CORE, { ...t.nexthops.get(NH_CORE)!, mtu: ip.length + 4 });
    dp.load(t);
    expect(dp.run('xdp_access', fromSub(ip)).action).toBe(XDP_REDIRECT);
    t.nexthops.set(NH_CORE, { ...t.nexthops.get(NH_CORE)!, mtu: ip.length + 3 });
    dp.load(t);
    const frame = fromSub(ip);
    const r = dp.runCounted('xdp_access', frame, { isp: upA });
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ mtu_exceeded: counter(1, frame.length) });
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(0, 0));
  });

  it('drops an unknown subscriber (UNKNOWN_SUBSCRIBER) under the drop policy', () => {
    const frame = fromSub(upV4(64, { src: '10.0.0.1' }));
    const r = dp.runCounted('xdp_access', frame);
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ unknown_subscriber: counter(1, frame.length) });
  });

  it('passes an unknown subscriber to the kernel under the pass policy, counting nothing', () => {
    const t = standardTables();
    t.settings.unknownPolicy = 'pass';
    dp.load(t);
    const frame = fromSub(upV4(64, { src: '10.0.0.1' }));
    const r = dp.runCounted('xdp_access', frame);
    expect(r.action).toBe(XDP_PASS);
    expect(hex(r.data)).toBe(hex(frame));
    expect(r.delta.drops).toEqual({});
  });

  it('drops a classifier pointing at ISP 0 (UNKNOWN_SUBSCRIBER)', () => {
    const t = standardTables();
    t.subV4.set('100.64.0.0/24', line(0));
    dp.load(t);
    const frame = fromSub(upV4());
    expect(dp.runCounted('xdp_access', frame).delta.drops).toEqual({ unknown_subscriber: counter(1, frame.length) });
  });

  it('drops when the ISP has no FEC (NO_FEC)', () => {
    const t = standardTables();
    t.fecUp.delete(ISP_A);
    dp.load(t);
    const frame = fromSub(upV4());
    const r = dp.runCounted('xdp_access', frame);
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ no_fec: counter(1, frame.length) });
  });

  it('drops NO_NEXTHOP for a missing group, an empty group and an empty member', () => {
    const frame = fromSub(upV4());
    const t = standardTables();
    t.fecUp.set(ISP_A, { labels: FEC_A, tc: 0, nhGroup: 99 });
    dp.load(t);
    expect(dp.runCounted('xdp_access', frame).delta.drops).toEqual({ no_nexthop: counter(1, frame.length) });
    const t2 = standardTables();
    t2.nhGroups.set(10, { nexthops: [] });
    dp.load(t2);
    expect(dp.runCounted('xdp_access', frame).delta.drops).toEqual({ no_nexthop: counter(1, frame.length) });
    const t3 = standardTables();
    t3.nhGroups.set(10, { nexthops: [55] });
    dp.load(t3);
    expect(dp.runCounted('xdp_access', frame).delta.drops).toEqual({ no_nexthop: counter(1, frame.length) });
  });

  it('drops TX_PORT when the egress port is not in tx_port (after counting the ISP)', () => {
    const t = standardTables();
    t.txPorts.clear();
    dp.load(t);
    const ip = upV4();
    const frame = fromSub(ip);
    const r = dp.runCounted('xdp_access', frame, { isp: upA });
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ tx_port: counter(1, frame.length) });
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(1, ip.length));
  });

  const local: Array<[string, () => Buffer]> = [
    ['ARP', () => ether({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:10:01', type: ETH_P_ARP, payload: Buffer.alloc(28) })],
    ['a multicast destination MAC', () => fromSub(upV4(), { dst: '01:00:5e:00:00:01' })],
    ['the limited broadcast address', () => fromSub(upV4(64, { dst: '255.255.255.255' }))],
    ['an IPv4 multicast group', () => fromSub(upV4(64, { dst: '224.0.0.5' }))],
    ["the router's own IPv4 address", () => fromSub(upV4(64, { dst: '100.64.0.1' }))],
    ["the router's own IPv6 address", () => fromSub(upV6(64, { dst: '2001:db8:100::1' }))],
    ['IPv6 link-local fe80::', () => fromSub(upV6(64, { dst: 'fe80::1' }))],
    ['IPv6 multicast ff02::', () => fromSub(upV6(64, { dst: 'ff02::1:ff00:1' }))],
    ['an MPLS frame from an end-user (not IP)', () => toCore([{ label: 1000, ttl: 9 }], upV4())],
  ];
  for (const [what, make] of local) {
    it(`passes ${what} to the kernel unchanged`, () => {
      const frame = make();
      const r = dp.runCounted('xdp_access', frame);
      expect(r.action).toBe(XDP_PASS);
      expect(hex(r.data)).toBe(hex(frame));
      expect(r.delta.drops).toEqual({});
    });
  }

  it('applies the unknown-subscriber policy to a third VLAN tag instead of passing it to the kernel', () => {
    // even from a MAC that classifies, and with tags a VLAN subscriber owns: no classifier
    // reads a third tag, so the frame is an unknown subscriber's
    for (const frame of [
      fromSub(upV4(), { tags: [{ vid: 20 }, { vid: 30 }, { vid: 40 }] }),
      fromSub(upV6(), { src: SUB_MAC2, tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30 }, { tpid: ETH_P_8021AD, vid: 1 }] }),
    ]) {
      const r = dp.runCounted('xdp_access', frame);
      expect(r.action).toBe(XDP_DROP);
      expect(r.delta.drops).toEqual({ unknown_subscriber: counter(1, frame.length) });
    }
    const t = standardTables();
    t.settings.unknownPolicy = 'pass';
    dp.load(t);
    const frame = fromSub(upV4(), { tags: [{ vid: 20 }, { vid: 30 }, { vid: 40 }] });
    const r = dp.runCounted('xdp_access', frame);
    expect(r.action).toBe(XDP_PASS);
    expect(hex(r.data)).toBe(hex(frame));
    expect(r.delta.drops).toEqual({});
  });

  const malformed: Array<[string, () => Buffer]> = [
    ['IPv4 version 5', () => fromSub(ipv4({ src: SUB_V4, dst: REMOTE_V4, l4: udp(1, 2, PAYLOAD), version: 5 }))],
    ['IPv4 IHL 4', () => fromSub(ipv4({ src: SUB_V4, dst: REMOTE_V4, l4: udp(1, 2, PAYLOAD), ihl: 4 }))],
    ['IPv4 IHL beyond the frame', () => fromSub(ipv4({ src: SUB_V4, dst: REMOTE_V4, l4: udp(1, 2), ihl: 15 }))],
    ['IPv4 total length shorter than the header', () => fromSub(ipv4({ src: SUB_V4, dst: REMOTE_V4, l4: udp(1, 2, PAYLOAD), totalLength: 19 }))],
    ['IPv4 total length beyond the frame', () => fromSub(ipv4({ src: SUB_V4, dst: REMOTE_V4, l4: udp(1, 2, PAYLOAD), totalLength: 1000 }))],
    ['IPv6 version 4 under the IPv6 ethertype', () => ether({ dst: ROUTER, src: '02:00:00:00:10:01', type: 0x86dd, payload: ipv6({ src: '2001:db8:100::10', dst: '2001:db8::2', l4: udp(1, 2, PAYLOAD), version: 4 }) })],
    ['IPv6 payload length beyond the frame', () => fromSub(ipv6({ src: '2001:db8:100::10', dst: '2001:db8::2', l4: udp(1, 2, PAYLOAD), payloadLength: 500 }))],
    ['a malformed header sent to the router itself', () => fromSub(ipv4({ src: SUB_V4, dst: '100.64.0.1', l4: udp(1, 2), ihl: 4 }))],
  ];
  for (const [what, make] of malformed) {
    it(`drops ${what} (MALFORMED)`, () => {
      const frame = make();
      const r = dp.runCounted('xdp_access', frame);
      expect(r.action).toBe(XDP_DROP);
      expect(r.delta.drops).toEqual({ malformed: counter(1, frame.length) });
    });
  }

  it('keeps MACs out of the way: output dst is the next hop, src the router', () => {
    const f = parseFrame(dp.run('xdp_access', fromSub(upV4())).data);
    expect([f.dst, f.src]).toEqual([CORE_NH, ROUTER]);
    expect(f.ip!.src).toBe(SUB_V4);
  });
});
