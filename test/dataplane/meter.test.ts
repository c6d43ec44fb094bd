// Per-subscriber meters and policers in the XDP programs: the meter word a classifier entry or
// a downstream route carries sends each forwarded packet's count to sub_stats[slot * 2 + dir] by
// traffic type, with the bytes of the IP packet as its header says (padding, tags and labels
// not counted); a subscriber's own bucket drops what exceeds its rate (sub_policed), before the
// ISP's bucket; and what is dropped — malformed, spoofed from another line — is no one's usage.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { u32 } from '../../control/bpf/codec.js';
import { subCountersCodec } from '../../control/tables/layout.js';
import { meterWord, policerIndex, subPolicerIndex, type Direction, type Tables } from '../../control/tables/types.js';
import { TRAFFIC_TYPES, type TrafficType } from '../../control/daemon/usage.js';
import { icmp6Echo, icmpEcho, ipv4, ipv6, raw, tcp, udp, type L4 } from '../helpers/frames.js';
import { describeRoot } from '../helpers/root.js';
import { counter, Dataplane, LO, XDP_DROP, XDP_REDIRECT } from './harness.js';
import { fromSub, ISP_A, L_TO_SUB_A, labelled, line, REMOTE_V4, REMOTE_V6, standardTables, SUB_MAC2, SUB_V4, SUB_V6 } from './topo.js';

const SLOT_A = 5; // the prefix subscriber of ISP A (v4 and v6), and its downstream routes
const SLOT_MAC = 6; // the MAC subscriber of ISP B
const SLOT_VLAN = 7; // the VLAN 10 subscriber of ISP A

type Counts = Record<TrafficType, { packets: bigint; bytes: bigint }>;

function meteredTables(): Tables {
  const t = standardTables();
  t.subV4.set('100.64.0.0/24', line(ISP_A, { meter: meterWord(SLOT_A, false) }));
  t.subV6.set('2001:db8:100::/48', line(ISP_A, { meter: meterWord(SLOT_A, false) }));
  t.subMac.set(SUB_MAC2, { ...t.subMac.get(SUB_MAC2)!, meter: meterWord(SLOT_MAC, false) });
  t.subVlan = t.subVlan.map(([k, isp]) => (k.outerVid === 10 ? [k, isp, meterWord(SLOT_VLAN, false)] : [k, isp]));
  t.downV4 = t.downV4.map(([k, r]) => [k, k.isp === ISP_A ? { ...r, meter: meterWord(SLOT_A, false) } : r]);
  t.downV6 = t.downV6.map(([k, r]) => [k, k.isp === ISP_A ? { ...r, meter: meterWord(SLOT_A, false) } : r]);
  return t;
}

/** One IP packet of each traffic type, with a payload of n bytes. */
function packet(type: TrafficType, n: number, dir: Direction): Buffer {
  const pl = Buffer.alloc(n, 0x5a);
  const v4 = (l4: L4) => (dir === 'up' ? ipv4({ src: SUB_V4, dst: REMOTE_V4, l4 }) : ipv4({ src: REMOTE_V4, dst: SUB_V4, l4 }));
  const v6 = (l4: L4) => (dir === 'up' ? ipv6({ src: SUB_V6, dst: REMOTE_V6, l4 }) : ipv6({ src: REMOTE_V6, dst: SUB_V6, l4 }));
  switch (type) {
    case 'ipv4_tcp':
      return v4(tcp(40000, 443, pl));
    case 'ipv4_udp':
      return v4(udp(40000, 53, pl));
    case 'ipv4_icmp':
      return v4(icmpEcho(1, 1, pl));
    case 'ipv4_other':
      return v4(raw(47, pl)); // GRE
    case 'ipv6_tcp':
      return v6(tcp(40000, 443, pl));
    case 'ipv6_udp':
      return v6(udp(40000, 53, pl));
    case 'ipv6_icmp':
      return v6(icmp6Echo(1, 1, pl));
    case 'ipv6_other':
      return v6(raw(50, pl)); // ESP
    case 'other':
      throw new Error('not an IP packet');
  }
}

