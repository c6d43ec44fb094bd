// `fecflow demo` (the README's `./run demo`): brings a lab up, shows end-users reaching their
// ISPs (ping and UDP streams, IPv4 and IPv6), the per-ISP counters of the headend and the
// tailend, moves an end-user to the other ISP while its stream runs, and tears the lab down
// (or leaves it running with --keep). It says what it does as it goes. By default the routers
// learn their labels by LDP (with FRR beside the LSR), and two more steps show the learned
// labels and change the tailend's label for one ISP under a stream; --static runs the static
// label plan instead.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../bpf/native.js';
import { Lab } from './lab.js';
import { labelTable } from './plan.js';
import { learnedLabels, liveRelabel } from './ldp.js';
import { Receiver, Sender, ping, tallyOf, type SenderReport } from './traffic.js';
import { INTERNET, ISP_PLAN, ISPS, ROUTERS, USER_PLAN, USERS, ldpFecs, type IspName, type UserName } from './topology.js';

export interface DemoOptions {
  name: string;
  keep: boolean;
  /** the static label plan instead of labels learned by LDP (no FRR, no LDP steps) */
  static?: boolean;
  out: (text: string) => void;
  /** how tables are printed (the CLI passes its own) */
  table: (head: string[], rows: string[][]) => string;
}

interface IspCounters {
  isp: string;
  // 64-bit counters as decimal strings (GET /v1/stats)
  up: { in: { packets: string; bytes: string }; out: { packets: string; bytes: string } };
  down: { in: { packets: string; bytes: string }; out: { packets: string; bytes: string } };
}

const PORT = 7000;
const RATE = 1000;

