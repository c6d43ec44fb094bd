// `fecflow subscriber list|assign|move|remove|import`: which ISP each end-user belongs to.
// A move is one classifier write in the data plane; an import is validated whole and applied
// in one reconcile, so it lands completely or not at all.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, ProgressBar, table } from '../output.js';
import { addMatchOptions, formatVlan, matchFrom, printChange, readInput, type ChangeResult, type MatchFlags, type VlanArg } from './common.js';
import { parseSubscriberCsv } from '../csv.js';

interface SubRow {
  match: { mac?: string; vlan?: VlanArg; prefix?: string };
  isp: string;
}

function matchText(m: SubRow['match']): [string, string] {
  if (m.mac !== undefined) return ['mac', m.mac];
  if (m.vlan !== undefined) return ['vlan', formatVlan(m.vlan)];
  return ['prefix', m.prefix ?? '?'];
}

export const subscriberCommand: CommandModule = {
  register(program, ctx) {
    const sub = program.command('subscriber').alias('sub').description('list and change which ISP each subscriber belongs to');

    sub
      .command('list')
      .description('list subscribers and their ISP')
      .option('--isp <name>', 'only the subscribers of this ISP')
      .option('--json', 'print JSON')
      .action(async (o: { isp?: string }, cmd: Command) => {
        const q = o.isp ? `?isp=${encodeURIComponent(o.isp)}` : '';
        const r = await ctx.client(cmd).get<{ subscribers: SubRow[] }>(`/v1/subscribers${q}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r.subscribers));
        ctx.io.out(table(['match', 'value', 'isp'], r.subscribers.map((s) => [...matchText(s.match), s.isp])));
      });

    const change = (name: string, description: string, path: string, verb: string): void => {
      addMatchOptions(sub.command(name).description(description))
        .requiredOption('--isp <name>', 'the ISP')
        .option('--dry-run', 'show the map changes without making them')
        .option('--json', 'print the result as JSON')
        .action(async (o: MatchFlags & { isp: string; dryRun?: boolean }, cmd: Command) => {
          const match = matchFrom(cmd, o);
          const r = await ctx.client(cmd).send<ChangeResult>('POST', path, { subscriber: { ...match, isp: o.isp }, dryRun: o.dryRun === true });
          const [k, v] = matchText(match as SubRow['match']);
          printChange(ctx.io, cmd, r, `${verb} subscriber ${k} ${v} to ${o.isp}`);
        });
    };
    change('assign', 'add a subscriber to an ISP', '/v1/subscribers', 'assigned');
    change('move', 'move an existing subscriber to another ISP (one classifier write)', '/v1/subscribers/move', 'moved');

    addMatchOptions(sub.command('remove').description('remove a subscriber'))
      .option('--dry-run', 'show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (o: MatchFlags & { dryRun?: boolean }, cmd: Command) => {
        const match = matchFrom(cmd, o);
        const r = await ctx.client(cmd).send<ChangeResult>('POST', '/v1/subscribers/remove', { match, dryRun: o.dryRun === true });
        const [k, v] = matchText(match as SubRow['match']);
        printChange(ctx.io, cmd, r, `removed subscriber ${k} ${v}`);
      });

    sub
      .command('import')
      .description('assign or move many subscribers from a CSV file (columns: mac|vlan|prefix, isp), all or nothing')
      .argument('<file>', 'CSV file with a header row, or - for stdin')
      .option('--replace', 'also remove the subscribers the file does not list')
      .option('--dry-run', 'validate and show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (file: string, o: { replace?: boolean; dryRun?: boolean }, cmd: Command) => {
        const parsed = parseSubscriberCsv(readInput(file));
        if (parsed.errors.length) {
          throw new CliError(
            `${file}: ${parsed.errors.length} bad row(s); nothing was imported`,
            1,
            parsed.errors.slice(0, 20).map((e) => ({ path: `line ${e.line}`, message: e.message })),
          );
        }
        const bar = new ProgressBar(ctx.io, 'uploading', parsed.rows.length);
        let r: ChangeResult;
        try {
          r = await ctx.client(cmd).send<ChangeResult>(
            'POST',
            '/v1/subscribers/import',
            { subscribers: parsed.rows, replace: o.replace === true, dryRun: o.dryRun === true },
            (sent, total) => bar.update(Math.floor((sent / total) * parsed.rows.length)),
          );
        } catch (err) {
          bar.done();
          // Map 'subscribers[17].mac' back to the CSV line it came from.
          if (err instanceof CliError) {
            for (const i of err.issues) {
              const m = /^subscribers\[(\d+)\](.*)$/.exec(i.path);
              if (m) i.path = `line ${parsed.rows[Number(m[1])] ? parsed.lines[Number(m[1])] : '?'}${m[2] ? ` (${m[2].replace(/^\./, '')})` : ''}`;
            }
          }
          throw err;
        }
        bar.done(`${parsed.rows.length} rows sent, reconciled`);
        const s = r.summary as { added: number; moved: number; removed: number; unchanged: number } | undefined;
        printChange(ctx.io, cmd, r, `imported ${parsed.rows.length} subscribers${s ? ` (${s.added} added, ${s.moved} moved, ${s.removed} removed, ${s.unchanged} unchanged)` : ''}`);
      });
  },
};
