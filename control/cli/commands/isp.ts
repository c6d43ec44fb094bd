// `fecflow isp list|set-rate`: the ISPs sharing this access network. ISPs themselves are
// defined in the router file (the operator's); a rate set here is kept in the registry and
// overrides the file's until cleared.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, table } from '../output.js';
import { printChange, type ChangeResult } from './common.js';

interface IspRow {
  name: string;
  index: number;
  up?: { rate: string | number; burst?: string | number };
  down?: { rate: string | number; burst?: string | number };
  subscribers: number;
  spec: Record<string, unknown>;
}

const rateText = (r?: { rate: string | number; burst?: string | number }): string =>
  r ? `${r.rate}${r.burst !== undefined ? ` (burst ${r.burst})` : ''}` : 'unlimited';

export const ispCommand: CommandModule = {
  register(program, ctx) {
    const isp = program.command('isp').description('list and change the ISPs');

    isp
      .command('list')
      .description('list the ISPs with their rate limits and subscriber counts')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ isps: IspRow[] }>('/v1/isps');
        if (wantsJson(cmd)) return ctx.io.out(json(r.isps));
        ctx.io.out(table(['isp', 'index', 'up', 'down', 'subscribers'], r.isps.map((i) => [i.name, i.index, rateText(i.up), rateText(i.down), i.subscribers])));
      });

    isp
      .command('set-rate')
      .description("set or clear an ISP's committed rate (e.g. 500Mbit) per direction")
      .argument('<name>', 'ISP name')
      .option('--up <rate>', 'upstream rate (end-user to ISP), e.g. 200Mbit')
      .option('--down <rate>', 'downstream rate, e.g. 1Gbit')
      .option('--burst <size>', 'burst size, e.g. 256KB (default: the config default)')
      .option('--unlimited', 'remove the limit (of --direction, default both)')
      .option('--direction <dir>', 'with --unlimited or --clear: up, down or both', 'both')
      .option('--clear', "drop the rate set through the API (of --direction), so the router file's rate applies again")
      .option('--dry-run', 'show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (name: string, o: { up?: string; down?: string; burst?: string; unlimited?: boolean; clear?: boolean; direction: string; dryRun?: boolean }, cmd: Command) => {
        if (!o.unlimited && !o.clear && o.up === undefined && o.down === undefined) {
          cmd.error('error: give --up and/or --down, --unlimited, or --clear', { exitCode: 2, code: 'commander.usage' });
        }
        if (!['up', 'down', 'both'].includes(o.direction)) cmd.error("error: --direction is up, down or both", { exitCode: 2, code: 'commander.usage' });
        const dirs = o.direction === 'both' ? ['up', 'down'] : [o.direction];
        const burst = o.burst !== undefined ? { burst: o.burst } : {};
        const body: Record<string, unknown> = { dryRun: o.dryRun === true };
        if (o.unlimited) for (const d of dirs) body[d] = null;
        if (o.clear) body.clear = dirs;
        if (o.up !== undefined) body.up = { rate: o.up, ...burst };
        if (o.down !== undefined) body.down = { rate: o.down, ...burst };
        const r = await ctx.client(cmd).send<ChangeResult>('PUT', `/v1/isps/${encodeURIComponent(name)}/rate`, body);
        printChange(ctx.io, cmd, r, `rate of ${name}`);
      });
  },
};
