// End to end, on a lab of namespaces with one daemon per router: every end-user reaches its
// ISP and back (ping and an echoed UDP stream, IPv4 and IPv6) and never the other ISP; ARP,
// ND and traffic to the routers' own addresses still work with the programs attached; and
// captures on every backbone link show the planned labels, S bits and uniform-mode TTLs, with
// the payload unchanged from the end-user's wire to the ISP's and back.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { Capture, canonicalIp, tempDir, testLab } from '../helpers/traffic.js';
import { ETH_P_8021AD, ETH_P_8021Q, ETH_P_MPLS, parseFrame, type ParsedFrame } from '../helpers/frames.js';
import { label } from '../../control/lab/plan.js';
import { Receiver, Sender, ping, tallyOf } from '../../control/lab/traffic.js';
import { CORE_LINKS, INTERNET, ISP_PLAN, ISPS, USER_PLAN, USERS, type IspName, type UserName } from '../../control/lab/topology.js';
import type { Lab } from '../../control/lab/lab.js';
import { nsRun } from '../../control/lab/sys.js';

const other = (i: IspName): IspName => (i === 'alpha' ? 'beta' : 'alpha');
const userAddrs = (u: UserName): string[] => [USER_PLAN[u].host.v4, USER_PLAN[u].host.v6];

/** Packets a host's XDP program saw from each of the given source addresses, summed. */
function seenFrom(lab: Lab, host: IspName | UserName, sources: string[]): number {
  return lab
    .hostCounts(host)
    .filter((c) => sources.includes(c.source))
    .reduce((n, c) => n + c.packets, 0);
}

async function drops(lab: Lab): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of ['headend', 'lsr', 'tailend'] as const) {
    const s = await lab.api(r).get<{ drops: Array<{ reason: string; packets: string }> }>('/v1/stats');
    for (const d of s.drops) if (BigInt(d.packets) > 0n) out[`${r}:${d.reason}`] = Number(d.packets);
  }
  return out;
}