export async function runDemo(o: DemoOptions): Promise<void> {
  const t0 = Date.now();
  const table = (head: string[], rows: string[][]): string => indent(o.table(head, rows));
  const say = (s = ''): void => o.out(`${s}\n`);
  const ldp = o.static !== true;
  const total = ldp ? 8 : 6;
  const step = (n: number, s: string): void => say(`\n[${n}/${total}] ${s}  (at ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  say('fecflow demo: an open-access network of namespaces on this machine — three end-users,');
  say('a headend, an LSR and a tailend (each running `fecflow serve`), and two ISPs.');
  if (ldp) say('The routers learn their labels from each other by LDP, with FRR (ldpd) as a fourth router beside the LSR.');
  step(1, `lab up --name ${o.name}${ldp ? ' --ldp' : ''}`);
  const lab = await Lab.up({ name: o.name, say: (l) => say(`  ${l}`), ldp });
  let ok = true;
  try {
    say(ldp ? ldpPicture() : picture());

    step(2, 'ping: every end-user to its ISP host and to the "internet" address, IPv4 and IPv6');
    const rows: string[][] = [];
    await Promise.all(
      USERS.flatMap((u) => {
        const p = USER_PLAN[u];
        const isp = ISP_PLAN[p.isp];
        return [isp.host.v4, isp.host.v6, INTERNET.v4, INTERNET.v6].map(async (addr) => {
          const r = await ping(lab.names.userNs(u), addr, { count: 3, intervalS: 0.2 });
          if (!r.ok) ok = false;
          rows.push([u, `${p.classifiedBy}`, p.isp, addr, `${r.received}/${r.transmitted}`, r.avgMs === null ? '-' : `${r.avgMs.toFixed(3)} ms`]);
        });
      }),
    );
    rows.sort((a, b) => a[0]!.localeCompare(b[0]!) || a[3]!.localeCompare(b[3]!));
    say(table(['end-user', 'classified by', 'ISP', 'to', 'replies', 'avg rtt'], rows));

    step(3, `UDP streams: each end-user sends ${RATE} pkt/s for 3 s over IPv4 and over IPv6 to ${INTERNET.v4} / ${INTERNET.v6},
        which both ISP hosts answer; each ISP host echoes what reaches it back`);
    const before = await counters(lab);
    const streams = await runStreams(lab, 3);
    say(
      table(
        ['end-user', 'ISP', 'to', 'sent', 'at alpha', 'at beta', 'echoed back', 'lost'],
        streams.map((s) => [s.user, s.isp, s.to, String(s.sent.sent), String(s.at.alpha), String(s.at.beta), String(s.sent.echoed), String(s.sent.sent - s.sent.echoed)]),
      ),
    );
    if (streams.some((s) => s.sent.echoed !== s.sent.sent || s.at[s.isp === 'alpha' ? 'beta' : 'alpha'] !== 0)) ok = false;

    step(4, 'per-ISP counters, read from the daemons (GET /v1/stats; the same numbers are on /metrics)');
    say(table(...counterTable(before, await counters(lab))) + '  (packets / IP bytes during this step)');

    step(5, 'live move: alice streams to the internet while she moves from alpha to beta');
    const moveBefore = await counters(lab);
    const moved = await liveMove(lab, say);
    if (moved.lost > 5 || moved.afterAtOld !== 0) ok = false;
    say(table(...counterTable(moveBefore, await counters(lab))) + '  (packets / IP bytes during this step)');

    if (ldp) {
      step(6, 'the labels LDP learned: each ISP FEC at each router — its own label, and the one in use from downstream (fecflow ldp bindings; FRR: show mpls ldp binding)');
      const rows = await learnedLabels(lab, ISPS);
      say(table(['router', 'FEC', 'ISP', 'local label', 'remote label in use'], rows.map((r) => [r.router, r.fec, r.isp, r.local, r.remote])));

      step(7, 'live label change: an end-user of alpha streams to it while the tailend gives alpha\'s hand-off FEC a new label');
      const r = await liveRelabel(lab, 'alpha', { say: (l) => say(`  ${l}`) });
      say(`  the lsr's swap for ${r.fec}: ${r.lsrBefore} -> ${r.lsrAfter}; the tailend's old label ${r.from} ${r.oldRemoved ? 'removed once the lsr released it' : 'still installed'}`);
      say(`  ${r.user} sent ${r.sent} packets; alpha received ${r.received}; lost ${r.lost}, duplicated ${r.duplicates}`);
      if (r.lost !== 0 || r.lsrAfter !== r.to) ok = false;
    }
  } catch (err) {
    ok = false;
    say(`\ndemo failed: ${(err as Error).message}`);
    throw err;
  } finally {
    if (o.keep) {
      step(total, `the lab '${o.name}' keeps running`);
      say(keepNotes(lab));
    } else {
      step(total, 'lab down');
      await Lab.down(o.name, (l) => say(`  ${l}`));
    }
    say(`\n${ok ? 'done' : 'finished with problems (see above)'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

function picture(): string {
  const g = labelTable(0);
  return `
    alice (by MAC)  ── acc1 ┐                                        ┌ ispa ── alpha host (ISP 1)
    bob (VLAN 100.7) ─ acc2 ┼─ headend ══ sw ══ lsr ══ sw ══ tailend ─┤
    carol (prefix)  ── acc3 ┘                                        └ ispb ── beta host  (ISP 2)
    labels up    alpha ${g.alpha.up[0]} → ${g.alpha.up[1]} → pop      beta ${g.beta.up[0]} → ${g.beta.up[1]} → pop
    labels down  alpha ${g.alpha.down[0]} → ${g.alpha.down[1]} → pop      beta ${g.beta.down[0]} → ${g.beta.down[1]} → pop`;
}

function ldpPicture(): string {
  return `
    alice (by MAC)  ── acc1 ┐                                        ┌ ispa ── alpha host (ISP 1)
    bob (VLAN 100.7) ─ acc2 ┼─ headend ══ sw ══ lsr ══ sw ══ tailend ─┤
    carol (prefix)  ── acc3 ┘               ║                        └ ispb ── beta host  (ISP 2)
                                           FRR (ldpd)
    FECs  alpha up ${ldpFecs('alpha').upstream} (tailend egress)   down ${ldpFecs('alpha').downstream} (headend egress)
          beta  up ${ldpFecs('beta').upstream} (tailend egress)   down ${ldpFecs('beta').downstream} (headend egress)`;
}

interface StreamRow {
  user: UserName;
  isp: IspName;
  to: string;
  sent: SenderReport;
  at: Record<IspName, number>;
}

/** One IPv4 and one IPv6 stream per end-user, all at once, echoed by the ISP hosts. */
async function runStreams(lab: Lab, seconds: number): Promise<StreamRow[]> {
  const assignment = await lab.assignment();
  const receivers = ISPS.map((i) => new Receiver(lab.names.ispNs(i), PORT, { echo: true, bind: [INTERNET.v4, INTERNET.v6] }));
  await Promise.all(receivers.map((r) => r.ready));
  const plan = USERS.flatMap((u, k) =>
    [INTERNET.v4, INTERNET.v6].map((to, f) => ({ user: u, to, stream: 10 * (k + 1) + f, source: f ? USER_PLAN[u].host.v6 : USER_PLAN[u].host.v4 })),
  );
  const senders = plan.map((p) => new Sender(lab.names.userNs(p.user), { to: p.to, port: PORT, rate: RATE, seconds, stream: p.stream, size: 200 }));
  const sent = await Promise.all(senders.map((s) => s.report));
  const [ra, rb] = await Promise.all(receivers.map((r) => r.stop()));
  return plan.map((p, i) => ({
    user: p.user,
    isp: assignment[p.user] as IspName,
    to: p.to,
    sent: sent[i]!,
    at: { alpha: tallyOf(ra!, p.source, p.stream).unique, beta: tallyOf(rb!, p.source, p.stream).unique },
  }));
}

/** alice streams at 2000 pkt/s; after 1.5 s she is moved through the headend's CLI, and the
 * stream goes on for 1.5 s after the move. */
async function liveMove(lab: Lab, say: (s?: string) => void): Promise<{ lost: number; afterAtOld: number }> {
  const u: UserName = 'alice';
  const from = ((await lab.assignment())[u] ?? 'alpha') as IspName;
  const to: IspName = from === 'alpha' ? 'beta' : 'alpha';
  const receivers = ISPS.map((i) => new Receiver(lab.names.ispNs(i), PORT + 1, { bind: [INTERNET.v4] }));
  await Promise.all(receivers.map((r) => r.ready));
  const sender = new Sender(lab.names.userNs(u), { to: INTERNET.v4, port: PORT + 1, rate: 2000, seconds: 60, stream: 99, echoWaitMs: 200 });
  await sender.ready;
  await new Promise((r) => setTimeout(r, 1500));
  const d = lab.daemon('headend');
  const args = ['--socket', d.socket, '--token-file', d.tokenFile, 'subscriber', 'move', '--mac', USER_PLAN[u].host.mac, '--isp', to];
  say(`  $ fecflow ${args.join(' ')}`);
  try {
    say(`  ${(await cli(args)).trim()}`);
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    void sender.stop();
  }
  const s = await sender.report;
  const [ra, rb] = await Promise.all(receivers.map((r) => r.stop()));
  const at: Record<IspName, ReturnType<typeof tallyOf>> = { alpha: tallyOf(ra!, USER_PLAN[u].host.v4, 99), beta: tallyOf(rb!, USER_PLAN[u].host.v4, 99) };
  const old = at[from];
  const neu = at[to];
  const lost = s.sent - old.unique - neu.unique;
  // after the move: everything from the first packet the new ISP got on
  const afterAtOld = neu.minSeq === null || old.maxSeq === null ? 0 : Math.max(0, old.maxSeq - neu.minSeq + 1);
  say(`  alice sent ${s.sent} packets (seq 0..${s.sent - 1}) in ${s.seconds.toFixed(1)} s:`);
  say(`    ${from} received ${old.unique}${old.unique ? ` (seq ${old.minSeq}..${old.maxSeq})` : ''}`);
  say(`    ${to} received ${neu.unique}${neu.unique ? ` (seq ${neu.minSeq}..${neu.maxSeq})` : ''}`);
  say(`    lost at the switch-over: ${lost}; packets at ${from} after ${to} took over: ${afterAtOld}`);
  // the move was committed to the headend's registry, with its audit record, before the map write
  const audit = ['--socket', d.socket, '--token-file', d.tokenFile, 'audit', '--limit', '1'];
  say(`  $ fecflow ${audit.join(' ')}`);
  for (const line of (await cli(audit)).trimEnd().split('\n')) say(`  ${line}`);
  return { lost, afterAtOld };
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(repoRoot(), 'bin', 'fecflow.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    c.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`fecflow ${args.join(' ')} failed (${code}): ${out.trim()}`))));
  });
}

type Snapshot = { headend: IspCounters[]; tailend: IspCounters[] };

async function counters(lab: Lab): Promise<Snapshot> {
  const [headend, tailend] = await Promise.all(
    (['headend', 'tailend'] as const).map(async (r) => (await lab.api(r).get<{ isps: IspCounters[] }>('/v1/stats')).isps),
  );
  return { headend: headend!, tailend: tailend! };
}

function counterTable(a: Snapshot, b: Snapshot): [string[], string[][]] {
  const delta = (r: 'headend' | 'tailend', isp: string, pick: (c: IspCounters) => { packets: string; bytes: string }) => {
    const x = b[r].find((c) => c.isp === isp);
    const y = a[r].find((c) => c.isp === isp);
    const px = x ? pick(x) : { packets: '0', bytes: '0' };
    const py = y ? pick(y) : { packets: '0', bytes: '0' };
    return `${BigInt(px.packets) - BigInt(py.packets)} / ${fmtBytes(Number(BigInt(px.bytes) - BigInt(py.bytes)))}`;
  };
  const rows = ISPS.map((i) => [
    i,
    delta('headend', i, (c) => c.up.in),
    delta('tailend', i, (c) => c.up.out),
    delta('tailend', i, (c) => c.down.in),
    delta('headend', i, (c) => c.down.out),
  ]);
  return [['ISP', 'headend up in', 'tailend up out', 'tailend down in', 'headend down out'], rows];
}

function keepNotes(lab: Lab): string {
  const lines = ['  Each router\'s API and /metrics (from this host, over the management links):'];
  for (const r of ROUTERS) {
    const d = lab.daemon(r);
    lines.push(`    ${r.padEnd(8)} ${d.url}/metrics    CLI: fecflow --socket ${d.socket} --token-file ${d.tokenFile} labels show`);
  }
  lines.push(`  Hosts: nsenter --net=/run/netns/${lab.names.userNs('alice')} ping ${INTERNET.v4}   (namespaces: ${lab.names.namespaces.join(' ')})`);
  lines.push(`  Status: fecflow lab status --name ${lab.name}     Tear down: fecflow lab down --name ${lab.name}`);
  return lines.join('\n');
}

function fmtBytes(n: number): string {
  if (n < 10_000) return `${n} B`;
  if (n < 10_000_000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}
