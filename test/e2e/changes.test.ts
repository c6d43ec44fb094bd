// End to end, changes under traffic: an end-user moved to the other ISP while it streams (no
// packet at the old ISP after the switch, at most a handful lost in flight), the headend's
// daemon killed with SIGKILL and restarted mid-stream (nothing lost: forwarding runs on the
// pinned programs and maps), every router upgraded to a build with other map layouts and back
// (nothing lost, counters go on), and a whole new label plan applied make-before-break on every
// router (nothing lost).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { lossReport, testLab } from '../helpers/traffic.js';
import type { Lab } from '../../control/lab/lab.js';
import { labelTable } from '../../control/lab/plan.js';
import { processAlive } from '../../control/lab/sys.js';
import { Receiver, Sender, tallyOf, type ReceiverReport, type SenderReport } from '../../control/lab/traffic.js';
import { INTERNET, ISPS, ROUTERS, USER_PLAN, USERS, type IspName, type UserName } from '../../control/lab/topology.js';
import { resizedObject } from '../fixtures/layout/build.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Flow {
  u: UserName;
  to: string;
  src: string;
  stream: number;
}

const allFlows = (base: number): Flow[] =>
  USERS.flatMap((u, k) =>
    [INTERNET.v4, INTERNET.v6].map((to, f) => ({ u, to, src: f ? USER_PLAN[u].host.v6 : USER_PLAN[u].host.v4, stream: base + 10 * k + f })),
  );

/**
 * Runs echoed streams for every flow until `during` has finished (plus a tail), and returns
 * what each sender and each ISP's receiver saw. The streams are running before `during` starts.
 */
async function underStreams(lab: Lab, port: number, flows: Flow[], rate: number, during: () => Promise<void>) {
  const receivers = ISPS.map((i) => new Receiver(lab.names.ispNs(i), port, { echo: true, bind: [INTERNET.v4, INTERNET.v6] }));
  await Promise.all(receivers.map((r) => r.ready));
  const senders = flows.map((f) => new Sender(lab.names.userNs(f.u), { to: f.to, port, rate, count: 1_000_000, stream: f.stream, size: 200, echoWaitMs: 1500 }));
  try {
    await Promise.all(senders.map((s) => s.ready));
    await sleep(700);
    await during();
    await sleep(700);
  } finally {
    for (const s of senders) void s.stop();
  }
  const sent = await Promise.all(senders.map((s) => s.report));
  const [alpha, beta] = await Promise.all(receivers.map((r) => r.stop()));
  return { sent, at: { alpha: alpha!, beta: beta! } as Record<IspName, ReceiverReport> };
}

async function expectNoLoss(lab: Lab, flows: Flow[], sent: SenderReport[], at: Record<IspName, ReceiverReport>): Promise<void> {
  const assignment = await lab.assignment();
  const lossy = flows.some((f, i) => sent[i]!.echoed !== sent[i]!.sent || tallyOf(at[assignment[f.u] as IspName], f.src, f.stream).unique !== sent[i]!.sent);
  if (lossy) {
    console.log(`losses:\n${flows.map((f, i) => `  ${f.u} ${f.to}: sent ${sent[i]!.sent}, at ISP ${tallyOf(at[assignment[f.u] as IspName], f.src, f.stream).unique}, echoed ${sent[i]!.echoed}, echo gaps ${JSON.stringify(sent[i]!.echoGaps.slice(0, 5))}`).join('\n')}`);
    console.log(await lossReport(lab));
  }
  flows.forEach((f, i) => {
    const s = sent[i]!;
    const isp = assignment[f.u] as IspName;
    expect(s.sent, `${f.u} ${f.to} sent`).toBeGreaterThan(500);
    expect(s, `${f.u} ${f.to}: echoes`).toMatchObject({ echoed: s.sent, echoMissing: 0, echoCorrupt: 0 });
    expect(tallyOf(at[isp], f.src, f.stream), `${f.u} ${f.to} at ${isp}`).toMatchObject({ unique: s.sent, missingInside: 0, corrupt: 0 });
  });
}

