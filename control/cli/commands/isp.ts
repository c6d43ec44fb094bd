// `fecflow isp list|add|remove|set-rate`: the ISPs sharing this access network.
import { parse as parseYaml } from 'yaml';
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';
import { printChange, readInput, type ChangeResult } from './common.js';

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
      .command('add')
      .description('add an ISP described by a YAML/JSON file (the same fields as an ISP in the config)')
      .argument('<name>', 'ISP name')
      .requiredOption('-f, --file <file>', 'the ISP as YAML or JSON, or - for stdin')
      .option('--dry-run', 'show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (name: string, o: { file: string; dryRun?: boolean }, cmd: Command) => {
        let spec: unknown;
        try {
          spec = parseYaml(readInput(o.file));
        } catch (err) {
          if (err instanceof CliError) throw err;
          throw new CliError(`${o.file} is not valid YAML: ${(err as Error).message}`);
        }
        if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new CliError(`${o.file} must hold one ISP as a mapping`);
        const r = await ctx.client(cmd).send<ChangeResult>('POST', '/v1/isps', { isp: { ...spec, name }, dryRun: o.dryRun === true });
        printChange(ctx.io, cmd, r, `added ISP ${name}`);
      });

    isp
      .command('remove')
      .description('remove an ISP (refused while it has subscribers, unless --force)')
      .argument('<name>', 'ISP name')
      .option('--force', 'also remove its subscribers')
      .option('--dry-run', 'show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (name: string, o: { force?: boolean; dryRun?: boolean }, cmd: Command) => {
        const q = new URLSearchParams();
        if (o.force) q.set('force', 'true');
        if (o.dryRun) q.set('dryRun', 'true');
        const r = await ctx.client(cmd).send<ChangeResult>('DELETE', `/v1/isps/${encodeURIComponent(name)}${q.size ? `?${q}` : ''}`);
        printChange(ctx.io, cmd, r, `removed ISP ${name}`);
      });

    isp
      .command('set-rate')
      .description("set or clear an ISP's committed rate (e.g. 500Mbit) per direction")
      .argument('<name>', 'ISP name')
      .option('--up <rate>', 'upstream rate (end-user to ISP), e.g. 200Mbit')
      .option('--down <rate>', 'downstream rate, e.g. 1Gbit')
      .option('--burst <size>', 'burst size, e.g. 256KB (default: the config default)')
      .option('--unlimited', 'remove the limit (of --direction, default both)')
      .option('--direction <dir>', 'with --unlimited: up, down or both', 'both')
      .option('--dry-run', 'show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (name: string, o: { up?: string; down?: string; burst?: string; unlimited?: boolean; direction: string; dryRun?: boolean }, cmd: Command) => {
        if (!o.unlimited && o.up === undefined && o.down === undefined) {
          cmd.error('error: give --up and/or --down, or --unlimited', { exitCode: 2, code: 'commander.usage' });
        }
        if (!['up', 'down', 'both'].includes(o.direction)) cmd.error("error: --direction is up, down or both", { exitCode: 2, code: 'commander.usage' });
        const dirs = o.direction === 'both' ? ['up', 'down'] : [o.direction];
        const burst = o.burst !== undefined ? { burst: o.burst } : {};
        const body: Record<string, unknown> = { dryRun: o.dryRun === true };
        if (o.unlimited) for (const d of dirs) body[d] = null;
        if (o.up !== undefined) body.up = { rate: o.up, ...burst };
        if (o.down !== undefined) body.down = { rate: o.down, ...burst };
        const r = await ctx.client(cmd).send<ChangeResult>('PUT', `/v1/isps/${encodeURIComponent(name)}/rate`, body);
        printChange(ctx.io, cmd, r, `rate of ${name}`);
      });
  },
};