describeRoot('per-subscriber meters', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
  });
  afterAll(() => dp?.close());

  const read = (slot: number, dir: Direction): Counts => {
    const v = dp.map('sub_stats').get(u32.encode(subPolicerIndex(slot, dir)));
    const types = subCountersCodec.decode(v!).type;
    return Object.fromEntries(TRAFFIC_TYPES.map((t, i) => [t, types[i]!])) as Counts;
  };
  const delta = (a: Counts, b: Counts): Record<string, { packets: number; bytes: number }> => {
    const out: Record<string, { packets: number; bytes: number }> = {};
    for (const t of TRAFFIC_TYPES) {
      const p = Number(b[t].packets - a[t].packets);
      const y = Number(b[t].bytes - a[t].bytes);
      if (p || y) out[t] = { packets: p, bytes: y };
    }
    return out;
  };
  const everySlot = () => [SLOT_A, SLOT_MAC, SLOT_VLAN].flatMap((s) => (['up', 'down'] as const).map((d) => read(s, d)));

  describe('counting', () => {
    beforeEach(() => dp.load(meteredTables()));

    it('counts each traffic type upstream exactly: packets, and bytes as the IP header says', () => {
      const before = read(SLOT_A, 'up');
      const want: Record<string, { packets: number; bytes: number }> = {};
      TRAFFIC_TYPES.filter((t) => t !== 'other').forEach((t, i) => {
        // a different count and size per type, so a count in the wrong type shows
        for (let k = 0; k <= i; k++) {
          const ip = packet(t, 10 + 7 * i + k, 'up');
          expect(dp.run('xdp_access', fromSub(ip)).action, `${t} ${k}`).toBe(XDP_REDIRECT);
          want[t] = { packets: (want[t]?.packets ?? 0) + 1, bytes: (want[t]?.bytes ?? 0) + ip.length };
        }
      });
      expect(delta(before, read(SLOT_A, 'up'))).toEqual(want);
    });

    it('counts each traffic type downstream at the headend (pop to subscriber) exactly', () => {
      const before = read(SLOT_A, 'down');
      const upBefore = read(SLOT_A, 'up');
      const want: Record<string, { packets: number; bytes: number }> = {};
      TRAFFIC_TYPES.filter((t) => t !== 'other').forEach((t, i) => {
        for (let k = 0; k < 3; k++) {
          const ip = packet(t, 100 + 13 * i + k, 'down');
          expect(dp.run('xdp_core', labelled([{ label: L_TO_SUB_A, ttl: 64, s: true }], ip)).action, `${t} ${k}`).toBe(XDP_REDIRECT);
          want[t] = { packets: (want[t]?.packets ?? 0) + 1, bytes: (want[t]?.bytes ?? 0) + ip.length };
        }
      });
      expect(delta(before, read(SLOT_A, 'down'))).toEqual(want);
      // and nothing upstream
      expect(delta(upBefore, read(SLOT_A, 'up'))).toEqual({});
    });

    it('counts the IP length, not the Ethernet padding of a short frame, nor its tags', () => {
      const ip = packet('ipv4_udp', 0, 'up'); // 28 bytes: the frame is padded to 60
      const frame = Buffer.concat([fromSub(ip), Buffer.alloc(60 - 14 - ip.length)]);
      expect(frame.length).toBe(60);
      const before = read(SLOT_A, 'up');
      expect(dp.run('xdp_access', frame).action).toBe(XDP_REDIRECT);
      expect(delta(before, read(SLOT_A, 'up'))).toEqual({ ipv4_udp: { packets: 1, bytes: 28 } });
      // the VLAN subscriber's tag is not counted either
      const tagged = fromSub(packet('ipv4_tcp', 20, 'up'), { tags: [{ vid: 10 }], src: '02:00:00:00:99:99' });
      const vlanBefore = read(SLOT_VLAN, 'up');
      expect(dp.run('xdp_access', tagged).action).toBe(XDP_REDIRECT);
      expect(delta(vlanBefore, read(SLOT_VLAN, 'up'))).toEqual({ ipv4_tcp: { packets: 1, bytes: 20 + 20 + 20 } });
    });

    it('meters the MAC subscriber in its own slot, and a subscriber without a meter word nowhere', () => {
      const before = everySlot();
      expect(dp.run('xdp_access', fromSub(packet('ipv6_udp', 5, 'up'), { src: SUB_MAC2 })).action).toBe(XDP_REDIRECT);
      expect(delta(before[2]!, read(SLOT_MAC, 'up'))).toEqual({ ipv6_udp: { packets: 1, bytes: 40 + 8 + 5 } });
      // ISP B's downstream route has no meter word: forwarded, counted nowhere
      const after = everySlot();
      expect(dp.run('xdp_core', labelled([{ label: 141, ttl: 64, s: true }], packet('ipv4_udp', 5, 'down'))).action).toBe(XDP_REDIRECT);
      expect(everySlot()).toEqual(after);
    });
  });

  describe('hostile input is nobody\'s usage', () => {
    beforeEach(() => dp.load(meteredTables()));

    it('a truncated or lying IP header is a malformed drop, counted in no slot', () => {
      const before = everySlot();
      const ip = packet('ipv4_tcp', 40, 'up');
      const lying = Buffer.from(ip);
      lying.writeUInt16BE(ip.length + 100, 2); // total length beyond the frame
      const r1 = dp.runCounted('xdp_access', fromSub(lying));
      expect(r1.action).toBe(XDP_DROP);
      expect(r1.delta.drops).toEqual({ malformed: counter(1, 14 + ip.length) });
      const r2 = dp.runCounted('xdp_access', fromSub(ip.subarray(0, 12)));
      expect(r2.action).toBe(XDP_DROP);
      expect(r2.delta.drops).toEqual({ malformed: counter(1, 14 + 12) });
      const v6 = Buffer.from(packet('ipv6_tcp', 40, 'down'));
      v6.writeUInt16BE(4000, 4); // payload length beyond the frame
      const r3 = dp.runCounted('xdp_core', labelled([{ label: L_TO_SUB_A, ttl: 64, s: true }], v6));
      expect(r3.action).toBe(XDP_DROP);
      expect(Object.keys(r3.delta.drops)).toEqual(['malformed']);
      expect(everySlot()).toEqual(before);
    });

    it('a subscriber\'s source address or MAC from another line is wrong_port, charged to no one', () => {
      const before = everySlot();
      // the prefix subscriber's address, but tagged (its line is untagged)
      const r1 = dp.runCounted('xdp_access', fromSub(packet('ipv4_udp', 10, 'up'), { tags: [{ vid: 99 }] }));
      expect(r1.action).toBe(XDP_DROP);
      expect(Object.keys(r1.delta.drops)).toEqual(['wrong_port']);
      // the MAC subscriber's MAC from another port
      const r2 = dp.runCounted('xdp_access', fromSub(packet('ipv4_udp', 10, 'up'), { src: SUB_MAC2 }), {}, 2);
      expect(r2.action).toBe(XDP_DROP);
      expect(Object.keys(r2.delta.drops)).toEqual(['wrong_port']);
      // an address of nobody
      const r3 = dp.runCounted('xdp_access', fromSub(ipv4({ src: '203.0.113.9', dst: REMOTE_V4, l4: udp(1, 2) })));
      expect(Object.keys(r3.delta.drops)).toEqual(['unknown_subscriber']);
      expect(everySlot()).toEqual(before);
    });

    it('a meter slot beyond sub_stats is skipped (no entry), and the packet still forwarded', () => {
      const t = meteredTables();
      t.subV4.set('100.64.0.0/24', line(ISP_A, { meter: 0xffffff }));
      dp.load(t);
      const before = everySlot();
      expect(dp.run('xdp_access', fromSub(packet('ipv4_udp', 10, 'up'))).action).toBe(XDP_REDIRECT);
      expect(everySlot()).toEqual(before);
    });
  });

  describe('per-subscriber rate', () => {
    const SLOT_P = 9;
    const frameUp = fromSub(packet('ipv4_udp', 30, 'up'));
    const ipUp = frameUp.length - 14;

    /** The prefix subscriber with its own bucket of burst = n frames at 1000 B/s per direction. */
    function policed(upFrames: number, downFrames: number): Tables {
      const t = meteredTables();
      t.subV4.set('100.64.0.0/24', line(ISP_A, { meter: meterWord(SLOT_P, true) }));
      t.subPolicers.set(subPolicerIndex(SLOT_P, 'up'), { rate: 1000n, burst: BigInt(upFrames * ipUp) });
      t.downV4 = t.downV4.map(([k, r]) => [k, k.isp === ISP_A ? { ...r, meter: meterWord(SLOT_P, true) } : r]);
      const downIp = packet('ipv4_udp', 30, 'down').length;
      t.subPolicers.set(subPolicerIndex(SLOT_P, 'down'), { rate: 1000n, burst: BigInt(downFrames * downIp) });
      return t;
    }

    it('passes its burst, then drops sub_policed; only what passed is metered', () => {
      dp.load(policed(10, 10));
      const before = read(SLOT_P, 'up');
      for (let i = 0; i < 10; i++) expect(dp.run('xdp_access', frameUp).action, `frame ${i}`).toBe(XDP_REDIRECT);
      const r = dp.runCounted('xdp_access', frameUp, { isp: [[ISP_A, 'up', 'policed'], [ISP_A, 'up', 'in']] });
      expect(r.action).toBe(XDP_DROP);
      expect(r.delta.drops).toEqual({ sub_policed: counter(1, frameUp.length) });
      // the ISP's counters do not see it: its bucket was not touched
      expect(r.delta.isp[`${ISP_A}/up/policed`]).toEqual(counter(0, 0));
      expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(0, 0));
      expect(delta(before, read(SLOT_P, 'up'))).toEqual({ ipv4_udp: { packets: 10, bytes: 10 * ipUp } });
    });

    it('enforces the downstream rate at the headend', () => {
      dp.load(policed(10, 4));
      const f = labelled([{ label: L_TO_SUB_A, ttl: 64, s: true }], packet('ipv4_udp', 30, 'down'));
      const got = Array.from({ length: 6 }, () => dp.run('xdp_core', f).action);
      expect(got).toEqual([XDP_REDIRECT, XDP_REDIRECT, XDP_REDIRECT, XDP_REDIRECT, XDP_DROP, XDP_DROP]);
      expect(dp.drop('sub_policed').packets).toBeGreaterThanOrEqual(2n);
    });

    it('the ISP\'s policer still applies under a looser subscriber rate', () => {
      const t = policed(10, 10);
      t.policers.set(policerIndex(ISP_A, 'up'), { rate: 1000n, burst: BigInt(3 * frameUp.length) });
      dp.load(t);
      const before = read(SLOT_P, 'up');
      const got = Array.from({ length: 5 }, () => dp.runCounted('xdp_access', frameUp));
      expect(got.map((r) => r.action)).toEqual([XDP_REDIRECT, XDP_REDIRECT, XDP_REDIRECT, XDP_DROP, XDP_DROP]);
      expect(got[3]!.delta.drops).toEqual({ policed: counter(1, frameUp.length) });
      expect(delta(before, read(SLOT_P, 'up'))).toEqual({ ipv4_udp: { packets: 3, bytes: 3 * ipUp } });
    });

    it('a subscriber without the policed bit is not limited even if a bucket is written for its slot', () => {
      const t = policed(1, 1);
      t.subV4.set('100.64.0.0/24', line(ISP_A, { meter: meterWord(SLOT_P, false) }));
      dp.load(t);
      for (let i = 0; i < 5; i++) expect(dp.run('xdp_access', frameUp).action).toBe(XDP_REDIRECT);
    });
  });

  it('the sub_stats values are shared by the CPUs (one value per slot and direction, not per CPU)', () => {
    const m = dp.map('sub_stats');
    expect(m.typeName).toBe('array');
    expect(m.valueSize).toBe(TRAFFIC_TYPES.length * 16);
    expect(m.valueBufferSize).toBe(m.valueSize);
  });
});
