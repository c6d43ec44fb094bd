// End to end on the LDP lab (`lab up --ldp`): no router file holds a label; every label the
// data plane uses was learned by LDP between the three daemons, with FRR's ldpd as a fourth
// router beside the lsr. Every end-user reaches its ISP and back over IPv4 and IPv6 and never
// the other ISP; the labels the headend pushes are the ones the lsr advertised, and FRR holds
// the lsr's labels; a change of the tailend's label under a stream loses nothing; a daemon
// killed and restarted under a stream loses nothing (pinned maps, graceful restart); the
// operator's view (CLI, API, metrics, events) shows the sessions.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { testLab } from '../helpers/traffic.js';
import { Receiver, Sender, ping, tallyOf } from '../../control/lab/traffic.js';
import { liveRelabel } from '../../control/lab/ldp.js';
import { INTERNET, ISP_PLAN, ISPS, LDP_PLAN, USER_PLAN, USERS, ldpFecs, type IspName, type UserName } from '../../control/lab/topology.js';
import type { Lab } from '../../control/lab/lab.js';

const other = (i: IspName): IspName => (i === 'alpha' ? 'beta' : 'alpha');
const userAddrs = (u: UserName): string[] => [USER_PLAN[u].host.v4, USER_PLAN[u].host.v6];

interface Binding {
  prefix: string;
  egress: boolean;
  localLabel: number | null;
  remote: Array<{ neighborId: string; remoteLabel: number; inUse: boolean }>;
}

async function bindings(lab: Lab, r: 'headend' | 'lsr' | 'tailend'): Promise<Binding[]> {
  return (await lab.api(r).get<{ bindings: Binding[] }>('/v1/ldp/bindings')).bindings;
}

async function drops(lab: Lab): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of ['headend', 'lsr', 'tailend'] as const) {
    const s = await lab.api(r).get<{ drops: Array<{ reason: string; packets: string }> }>('/v1/stats');
    for (const d of s.drops) if (BigInt(d.packets) > 0n) out[`${r}:${d.reason}`] = Number(d.packets);
  }
  return out;
}

function cli(lab: Lab, r: 'headend' | 'lsr' | 'tailend', ...args: string[]): string {
  const d = lab.daemon(r);
  const p = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'fecflow.js'), '--socket', d.socket, '--token-file', d.tokenFile, ...args], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`fecflow ${args.join(' ')}: ${p.stderr}`);
  return p.stdout;
}

