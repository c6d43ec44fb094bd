// Hand-computed cases for the reference model, one group per rule of FORWARDING.md. Expected
// label stack entries are written out as hex words so a reader can check them against
// RFC 3032's layout: label (20) | TC (3) | S (1) | TTL (8).
import { describe, expect, it } from 'vitest';
import { emptyTables, type SubClass, type Tables } from '../../control/tables/types.js';
import { forward, type ModelResult } from './forward.js';
import { ipv4HeaderChecksum } from './checksum.js';
import { mixWords } from './hash.js';
import { ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IPV4, ETH_P_IPV6, ETH_P_MPLS, ethernet, ipv4, ipv6, labelStack, udp } from './frames.js';

const SUB_MAC = '02:00:00:00:00:01';
const ROUTER_MAC = '02:00:00:00:00:fe';
const NH_DMAC = '02:00:00:00:01:01';
const NH_SMAC = '02:00:00:00:01:02';
const ACCESS_IF = 1;
const CORE_IF = 7;
const ISP_IF = 9;

/** A MAC or prefix classifier value: the ISP on ACCESS_IF's line with these tags (none). */
const on = (isp: number, outerVid = 0, innerVid = 0): SubClass => ({ isp, ifindex: ACCESS_IF, outerVid, innerVid });

/** One ISP (3), FEC [1000] to group 1 -> next hop 1 on CORE_IF; a small ILM. */
function tables(over: (t: Tables) => void = () => {}): Tables {
  const t = emptyTables();
  t.subMac.set(SUB_MAC, on(3));
  t.fecUp.set(3, { labels: [1000], tc: 0, nhGroup: 1 });
  t.nhGroups.set(1, { nexthops: [1] });
  t.nexthops.set(1, { ifindex: CORE_IF, mtu: 1500, vid: 0, dmac: NH_DMAC, smac: NH_SMAC });
  t.txPorts.add(CORE_IF);
  t.txPorts.add(ISP_IF);
  t.txPorts.add(ACCESS_IF);
  over(t);
  return t;
}

function v4packet(ttl = 64, payload = Buffer.from('hello')): Buffer {
  return ipv4({ src: '100.64.0.10', dst: '198.51.100.7', ttl, protocol: 17, payload: udp(4000, 53, payload) });
}

function v6packet(hopLimit = 64): Buffer {
  return ipv6({ src: '2001:db8::10', dst: '2001:db8:99::7', hopLimit, nextHeader: 17, payload: udp(4000, 53, Buffer.from('hi')) });
}

function accessFrame(packet = v4packet(), ethertype = ETH_P_IPV4): Buffer {
  return ethernet(ROUTER_MAC, SUB_MAC, [], ethertype, packet);
}

function coreFrame(entries: Parameters<typeof labelStack>[0], rest: Buffer): Buffer {
  return ethernet(ROUTER_MAC, '02:00:00:00:02:02', [], ETH_P_MPLS, Buffer.concat([labelStack(entries), rest]));
}

const hex = (b: Buffer): string => b.toString('hex');
const word = (w: number): string => w.toString(16).padStart(8, '0');

function expectDrop(r: ModelResult, reason: string, bytes: number): void {
  expect(r.verdict).toBe('drop');
  expect(r.reason).toBe(reason);
  expect(r.counters.drops).toEqual([{ reason, packets: 1, bytes }]);
}

/** An IPv4 header with TTL and checksum replaced, checksum from a full recompute. */
function withTtl(packet: Buffer, ttl: number): Buffer {
  const p = Buffer.from(packet);
  p[8] = ttl;
  p.writeUInt16BE(ipv4HeaderChecksum(p.subarray(0, 20)), 10);
  return p;
}

describe('access program: push', () => {
  it('pushes the ISP label with S=1 and TTL 63 and leaves the IP packet alone (uniform)', () => {
    const packet = v4packet(64);
    const r = forward(tables(), 'access', accessFrame(packet), { ingressIfindex: ACCESS_IF });
    expect(r.verdict).toBe('redirect');
    expect(r.egressIfindex).toBe(CORE_IF);
    // 1000 = 0x3e8 -> 0x003e8 << 12 | S | 63
    expect(hex(r.frame)).toBe('020000000101' + '020000000102' + '8847' + '003e813f' + hex(packet));
    expect(r.counters.isp).toEqual([{ isp: 3, direction: 'up', point: 'in', packets: 1, bytes: packet.length }]);
    expect(r.counters.drops).toEqual([]);
  });

  it('pushes two labels with the FEC TC, S only on the bottom one', () => {
    const t = tables((t) => t.fecUp.set(3, { labels: [16, 2000], tc: 5, nhGroup: 1 }));
    const packet = v4packet(10);
    const r = forward(t, 'access', accessFrame(packet), { ingressIfindex: ACCESS_IF });
    // 16 -> 0x00010 << 12 | 5 << 9 | TTL 9 ; 2000 = 0x7d0 -> | 5 << 9 | S | 9
    expect(hex(r.frame.subarray(14, 22))).toBe('00010a09' + '007d0b09');
    expect(hex(r.frame.subarray(22))).toBe(hex(packet));
  });

  it('pipe mode pushes TTL 255 and decrements the IP TTL with a correct checksum', () => {
    const t = tables((t) => (t.settings.ttlMode = 'pipe'));
    const packet = v4packet(64);
    const r = forward(t, 'access', accessFrame(packet), { ingressIfindex: ACCESS_IF });
    expect(hex(r.frame.subarray(14, 18))).toBe('003e81ff');
    expect(hex(r.frame.subarray(18))).toBe(hex(withTtl(packet, 63)));
  });

  it('pipe mode decrements the IPv6 hop limit', () => {
    const t = tables((t) => {
      t.settings.ttlMode = 'pipe';
      t.subV6.set('2001:db8::/64', on(3));
    });
    const packet = v6packet(2);
    const r = forward(t, 'access', ethernet(ROUTER_MAC, '02:00:00:00:00:99', [], ETH_P_IPV6, packet), { ingressIfindex: ACCESS_IF });
    expect(r.verdict).toBe('redirect');
    const expected = Buffer.from(packet);
    expected[7] = 1;
    expect(hex(r.frame.subarray(18))).toBe(hex(expected));
  });

  it('removes the subscriber tags and adds the next hop tag between MACs and 0x8847', () => {
    const t = tables((t) => {
      t.nexthops.set(1, { ifindex: CORE_IF, mtu: 0, vid: 42, dmac: NH_DMAC, smac: NH_SMAC });
      t.subMac.set(SUB_MAC, on(3, 100, 200)); // a subscriber on a QinQ line
    });
    const packet = v4packet(64);
    const frame = ethernet(ROUTER_MAC, SUB_MAC, [{ tpid: ETH_P_8021AD, vid: 100 }, { tpid: ETH_P_8021Q, vid: 200 }], ETH_P_IPV4, packet);
    const r = forward(t, 'access', frame, { ingressIfindex: ACCESS_IF });
    expect(hex(r.frame)).toBe('020000000101' + '020000000102' + '8100002a' + '8847' + '003e813f' + hex(packet));
  });

  it('carries Ethernet padding after the IP packet and counts it in the ISP bytes', () => {
    const packet = v4packet(64, Buffer.alloc(0));
    const padded = Buffer.concat([packet, Buffer.from('00000000deadbeef', 'hex')]);
    const r = forward(tables(), 'access', accessFrame(padded), { ingressIfindex: ACCESS_IF });
    expect(hex(r.frame.subarray(18))).toBe(hex(padded));
    expect(r.counters.isp[0].bytes).toBe(padded.length);
  });
});

