// Metering end to end: a real `fecflow serve` for a headend in namespaces; known numbers of
// packets and bytes of every traffic type sent by the subscriber (upstream) and towards it
// (labelled frames from the core, downstream), and `fecflow usage` reads exactly those counts.
// The totals stay exact and only grow across a graceful restart, a kill -9 (frames sent while no
// daemon runs are credited at the next start), and a move to another ISP (the meter slot
// follows the subscriber). A rate set on the subscriber is enforced: what it drops is counted
// as sub_policed and is not usage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TRAFFIC_TYPES, type TrafficType } from '../../control/daemon/usage.js';
import { ether, icmp6Echo, icmpEcho, ipv4, ipv6, raw, tcp, udp, type L4 } from '../helpers/frames.js';
import { macOf } from '../helpers/netns.js';
import { describeRoot } from '../helpers/root.js';
import { sendRaw } from '../helpers/traffic.js';
import { buildOnce, Rig, SUB_MAC } from './rig.js';

const SUB_V4 = '100.64.0.2';
const SUB_V6 = '2001:db8:100::2';
const FAR_V4 = '198.51.100.1';
const FAR_V6 = '2001:db8:ff::1';
const TO_SUB = { alpha: 300, beta: 301 } as const;
const IP_TYPES = TRAFFIC_TYPES.filter((t) => t !== 'other');

type Dir = 'up' | 'down';
type Totals = Record<Dir, Record<string, { packets: bigint; bytes: bigint }>>;

function ipPacket(type: TrafficType, size: number, dir: Dir): Buffer {
  const pl = Buffer.alloc(size, 0x33);
  const v4 = (l4: L4) => ipv4(dir === 'up' ? { src: SUB_V4, dst: FAR_V4, l4 } : { src: FAR_V4, dst: SUB_V4, l4 });
  const v6 = (l4: L4) => ipv6(dir === 'up' ? { src: SUB_V6, dst: FAR_V6, l4 } : { src: FAR_V6, dst: SUB_V6, l4 });
  const by: Record<Exclude<TrafficType, 'other'>, () => Buffer> = {
    ipv4_tcp: () => v4(tcp(40000, 443, pl)),
    ipv4_udp: () => v4(udp(40000, 53, pl)),
    ipv4_icmp: () => v4(icmpEcho(7, 1, pl)),
    ipv4_other: () => v4(raw(47, pl)),
    ipv6_tcp: () => v6(tcp(40000, 443, pl)),
    ipv6_udp: () => v6(udp(40000, 53, pl)),
    ipv6_icmp: () => v6(icmp6Echo(7, 1, pl)),
    ipv6_other: () => v6(raw(50, pl)),
  };
  return by[type as Exclude<TrafficType, 'other'>]();
}

