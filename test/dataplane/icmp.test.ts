// ICMP errors built by the XDP programs (dataplane/icmp.h): the offending frames are built by
// scapy (an independent builder), run with BPF_PROG_TEST_RUN, and what comes out is dissected by
// tshark (an independent dissector) — with checksums verified and no malformed packet or expert
// warning — besides the byte checks here. Also the per-node token bucket: a burst beyond it
// yields exactly the bucket's worth of errors and counts the rest.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { writePcap } from '../helpers/pcap.js';
import { checksum, ipv4Bytes, ipv6Bytes, onesSum } from '../helpers/frames.js';
import { u32 } from '../../control/bpf/codec.js';
import { counterCodec, icmpLimitCodec } from '../../control/tables/layout.js';
import { icmpStatsIndex, type IcmpKind, type IcmpOutcome, type Tables } from '../../control/tables/types.js';
import { Dataplane, emptyTables, LO, XDP_DROP, XDP_REDIRECT } from './harness.js';

const XDP_TX = 3;
const ROUTER_V4 = '192.0.2.1';
const ROUTER_V6 = '2001:db8:ff::1';
const SUB_V4 = '100.64.0.5';
const SUB_V6 = '2001:db8:1::5';
const NH_MAC = '02:00:00:00:00:02';
const OWN_MAC = '02:00:00:00:00:01';
const USER_MAC = '02:aa:00:00:00:05';

/** Frames from scapy: each expression becomes one frame (hex on a line). */
function scapy(...exprs: string[]): Buffer[] {
  const script = `from scapy.all import *\nfrom scapy.contrib.mpls import MPLS\nfor p in [${exprs.join(',\n')}]:\n    print(bytes(p).hex())\n`;
  const out = execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trim().split('\n').map((h) => Buffer.from(h, 'hex'));
}

function tables(patch: (t: Tables) => void = () => {}): Tables {
  const t = emptyTables();
  t.subV4.set('100.64.0.0/24', { isp: 1, ifindex: LO, outerVid: 0, innerVid: 0 });
  t.subV6.set('2001:db8:1::/64', { isp: 1, ifindex: LO, outerVid: 0, innerVid: 0 });
  t.fecUp.set(1, { labels: [1001], tc: 0, nhGroup: 1 });
  t.nhGroups.set(1, { nexthops: [1] });
  t.nexthops.set(1, { ifindex: LO, mtu: 1500, vid: 0, dmac: NH_MAC, smac: OWN_MAC });
  t.txPorts.add(LO);
  // an LSR's swap and a tailend's pop to the ISP (whose route back to the subscribers is isp_route)
  t.ilm.set(5000, { action: 'swap', labels: [6000], tc: 0, nhGroup: 1 });
  t.ilm.set(5001, { action: 'pop-to-isp', isp: 1, nhGroup: 1 });
  t.ispRouteV4.push([{ isp: 1, prefix: '100.64.0.0/24' }, { labels: [7001], tc: 0, nhGroup: 1 }]);
  t.icmpSources = [[{ ifindex: LO, vid: 0 }, { v4: ROUTER_V4, v6: ROUTER_V6 }]];
  t.icmpLimit = { rate: 1000, burst: 1000 };
  patch(t);
  return t;
}

const ETHER = `Ether(dst='${OWN_MAC}', src='${USER_MAC}')`;
const MPLS_ETHER = `Ether(dst='${OWN_MAC}', src='02:00:00:00:00:09')`;

