// `fecflow ldp neighbors|bindings|discovery [--json]`: the LDP speaker's state as an operator
// reads it, from the daemon's `/v1/ldp/...` routes (the JSON shapes of control/ldp/speaker.ts);
// `fecflow ldp relabel FEC` gives one of this node's FECs a new local label without loss.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, table } from '../output.js';
import type { BindingView } from '../../ldp/lib.js';
import type { DiscoveryView, NeighborView } from '../../ldp/speaker.js';

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

function uptime(since: string | null, now: number): string {
  if (!since) return '-';
  let s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s - m * 60).padStart(2, '0')}`;
}

export function neighborsTable(rows: NeighborView[], now = Date.now()): string {
  return table(
    ['neighbor', 'transport', 'state', 'role', 'uptime', 'sent', 'received', 'errors', 'last error'],
    rows.map((n) => [n.neighborId, n.transportAddress, n.state, n.role, uptime(n.upSince, now), total(n.messagesSent), total(n.messagesReceived), total(n.notificationsSent), n.lastError]),
  );
}

/** one row per FEC and neighbour, like FRR's `show mpls ldp binding` */
export function bindingsTable(rows: BindingView[]): string {
  const label = (l: number | null): string => (l === null ? '-' : l === 3 ? 'imp-null' : String(l));
  const out: string[][] = [];
  for (const b of rows) {
    const local = b.egress ? `${label(b.localLabel)} (egress)` : label(b.localLabel);
    if (b.remote.length === 0) out.push([b.prefix, local, '-', '-', 'no']);
    for (const r of b.remote) out.push([b.prefix, local, r.neighborId, label(r.remoteLabel), r.inUse ? 'yes' : 'no']);
  }
  return table(['fec', 'local label', 'neighbor', 'remote label', 'in use'], out);
}

export function discoveryTable(d: DiscoveryView): string {
  const head = `LSR ID ${d.lsrId}, transport address ${d.transportAddress}\n`;
  const ifs = table(['interface', 'address', 'hello interval', 'hold time'], d.interfaces.map((i) => [i.name, i.address, `${i.helloInterval} s`, `${i.holdTime} s`]));
  const adj = table(['neighbor', 'interface', 'source', 'transport', 'hold time', 'expires in'], d.adjacencies.map((a) => [a.neighborId, a.interface, a.source, a.transportAddress, `${a.holdTime} s`, `${(a.expiresInMs / 1000).toFixed(1)} s`]));
  return `${head}\n${ifs}\n${adj}`;
}

export const ldpCommand: CommandModule = {
  register(program, ctx) {
    const ldp = program.command('ldp').description("the LDP speaker's neighbours, label bindings and discovery");
    ldp
      .command('neighbors')
      .description('LDP sessions: state, role, uptime, messages, Notifications')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ neighbors: NeighborView[] }>('/v1/ldp/neighbors');
        ctx.io.out(wantsJson(cmd) ? json(r.neighbors) : neighborsTable(r.neighbors));
      });
    ldp
      .command('bindings')
      .description('FEC, local label, remote label per neighbour, and which one is in use')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ bindings: BindingView[] }>('/v1/ldp/bindings');
        ctx.io.out(wantsJson(cmd) ? json(r.bindings) : bindingsTable(r.bindings));
      });
    ldp
      .command('discovery')
      .description('LDP interfaces and Hello adjacencies')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ discovery: DiscoveryView }>('/v1/ldp/discovery');
        ctx.io.out(wantsJson(cmd) ? json(r.discovery) : r.discovery ? discoveryTable(r.discovery) : 'the LDP speaker is not running yet\n');
      });
    ldp
      .command('relabel <fec>')
      .description("give a FEC a new local label, make-before-break (installed before it is advertised; the old one kept until peers release it)")
      .option('--json', 'print JSON')
      .action(async (fec: string, _o, cmd: Command) => {
        const r = await ctx.client(cmd).send<{ fec: string; from: number; to: number }>('POST', '/v1/ldp/relabel', { fec });
        ctx.io.out(wantsJson(cmd) ? json(r) : `${r.fec}: local label ${r.from} -> ${r.to}\n`);
      });
  },
};