describeRoot('usage metering through fecflow serve', () => {
  const rig = new Rig();
  let token = '';
  let coreMac = '';
  let accMac = '';
  const want: Totals = { up: {}, down: {} };
  const add = (dir: Dir, type: string, bytes: number) => {
    const c = (want[dir][type] ??= { packets: 0n, bytes: 0n });
    c.packets += 1n;
    c.bytes += BigInt(bytes);
  };


  /** Sends frames out of a namespace's interface (AF_PACKET) and returns how many went. */
  const sendFrames = (ns: string, dev: string, frames: Buffer[]): Promise<number> => sendRaw(ns, dev, frames);

  /** One round: every IP type up and down, counts and sizes varied by round and type. */
  const round = async (n: number, isp: keyof typeof TO_SUB): Promise<void> => {
    const up: Buffer[] = [];
    const down: Buffer[] = [];
    IP_TYPES.forEach((t, i) => {
      for (let k = 0; k <= (i + n) % 4; k++) {
        const ip = ipPacket(t, 20 + 11 * i + 3 * k + n, 'up');
        up.push(ether({ dst: accMac, src: SUB_MAC, payload: ip }));
        add('up', t, ip.length);
      }
      for (let k = 0; k < 2; k++) {
        const ip = ipPacket(t, 300 + 17 * i + k + n, 'down');
        down.push(ether({ dst: coreMac, src: '02:00:00:00:00:99', labels: [{ label: TO_SUB[isp], ttl: 64, s: true }], payload: ip }));
        add('down', t, ip.length);
      }
    });
    expect(await sendFrames(rig.sub, rig.s0, up)).toBe(up.length);
    expect(await sendFrames(rig.sink, rig.k0, down)).toBe(down.length);
  };

  /** What `fecflow usage --subscriber s1 --json` says, as bigints. */
  const usage = async (): Promise<Totals> => {
    const r = await rig.cli(['usage', '--subscriber', 's1', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as Record<Dir, Record<string, { packets: string; bytes: string }>>;
    const out: Totals = { up: {}, down: {} };
    for (const d of ['up', 'down'] as const) {
      for (const [t, c] of Object.entries(j[d])) {
        expect(c.packets).toMatch(/^\d+$/); // decimal strings
        if (t !== 'total' && (c.packets !== '0' || c.bytes !== '0')) out[d][t] = { packets: BigInt(c.packets), bytes: BigInt(c.bytes) };
      }
    }
    return out;
  };

  /** Frames cross veths asynchronously: wait until the counts settle at what was sent. */
  const expectUsage = async (): Promise<void> => {
    let got: Totals | undefined;
    for (let i = 0; i < 50; i++) {
      got = await usage();
      if (JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) === JSON.stringify(want, (_k, v) => (typeof v === 'bigint' ? String(v) : v))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toEqual(want);
  };

  const slotOfS1 = async (): Promise<number> => {
    const r = await rig.http('GET', '/v1/usage?fresh=true', undefined, token);
    expect(r.status).toBe(200);
    return (r.json.subscribers as Array<{ subscriber: string; slot: number }>).find((s) => s.subscriber === 's1')!.slot;
  };

  beforeAll(async () => {
    buildOnce();
    rig.setup();
    rig.writeConfig(rig.config({ subDeliver: [`${SUB_V4}/32`, `${SUB_V6}/128`], popToSub: [[TO_SUB.alpha, 'alpha'], [TO_SUB.beta, 'beta']] }));
    await rig.start();
    token = readFileSync(join(rig.stateDir, 'token'), 'utf8').trim();
    coreMac = macOf(rig.core, rig.rt);
    accMac = macOf(rig.acc, rig.rt);
  }, 180_000);

  afterAll(async () => {
    await rig.cleanup();
  });

  it('counts every traffic type up and down exactly, as `fecflow usage` shows', async () => {
    await round(1, 'alpha');
    await expectUsage();
    const all = await rig.cli(['usage', '--json']);
    expect(all.code, all.err).toBe(0);
    const s1 = (JSON.parse(all.out).subscribers as Array<{ subscriber: string; up: { total: { bytes: string } } }>).find((s) => s.subscriber === 's1')!;
    const upBytes = Object.values(want.up).reduce((a, c) => a + c.bytes, 0n);
    expect(s1.up.total.bytes).toBe(String(upBytes));
    const text = await rig.cli(['usage', '--subscriber', 's1']);
    expect(text.out).toMatch(/IPV4_TCP|ipv4_tcp/);
  });

  it('needs the token', async () => {
    expect((await rig.http('GET', '/v1/usage', undefined, null)).status).toBe(401);
    expect((await rig.http('GET', '/v1/usage/s1', undefined, null)).status).toBe(401);
    expect((await rig.http('GET', '/v1/usage/nobody', undefined, token)).status).toBe(404);
  });

  it('keeps totals exact across a graceful restart, with frames sent while the daemon was down', async () => {
    await rig.stop('SIGTERM');
    await round(2, 'alpha'); // forwarding (and counting) goes on through the pins
    await rig.start();
    await expectUsage();
  }, 120_000);

  it('keeps totals exact across kill -9', async () => {
    await round(3, 'alpha');
    await expectUsage(); // read into the registry, then more counted after it
    await round(4, 'alpha');
    await rig.stop('SIGKILL');
    await round(5, 'alpha');
    await rig.start();
    await expectUsage();
  }, 120_000);

  it('follows the subscriber to another ISP: same slot, totals go on', async () => {
    const slot = await slotOfS1();
    const r = await rig.http('POST', '/v1/subscribers/move', { subscriber: { mac: SUB_MAC, isp: 'beta' } }, token);
    expect(r.status, r.text).toBe(200);
    await round(6, 'beta');
    await expectUsage();
    expect(await slotOfS1()).toBe(slot);
  }, 60_000);

  it('enforces a rate set on the subscriber; what it drops is sub_policed, not usage', async () => {
    const r = await rig.http('POST', '/v1/subscribers/move', { subscriber: { mac: SUB_MAC, isp: 'beta', rate: { up: { rate: '8kbit', burst: '2000B' } } } }, token);
    expect(r.status, r.text).toBe(200);
    const dropsBefore = await subPoliced();
    const before = await usage();
    const ip = ipPacket('ipv4_udp', 472, 'up'); // 500 bytes
    const frames = Array.from({ length: 20 }, () => ether({ dst: accMac, src: SUB_MAC, payload: ip }));
    const t0 = Date.now();
    expect(await sendFrames(rig.sub, rig.s0, frames)).toBe(20);
    const elapsed = (Date.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 300));
    const after = await usage();
    const passed = Number((after.up.ipv4_udp?.packets ?? 0n) - (before.up.ipv4_udp?.packets ?? 0n));
    const dropped = (await subPoliced()) - dropsBefore;
    // burst 2000 B = 4 frames, plus at most 1000 B/s x the sending time
    expect(passed).toBeGreaterThanOrEqual(4);
    expect(passed).toBeLessThanOrEqual(4 + Math.ceil((1000 * (elapsed + 0.3)) / 500));
    expect(passed + dropped).toBe(20);
    expect(Number((after.up.ipv4_udp?.bytes ?? 0n) - (before.up.ipv4_udp?.bytes ?? 0n))).toBe(500 * passed);
  }, 60_000);

  const subPoliced = async (): Promise<number> => {
    const s = await rig.http('GET', '/v1/stats');
    return Number((s.json.drops as Array<{ reason: string; packets: string }>).find((d) => d.reason === 'sub_policed')?.packets ?? 0);
  };
});