describeRoot('ICMP errors built in XDP', () => {
  let dp: Dataplane;
  let dir: string;
  const sent: Buffer[] = [];

  beforeAll(() => {
    dp = Dataplane.open();
    dir = mkdtempSync(join(tmpdir(), 'ff-icmp-'));
  });
  afterAll(() => {
    dp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const icmpCount = (kind: IcmpKind, outcome: IcmpOutcome): bigint => {
    const v = dp.map('icmp_stats').get(u32.encode(icmpStatsIndex(kind, outcome)));
    let n = 0n;
    if (v) for (const c of dp.map('icmp_stats').splitPerCpu(v)) n += counterCodec.decode(c).packets;
    return n;
  };

  it('access, IPv4 TTL 1: time exceeded back out of the port, from its address, quoting the packet', () => {
    dp.load(tables());
    const [frame] = scapy(`${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=1, id=7)/UDP(sport=40000, dport=33434)/Raw(b'x'*32)`);
    const before = icmpCount('time_exceeded_v4', 'sent');
    const r = dp.runCounted('xdp_access', frame!);
    expect(r.action).toBe(XDP_TX);
    expect(r.delta.drops.ttl_expired?.packets).toBe(1n);
    expect(icmpCount('time_exceeded_v4', 'sent') - before).toBe(1n);
    const out = r.data;
    expect(out.subarray(0, 6)).toEqual(frame!.subarray(6, 12)); // back to the sender
    expect(out.subarray(6, 12)).toEqual(frame!.subarray(0, 6));
    expect(out.readUInt16BE(12)).toBe(0x0800);
    const ip = out.subarray(14, 34);
    expect(checksum(ip)).toBe(0);
    expect(ip[9]).toBe(1);
    expect(ip.subarray(12, 16)).toEqual(ipv4Bytes(ROUTER_V4));
    expect(ip.subarray(16, 20)).toEqual(ipv4Bytes(SUB_V4));
    const icmp = out.subarray(34);
    expect([icmp[0], icmp[1]]).toEqual([11, 0]);
    expect(checksum(icmp)).toBe(0);
    // the whole offending packet (60 bytes < 128) is quoted unchanged
    expect(icmp.subarray(8)).toEqual(frame!.subarray(14));
    expect(ip.readUInt16BE(2)).toBe(20 + 8 + 60);
    sent.push(out);
  });

  it('access, IPv6 hop limit 1: ICMPv6 time exceeded with a valid pseudo-header checksum', () => {
    dp.load(tables());
    const [frame] = scapy(`${ETHER}/IPv6(src='${SUB_V6}', dst='2001:db8:2::1', hlim=1)/UDP(sport=40000, dport=33434)/Raw(b'y'*200)`);
    const r = dp.runCounted('xdp_access', frame!);
    expect(r.action).toBe(XDP_TX);
    const out = r.data;
    expect(out.readUInt16BE(12)).toBe(0x86dd);
    const ip6 = out.subarray(14, 54);
    expect(ip6[6]).toBe(58);
    expect(ip6.subarray(8, 24)).toEqual(ipv6Bytes(ROUTER_V6));
    expect(ip6.subarray(24, 40)).toEqual(ipv6Bytes(SUB_V6));
    const icmp = out.subarray(54);
    expect(icmp.length).toBe(8 + 128); // a quote of 128 bytes of the 248-byte packet
    expect(ip6.readUInt16BE(4)).toBe(icmp.length);
    expect([icmp[0], icmp[1]]).toEqual([3, 0]);
    const pseudo = Buffer.concat([ip6.subarray(8, 40), u32be(icmp.length), u32be(58)]);
    expect(checksum(icmp, onesSum(pseudo))).toBe(0);
    expect(icmp.subarray(8)).toEqual(frame!.subarray(14, 14 + 128));
    sent.push(out);
  });

  it('access, too big for the next hop: fragmentation needed (DF) and packet too big carry the MTU less the label; no DF: dropped without an error', () => {
    dp.load(tables((t) => t.nexthops.set(1, { ifindex: LO, mtu: 300, vid: 0, dmac: NH_MAC, smac: OWN_MAC })));
    const [df, noDf, v6] = scapy(
      `${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1', flags='DF')/UDP(sport=1, dport=2)/Raw(b'z'*400)`,
      `${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1')/UDP(sport=1, dport=2)/Raw(b'z'*400)`,
      `${ETHER}/IPv6(src='${SUB_V6}', dst='2001:db8:2::1')/UDP(sport=1, dport=2)/Raw(b'z'*400)`,
    );
    const a = dp.runCounted('xdp_access', df!);
    expect(a.action).toBe(XDP_TX);
    expect(a.delta.drops.mtu_exceeded?.packets).toBe(1n);
    const icmp = a.data.subarray(34);
    expect([icmp[0], icmp[1]]).toEqual([3, 4]);
    expect(icmp.readUInt16BE(6)).toBe(296);
    expect(checksum(icmp)).toBe(0);
    sent.push(a.data);

    const before = icmpCount('frag_needed', 'sent');
    const b = dp.runCounted('xdp_access', noDf!);
    expect(b.action).toBe(XDP_DROP);
    expect(b.delta.drops.mtu_exceeded?.packets).toBe(1n);
    expect(icmpCount('frag_needed', 'sent')).toBe(before);

    const c = dp.runCounted('xdp_access', v6!);
    expect(c.action).toBe(XDP_TX);
    const icmp6 = c.data.subarray(54);
    expect([icmp6[0], icmp6[1]]).toEqual([2, 0]);
    expect(icmp6.readUInt32BE(4)).toBe(296);
    sent.push(c.data);
  });

  it('LSR, label TTL 1: time exceeded with the received label stack (RFC 4950), sent on along the LSP with the swapped label', () => {
    dp.load(tables());
    const [frame] = scapy(`${MPLS_ETHER}/MPLS(label=5000, s=1, ttl=1)/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=9)/UDP(sport=40000, dport=33435)/Raw(b'q'*20)`);
    const r = dp.runCounted('xdp_core', frame!);
    expect(r.action).toBe(XDP_REDIRECT);
    expect(r.delta.drops.ttl_expired?.packets).toBe(1n);
    const out = r.data;
    expect(out.subarray(0, 6).toString('hex')).toBe(NH_MAC.replace(/:/g, ''));
    expect(out.readUInt16BE(12)).toBe(0x8847);
    // the outgoing label of the swap, S=1, TTL 255
    expect(out.readUInt32BE(14)).toBe(((6000 << 12) | 0x100 | 255) >>> 0);
    const ip = out.subarray(18, 38);
    expect(checksum(ip)).toBe(0);
    expect(ip.subarray(12, 16)).toEqual(ipv4Bytes(ROUTER_V4));
    expect(ip.subarray(16, 20)).toEqual(ipv4Bytes(SUB_V4));
    const icmp = out.subarray(38);
    expect(icmp.length).toBe(8 + 128 + 8 + 4);
    expect([icmp[0], icmp[1], icmp[5]]).toEqual([11, 0, 32]); // RFC 4884 length: 32 words
    expect(checksum(icmp)).toBe(0);
    const quote = icmp.subarray(8, 136);
    expect(quote.subarray(0, 48)).toEqual(frame!.subarray(18)); // the IP packet as received...
    expect(quote.subarray(48).every((b) => b === 0)).toBe(true); // ...zero-padded to 128
    const ext = icmp.subarray(136);
    expect(ext[0]).toBe(0x20);
    expect(checksum(ext)).toBe(0);
    expect(ext.readUInt16BE(4)).toBe(8);
    expect([ext[6], ext[7]]).toEqual([1, 1]);
    expect(ext.readUInt32BE(8)).toBe(((5000 << 12) | 0x100 | 1) >>> 0);
    sent.push(out);
  });

  it('tailend: an ICMP error for an end-user arriving along the LSP is returned with the ISP\'s route back; an expired label there answers back the same way', () => {
    dp.load(tables());
    const [returned, expired] = scapy(
      `${MPLS_ETHER}/MPLS(label=5001, s=1, ttl=60)/IP(src='10.9.9.9', dst='${SUB_V4}', ttl=64)/ICMP(type=11, code=0)/IP(src='${SUB_V4}', dst='198.51.100.1')/UDP()`,
      `${MPLS_ETHER}/MPLS(label=5001, s=1, ttl=1)/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=3)/UDP(sport=40000, dport=33436)`,
    );
    const a = dp.runCounted('xdp_core', returned!);
    expect(a.action).toBe(XDP_REDIRECT);
    // uniform: the IP TTL became min(64, 60 - 1) at the pop, and the label back takes it
    expect(a.data.readUInt32BE(14)).toBe(((7001 << 12) | 0x100 | 59) >>> 0);
    const ip = a.data.subarray(18, 38);
    expect(ip[8]).toBe(59);
    expect(checksum(ip)).toBe(0);
    expect(a.data.subarray(38)).toEqual(returned!.subarray(38));
    const b = dp.runCounted('xdp_core', expired!);
    expect(b.action).toBe(XDP_REDIRECT);
    expect(b.data.readUInt32BE(14)).toBe(((7001 << 12) | 0x100 | 255) >>> 0);
    const icmp = b.data.subarray(38);
    expect([icmp[0], icmp[5]]).toEqual([11, 32]);
    expect(b.data.subarray(30, 34)).toEqual(ipv4Bytes(ROUTER_V4));
    sent.push(b.data);
  });

  it('never answers an ICMP error, and counts a port without an address of the family as no_source', () => {
    dp.load(tables());
    const [err, plain] = scapy(
      `${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=1)/ICMP(type=3, code=3)/IP(src='198.51.100.1', dst='${SUB_V4}')/UDP()`,
      `${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=1)/UDP()`,
    );
    const s0 = icmpCount('time_exceeded_v4', 'suppressed');
    expect(dp.run('xdp_access', err!).action).toBe(XDP_DROP);
    expect(icmpCount('time_exceeded_v4', 'suppressed') - s0).toBe(1n);
    dp.load(tables((t) => (t.icmpSources = [[{ ifindex: LO, vid: 0 }, { v6: ROUTER_V6 }]])));
    const n0 = icmpCount('time_exceeded_v4', 'no_source');
    expect(dp.run('xdp_access', plain!).action).toBe(XDP_DROP);
    expect(icmpCount('time_exceeded_v4', 'no_source') - n0).toBe(1n);
    // switched off (rate 0): dropped as before, nothing counted as an ICMP error
    dp.load(tables((t) => (t.icmpLimit = { rate: 0, burst: 0 })));
    const all = () => ['sent', 'rate_limited', 'no_source', 'suppressed', 'unroutable'].reduce((n, o) => n + icmpCount('time_exceeded_v4', o as IcmpOutcome), 0n);
    const a0 = all();
    expect(dp.run('xdp_access', plain!).action).toBe(XDP_DROP);
    expect(all()).toBe(a0);
  });

  it('hostile labelled frames with an expiring TTL are dropped and counted, never answered from garbage', () => {
    dp.load(tables());
    const [garbage, truncated, deep, lying] = scapy(
      `${MPLS_ETHER}/MPLS(label=5000, s=1, ttl=1)/Raw(b'\\x55'*60)`,
      `${MPLS_ETHER}/MPLS(label=5000, s=1, ttl=1)/Raw(b'\\x45\\x00\\x00\\x54'+b'\\x00'*6)`,
      `${MPLS_ETHER}/MPLS(label=5000, s=0, ttl=1)/MPLS(label=5000, s=0, ttl=9)/MPLS(label=5000, s=0, ttl=9)/MPLS(label=5000, s=1, ttl=9)/IP(src='${SUB_V4}', dst='198.51.100.1')/UDP()`,
      // an IPv4 header whose total length claims far more than the frame holds
      `${MPLS_ETHER}/MPLS(label=5000, s=1, ttl=1)/IP(src='${SUB_V4}', dst='198.51.100.1', len=1400)/UDP()`,
    );
    for (const f of [garbage!, truncated!, deep!, lying!]) {
      const u0 = icmpCount('time_exceeded_v4', 'unroutable') + icmpCount('time_exceeded_v6', 'unroutable');
      const r = dp.runCounted('xdp_core', f);
      expect(r.action).toBe(XDP_DROP);
      expect(r.delta.drops).toEqual({ ttl_expired: { packets: 1n, bytes: BigInt(f.length) } });
      expect(icmpCount('time_exceeded_v4', 'unroutable') + icmpCount('time_exceeded_v6', 'unroutable') - u0).toBe(1n);
    }
  });

  it('a burst beyond the bucket yields exactly the bucket\'s worth of errors and counts the rest', () => {
    dp.load(tables((t) => (t.icmpLimit = { rate: 1, burst: 5 })));
    // a full bucket whose clock is ahead of ours earns nothing during the test, however slow
    dp.map('icmp_limit').set(u32.encode(0), icmpLimitCodec.encode({ rate: 1n, burst: 5n, credit: 5n * 1_000_000_000n, lastNs: 1n << 62n }));
    const [frame] = scapy(`${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=1)/UDP()`);
    const sent0 = icmpCount('time_exceeded_v4', 'sent');
    const limited0 = icmpCount('time_exceeded_v4', 'rate_limited');
    const ttl0 = dp.drop('ttl_expired').packets;
    const actions = Array.from({ length: 20 }, () => dp.run('xdp_access', frame!).action);
    expect(actions.filter((a) => a === XDP_TX)).toHaveLength(5);
    expect(actions.slice(0, 5)).toEqual([XDP_TX, XDP_TX, XDP_TX, XDP_TX, XDP_TX]);
    expect(icmpCount('time_exceeded_v4', 'sent') - sent0).toBe(5n);
    expect(icmpCount('time_exceeded_v4', 'rate_limited') - limited0).toBe(15n);
    expect(dp.drop('ttl_expired').packets - ttl0).toBe(20n);
  });

  it('the bucket refills at its rate', async () => {
    dp.load(tables((t) => (t.icmpLimit = { rate: 4, burst: 1 })));
    const [frame] = scapy(`${ETHER}/IP(src='${SUB_V4}', dst='198.51.100.1', ttl=1)/UDP()`);
    expect(dp.run('xdp_access', frame!).action).toBe(XDP_TX);
    expect(dp.run('xdp_access', frame!).action).toBe(XDP_DROP);
    await new Promise((r) => setTimeout(r, 300)); // 1.2 messages earned, capped at the burst of 1
    expect(dp.run('xdp_access', frame!).action).toBe(XDP_TX);
    expect(dp.run('xdp_access', frame!).action).toBe(XDP_DROP);
  });

  it('tshark dissects every error sent, with the MPLS extension, and finds no malformed packet, bad checksum or expert warning', () => {
    expect(sent.length).toBe(6);
    const pcap = join(dir, 'icmp.pcap');
    writePcap(pcap, sent);
    const tshark = (args: string[]) => execFileSync('tshark', ['-r', pcap, '-o', 'ip.check_checksum:TRUE', ...args], { encoding: 'utf8', timeout: 60_000 });
    const fields = ['icmp.type', 'icmpv6.type', 'icmp.mpls.label', 'icmp.mpls.s', 'icmp.mpls.ttl', 'ip.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status', 'icmp.ext.checksum.status'];
    const rows = tshark(['-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])])
      .trim()
      .split('\n')
      .map((l) => Object.fromEntries(l.split('|').map((v, i) => [fields[i]!, v])));
    expect(rows.map((r) => r['icmp.type'] || r['icmpv6.type'])).toEqual(['11', '3', '3', '2', '11', '11']);
    // the LSR's error carries the received entry 5000/S/TTL 1, the tailend's 5001/S/TTL 1
    expect(rows.map((r) => r['icmp.mpls.label'])).toEqual(['', '', '', '', '5000', '5001']);
    expect([rows[4]!['icmp.mpls.s'], rows[4]!['icmp.mpls.ttl']]).toEqual(['1', '1']);
    // checksum status 1 is "Good" (2 would be "Bad"), for the error's headers and the quoted
    // packet's (several values, comma-separated); the extension's is verified too
    for (const r of rows) {
      for (const f of ['ip.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status', 'icmp.ext.checksum.status']) {
        expect(r[f] === '' || r[f]!.split(',').every((v) => v === '1'), `${f} ${JSON.stringify(r)}`).toBe(true);
      }
    }
    expect(rows[4]!['icmp.ext.checksum.status']).toBe('1');
    expect(tshark(['-Y', '_ws.malformed || _ws.expert.severity >= "warning"', '-T', 'fields', '-e', 'frame.number']).trim()).toBe('');
  }, 180_000);
});

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
