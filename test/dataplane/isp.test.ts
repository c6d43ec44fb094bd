// xdp_isp: the ISP from the port (and VLAN), the route in that ISP's table, push toward the
// headend (FORWARDING.md, isp program).
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ether, parseFrame } from '../helpers/frames.js';
import { describeRoot } from '../helpers/root.js';
import { counter, Dataplane, XDP_DROP, XDP_PASS, XDP_REDIRECT } from './harness.js';
import { downV4, downV6, ISP_A, ISP_B, ISP_NH, L_TO_SUB_A, L_TO_SUB_B, ROUTER, standardTables, toCore } from './topo.js';

const hex = (b: Buffer) => b.toString('hex');
const fromIsp = (ip: Buffer, tags?: Array<{ vid: number }>, dst = ROUTER) => ether({ dst, src: ISP_NH, tags, payload: ip });

describeRoot('xdp_isp', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
  });
  afterAll(() => dp?.close());
  beforeEach(() => dp.load(standardTables()));

  it('untagged IPv4 from ISP A: pushes the route label toward the headend, counted down/in', () => {
    const ip = downV4(64);
    const r = dp.runCounted('xdp_isp', fromIsp(ip), { isp: [[ISP_A, 'down', 'in']] });
    expect(r.action).toBe(XDP_REDIRECT);
    expect(hex(r.data)).toBe(hex(toCore([{ label: L_TO_SUB_A, ttl: 63 }], ip)));
    expect(r.delta.isp[`${ISP_A}/down/in`]).toEqual(counter(1, ip.length));
  });

  it('untagged IPv6: two labels with the route TC', () => {
    const ip = downV6(64);
    const r = dp.run('xdp_isp', fromIsp(ip));
    expect(hex(r.data)).toBe(hex(toCore([{ label: 5000, tc: 3, ttl: 63 }, { label: L_TO_SUB_A, tc: 3, ttl: 63 }], ip)));
  });

  it('VLAN 300 is ISP B: the tag is stripped, ISP B’s table (three labels) is used', () => {
    const ip = downV4(64);
    const r = dp.runCounted('xdp_isp', fromIsp(ip, [{ vid: 300 }]), { isp: [[ISP_B, 'down', 'in']] });
    expect(hex(r.data)).toBe(hex(toCore([6000, 6001, L_TO_SUB_B].map((label) => ({ label, ttl: 63 })), ip)));
    expect(r.delta.isp[`${ISP_B}/down/in`]).toEqual(counter(1, ip.length));
  });

  it('pipe mode decrements the IP TTL and pushes TTL 255', () => {
    const t = standardTables();
    t.settings.ttlMode = 'pipe';
    dp.load(t);
    const r = dp.run('xdp_isp', fromIsp(downV4(64)));
    expect(hex(r.data)).toBe(hex(toCore([{ label: L_TO_SUB_A, ttl: 255 }], downV4(63))));
    expect(parseFrame(r.data).ip!.checksumOk).toBe(true);
  });

  it('TTL 1 is TTL_EXPIRED', () => {
    const frame = fromIsp(downV4(1));
    expect(dp.runCounted('xdp_isp', frame).delta.drops).toEqual({ ttl_expired: counter(1, frame.length) });
  });

  it('no route in the ISP’s table is NO_ROUTE (IPv6 of ISP B, foreign IPv4 of ISP A)', () => {
    for (const frame of [fromIsp(downV6(64), [{ vid: 300 }]), fromIsp(downV4(64, '10.1.2.3'))]) {
      const r = dp.runCounted('xdp_isp', frame);
      expect(r.action).toBe(XDP_DROP);
      expect(r.delta.drops).toEqual({ no_route: counter(1, frame.length) });
    }
  });

  it('a port/VLAN that is no ISP port goes to the kernel', () => {
    const frame = fromIsp(downV4(64), [{ vid: 301 }]);
    const r = dp.runCounted('xdp_isp', frame);
    expect(r.action).toBe(XDP_PASS);
    expect(hex(r.data)).toBe(hex(frame));
    expect(r.delta.drops).toEqual({});
  });

  it('a second tag is an unknown ethertype: Pass', () => {
    const frame = fromIsp(downV4(64), [{ vid: 300 }, { vid: 5 }]);
    expect(dp.run('xdp_isp', frame).action).toBe(XDP_PASS);
  });

  it('local traffic goes to the kernel (multicast MAC, own address)', () => {
    expect(dp.run('xdp_isp', fromIsp(downV4(64), undefined, '33:33:00:00:00:01')).action).toBe(XDP_PASS);
    expect(dp.run('xdp_isp', fromIsp(downV4(64, '100.64.0.1'))).action).toBe(XDP_PASS);
  });

  it('MTU: exactly at the limit forwards, one byte over drops', () => {
    const ip = downV4(64);
    const t = standardTables();
    t.nexthops.set(1, { ...t.nexthops.get(1)!, mtu: ip.length + 4 });
    dp.load(t);
    expect(dp.run('xdp_isp', fromIsp(ip)).action).toBe(XDP_REDIRECT);
    t.nexthops.set(1, { ...t.nexthops.get(1)!, mtu: ip.length + 3 });
    dp.load(t);
    const frame = fromIsp(ip);
    expect(dp.runCounted('xdp_isp', frame).delta.drops).toEqual({ mtu_exceeded: counter(1, frame.length) });
  });
});