describe('access program: classification', () => {
  const v4 = (src: string): Buffer => ipv4({ src, dst: '198.51.100.7', ttl: 64, protocol: 17, payload: udp(1, 2) });
  const ispOf = (t: Tables, frame: Buffer): number | undefined =>
    forward(t, 'access', frame, { ingressIfindex: ACCESS_IF }).counters.isp[0]?.isp;
  const all = (): Tables =>
    tables((t) => {
      for (const isp of [4, 5, 6, 7]) t.fecUp.set(isp, { labels: [1000 + isp], tc: 0, nhGroup: 1 });
      t.subVlan.push([{ ifindex: ACCESS_IF, outerVid: 100, innerVid: 0 }, 4]);
      t.subVlan.push([{ ifindex: ACCESS_IF, outerVid: 100, innerVid: 200 }, 5]);
      t.subV4.set('100.64.0.0/16', on(6));
      t.subV4.set('100.64.1.0/24', on(7));
    });

  it('source MAC on its line wins over VLAN and prefix', () => {
    const f = ethernet(ROUTER_MAC, SUB_MAC, [{ tpid: ETH_P_8021Q, vid: 100 }], ETH_P_IPV4, v4('100.64.1.1'));
    const t = all();
    t.subMac.set(SUB_MAC, on(3, 100));
    expect(ispOf(t, f)).toBe(3);
  });

  it('a MAC or prefix off its line (another port, or other tags) is dropped wrong_port, before any VLAN match', () => {
    // SUB_MAC is on ACCESS_IF untagged; with VLAN 100 (ISP 4's line) it must not become ISP 3 nor 4
    const tagged = ethernet(ROUTER_MAC, SUB_MAC, [{ tpid: ETH_P_8021Q, vid: 100 }], ETH_P_IPV4, v4('100.64.1.1'));
    expectDrop(forward(all(), 'access', tagged, { ingressIfindex: ACCESS_IF }), 'wrong_port', tagged.length);
    const untagged = ethernet(ROUTER_MAC, SUB_MAC, [], ETH_P_IPV4, v4('100.64.1.1'));
    expectDrop(forward(all(), 'access', untagged, { ingressIfindex: ACCESS_IF + 1 }), 'wrong_port', untagged.length);
    // a prefix of ISP 7 from another port
    const byPrefix = ethernet(ROUTER_MAC, '02:00:00:00:00:77', [], ETH_P_IPV4, v4('100.64.1.1'));
    expect(ispOf(all(), byPrefix)).toBe(7);
    expectDrop(forward(all(), 'access', byPrefix, { ingressIfindex: 99 }), 'wrong_port', byPrefix.length);
  });

  it('VLAN (port, outer, inner or 0) wins over prefix', () => {
    const other = '02:00:00:00:00:77';
    expect(ispOf(all(), ethernet(ROUTER_MAC, other, [{ tpid: ETH_P_8021Q, vid: 100 }], ETH_P_IPV4, v4('100.64.1.1')))).toBe(4);
    const qinq = [{ tpid: ETH_P_8021AD, vid: 100 }, { tpid: ETH_P_8021Q, vid: 200 }];
    expect(ispOf(all(), ethernet(ROUTER_MAC, other, qinq, ETH_P_IPV4, v4('100.64.1.1')))).toBe(5);
    // the VLAN key includes the ingress port: on port 2 VLAN 100 is not ISP 4's, and the prefix
    // (provisioned on port 2, VLAN 100 here) classifies
    const t = all();
    t.subV4.set('100.64.1.0/24', { isp: 7, ifindex: 2, outerVid: 100, innerVid: 0 });
    const r = forward(t, 'access', ethernet(ROUTER_MAC, other, [{ tpid: ETH_P_8021Q, vid: 100 }], ETH_P_IPV4, v4('100.64.1.1')), {
      ingressIfindex: 2,
    });
    expect(r.counters.isp[0].isp).toBe(7);
  });

  it('longest source prefix wins', () => {
    const other = '02:00:00:00:00:77';
    expect(ispOf(all(), ethernet(ROUTER_MAC, other, [], ETH_P_IPV4, v4('100.64.1.1')))).toBe(7);
    expect(ispOf(all(), ethernet(ROUTER_MAC, other, [], ETH_P_IPV4, v4('100.64.2.1')))).toBe(6);
  });

  it('drops an unknown subscriber, or passes it when the policy says so', () => {
    const f = ethernet(ROUTER_MAC, '02:00:00:00:00:77', [], ETH_P_IPV4, v4('10.0.0.1'));
    expectDrop(forward(all(), 'access', f, { ingressIfindex: ACCESS_IF }), 'unknown_subscriber', f.length);
    const t = all();
    t.settings.unknownPolicy = 'pass';
    const r = forward(t, 'access', f, { ingressIfindex: ACCESS_IF });
    expect(r.verdict).toBe('pass');
    expect(r.frame).toEqual(f);
    expect(r.counters).toEqual({ isp: [], labels: [], drops: [], subscribers: [] });
  });

  it('drops NO_FEC when the ISP has no upstream FEC', () => {
    const t = tables((t) => t.fecUp.delete(3));
    const f = accessFrame();
    expectDrop(forward(t, 'access', f, { ingressIfindex: ACCESS_IF }), 'no_fec', f.length);
  });
});