describeRoot('e2e: labels learned by LDP (lab up --ldp, FRR beside the lsr)', () => {
  const t = testLab({ ldp: true });
  let lab: Lab;

  beforeAll(async () => {
    lab = await t.up();
  }, 240_000);
  afterAll(async () => {
    await t.down();
  }, 60_000);

  test('no router file holds a label, and the headend pushes what the lsr advertised, which swaps to what the tailend advertised', async () => {
    for (const r of ['headend', 'lsr', 'tailend'] as const) {
      const file = parse(readFileSync(lab.configPath(r), 'utf8')) as { ilm: unknown[]; isps: Array<{ upstream?: unknown; downstream?: { routes?: unknown } }>; ldp: { enable: boolean } };
      expect(file.ilm, r).toEqual([]);
      expect(file.isps.filter((i) => i.upstream !== undefined || i.downstream?.routes !== undefined), r).toEqual([]);
      expect(file.ldp.enable).toBe(true);
    }
    const [he, lsr, te] = await Promise.all([bindings(lab, 'headend'), bindings(lab, 'lsr'), bindings(lab, 'tailend')]);
    const heStatus = await lab.ldpStatus('headend');
    const lsrStatus = await lab.ldpStatus('lsr');
    const teStatus = await lab.ldpStatus('tailend');
    for (const i of ISPS) {
      const f = ldpFecs(i);
      // upstream: tailend egress label -> lsr local label swapped to it -> headend pushes the lsr's
      const teUp = te.find((b) => b.prefix === f.upstream)!;
      expect(teUp.egress).toBe(true);
      const [tmin, tmax] = LDP_PLAN.labels.tailend;
      expect(teUp.localLabel!).toBeGreaterThanOrEqual(tmin);
      expect(teUp.localLabel!).toBeLessThanOrEqual(tmax);
      expect(teStatus.tables.ilm).toContainEqual(expect.objectContaining({ label: teUp.localLabel, action: 'pop-to-isp', isp: i }));
      const lsrUp = lsr.find((b) => b.prefix === f.upstream)!;
      expect(lsrUp.remote).toContainEqual({ neighborId: LDP_PLAN.lsrId.tailend, remoteLabel: teUp.localLabel, inUse: true });
      expect(lsrStatus.tables.ilm).toContainEqual(expect.objectContaining({ label: lsrUp.localLabel, action: 'swap', labels: [teUp.localLabel], isp: i }));
      expect(heStatus.tables.upstream[i]!.label).toBe(lsrUp.localLabel);
      expect(he.find((b) => b.prefix === f.upstream)!.remote).toContainEqual({ neighborId: LDP_PLAN.lsrId.lsr, remoteLabel: lsrUp.localLabel, inUse: true });
      // downstream: headend egress label -> lsr swaps to it -> tailend pushes the lsr's on the ISP's return routes
      const heDown = he.find((b) => b.prefix === f.downstream)!;
      expect(heDown.egress).toBe(true);
      expect(heStatus.tables.ilm).toContainEqual({ label: heDown.localLabel, action: 'pop-to-subscriber', isp: i });
      const lsrDown = lsr.find((b) => b.prefix === f.downstream)!;
      expect(lsrStatus.tables.ilm).toContainEqual(expect.objectContaining({ label: lsrDown.localLabel, action: 'swap', labels: [heDown.localLabel], isp: i, direction: 'down' }));
      expect(teStatus.tables.downstream[i]!.label).toBe(lsrDown.localLabel);
    }
    // the running configs hold these labels; the files hold none (the ldp: section instead)
    const running = (await lab.api('headend').get<{ config: { isps: Array<{ name: string; upstream?: { labels: number[] } }> } }>('/v1/config')).config;
    for (const i of ISPS) expect(running.isps.find((x) => x.name === i)!.upstream!.labels).toEqual([heStatus.tables.upstream[i]!.label]);
  });

  test('FRR holds the lsr\'s label for every ISP FEC, and the lsr keeps FRR\'s labels (liberal retention) without using them', async () => {
    const lsr = await bindings(lab, 'lsr');
    const frr = JSON.parse(lab.frr('show mpls ldp binding json')) as { bindings: Array<{ prefix: string; neighborId: string; remoteLabel: string }> };
    for (const i of ISPS) {
      for (const prefix of [ldpFecs(i).upstream, ldpFecs(i).downstream]) {
        const mine = lsr.find((b) => b.prefix === prefix)!;
        expect(frr.bindings, `FRR's binding for ${prefix}`).toContainEqual(expect.objectContaining({ prefix, neighborId: LDP_PLAN.lsrId.lsr, remoteLabel: String(mine.localLabel) }));
        const fromFrr = mine.remote.find((r) => r.neighborId === LDP_PLAN.lsrId.frr);
        expect(fromFrr, `FRR's label for ${prefix} at the lsr`).toBeDefined();
        expect(fromFrr!.inUse).toBe(false);
      }
    }
  });

  test('every end-user reaches its ISP and back over IPv4 and IPv6, and nothing reaches the other ISP', async () => {
    const pings = await Promise.all(
      USERS.flatMap((u) => {
        const isp = ISP_PLAN[USER_PLAN[u].isp];
        return [isp.host.v4, isp.host.v6, INTERNET.v4, INTERNET.v6].map(async (a) => ({ u, a, r: await ping(lab.names.userNs(u), a, { count: 3 }) }));
      }),
    );
    for (const p of pings) expect(p.r, `${p.u} ping ${p.a}: ${p.r.output}`).toMatchObject({ ok: true, received: 3 });

    const port = 5201;
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
    expect(await drops(lab)).toEqual({});
  }, 120_000);

  test('a new label for alpha\'s hand-off at the tailend, under a stream: installed before advertised, the lsr switches, nothing is lost, the old label goes once released', async () => {
    const r = await liveRelabel(lab, 'alpha', { rate: 2000 });
    expect(r.to).not.toBe(r.from);
    expect(r.lsrBefore).toBe(r.from);
    expect(r.lsrAfter).toBe(r.to);
    expect(r.sent).toBeGreaterThan(3000);
    expect(r).toMatchObject({ lost: 0, duplicates: 0, oldRemoved: true });
    const lsr = await bindings(lab, 'lsr');
    expect(lsr.find((b) => b.prefix === r.fec)!.remote).toContainEqual({ neighborId: LDP_PLAN.lsrId.tailend, remoteLabel: r.to, inUse: true });
    expect(await drops(lab)).toEqual({});
  }, 60_000);

  test('the tailend daemon killed (-9) and restarted under a stream: forwarding goes on, the labels stay, nothing is lost', async () => {
    const before = await lab.ldpStatus('tailend');
    const lsrBefore = await lab.ldpStatus('lsr');
    const u: UserName = 'alice';
    const port = 5301;
    const receiver = new Receiver(lab.names.ispNs('alpha'), port, { echo: true, bind: [INTERNET.v4] });
    await receiver.ready;
    const sender = new Sender(lab.names.userNs(u), { to: INTERNET.v4, port, rate: 1000, seconds: 60, stream: 5, echoWaitMs: 300 });
    await sender.ready;
    try {
      await new Promise((res) => setTimeout(res, 500));
      await lab.killDaemon('tailend', 'SIGKILL');
      // longer than the lsr's hold time: the adjacency expires too, and the session is gone
      await new Promise((res) => setTimeout(res, (LDP_PLAN.holdTime + 1) * 1000));
      const during = await lab.ldpStatus('lsr');
      expect(during.tables).toEqual(lsrBefore.tables);
      await lab.startDaemon('tailend');
      // until the tailend's sessions are back and its stale labels are settled
      const until = Date.now() + 30_000;
      for (;;) {
        const s = await lab.ldpStatus('tailend');
        if (s.stale === null) break;
        if (Date.now() > until) throw new Error(`the tailend stayed stale: ${JSON.stringify(s.stale)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
      await new Promise((res) => setTimeout(res, 500));
    } finally {
      void sender.stop();
    }
    const s = await sender.report;
    const got = tallyOf(await receiver.stop(), USER_PLAN[u].host.v4, 5);
    expect(s.sent).toBeGreaterThan(5000);
    expect(got).toMatchObject({ unique: s.sent, duplicates: 0 });
    expect(s).toMatchObject({ echoed: s.sent, echoMissing: 0 });
    const after = await lab.ldpStatus('tailend');
    expect(after.tables).toEqual(before.tables);
    expect((await lab.ldpStatus('lsr')).tables).toEqual(lsrBefore.tables);
    const nbrs = await lab.api('lsr').get<{ neighbors: Array<{ neighborId: string; state: string }> }>('/v1/ldp/neighbors');
    expect(nbrs.neighbors.find((n) => n.neighborId === LDP_PLAN.lsrId.tailend)?.state).toBe('OPERATIONAL');
  }, 120_000);

  test('the operator\'s view: fecflow ldp neighbors|bindings|discovery (tables and --json), /metrics', async () => {
    const nbrs = JSON.parse(cli(lab, 'lsr', 'ldp', 'neighbors', '--json')) as Array<{ neighborId: string; state: string }>;
    expect(nbrs.map((n) => [n.neighborId, n.state]).sort()).toEqual(
      [LDP_PLAN.lsrId.headend, LDP_PLAN.lsrId.tailend, LDP_PLAN.lsrId.frr].sort().map((id) => [id, 'OPERATIONAL']),
    );
    const table = cli(lab, 'lsr', 'ldp', 'neighbors');
    expect(table).toMatch(/10\.255\.0\.4\s+10\.255\.0\.4\s+OPERATIONAL/);
    const b = cli(lab, 'tailend', 'ldp', 'bindings');
    expect(b).toMatch(new RegExp(`${ldpFecs('beta').upstream.replace(/\./g, '\\.')}\\s+\\d+ \\(egress\\)`));
    const d = JSON.parse(cli(lab, 'headend', 'ldp', 'discovery', '--json')) as { lsrId: string; adjacencies: Array<{ neighborId: string; interface: string }> };
    expect(d.lsrId).toBe(LDP_PLAN.lsrId.headend);
    expect(d.adjacencies).toContainEqual(expect.objectContaining({ neighborId: LDP_PLAN.lsrId.lsr, interface: 'core0' }));
    const m = await lab.api('lsr').text('/metrics');
    expect(m).toContain('fecflow_ldp_sessions_up 3\n');
    expect(m).toMatch(/fecflow_ldp_messages_received_total\{type="label-mapping"\} [1-9]/);
    expect(m).toMatch(/fecflow_ldp_label_changes_total [1-9]/);
  }, 30_000);
});
