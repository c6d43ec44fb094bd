// Spoofing across access ports (issue 17): a subscriber's MAC or source prefix, which anyone can
// set, classifies only on the access line (port, and its VLAN tags) the subscriber is
// provisioned on. The same MAC or prefix on another port, or on the same port with other tags,
// is dropped as wrong_port and counted for no ISP. A second access port is a veth this suite
// creates (BPF_PROG_TEST_RUN needs a real ifindex; no traffic is sent) and removes afterwards.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ifindexOf } from '../../control/bpf/index.js';
import type { Tables } from '../../control/tables/types.js';
import { ETH_P_8021AD } from '../helpers/frames.js';
import { deleteLink, sh, uniqueName } from '../helpers/netns.js';
import { describeRoot } from '../helpers/root.js';
import { counter, Dataplane, LO, XDP_DROP, XDP_REDIRECT } from './harness.js';
import { FEC_A, FEC_B, fromSub, ISP_A, ISP_B, line, standardTables, SUB_MAC2, toCore, upV4, upV6 } from './topo.js';

const hex = (b: Buffer) => b.toString('hex');
const ISP_C = 3;
const FEC_C = [3001];

describeRoot('access lines: no spoofing across ports or VLANs', () => {
  let dp: Dataplane;
  const port = uniqueName('ffsp');
  const peer = uniqueName('ffsq');
  let other = 0; // the ifindex of a second access port

  beforeAll(() => {
    sh('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', peer]);
    other = ifindexOf(port);
    dp = Dataplane.open();
  });
  afterAll(() => {
    dp?.close();
    deleteLink(port); // takes its peer with it
  });

  /** standardTables plus ISP C's subscriber on the other port, VLAN 44 (by prefix and MAC). */
  function tables(): Tables {
    const t = standardTables();
    t.fecUp.set(ISP_C, { labels: FEC_C, tc: 0, nhGroup: 10 });
    t.subV4.set('100.99.0.0/24', line(ISP_C, { ifindex: other, outerVid: 44 }));
    t.subMac.set('02:00:00:00:99:01', line(ISP_C, { ifindex: other, outerVid: 44 }));
    return t;
  }

  const watch = { isp: [[ISP_A, 'up', 'in'], [ISP_B, 'up', 'in'], [ISP_C, 'up', 'in']] as Array<[number, 'up', 'in']> };
  const nothingCounted = { [`${ISP_A}/up/in`]: counter(0, 0), [`${ISP_B}/up/in`]: counter(0, 0), [`${ISP_C}/up/in`]: counter(0, 0) };

  function expectWrongPort(frame: Buffer, ingress: number): void {
    const r = dp.runCounted('xdp_access', frame, watch, ingress);
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ wrong_port: counter(1, frame.length) });
    expect(r.delta.isp).toEqual(nothingCounted);
  }

  it("ISP B's MAC arriving on another port is dropped wrong_port, not forwarded as ISP B", () => {
    dp.load(tables());
    // the same frame on its own port goes out as ISP B
    const ip = upV4(64, { src: '10.9.9.9' });
    const ok = dp.runCounted('xdp_access', fromSub(ip, { src: SUB_MAC2 }), watch, LO);
    expect(ok.action).toBe(XDP_REDIRECT);
    expect(hex(ok.data)).toBe(hex(toCore([{ label: FEC_B[0]!, ttl: 63, tc: 5, s: false }, { label: FEC_B[1]!, ttl: 63, tc: 5 }], ip)));
    expectWrongPort(fromSub(ip, { src: SUB_MAC2 }), other);
  });

  it('a MAC on its own port but with tags of another line is wrong_port (MAC is no longer ahead of the VLAN)', () => {
    dp.load(tables());
    // VLAN 10 on lo is ISP A's line; ISP B's MAC sent with that tag must not become ISP B
    expectWrongPort(fromSub(upV6(64), { src: SUB_MAC2, tags: [{ vid: 10 }] }), LO);
    expectWrongPort(fromSub(upV4(64), { src: SUB_MAC2, tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30 }] }), LO);
  });

  it("ISP A's source prefix (IPv4 and IPv6) from another port is dropped wrong_port", () => {
    dp.load(tables());
    expect(dp.run('xdp_access', fromSub(upV4(64)), LO).action).toBe(XDP_REDIRECT);
    expectWrongPort(fromSub(upV4(64)), other);
    expectWrongPort(fromSub(upV6(64)), other);
    // and from the right port with a tag no VLAN subscriber owns
    expectWrongPort(fromSub(upV4(64), { tags: [{ vid: 99 }] }), LO);
  });

  it('a subscriber provisioned on port + VLAN classifies only there: right port and tag forwards, anything else is wrong_port', () => {
    dp.load(tables());
    const ip = upV4(64, { src: '100.99.0.5' });
    const r = dp.runCounted('xdp_access', fromSub(ip, { tags: [{ vid: 44 }] }), watch, other);
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: FEC_C[0]!, ttl: 63 }], ip)));
    expect(r.delta.isp[`${ISP_C}/up/in`]).toEqual(counter(1, ip.length));
    expectWrongPort(fromSub(ip), other); // untagged on its port
    expectWrongPort(fromSub(ip, { tags: [{ vid: 45 }] }), other); // another VLAN
    expectWrongPort(fromSub(ip, { tags: [{ vid: 44 }] }), LO); // its VLAN id on another port
    expectWrongPort(fromSub(ip, { tags: [{ vid: 44 }, { vid: 1 }] }), other); // an inner tag it does not have
    // its MAC, set by someone on lo's untagged line
    expectWrongPort(fromSub(upV4(64, { src: '10.1.1.1' }), { src: '02:00:00:00:99:01' }), LO);
    // and on its own line the MAC classifies
    expect(dp.run('xdp_access', fromSub(upV4(64, { src: '10.1.1.1' }), { src: '02:00:00:00:99:01', tags: [{ vid: 44 }] }), other).action).toBe(XDP_REDIRECT);
  });

  it('a classifier entry without a port (ifindex 0) matches nowhere', () => {
    const t = tables();
    t.subV4.set('100.64.0.0/24', line(ISP_A, { ifindex: 0 }));
    dp.load(t);
    expectWrongPort(fromSub(upV4(64)), LO);
    expectWrongPort(fromSub(upV4(64)), other);
  });

  it('an unknown MAC and address from another port is still unknown_subscriber, not wrong_port', () => {
    dp.load(tables());
    const frame = fromSub(upV4(64, { src: '10.0.0.1' }));
    expect(dp.runCounted('xdp_access', frame, {}, other).delta.drops).toEqual({ unknown_subscriber: counter(1, frame.length) });
    void ISP_A;
    void FEC_A;
  });
});