describe('access program: parsing and local traffic', () => {
  it('drops frames shorter than Ethernet and truncated tags as MALFORMED', () => {
    const short = Buffer.alloc(13);
    expectDrop(forward(tables(), 'access', short, { ingressIfindex: ACCESS_IF }), 'malformed', 13);
    const tagCut = accessFrame().subarray(0, 16);
    tagCut.writeUInt16BE(ETH_P_8021Q, 12);
    expectDrop(forward(tables(), 'access', tagCut, { ingressIfindex: ACCESS_IF }), 'malformed', 16);
  });

  it('drops invalid IPv4 headers as MALFORMED', () => {
    const cases: Array<(p: Buffer) => void> = [
      (p) => (p[0] = 0x55), // version 5
      (p) => (p[0] = 0x44), // IHL 4
      (p) => (p[0] = 0x4f), // IHL 15 > available
      (p) => p.writeUInt16BE(19, 2), // total length < header
      (p) => p.writeUInt16BE(p.length + 1, 2), // beyond the frame
    ];
    for (const mutate of cases) {
      const p = v4packet();
      mutate(p);
      const f = accessFrame(p);
      expectDrop(forward(tables(), 'access', f, { ingressIfindex: ACCESS_IF }), 'malformed', f.length);
    }
    const cut = accessFrame().subarray(0, 14 + 19);
    expectDrop(forward(tables(), 'access', cut, { ingressIfindex: ACCESS_IF }), 'malformed', cut.length);
  });

  it('drops invalid IPv6 headers as MALFORMED', () => {
    const long = v6packet();
    long.writeUInt16BE(long.length - 39, 4);
    const f = ethernet(ROUTER_MAC, SUB_MAC, [], ETH_P_IPV6, long);
    expectDrop(forward(tables(), 'access', f, { ingressIfindex: ACCESS_IF }), 'malformed', f.length);
    const v4in6 = ethernet(ROUTER_MAC, SUB_MAC, [], ETH_P_IPV6, Buffer.concat([v4packet(), Buffer.alloc(20)]));
    expectDrop(forward(tables(), 'access', v4in6, { ingressIfindex: ACCESS_IF }), 'malformed', v4in6.length);
  });

  it('passes non-IP, multicast, broadcast, link-local and local-address traffic untouched', () => {
    const t = tables((t) => t.local.add('198.51.100.7'));
    const arp = ethernet('ff:ff:ff:ff:ff:ff', SUB_MAC, [], ETH_P_ARP, Buffer.alloc(28));
    const mpls = ethernet(ROUTER_MAC, SUB_MAC, [], ETH_P_MPLS, Buffer.alloc(28));
    const mcastMac = ethernet('01:00:5e:00:00:01', SUB_MAC, [], ETH_P_IPV4, v4packet());
    const toRouter = accessFrame(v4packet());
    const bcast = accessFrame(ipv4({ src: '100.64.0.1', dst: '255.255.255.255', ttl: 64, protocol: 17 }));
    const mcast = accessFrame(ipv4({ src: '100.64.0.1', dst: '239.1.1.1', ttl: 64, protocol: 17 }));
    const ll6 = accessFrame(ipv6({ src: 'fe80::1', dst: 'fe80::2', hopLimit: 255, nextHeader: 58 }), ETH_P_IPV6);
    const mc6 = accessFrame(ipv6({ src: '2001:db8::1', dst: 'ff02::1', hopLimit: 1, nextHeader: 58 }), ETH_P_IPV6);
    for (const f of [arp, mpls, mcastMac, toRouter, bcast, mcast, ll6, mc6]) {
      const r = forward(t, 'access', f, { ingressIfindex: ACCESS_IF });
      expect(r.verdict).toBe('pass');
      expect(r.frame).toEqual(f);
      expect(r.counters.drops).toEqual([]);
    }
  });

  it('treats a third VLAN tag as an unknown subscriber: dropped, or passed only under the pass policy', () => {
    const threeTags = ethernet(ROUTER_MAC, SUB_MAC, [1, 2, 3].map((vid) => ({ tpid: ETH_P_8021Q, vid })), ETH_P_IPV4, v4packet());
    expectDrop(forward(tables(), 'access', threeTags, { ingressIfindex: ACCESS_IF }), 'unknown_subscriber', threeTags.length);
    const r = forward(tables((t) => (t.settings.unknownPolicy = 'pass')), 'access', threeTags, { ingressIfindex: ACCESS_IF });
    expect(r.verdict).toBe('pass');
    expect(r.frame).toEqual(threeTags);
  });

  it('drops a malformed IP header even when it is for the router', () => {
    const p = v4packet();
    p[0] = 0x43;
    const f = ethernet('ff:ff:ff:ff:ff:ff', SUB_MAC, [], ETH_P_IPV4, p);
    expectDrop(forward(tables(), 'access', f, { ingressIfindex: ACCESS_IF }), 'malformed', f.length);
  });
});

