// LDP in the lab (`lab up --ldp`): the labels each router learned, and a live change of the
// tailend's label for one ISP while an end-user of that ISP streams to it — the measure of
// make-before-break: every packet sent arrives, before, during and after the change.
import type { Lab } from './lab.js';
import { Receiver, Sender, tallyOf } from './traffic.js';
import { INTERNET, ROUTERS, USER_PLAN, USERS, ldpFecs, type IspName, type RouterName } from './topology.js';

export interface LearnedRow {
  router: RouterName | 'frr';
  fec: string;
  isp: string;
  local: string;
  remote: string;
}

interface Binding {
  prefix: string;
  egress: boolean;
  localLabel: number | null;
  remote: Array<{ neighborId: string; remoteLabel: number; inUse: boolean }>;
}

const labelText = (l: number | null | undefined): string => (l === null || l === undefined ? '-' : l === 3 ? 'imp-null' : String(l));

/** Every ISP FEC as each router holds it: its local label and the label in use from downstream. */
export async function learnedLabels(lab: Lab, isps: readonly IspName[]): Promise<LearnedRow[]> {
  const rows: LearnedRow[] = [];
  const fecs = new Map<string, string>();
  for (const i of isps) {
    const f = ldpFecs(i);
    fecs.set(f.upstream, `${i} up`);
    fecs.set(f.downstream, `${i} down`);
  }
  for (const r of ROUTERS) {
    const b = (await lab.api(r).get<{ bindings: Binding[] }>('/v1/ldp/bindings')).bindings;
    for (const x of b) {
      const isp = fecs.get(x.prefix);
      if (!isp) continue;
      const used = x.remote.find((y) => y.inUse);
      rows.push({ router: r, fec: x.prefix, isp, local: x.egress ? `${labelText(x.localLabel)} (egress)` : labelText(x.localLabel), remote: used ? `${labelText(used.remoteLabel)} from ${used.neighborId}` : '-' });
    }
  }
  try {
    const frr = JSON.parse(lab.frr('show mpls ldp binding json')) as { bindings: Array<{ prefix: string; neighborId: string; localLabel: string; remoteLabel: string; inUse: number }> };
    for (const x of frr.bindings) {
      const isp = fecs.get(x.prefix);
      if (!isp || x.neighborId === '0.0.0.0') continue;
      rows.push({ router: 'frr', fec: x.prefix, isp, local: x.localLabel, remote: `${x.remoteLabel} from ${x.neighborId}${x.inUse ? '' : ' (kept, not used)'}` });
    }
  } catch {
    /* FRR's view is a bonus; its absence is shown as no rows */
  }
  return rows;
}

export interface RelabelResult {
  isp: IspName;
  user: string;
  fec: string;
  from: number;
  to: number;
  /** the lsr's swap for the FEC before and after */
  lsrBefore: number | null;
  lsrAfter: number | null;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  /** the old label's entry left the tailend's ILM (released by the lsr) */
  oldRemoved: boolean;
}

async function lsrSwapFor(lab: Lab, label: number | null): Promise<number | null> {
  const s = await lab.ldpStatus('lsr');
  return s.tables.ilm.find((e) => e.label === label)?.labels?.[0] ?? null;
}

/**
 * An end-user now with `isp` streams to the internet at `rate` pkt/s; after 1 s the tailend gives the
 * ISP's hand-off FEC a new label (POST /v1/ldp/relabel), and the stream goes on for 1.5 s more.
 */
export async function liveRelabel(lab: Lab, isp: IspName, o: { rate?: number; port?: number; say?: (s: string) => void } = {}): Promise<RelabelResult> {
  // an end-user the headend now assigns to the ISP (the demo has moved alice by then)
  const assignment = await lab.assignment();
  const user = USERS.find((u) => assignment[u] === isp);
  if (!user) throw new Error(`no end-user is with ${isp} now`);
  const fec = ldpFecs(isp).upstream;
  const port = o.port ?? 7100;
  const lsrLocal = (await lab.api('lsr').get<{ bindings: Binding[] }>('/v1/ldp/bindings')).bindings.find((b) => b.prefix === fec)?.localLabel ?? null;
  const lsrBefore = await lsrSwapFor(lab, lsrLocal);
  const receiver = new Receiver(lab.names.ispNs(isp), port, { bind: [INTERNET.v4] });
  await receiver.ready;
  const stream = 77;
  const sender = new Sender(lab.names.userNs(user), { to: INTERNET.v4, port, rate: o.rate ?? 2000, seconds: 60, stream, echoWaitMs: 200 });
  await sender.ready;
  let r: { fec: string; from: number; to: number };
  try {
    await new Promise((res) => setTimeout(res, 1000));
    o.say?.(`$ fecflow ldp relabel ${fec}    (on the tailend)`);
    r = await lab.api('tailend').send<{ fec: string; from: number; to: number }>('POST', '/v1/ldp/relabel', { fec });
    o.say?.(`${r.fec}: local label ${r.from} -> ${r.to}`);
    await new Promise((res) => setTimeout(res, 1500));
  } finally {
    void sender.stop();
  }
  const s = await sender.report;
  const got = tallyOf(await receiver.stop(), USER_PLAN[user].host.v4, stream);
  const lsrAfter = await lsrSwapFor(lab, lsrLocal);
  const te = await lab.ldpStatus('tailend');
  return {
    isp,
    user,
    fec,
    from: r.from,
    to: r.to,
    lsrBefore,
    lsrAfter,
    sent: s.sent,
    received: got.unique,
    lost: s.sent - got.unique,
    duplicates: got.duplicates,
    oldRemoved: !te.tables.ilm.some((e) => e.label === r.from),
  };
}
