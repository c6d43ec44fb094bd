// `fecflow fec show` and `fecflow labels show`: the FECs this router pushes and its incoming
// label map, with next hops by interface name and per-label counters.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, si, table } from '../output.js';

interface NhRow {
  id: number;
  ifname: string | null;
  dmac: string | null;
  vid: number;
}
interface FecRow {
  isp: string;
  prefix?: string;
  labels: number[];
  tc: number;
  nexthops: NhRow[];
}
interface LabelRow {
  label: number;
  action: string;
  outLabels?: number[];
  isp?: string;
  nexthops?: NhRow[];
  /** 64-bit counters as decimal strings; null when the counters could not be read */
  packets: string | null;
  bytes: string | null;
}

const nhText = (n: NhRow[] | undefined): string =>
  n && n.length ? n.map((x) => `${x.ifname ?? `#${x.id}`}${x.vid ? `.${x.vid}` : ''} ${x.dmac ?? ''}`.trim()).join(', ') : '-';

export const showCommands: CommandModule = {
  register(program, ctx) {
    program
      .command('fec')
      .description('forwarding equivalence classes')
      .command('show')
      .description('the label stacks pushed per ISP (upstream) and per ISP route (downstream)')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ upstream: FecRow[]; ispRoutes: FecRow[] }>('/v1/fecs');
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        const rows = [
          ...r.upstream.map((f) => ['up', f.isp, '-', f.labels.join('/'), f.tc, nhText(f.nexthops)]),
          ...r.ispRoutes.map((f) => ['down', f.isp, f.prefix ?? '-', f.labels.join('/'), f.tc, nhText(f.nexthops)]),
        ];
        if (!rows.length) return ctx.io.out('no FECs on this router\n');
        ctx.io.out(table(['dir', 'isp', 'prefix', 'labels', 'tc', 'next hops'], rows));
      });

    program
      .command('labels')
      .description('the incoming label map (ILM)')
      .command('show')
      .description('incoming labels, their action and counters')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ labels: LabelRow[] }>('/v1/labels');
        if (wantsJson(cmd)) return ctx.io.out(json(r.labels));
        if (!r.labels.length) return ctx.io.out('no incoming labels on this router\n');
        ctx.io.out(
          table(
            ['label', 'action', 'out labels', 'isp', 'next hops', 'packets', 'bytes'],
            r.labels.map((l) => [l.label, l.action, l.outLabels?.join('/') ?? '-', l.isp ?? '-', nhText(l.nexthops), l.packets, l.bytes === null ? null : si(Number(l.bytes), 'B')]),
          ),
        );
      });
  },
};