describe('access program: TTL, next hop, MTU, policer, tx_port', () => {
  it('drops TTL 1 and 0 as TTL_EXPIRED', () => {
    for (const ttl of [0, 1]) {
      const f = accessFrame(v4packet(ttl));
      expectDrop(forward(tables(), 'access', f, { ingressIfindex: ACCESS_IF }), 'ttl_expired', f.length);
    }
  });

  it('drops NO_NEXTHOP for a missing group, an empty group or a missing next hop', () => {
    const f = accessFrame();
    for (const t of [
      tables((t) => t.nhGroups.delete(1)),
      tables((t) => t.nhGroups.set(1, { nexthops: [] })),
      tables((t) => t.nhGroups.set(1, { nexthops: [77] })),
    ]) {
      expectDrop(forward(t, 'access', f, { ingressIfindex: ACCESS_IF }), 'no_nexthop', f.length);
    }
  });

  it('checks the L3 MTU on the output length (tags count as payload)', () => {
    const packet = v4packet(64, Buffer.alloc(100)); // 20 + 8 + 100 = 128
    // output: 14 + 4 (label) + 128 = 146 -> 132 after Ethernet
    const fits = tables((t) => t.nexthops.set(1, { ifindex: CORE_IF, mtu: 132, vid: 0, dmac: NH_DMAC, smac: NH_SMAC }));
    expect(forward(fits, 'access', accessFrame(packet), { ingressIfindex: ACCESS_IF }).verdict).toBe('redirect');
    const tagged = tables((t) => t.nexthops.set(1, { ifindex: CORE_IF, mtu: 132, vid: 5, dmac: NH_DMAC, smac: NH_SMAC }));
    const f = accessFrame(packet);
    expectDrop(forward(tagged, 'access', f, { ingressIfindex: ACCESS_IF }), 'mtu_exceeded', f.length);
  });

  it('drops TX_PORT when the egress port is not in tx_port, after counting the ISP in', () => {
    const t = tables((t) => t.txPorts.delete(CORE_IF));
    const f = accessFrame();
    const r = forward(t, 'access', f, { ingressIfindex: ACCESS_IF });
    expectDrop(r, 'tx_port', f.length);
    expect(r.counters.isp).toEqual([{ isp: 3, direction: 'up', point: 'in', packets: 1, bytes: f.length - 14 }]);
  });

  it('polices with a token bucket on injected time', () => {
    const t = tables((t) => t.policers.set(3 * 2, { rate: 1000n, burst: 200n }));
    const f = accessFrame(v4packet(64, Buffer.alloc(100))); // 142 bytes
    const policerState = new Map();
    const at = (nowNs: bigint): ModelResult => forward(t, 'access', f, { ingressIfindex: ACCESS_IF, nowNs, policerState });
    expect(at(1_000_000_000n).verdict).toBe('redirect'); // full bucket 200 -> 58
    const second = at(1_010_000_000n); // +10 ms = +10 bytes -> 68 < 142
    expectDrop(second, 'policed', f.length);
    expect(second.counters.isp).toEqual([{ isp: 3, direction: 'up', point: 'policed', packets: 1, bytes: f.length - 14 }]);
    expect(at(1_084_000_000n).verdict).toBe('redirect'); // +74 ms -> 142
    expect(policerState.get(6)).toEqual({ tokens: 0n, lastNs: 1_084_000_000n, frac: 0n });
    expect(at(5_000_000_000n).verdict).toBe('redirect'); // refilled, then capped at burst
    expect(policerState.get(6)).toEqual({ tokens: 58n, lastNs: 5_000_000_000n, frac: 0n });
  });

  it('carries the fraction of a byte between frames, and is exact at the largest rate', () => {
    // 7 B/s: 0.1 s earns 0.7 B; ten such frames earn 7 B, not 0
    const t = tables((t) => t.policers.set(3 * 2, { rate: 7n, burst: 1_000_000n }));
    const f = accessFrame(v4packet(64, Buffer.alloc(100)));
    const policerState = new Map([[6, { tokens: 0n, lastNs: 0n }]]);
    for (let i = 1; i <= 10; i++) forward(t, 'access', f, { ingressIfindex: ACCESS_IF, nowNs: BigInt(i) * 100_000_000n, policerState });
    expect(policerState.get(6)).toEqual({ tokens: 7n, lastNs: 1_000_000_000n, frac: 0n });
    // 2^53-1 bit/s for 0.3 s from empty
    const rate = BigInt(Number.MAX_SAFE_INTEGER) / 8n;
    const big = tables((t) => t.policers.set(3 * 2, { rate, burst: BigInt(Number.MAX_SAFE_INTEGER) }));
    const s2 = new Map([[6, { tokens: 0n, lastNs: 1n }]]);
    expect(forward(big, 'access', f, { ingressIfindex: ACCESS_IF, nowNs: 300_000_001n, policerState: s2 }).verdict).toBe('redirect');
    expect(s2.get(6)).toEqual({ tokens: (300_000_000n * rate) / 1_000_000_000n - BigInt(f.length), lastNs: 300_000_001n, frac: (300_000_000n * rate) % 1_000_000_000n });
  });

  it('spreads flows over an ECMP group by flow_hash % count', () => {
    const t = tables((t) => {
      t.nhGroups.set(1, { nexthops: [1, 2, 3] });
      t.nexthops.set(2, { ifindex: CORE_IF, mtu: 0, vid: 0, dmac: '02:00:00:00:02:01', smac: NH_SMAC });
      t.nexthops.set(3, { ifindex: CORE_IF, mtu: 0, vid: 0, dmac: '02:00:00:00:03:01', smac: NH_SMAC });
    });
    const dmacs = ['020000000101', '020000000201', '020000000301'];
    const seen = new Set<string>();
    for (let port = 1000; port < 1030; port++) {
      const packet = ipv4({ src: '100.64.0.10', dst: '198.51.100.7', ttl: 64, protocol: 17, payload: udp(port, 53) });
      const r = forward(t, 'access', accessFrame(packet), { ingressIfindex: ACCESS_IF });
      const h = mixWords([0x6440000a, 0xc6336407, 17, (port << 16) | 53]);
      expect(hex(r.frame.subarray(0, 6))).toBe(dmacs[h % 3]);
      seen.add(hex(r.frame.subarray(0, 6)));
    }
    expect(seen.size).toBe(3);
  });
});