describeRoot('e2e: changes under traffic', () => {
  const t = testLab();
  let lab: Lab;

  beforeAll(async () => {
    lab = await t.up();
  }, 90_000);
  afterAll(async () => {
    await t.down();
  }, 60_000);

  test('an end-user moved to the other ISP mid-stream: nothing reaches the old ISP after the switch, at most a handful lost', async () => {
    const u: UserName = 'alice';
    const from = (await lab.assignment())[u] as IspName;
    const to: IspName = from === 'alpha' ? 'beta' : 'alpha';
    const flows = allFlows(100).filter((f) => f.u === u);
    const fromHost = (): number =>
      lab
        .hostCounts(from)
        .filter((c) => c.source === USER_PLAN[u].host.v4 || c.source === USER_PLAN[u].host.v6)
        .reduce((n, c) => n + c.packets, 0);
    let atOldAfterMove = -1;
    const { sent, at } = await underStreams(lab, 5201, flows, 2000, async () => {
      await lab.moveUser(u, to);
      await sleep(100); // frames already on their way when the write landed
      atOldAfterMove = fromHost();
    });
    // the old ISP host's own XDP counter: not one more packet from alice after the move
    expect(fromHost()).toBe(atOldAfterMove);
    expect((await lab.assignment())[u]).toBe(to);
    flows.forEach((f, i) => {
      const s = sent[i]!;
      const old = tallyOf(at[from], f.src, f.stream);
      const neu = tallyOf(at[to], f.src, f.stream);
      const lost = s.sent - old.unique - neu.unique;
      console.log(`live move ${f.to}: sent ${s.sent}, at ${from} seq ${old.minSeq}..${old.maxSeq} (${old.unique}), at ${to} seq ${neu.minSeq}..${neu.maxSeq} (${neu.unique}), lost ${lost}`);
      expect(old.unique, 'the stream ran on the old ISP before the move').toBeGreaterThan(500);
      expect(neu.unique, 'and on the new one after it').toBeGreaterThan(500);
      // a clean switch: every packet the old ISP got was sent before the first one the new ISP got
      expect(old.maxSeq!).toBeLessThan(neu.minSeq!);
      expect(old.missingInside + neu.missingInside).toBe(lost);
      expect(lost, 'lost in flight at the switch').toBeLessThanOrEqual(5);
      expect(old.duplicates + neu.duplicates).toBe(0);
    });
  }, 120_000);

  test('the headend daemon killed with SIGKILL and restarted mid-stream: zero packets lost', async () => {
    const flows = allFlows(200);
    const before = lab.daemon('headend');
    const { sent, at } = await underStreams(lab, 5202, flows, 500, async () => {
      await lab.killDaemon('headend', 'SIGKILL');
      expect(processAlive(before.pid, before.startTime)).toBe(false);
      await sleep(500); // forwarding with no daemon at all
      await lab.startDaemon('headend');
    });
    const after = lab.daemon('headend');
    expect(after.pid).not.toBe(before.pid);
    const st = await lab.api('headend').get<{ ready: boolean; programs: Array<{ reused: boolean }> }>('/v1/status');
    expect(st.ready).toBe(true);
    // the restarted daemon adopted the pinned links instead of attaching afresh
    expect(st.programs.every((p) => p.reused)).toBe(true);
    await expectNoLoss(lab, flows, sent, at);
  }, 120_000);

  test('every router upgraded to a build with other map layouts and back mid-stream: zero lost, label counters continuous', async () => {
    const flows = allFlows(400);
    const resized = resizedObject();
    // the API gives counters as decimal strings (exact above 2^53)
    const labelPackets = async (): Promise<number> =>
      Number((await lab.api('lsr').get<{ labels: Array<{ packets: string }> }>('/v1/labels')).labels.reduce((n, l) => n + BigInt(l.packets), 0n));
    const logFrom = Object.fromEntries(ROUTERS.map((r) => [r, readFileSync(lab.daemon(r).log, 'utf8').length]));
    const before = await labelPackets();
    const { sent, at } = await underStreams(lab, 5204, flows, 500, async () => {
      for (const object of [resized, undefined]) {
        for (const r of ROUTERS) {
          await lab.killDaemon(r, 'SIGTERM'); // as systemd stops the old version
          await lab.startDaemon(r, { object });
        }
        await sleep(500);
      }
    });
    for (const r of ROUTERS) {
      const log = readFileSync(lab.daemon(r).log, 'utf8').slice(logFrom[r]);
      expect(log.match(/upgraded across the map-layout change without detaching/g), r).toHaveLength(2);
      expect(log, r).not.toMatch(/attached xdp_/);
    }
    await expectNoLoss(lab, flows, sent, at);
    // Every datagram and its echo crossed the LSR once, each counted under its incoming label:
    // the count went on through both migrations (no reset, no jump).
    const through = sent.reduce((n, s) => n + s.sent + s.echoed, 0);
    const counted = (await labelPackets()) - before;
    expect(counted).toBeGreaterThanOrEqual(through);
    expect(counted).toBeLessThan(through + 50);
  }, 180_000);

  test('a whole new label plan applied make-before-break on every router mid-stream: zero packets lost', async () => {
    const flows = allFlows(300);
    const { sent, at } = await underStreams(lab, 5203, flows, 500, () => lab.replan(1));
    await expectNoLoss(lab, flows, sent, at);

    // every router now holds generation 1's labels only, and traffic used them
    const g1 = labelTable(1);
    const lsr = await lab.api('lsr').get<{ labels: Array<{ label: number; outLabels?: number[]; packets: string }> }>('/v1/labels');
    expect(lsr.labels.map((l) => l.label).sort()).toEqual([g1.alpha.up[0], g1.beta.up[0], g1.alpha.down[0], g1.beta.down[0]].sort());
    for (const l of lsr.labels) expect(BigInt(l.packets), `lsr label ${l.label}`).toBeGreaterThan(0n);
    const fecs = await lab.api('headend').get<{ upstream: Array<{ isp: string; labels: number[] }> }>('/v1/fecs');
    expect(Object.fromEntries(fecs.upstream.map((f) => [f.isp, f.labels]))).toEqual({ alpha: [g1.alpha.up[0]], beta: [g1.beta.up[0]] });
    const te = await lab.api('tailend').get<{ labels: Array<{ label: number }> }>('/v1/labels');
    expect(te.labels.map((l) => l.label).sort()).toEqual([g1.alpha.up[1], g1.beta.up[1]].sort());
    const he = await lab.api('headend').get<{ labels: Array<{ label: number }> }>('/v1/labels');
    expect(he.labels.map((l) => l.label).sort()).toEqual([g1.alpha.down[1], g1.beta.down[1]].sort());
  }, 120_000);
});