describeRoot('e2e: forwarding through headend, LSR and tailend', () => {
  const t = testLab();
  let lab: Lab;

  beforeAll(async () => {
    lab = await t.up();
  }, 90_000);
  afterAll(async () => {
    await t.down();
  }, 60_000);

  test('every end-user reaches its ISP and back over IPv4 and IPv6, and nothing reaches the other ISP', async () => {
    const before = Object.fromEntries(ISPS.map((i) => [i, Object.fromEntries(USERS.map((u) => [u, seenFrom(lab, i, userAddrs(u))]))]));

    // ping: the ISP host's own addresses and the internet address, both families
    const pings = await Promise.all(
      USERS.flatMap((u) => {
        const isp = ISP_PLAN[USER_PLAN[u].isp];
        return [isp.host.v4, isp.host.v6, INTERNET.v4, INTERNET.v6].map(async (a) => ({ u, a, r: await ping(lab.names.userNs(u), a, { count: 3 }) }));
      }),
    );
    for (const p of pings) expect(p.r, `${p.u} ping ${p.a}: ${p.r.output}`).toMatchObject({ ok: true, received: 3 });

    // an echoed UDP stream per end-user and family to the internet address both ISPs answer
    const port = 5101;
    const receivers = Object.fromEntries(ISPS.map((i) => [i, new Receiver(lab.names.ispNs(i), port, { echo: true, bind: [INTERNET.v4, INTERNET.v6] })])) as Record<IspName, Receiver>;
    await Promise.all(Object.values(receivers).map((r) => r.ready));
    const flows = USERS.flatMap((u, k) => [INTERNET.v4, INTERNET.v6].map((to, f) => ({ u, to, stream: 10 * k + f, src: userAddrs(u)[f]! })));
    const sent = await Promise.all(flows.map((f) => new Sender(lab.names.userNs(f.u), { to: f.to, port, rate: 500, count: 500, stream: f.stream, size: 300 }).report));
    const got = { alpha: await receivers.alpha.stop(), beta: await receivers.beta.stop() };
    flows.forEach((f, i) => {
      const mine = USER_PLAN[f.u].isp;
      expect(sent[i]!, `${f.u} -> ${f.to}`).toMatchObject({ sent: 500, echoed: 500, echoMissing: 0, echoCorrupt: 0 });
      expect(tallyOf(got[mine], f.src, f.stream), `${f.u} at ${mine}`).toMatchObject({ unique: 500, duplicates: 0, corrupt: 0, missingInside: 0 });
      expect(tallyOf(got[other(mine)], f.src, f.stream).received, `${f.u} at ${other(mine)}`).toBe(0);
    });

    // what each ISP host's own XDP program saw: everything from its end-users, nothing from the others'
    for (const u of USERS) {
      const mine = USER_PLAN[u].isp;
      expect(seenFrom(lab, mine, userAddrs(u)) - before[mine]![u]!, `${u} at ${mine}`).toBeGreaterThanOrEqual(2 * 500 + 4 * 3);
      expect(seenFrom(lab, other(mine), userAddrs(u)) - before[other(mine)]![u]!, `${u} at ${other(mine)}`).toBe(0);
    }
    expect(await drops(lab)).toEqual({});
  }, 120_000);

  test('ARP, ND and traffic to the routers themselves work with the programs attached', async () => {
    const pings: Array<[string, string]> = [];
    for (const u of USERS) pings.push([lab.names.userNs(u), USER_PLAN[u].gateway.v4], [lab.names.userNs(u), USER_PLAN[u].gateway.v6]);
    for (const i of ISPS) pings.push([lab.names.ispNs(i), ISP_PLAN[i].router.v4], [lab.names.ispNs(i), ISP_PLAN[i].router.v6]);
    // the LSR's kernel to its neighbours over core links, which run xdp_core on every end
    for (const l of CORE_LINKS) pings.push([lab.names.routerNs(l.a.router), l.b.v4], [lab.names.routerNs(l.a.router), l.b.v6], [lab.names.routerNs(l.b.router), l.a.v4]);
    // the headend's kernel to each end-user (bob's replies come back double-tagged)
    for (const u of USERS) pings.push([lab.names.routerNs('headend'), USER_PLAN[u].host.v4], [lab.names.routerNs('headend'), USER_PLAN[u].host.v6]);
    const results = await Promise.all(pings.map(async ([ns, a]) => ({ ns, a, r: await ping(ns, a, { count: 2 }) })));
    for (const p of results) expect(p.r, `${p.ns} ping ${p.a}: ${p.r.output}`).toMatchObject({ ok: true, received: 2 });

    // the hosts learnt their gateway's MAC through ARP and ND
    for (const u of USERS) {
      for (const family of ['-4', '-6']) {
        const gw = family === '-4' ? USER_PLAN[u].gateway.v4 : USER_PLAN[u].gateway.v6;
        const neigh = nsRun(lab.names.userNs(u), 'ip', [family, 'neigh', 'show', gw]);
        expect(neigh, `${u} ${family} neighbour ${gw}`).toContain(`lladdr ${USER_PLAN[u].gateway.mac}`);
      }
    }
    // and the router interfaces still run the daemons' programs
    const st = await lab.api('headend').get<{ programs: Array<{ ifname: string; role: string }> }>('/v1/status');
    expect(st.programs.map((p) => `${p.ifname}:${p.role}`).sort()).toEqual(['acc1:access', 'acc2:access', 'acc3:access', 'core0:core']);
    expect(await drops(lab)).toEqual({});
  }, 120_000);

  test('captures on every link: labels per hop, S=1, uniform TTLs, payload unchanged end to end', async () => {
    const dir = tempDir('fecflow-e2e-pcap-');
    const sw = lab.names.switchNs;
    const points = {
      link1: new Capture(sw, CORE_LINKS[0]!.a.port, dir.path), // headend <-> lsr
      link2: new Capture(sw, CORE_LINKS[1]!.b.port, dir.path), // lsr <-> tailend
      ...Object.fromEntries(USERS.map((u) => [u, new Capture(lab.names.userNs(u), 'eth0', dir.path)])),
      ...Object.fromEntries(ISPS.map((i) => [i, new Capture(lab.names.ispNs(i), 'eth0', dir.path)])),
    } as Record<'link1' | 'link2' | UserName | IspName, Capture>;
    let frames: Record<string, ParsedFrame[]>;
    let raw: Record<string, Buffer[]>;
    try {
      await Promise.all(Object.values(points).map((c) => c.ready));
      const port = 5102;
      const receivers = ISPS.map((i) => new Receiver(lab.names.ispNs(i), port, { echo: true, bind: [INTERNET.v4, INTERNET.v6] }));
      await Promise.all(receivers.map((r) => r.ready));
      const flows = USERS.flatMap((u, k) => [INTERNET.v4, INTERNET.v6].map((to, f) => ({ u, to, stream: 100 + 10 * k + f })));
      const sent = await Promise.all(flows.map((f) => new Sender(lab.names.userNs(f.u), { to: f.to, port, rate: 100, count: 20, stream: f.stream, size: 100 }).report));
      for (const s of sent) expect(s.echoed).toBe(20);
      await Promise.all(receivers.map((r) => r.stop()));
      await new Promise((r) => setTimeout(r, 200));
      raw = {};
      for (const [k, c] of Object.entries(points)) raw[k] = await c.stop();
      frames = Object.fromEntries(Object.entries(raw).map(([k, fs]) => [k, fs.map(parseFrame)]));
    } finally {
      for (const c of Object.values(points)) c.kill();
      dir.remove();
    }

    /** The frames of one stream (by UDP port, direction and source address) at a capture point. */
    const ours = (at: string, src: string, up: boolean): Array<{ f: ParsedFrame; b: Buffer }> =>
      frames[at]!.map((f, i) => ({ f, b: raw[at]![i]! })).filter(
        ({ f }) => f.ip && f.ip.proto === 17 && (up ? f.ip.dport === 5102 && canonicalIp(f.ip.src) === src : f.ip.sport === 5102 && canonicalIp(f.ip.dst) === src),
      );
    /** The IP packet without TTL/hop limit and IPv4 checksum, which the routers change. */
    const invariant = (f: ParsedFrame, b: Buffer): string => {
      const ip = Buffer.from(b.subarray(f.l3Offset, f.l3Offset + f.ip!.totalLength));
      if (f.ip!.version === 4) {
        ip[8] = 0;
        ip.writeUInt16BE(0, 10);
      } else ip[7] = 0;
      return ip.toString('hex');
    };

    for (const u of USERS) {
      const isp = USER_PLAN[u].isp;
      for (const src of userAddrs(u)) {
        const sentUp = ours(u, src, true);
        const sentDown = ours(isp, src, false);
        expect(sentUp, `${u} ${src} upstream at the end-user`).toHaveLength(20);
        expect(sentDown, `${u} ${src} echoes at ${isp}`).toHaveLength(20);
        // the end-user's own frames: plain IP, except bob's two tags (802.1ad 100 outside, 802.1Q 7 inside)
        for (const { f } of sentUp) {
          expect(f.tags.map((t) => [t.tpid, t.vid])).toEqual(USER_PLAN[u].vlan ? [[ETH_P_8021AD, 100], [ETH_P_8021Q, 7]] : []);
          expect(f.ip!.ttl).toBe(64);
        }
        const payloadUp = sentUp.map(({ f, b }) => invariant(f, b));
        const payloadDown = sentDown.map(({ f, b }) => invariant(f, b));
        const hops: Array<[string, boolean, number, number, string[]]> = [
          // capture point, upstream?, label, label TTL, the payload it must carry
          ['link1', true, label(0, 'headend-push', isp), 63, payloadUp],
          ['link2', true, label(0, 'lsr-up', isp), 62, payloadUp],
          ['link2', false, label(0, 'tailend-push', isp), 63, payloadDown],
          ['link1', false, label(0, 'lsr-down', isp), 62, payloadDown],
        ];
        for (const [at, up, lbl, ttl, payload] of hops) {
          const seen = ours(at, src, up);
          expect(seen, `${u} ${src} ${up ? 'up' : 'down'} at ${at}`).toHaveLength(20);
          for (const { f } of seen) {
            expect(f.type).toBe(ETH_P_MPLS);
            expect(f.tags).toEqual([]);
            expect(f.labels, `${u} ${src} at ${at}`).toEqual([{ label: lbl, tc: 0, s: true, ttl }]);
            // uniform mode: the IP header is not touched inside the backbone
            expect(f.ip!.ttl).toBe(64);
          }
          expect(seen.map(({ f, b }) => invariant(f, b))).toEqual(payload);
        }
        // delivered: the last pop sets the IP TTL to the label's TTL minus one (61), checksum valid
        const delivered = ours(isp, src, true);
        expect(delivered).toHaveLength(20);
        for (const { f } of delivered) {
          expect(f.ip!.ttl).toBe(61);
          if (f.ip!.version === 4) expect(f.ip!.checksumOk).toBe(true);
          expect(f.dst).toBe(ISP_PLAN[isp].host.mac);
        }
        expect(delivered.map(({ f, b }) => invariant(f, b))).toEqual(payloadUp);
        const back = ours(u, src, false);
        expect(back).toHaveLength(20);
        for (const { f } of back) {
          expect(f.ip!.ttl).toBe(61);
          if (f.ip!.version === 4) expect(f.ip!.checksumOk).toBe(true);
          expect(f.dst).toBe(USER_PLAN[u].host.mac);
          expect(f.tags.map((t) => [t.tpid, t.vid])).toEqual(USER_PLAN[u].vlan ? [[ETH_P_8021AD, 100], [ETH_P_8021Q, 7]] : []);
        }
        expect(back.map(({ f, b }) => invariant(f, b))).toEqual(payloadDown);
      }
    }
  }, 120_000);
});