describe('flow hash', () => {
  // An independent BigInt rendering of the formula in FORWARDING.md.
  const reference = (words: number[]): number => {
    const m = (x: bigint): bigint => x & 0xffffffffn;
    let h = 0x811c9dc5n;
    for (const w of words) {
      h = m((h ^ BigInt(w >>> 0)) * 0x01000193n);
      h = h ^ (h >> 15n);
    }
    h ^= h >> 16n;
    h = m(h * 0x85ebca6bn);
    h ^= h >> 13n;
    h = m(h * 0xc2b2ae35n);
    h ^= h >> 16n;
    return Number(h);
  };

  it('matches the formula for an empty list and for full 32-bit words', () => {
    for (const words of [[], [0], [0xffffffff, 0x80000000, 6, 0xfffe0035], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]) {
      expect(mixWords(words)).toBe(reference(words));
    }
  });
});

describe('core program: swap', () => {
  const core = (over: (t: Tables) => void = () => {}): Tables =>
    tables((t) => {
      t.ilm.set(1000, { action: 'swap', labels: [2000], tc: 0, nhGroup: 1 });
      over(t);
    });

  it('swaps the top label, keeps S, and decrements the TTL', () => {
    const packet = v4packet(64);
    const f = coreFrame([{ label: 1000, s: true, ttl: 63 }], packet);
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expect(r.verdict).toBe('redirect');
    // 2000 = 0x7d0, S, TTL 62 = 0x3e
    expect(hex(r.frame)).toBe('020000000101' + '020000000102' + '8847' + '007d013e' + hex(packet));
    expect(r.counters.labels).toEqual([{ label: 1000, packets: 1, bytes: f.length }]);
  });

  it('swaps into three labels: the old place keeps S=0, the pushed ones get the ILM TC and t\'', () => {
    const t = core((t) => t.ilm.set(1000, { action: 'swap', labels: [17, 18, 2000], tc: 3, nhGroup: 1 }));
    const rest = labelStack([{ label: 5000, tc: 1, s: true, ttl: 200 }]);
    const f = coreFrame([{ label: 1000, tc: 7, s: false, ttl: 10 }], Buffer.concat([rest, v4packet()]));
    const r = forward(t, 'core', f, { ingressIfindex: CORE_IF });
    // 17 -> 0x00011 | tc3 (0x600) | ttl 9 ; 18 -> 0x00012 ; 2000 keeps S=0
    expect(hex(r.frame.subarray(14, 26))).toBe('00011609' + '00012609' + '007d0609');
    expect(hex(r.frame.subarray(26))).toBe(hex(Buffer.concat([rest, v4packet()])));
  });

  it('tags the swapped frame when the next hop has a vid, and counts the tag in the MTU', () => {
    const t = core((t) => t.nexthops.set(1, { ifindex: CORE_IF, mtu: 0, vid: 11, dmac: NH_DMAC, smac: NH_SMAC }));
    const packet = v4packet(64);
    const r = forward(t, 'core', coreFrame([{ label: 1000, s: true, ttl: 63 }], packet), { ingressIfindex: CORE_IF });
    expect(hex(r.frame)).toBe('020000000101' + '020000000102' + '8100000b' + '8847' + '007d013e' + hex(packet));
    const tight = core((t) => t.nexthops.set(1, { ifindex: CORE_IF, mtu: 4 + packet.length, vid: 11, dmac: NH_DMAC, smac: NH_SMAC }));
    const f = coreFrame([{ label: 1000, s: true, ttl: 63 }], packet);
    expectDrop(forward(tight, 'core', f, { ingressIfindex: CORE_IF }), 'mtu_exceeded', f.length);
  });

  it('drops label TTL 1 as TTL_EXPIRED without counting the label', () => {
    const f = coreFrame([{ label: 1000, s: true, ttl: 1 }], v4packet());
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expectDrop(r, 'ttl_expired', f.length);
    expect(r.counters.labels).toEqual([]);
  });

  it('checks the MTU with len + (n - 1) * 4', () => {
    const t = core((t) => {
      t.ilm.set(1000, { action: 'swap', labels: [17, 2000], tc: 0, nhGroup: 1 });
      t.nexthops.set(1, { ifindex: CORE_IF, mtu: 100, vid: 0, dmac: NH_DMAC, smac: NH_SMAC });
    });
    const packet = v4packet(64, Buffer.alloc(100 - 4 - 4 - 28)); // 64-byte packet -> L3 out = 4 + 4 + 92
    const ok = coreFrame([{ label: 1000, s: true, ttl: 9 }], packet.subarray(0, 92));
    expect(forward(t, 'core', ok, { ingressIfindex: CORE_IF }).verdict).toBe('redirect');
    const over = coreFrame([{ label: 1000, s: true, ttl: 9 }], Buffer.concat([packet.subarray(0, 92), Buffer.alloc(1)]));
    expectDrop(forward(t, 'core', over, { ingressIfindex: CORE_IF }), 'mtu_exceeded', over.length);
  });

  it('drops unknown and reserved labels as UNKNOWN_LABEL, passes router alert', () => {
    for (const label of [3, 15, 999]) {
      const f = coreFrame([{ label, s: true, ttl: 64 }], v4packet());
      expectDrop(forward(core(), 'core', f, { ingressIfindex: CORE_IF }), 'unknown_label', f.length);
    }
    const ra = coreFrame([{ label: 1, s: false, ttl: 1 }, { label: 1000, s: true, ttl: 1 }], v4packet());
    const r = forward(core(), 'core', ra, { ingressIfindex: CORE_IF });
    expect(r.verdict).toBe('pass');
    expect(r.frame).toEqual(ra);
    // below a popped label too, the kernel gets the frame as received
    const t = core((t) => t.ilm.set(3002, { action: 'pop-continue' }));
    const below = coreFrame([{ label: 3002, s: false, ttl: 30 }, { label: 1, s: true, ttl: 9 }], v4packet());
    const p = forward(t, 'core', below, { ingressIfindex: CORE_IF });
    expect(p.verdict).toBe('pass');
    expect(p.frame).toEqual(below);
    expect(p.counters.labels).toEqual([{ label: 3002, packets: 1, bytes: below.length }]);
  });

  it('passes non-MPLS frames and drops a truncated label as MALFORMED', () => {
    const ip = accessFrame();
    expect(forward(core(), 'core', ip, { ingressIfindex: CORE_IF }).verdict).toBe('pass');
    const cut = coreFrame([{ label: 1000, s: true, ttl: 64 }], Buffer.alloc(0)).subarray(0, 17);
    expectDrop(forward(core(), 'core', cut, { ingressIfindex: CORE_IF }), 'malformed', 17);
  });
});

