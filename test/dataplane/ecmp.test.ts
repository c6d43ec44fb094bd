// ECMP: the flow hash spreads flows evenly over a group's members and keeps each flow on one
// member (FORWARDING.md, "Next hop selection and ECMP").
import { afterAll, beforeAll, expect, it } from 'vitest';
import { u32 } from '../../control/bpf/codec.js';
import { hashKeyCodec } from '../../control/tables/layout.js';
import { parseFrame } from '../helpers/frames.js';
import { describeRoot } from '../helpers/root.js';
import { Dataplane, LO, XDP_REDIRECT } from './harness.js';
import { fromSub, G_CORE, labelled, L_SWAP, ROUTER, standardTables, upV4, upV6 } from './topo.js';

const MEMBERS = [41, 42, 43, 44];
const memberMac = (i: number) => `02:00:00:00:ec:${(i + 1).toString(16).padStart(2, '0')}`;

/** The flow hash exactly as FORWARDING.md writes it, over a list of 32-bit words. */
function specHash(words: number[], key = { k0: 0, k1: 0 }): number {
  let h = (0x811c9dc5 ^ key.k0) >>> 0;
  for (const w of words) {
    h = Math.imul((h ^ w) >>> 0, 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  h = (h ^ key.k1) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const v4word = (a: string) => a.split('.').reduce((x, o) => ((x << 8) | Number(o)) >>> 0, 0);

describeRoot('ECMP', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
    const t = standardTables();
    MEMBERS.forEach((id, i) => t.nexthops.set(id, { ifindex: LO, mtu: 1500, vid: 0, dmac: memberMac(i), smac: ROUTER }));
    t.nhGroups.set(G_CORE, { nexthops: MEMBERS });
    dp.load(t);
  });
  afterAll(() => dp?.close());

  function member(prog: 'xdp_access' | 'xdp_core', frame: Buffer): number {
    const r = dp.run(prog, frame);
    expect(r.action).toBe(XDP_REDIRECT);
    return MEMBERS.findIndex((_, i) => memberMac(i) === parseFrame(r.data).dst);
  }

  it('10,000 IPv4 flows over 4 members: each within ±10% of 2,500, every flow on one member', () => {
    const counts = [0, 0, 0, 0];
    let moved = 0;
    for (let f = 0; f < 10_000; f++) {
      const frame = fromSub(upV4(64, { src: `100.64.0.${f % 200}`, dst: `198.51.${(f >> 8) & 255}.${f & 255}`, sport: 1024 + (f % 50_000), dport: 53 + (f % 7) }));
      const a = member('xdp_access', frame);
      const b = member('xdp_access', frame);
      if (a !== b) moved++;
      counts[a]!++;
    }
    console.log('ECMP IPv4 spread over 4 members:', counts);
    expect(moved).toBe(0);
    for (const c of counts) expect(Math.abs(c - 2500)).toBeLessThanOrEqual(250);
  });

  it('picks member flow_hash % count with the hash of FORWARDING.md (IPv4 and MPLS words)', () => {
    for (let f = 0; f < 200; f++) {
      const src = `100.64.0.${f}`;
      const dst = '198.51.100.7';
      const sport = 3000 + f;
      const ipWords = [v4word(src), v4word(dst), 17, ((sport << 16) | 53) >>> 0];
      expect(member('xdp_access', fromSub(upV4(64, { src, dst, sport, dport: 53 })))).toBe(specHash(ipWords) % 4);
      expect(member('xdp_core', labelled([{ label: L_SWAP, ttl: 64 }], upV4(64, { src, dst, sport, dport: 53 })))).toBe(specHash([L_SWAP, ...ipWords]) % 4);
    }
  });

  it('keyed by the node: a key moves flows to other members, exactly as the keyed hash says', () => {
    const keyMap = dp.map('hash_key');
    const zero = u32.encode(0);
    const keys = [{ k0: 0x9e3779b9, k1: 0x7f4a7c15 }, { k0: 0x01234567, k1: 0xdeadbeef }];
    const chosen: number[][] = [];
    try {
      for (const key of keys) {
        keyMap.set(zero, hashKeyCodec.encode(key));
        const members: number[] = [];
        for (let f = 0; f < 200; f++) {
          const src = `100.64.0.${f}`;
          const dst = '198.51.100.7';
          const sport = 3000 + f;
          const ipWords = [v4word(src), v4word(dst), 17, ((sport << 16) | 53) >>> 0];
          const m = member('xdp_access', fromSub(upV4(64, { src, dst, sport, dport: 53 })));
          expect(m).toBe(specHash(ipWords, key) % 4);
          expect(member('xdp_core', labelled([{ label: L_SWAP, ttl: 64 }], upV4(64, { src, dst, sport, dport: 53 })))).toBe(specHash([L_SWAP, ...ipWords], key) % 4);
          members.push(m);
        }
        chosen.push(members);
      }
    } finally {
      keyMap.set(zero, hashKeyCodec.encode({ k0: 0, k1: 0 }));
    }
    // another key, another placement: about 3 flows in 4 move with 4 members
    const moved = chosen[0]!.filter((m, i) => m !== chosen[1]![i]).length;
    expect(moved).toBeGreaterThan(100);
  });

  it('IPv6 flows differing only in the source port spread too', () => {
    const counts = [0, 0, 0, 0];
    for (let p = 0; p < 4000; p++) counts[member('xdp_access', fromSub(upV6(64, { sport: 1024 + p })))]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThanOrEqual(100);
  });

  it('core: labelled flows hash on the label stack and the inner IP, stably', () => {
    const counts = [0, 0, 0, 0];
    for (let f = 0; f < 4000; f++) {
      const frame = labelled([{ label: L_SWAP, ttl: 64 }], upV4(64, { sport: 1024 + f }));
      const a = member('xdp_core', frame);
      expect(member('xdp_core', frame)).toBe(a);
      counts[a]!++;
    }
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThanOrEqual(100);
  });

  it('fragments and non-TCP/UDP hash on addresses only: all fragments of a packet stay together', () => {
    const first = member('xdp_access', fromSub(upV4(64, { sport: 1111 })));
    const seen = new Set<number>();
    for (let p = 0; p < 50; p++) {
      // a non-first fragment: the ports word is 0 whatever the bytes where ports would be
      const ip = upV4(64, { sport: 2000 + p });
      ip.writeUInt16BE(0x0010, 6); // fragment offset 16 (x 8 bytes)
      ip.writeUInt16BE(0, 10);
      let s = 0;
      for (let i = 0; i < 20; i += 2) s += ip.readUInt16BE(i);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      ip.writeUInt16BE(~s & 0xffff, 10);
      seen.add(member('xdp_access', fromSub(ip)));
    }
    expect(seen.size).toBe(1);
    expect(first).toBeGreaterThanOrEqual(0);
  });
});
