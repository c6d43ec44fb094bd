// End to end: garbage from an end-user's port — bytes that are not IP, truncated or lying
// headers, an unknown MAC — is dropped at the headend and counted under the right reason,
// while the other end-users' streams go on without losing a packet.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { lossReport, sendRaw, testLab } from '../helpers/traffic.js';
import { ETH_P_8021Q, ether, ipv4, ipv6, udp } from '../helpers/frames.js';
import type { Lab } from '../../control/lab/lab.js';
import { Receiver, Sender, tallyOf } from '../../control/lab/traffic.js';
import { INTERNET, ISPS, USER_PLAN, type IspName, type UserName } from '../../control/lab/topology.js';

const GW = USER_PLAN.alice.gateway.mac;
const STRANGER = '02:ff:99:00:00:01';

async function headendDrops(lab: Lab): Promise<Record<string, number>> {
  const s = await lab.api('headend').get<{ drops: Array<{ reason: string; packets: string }> }>('/v1/stats');
  return Object.fromEntries(s.drops.map((d) => [d.reason, Number(d.packets)]));
}

/** The frames sent from alice's port, grouped by the drop reason each must be counted under. */
function garbage(): { malformed: Buffer[]; unknownSubscriber: Buffer[]; passed: Buffer[] } {
  const payload = udp(40000, 9, Buffer.from('garbage'));
  const v4 = ipv4({ src: '100.64.1.99', dst: INTERNET.v4, l4: payload });
  const v6 = ipv6({ src: '2001:db8:64:1::99', dst: INTERNET.v6, l4: payload });
  const malformed: Buffer[] = [];
  const unknownSubscriber: Buffer[] = [];
  const passed: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    // IPv4 cut short inside its header
    malformed.push(ether({ dst: GW, src: USER_PLAN.alice.host.mac, type: 0x0800, payload: v4.subarray(0, 10) }));
    // IHL 3 (a 12-byte header)
    const badIhl = Buffer.from(v4);
    badIhl[0] = 0x43;
    malformed.push(ether({ dst: GW, src: USER_PLAN.alice.host.mac, type: 0x0800, payload: badIhl }));
    // total length beyond the end of the frame
    const longer = Buffer.from(v4);
    longer.writeUInt16BE(v4.length + 200, 2);
    malformed.push(ether({ dst: GW, src: USER_PLAN.alice.host.mac, type: 0x0800, payload: longer }));
    // IPv6 cut short inside its header
    malformed.push(ether({ dst: GW, src: USER_PLAN.alice.host.mac, type: 0x86dd, payload: v6.subarray(0, 24) }));
    // random bytes claiming to be IPv4, version nibble not 4
    const junk = randomBytes(60);
    junk[0] = junk[0]! & 0x3f;
    malformed.push(ether({ dst: GW, src: STRANGER, type: 0x0800, payload: junk }));
    // well-formed, but from a MAC no subscriber has and an address no prefix covers
    unknownSubscriber.push(ether({ dst: GW, src: STRANGER, payload: v4 }), ether({ dst: GW, src: STRANGER, payload: v6 }));
    // tagged with a VLAN no subscriber has
    unknownSubscriber.push(ether({ dst: GW, src: STRANGER, tags: [{ tpid: ETH_P_8021Q, vid: 999 }], payload: v4 }));
    // random bytes with an ethertype that is not IP: handed to the kernel, never counted
    let type = 0;
    while ([0, 0x0800, 0x86dd, 0x8100, 0x88a8, 0x8847].includes(type) || type < 0x0600) type = randomBytes(2).readUInt16BE(0);
    passed.push(ether({ dst: GW, src: STRANGER, type, payload: randomBytes(46) }));
  }
  return { malformed, unknownSubscriber, passed };
}

describeRoot('e2e: garbage from an end-user', () => {
  const t = testLab();
  let lab: Lab;

  beforeAll(async () => {
    lab = await t.up();
  }, 90_000);
  afterAll(async () => {
    await t.down();
  }, 60_000);

  test('is dropped and counted as malformed or unknown_subscriber, and the other end-users lose nothing', async () => {
    const port = 5301;
    const assignment = await lab.assignment();
    const receivers = Object.fromEntries(ISPS.map((i) => [i, new Receiver(lab.names.ispNs(i), port, { echo: true, bind: [INTERNET.v4, INTERNET.v6] })])) as Record<IspName, Receiver>;
    await Promise.all(Object.values(receivers).map((r) => r.ready));
    const others: UserName[] = ['bob', 'carol'];
    const flows = others.flatMap((u, k) => [INTERNET.v4, INTERNET.v6].map((to, f) => ({ u, to, src: f ? USER_PLAN[u].host.v6 : USER_PLAN[u].host.v4, stream: 10 * k + f })));
    const before = await headendDrops(lab);
    const senders = flows.map((f) => new Sender(lab.names.userNs(f.u), { to: f.to, port, rate: 400, seconds: 3, stream: f.stream, size: 200 }));
    await Promise.all(senders.map((s) => s.ready));

    const g = garbage();
    const all = [...g.malformed, ...g.unknownSubscriber, ...g.passed].sort(() => Math.random() - 0.5);
    expect(await sendRaw(lab.names.userNs('alice'), 'eth0', all)).toBe(all.length);

    const sent = await Promise.all(senders.map((s) => s.report));
    const at = { alpha: await receivers.alpha.stop(), beta: await receivers.beta.stop() };
    const after = await headendDrops(lab);
    const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
    expect(delta).toEqual({ malformed: g.malformed.length, unknown_subscriber: g.unknownSubscriber.length });

    const lossy = flows.some((f, i) => sent[i]!.echoed !== sent[i]!.sent);
    if (lossy) console.log(await lossReport(lab));
    flows.forEach((f, i) => {
      const isp = assignment[f.u] as IspName;
      expect(sent[i], `${f.u} ${f.to}`).toMatchObject({ sent: 1200, echoed: 1200, echoMissing: 0 });
      expect(tallyOf(at[isp], f.src, f.stream)).toMatchObject({ unique: 1200, missingInside: 0, corrupt: 0 });
    });
    // and the sender of the garbage itself still gets through
    const r = new Receiver(lab.names.ispNs(USER_PLAN.alice.isp), port + 1, { bind: [INTERNET.v4] });
    await r.ready;
    const s = await new Sender(lab.names.userNs('alice'), { to: INTERNET.v4, port: port + 1, rate: 200, count: 100, echoWaitMs: 100 }).report;
    expect(tallyOf(await r.stop(), USER_PLAN.alice.host.v4, 1).unique).toBe(s.sent);
  }, 120_000);
});