describe('core program: pops', () => {
  const ISP_DMAC = '02:00:00:00:09:01';
  const ISP_SMAC = '02:00:00:00:09:02';
  const core = (mode: 'uniform' | 'pipe' = 'uniform', over: (t: Tables) => void = () => {}): Tables =>
    tables((t) => {
      t.settings.ttlMode = mode;
      t.ilm.set(3000, { action: 'pop-to-isp', isp: 3, nhGroup: 2 });
      t.ilm.set(3001, { action: 'pop-to-sub', isp: 3 });
      t.ilm.set(3002, { action: 'pop-continue' });
      t.ilm.set(3003, { action: 'pop-forward', nhGroup: 1 });
      t.ilm.set(1000, { action: 'swap', labels: [2000], tc: 0, nhGroup: 1 });
      t.nhGroups.set(2, { nexthops: [2] });
      t.nexthops.set(2, { ifindex: ISP_IF, mtu: 1500, vid: 0, dmac: ISP_DMAC, smac: ISP_SMAC });
      t.downV4.push([{ isp: 3, prefix: '198.51.100.0/24' }, {
        ifindex: ACCESS_IF, mtu: 1500, outerTpid: ETH_P_8021AD, outerVid: 100, innerVid: 200, dmac: SUB_MAC, smac: ROUTER_MAC,
      }]);
      t.downV4.push([{ isp: 4, prefix: '198.51.100.0/25' }, {
        ifindex: ACCESS_IF, mtu: 1500, outerTpid: ETH_P_8021Q, outerVid: 7, innerVid: 0, dmac: SUB_MAC, smac: ROUTER_MAC,
      }]);
      over(t);
    });

  it('pops to the ISP: uniform copies the label TTL into IP (checksum as a full recompute)', () => {
    const packet = v4packet(64);
    const f = coreFrame([{ label: 3000, s: true, ttl: 10 }], packet);
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expect(r.verdict).toBe('redirect');
    expect(r.egressIfindex).toBe(ISP_IF);
    expect(hex(r.frame)).toBe('020000000901' + '020000000902' + '0800' + hex(withTtl(packet, 9)));
    expect(r.counters.isp).toEqual([{ isp: 3, direction: 'up', point: 'out', packets: 1, bytes: packet.length }]);
    expect(r.counters.labels).toEqual([{ label: 3000, packets: 1, bytes: f.length }]);
  });

  it('pops to the ISP: pipe decrements the IP TTL and ignores the label TTL', () => {
    const packet = v4packet(64);
    const r = forward(core('pipe'), 'core', coreFrame([{ label: 3000, s: true, ttl: 200 }], packet), { ingressIfindex: CORE_IF });
    expect(hex(r.frame.subarray(14))).toBe(hex(withTtl(packet, 63)));
    const f = coreFrame([{ label: 3000, s: true, ttl: 200 }], v4packet(1));
    expectDrop(forward(core('pipe'), 'core', f, { ingressIfindex: CORE_IF }), 'ttl_expired', f.length);
  });

  it('pops to the ISP on a VLAN of a shared port', () => {
    const t = core('uniform', (t) => t.nexthops.set(2, { ifindex: ISP_IF, mtu: 1500, vid: 300, dmac: ISP_DMAC, smac: ISP_SMAC }));
    const packet = v6packet(64);
    const r = forward(t, 'core', coreFrame([{ label: 3000, s: true, ttl: 64 }], packet), { ingressIfindex: CORE_IF });
    const expected = Buffer.from(packet);
    expected[7] = 63;
    expect(hex(r.frame)).toBe('020000000901' + '020000000902' + '8100012c' + '86dd' + hex(expected));
  });

  it('pops to the subscriber: scoped route, QinQ tags put back, IP TTL from the label', () => {
    const packet = v4packet(64);
    const f = coreFrame([{ label: 3001, s: true, ttl: 20 }], packet);
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expect(r.egressIfindex).toBe(ACCESS_IF);
    expect(hex(r.frame)).toBe('020000000001' + '0200000000fe' + '88a80064' + '810000c8' + '0800' + hex(withTtl(packet, 19)));
    expect(r.counters.isp).toEqual([{ isp: 3, direction: 'down', point: 'out', packets: 1, bytes: packet.length }]);
  });

  it('drops NO_ROUTE when the destination is routed only for another ISP', () => {
    const t = core('uniform', (t) => t.ilm.set(3001, { action: 'pop-to-sub', isp: 5 }));
    const f = coreFrame([{ label: 3001, s: true, ttl: 20 }], v4packet());
    expectDrop(forward(t, 'core', f, { ingressIfindex: CORE_IF }), 'no_route', f.length);
  });

  it('drops POP_TO_ISP and POP_TO_SUB with S=0, and POP_CONTINUE with S=1, as MALFORMED', () => {
    for (const [label, s] of [[3000, false], [3001, false], [3002, true]] as const) {
      const f = coreFrame([{ label, s, ttl: 20 }, ...(s ? [] : [{ label: 3000, s: true, ttl: 20 }])], v4packet());
      expectDrop(forward(core(), 'core', f, { ingressIfindex: CORE_IF }), 'malformed', f.length);
    }
  });

  it('drops a popped bottom label whose payload is not IPv4 or IPv6 as MALFORMED', () => {
    const f = coreFrame([{ label: 3000, s: true, ttl: 20 }], Buffer.alloc(40));
    expectDrop(forward(core(), 'core', f, { ingressIfindex: CORE_IF }), 'malformed', f.length);
  });

  it('pops and continues: uniform carries t\' to the exposed label without a second decrement', () => {
    const packet = v4packet(64);
    const f = coreFrame([{ label: 3002, s: false, ttl: 30 }, { label: 1000, s: true, ttl: 1 }], packet);
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expect(r.verdict).toBe('redirect');
    expect(hex(r.frame.subarray(12))).toBe('8847' + '007d011d' + hex(packet)); // TTL 29
    expect(r.counters.labels).toEqual([{ label: 3002, packets: 1, bytes: f.length }, { label: 1000, packets: 1, bytes: f.length }]);
  });

  it('pops and continues: pipe checks and decrements the exposed label as received', () => {
    const packet = v4packet(64);
    const ok = coreFrame([{ label: 3002, s: false, ttl: 30 }, { label: 1000, s: true, ttl: 50 }], packet);
    expect(hex(forward(core('pipe'), 'core', ok, { ingressIfindex: CORE_IF }).frame.subarray(14, 18))).toBe('007d0131');
    const dead = coreFrame([{ label: 3002, s: false, ttl: 30 }, { label: 1000, s: true, ttl: 1 }], packet);
    expectDrop(forward(core('pipe'), 'core', dead, { ingressIfindex: CORE_IF }), 'ttl_expired', dead.length);
  });

  it('allows three lookups and drops the fourth as STACK_TOO_DEEP', () => {
    const packet = v4packet(64);
    const three = coreFrame([
      { label: 3002, s: false, ttl: 30 },
      { label: 0, s: false, ttl: 30 },
      { label: 3000, s: true, ttl: 30 },
    ], packet);
    expect(forward(core(), 'core', three, { ingressIfindex: CORE_IF }).verdict).toBe('redirect');
    const four = coreFrame([
      { label: 3002, s: false, ttl: 30 },
      { label: 3002, s: false, ttl: 30 },
      { label: 3002, s: false, ttl: 30 },
      { label: 3000, s: true, ttl: 30 },
    ], packet);
    const r = forward(core(), 'core', four, { ingressIfindex: CORE_IF });
    expectDrop(r, 'stack_too_deep', four.length);
    expect(r.counters.labels.map((l) => l.label)).toEqual([3002, 3002, 3002]);
  });

  it('penultimate hop pop: S=0 keeps 0x8847 and uniform writes t\' into the exposed label', () => {
    const rest = Buffer.concat([labelStack([{ label: 5000, tc: 2, s: true, ttl: 200 }]), v4packet()]);
    const f = coreFrame([{ label: 3003, s: false, ttl: 40 }], rest);
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expect(hex(r.frame.subarray(0, 18))).toBe('020000000101' + '020000000102' + '8847' + '01388527'); // TTL 39
    const p = forward(core('pipe'), 'core', f, { ingressIfindex: CORE_IF });
    expect(hex(p.frame.subarray(14))).toBe(hex(rest));
  });

  it('penultimate hop pop: S=0 with the next entry cut short is MALFORMED', () => {
    const f = coreFrame([{ label: 3003, s: false, ttl: 40 }], Buffer.from('abcd', 'hex'));
    expectDrop(forward(core(), 'core', f, { ingressIfindex: CORE_IF }), 'malformed', f.length);
  });

  it('penultimate hop pop: S=1 exposes IP with the IP ethertype and last-pop TTL', () => {
    const packet = v6packet(64);
    const r = forward(core(), 'core', coreFrame([{ label: 3003, s: true, ttl: 40 }], packet), { ingressIfindex: CORE_IF });
    const expected = Buffer.from(packet);
    expected[7] = 39;
    expect(hex(r.frame)).toBe('020000000101' + '020000000102' + '86dd' + hex(expected));
    expect(r.counters.isp).toEqual([]);
  });

  it('explicit null at the bottom: pops and passes the IP packet to the kernel when it is for the router', () => {
    const packet = v4packet(64);
    const f = coreFrame([{ label: 0, s: true, ttl: 5 }], packet);
    expectDrop(forward(core(), 'core', f, { ingressIfindex: CORE_IF }), 'no_route', f.length);
    const r = forward(core('uniform', (t) => t.local.add('198.51.100.7')), 'core', f, { ingressIfindex: CORE_IF });
    expect(r.verdict).toBe('pass');
    expect(hex(r.frame)).toBe(hex(f.subarray(0, 12)) + '0800' + hex(withTtl(packet, 4)));
    expect(r.counters).toEqual({ isp: [], labels: [], drops: [], subscribers: [] });
    const dead = coreFrame([{ label: 2, s: true, ttl: 1 }], v6packet());
    expectDrop(forward(core(), 'core', dead, { ingressIfindex: CORE_IF }), 'ttl_expired', dead.length);
  });

  it('counts a swapped or PHP label per ISP at point transit when its entry names one', () => {
    const t = core('uniform', (t) => {
      t.ilm.set(3010, { action: 'swap', labels: [3011], tc: 0, nhGroup: 1, isp: 3, direction: 'down' });
      t.ilm.set(3003, { action: 'pop-forward', nhGroup: 1, isp: 4, direction: 'up' });
    });
    const packet = v4packet(64);
    const f = coreFrame([{ label: 3010, s: true, ttl: 9 }], packet);
    expect(forward(t, 'core', f, { ingressIfindex: CORE_IF }).counters.isp).toEqual([{ isp: 3, direction: 'down', point: 'transit', packets: 1, bytes: packet.length }]);
    const g = coreFrame([{ label: 3003, s: false, ttl: 9 }, { label: 3000, s: true, ttl: 9 }], packet);
    expect(forward(t, 'core', g, { ingressIfindex: CORE_IF }).counters.isp).toEqual([{ isp: 4, direction: 'up', point: 'transit', packets: 1, bytes: packet.length + 4 }]);
  });

  it('explicit null above a label: pops and looks up the next one', () => {
    const packet = v4packet(64);
    const f = coreFrame([{ label: 2, s: false, ttl: 12 }, { label: 3000, s: true, ttl: 99 }], packet);
    const r = forward(core(), 'core', f, { ingressIfindex: CORE_IF });
    expect(hex(r.frame.subarray(14))).toBe(hex(withTtl(packet, 11)));
  });
});

describe('isp program', () => {
  const isp = (over: (t: Tables) => void = () => {}): Tables =>
    tables((t) => {
      t.ispPorts.push([{ ifindex: ISP_IF, vid: 0 }, 3]);
      t.ispPorts.push([{ ifindex: ISP_IF, vid: 30 }, 4]);
      t.ispRouteV4.push([{ isp: 3, prefix: '198.51.100.0/24' }, { labels: [4000], tc: 1, nhGroup: 1 }]);
      t.ispRouteV4.push([{ isp: 4, prefix: '198.51.100.0/24' }, { labels: [4001, 4002], tc: 0, nhGroup: 1 }]);
      over(t);
    });

  it('pushes the route of the port\'s ISP and counts down/in', () => {
    const packet = v4packet(64);
    const f = ethernet(ROUTER_MAC, '02:00:00:00:09:01', [], ETH_P_IPV4, packet);
    const r = forward(isp(), 'isp', f, { ingressIfindex: ISP_IF });
    // 4000 = 0xfa0, tc 1, S, 63
    expect(hex(r.frame)).toBe('020000000101' + '020000000102' + '8847' + '00fa033f' + hex(packet));
    expect(r.counters.isp).toEqual([{ isp: 3, direction: 'down', point: 'in', packets: 1, bytes: packet.length }]);
  });

  it('tells ISPs apart by VLAN and strips the tag', () => {
    const packet = v4packet(64);
    const f = ethernet(ROUTER_MAC, '02:00:00:00:09:01', [{ tpid: ETH_P_8021Q, vid: 30 }], ETH_P_IPV4, packet);
    const r = forward(isp(), 'isp', f, { ingressIfindex: ISP_IF });
    expect(hex(r.frame.subarray(12))).toBe('8847' + '00fa103f' + '00fa213f' + hex(packet));
  });

  it('passes frames from a port that is not an ISP port, drops NO_ROUTE on a route miss', () => {
    const f = ethernet(ROUTER_MAC, '02:00:00:00:09:01', [], ETH_P_IPV4, v4packet());
    expect(forward(isp(), 'isp', f, { ingressIfindex: 2 }).verdict).toBe('pass');
    const miss = ethernet(ROUTER_MAC, '02:00:00:00:09:01', [], ETH_P_IPV4, ipv4({ src: '1.1.1.1', dst: '9.9.9.9', ttl: 64, protocol: 6 }));
    expectDrop(forward(isp(), 'isp', miss, { ingressIfindex: ISP_IF }), 'no_route', miss.length);
  });

  it('reads one tag only: a second tag is an unknown ethertype and passes', () => {
    const f = ethernet(ROUTER_MAC, '02:00:00:00:09:01', [{ tpid: ETH_P_8021Q, vid: 30 }, { tpid: ETH_P_8021Q, vid: 31 }], ETH_P_IPV4, v4packet());
    expect(forward(isp(), 'isp', f, { ingressIfindex: ISP_IF }).verdict).toBe('pass');
  });
});

describe('flow hash of MPLS frames', () => {
  it('hashes up to 3 labels, then the inner IP words; ports are 0 for an inner IHL < 5', async () => {
    const { mplsFlowHash } = await import('./hash.js');
    const packet = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 64, protocol: 17, payload: udp(1234, 53) });
    const f = coreFrame([{ label: 100, s: false, ttl: 5 }, { label: 200, s: true, ttl: 5 }], packet);
    expect(mplsFlowHash(f, 14)).toBe(mixWords([100, 200, 0x0a000001, 0x0a000002, 17, (1234 << 16) | 53]));
    const bad = Buffer.from(f);
    bad[22] = 0x44; // inner IHL 4
    expect(mplsFlowHash(bad, 14)).toBe(mixWords([100, 200, 0x0a000001, 0x0a000002, 17, 0]));
    const deep = coreFrame([1, 2, 3, 4].map((label) => ({ label: label + 100, s: label === 4, ttl: 5 })), packet);
    expect(mplsFlowHash(deep, 14)).toBe(mixWords([101, 102, 103]));
  });
});
