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
  name?: string;
  deliver?: { interface?: string; mac?: string; vlan?: { outer: number; inner?: number; tpid?: string }; addresses?: string[] };
}

function deliveryText(d: SubRow['deliver']): string {
  if (!d) return '-';
  const parts: string[] = [];
  if (d.interface) parts.push(d.interface);
  if (d.vlan) parts.push(`vlan ${d.vlan.outer}${d.vlan.inner ? `.${d.vlan.inner}` : ''}`);
  if (d.mac) parts.push(d.mac);
  if (d.addresses?.length) parts.push(d.addresses.join(' '));
  return parts.join(' ');
}

interface DeliveryFlags {
  name?: string;
  deliverInterface?: string;
  deliverMac?: string;
  deliverVlan?: string;
  deliverAddress?: string[];
}

function addDeliveryOptions(c: Command): Command {
  return c
    .option('--name <name>', 'the subscriber\'s name (default: made from the match)')
    .option('--deliver-interface <if>', 'return path: the access port to deliver on (default: the match\'s VLAN port)')
    .option('--deliver-mac <mac>', 'return path: destination MAC (default: the matched MAC)')
    .option('--deliver-vlan <outer[:inner]>', 'return path: VLAN tag(s) to put back (default: the matched VLAN)')
    .option('--deliver-address <prefix>', 'return path: a prefix whose downstream traffic goes to this subscriber (repeatable; default: the matched prefix)', (v: string, prev: string[] = []) => [...prev, v]);
}

/** The API's name and deliver fields from the flags (nothing when none was given). */
function deliveryFrom(cmd: Command, o: DeliveryFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.name !== undefined) out.name = o.name;
  const d: Record<string, unknown> = {};
  if (o.deliverInterface !== undefined) d.interface = o.deliverInterface;
  if (o.deliverMac !== undefined) d.mac = o.deliverMac;
  if (o.deliverVlan !== undefined) {
    const m = /^(\d{1,4})(?::(\d{1,4}))?$/.exec(o.deliverVlan);
    if (!m) cmd.error(`error: --deliver-vlan '${o.deliverVlan}' is not OUTER[:INNER]`, { exitCode: 2, code: 'commander.usage' });
    d.vlan = m[2] !== undefined ? { outer: Number(m[1]), inner: Number(m[2]) } : { outer: Number(m[1]) };
  }
  if (o.deliverAddress?.length) d.addresses = o.deliverAddress;
  if (Object.keys(d).length) out.deliver = d;
  return out;
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
        ctx.io.out(table(['name', 'match', 'value', 'isp', 'delivery'], r.subscribers.map((s) => [s.name ?? '', ...matchText(s.match), s.isp, deliveryText(s.deliver)])));
      });

    const change = (name: string, description: string, path: string, verb: string): void => {
      addDeliveryOptions(addMatchOptions(sub.command(name).description(description)))
        .requiredOption('--isp <name>', 'the ISP')
        .option('--dry-run', 'show the map changes without making them')
        .option('--json', 'print the result as JSON')
        .action(async (o: MatchFlags & DeliveryFlags & { isp: string; dryRun?: boolean }, cmd: Command) => {
          const match = matchFrom(cmd, o);
          const r = await ctx.client(cmd).send<ChangeResult>('POST', path, { subscriber: { ...match, isp: o.isp, ...deliveryFrom(cmd, o) }, dryRun: o.dryRun === true });
          const [k, v] = matchText(match as SubRow['match']);
          printChange(ctx.io, cmd, r, `${verb} subscriber ${k} ${v} to ${o.isp}`);
        });
    };
    change('assign', 'add a subscriber to an ISP', '/v1/subscribers', 'assigned');
    change('move', 'move an existing subscriber to another ISP (one classifier write); delivery flags replace its return path', '/v1/subscribers/move', 'moved');

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
      .description(
        'assign or move many subscribers from a CSV file, all or nothing (columns: mac|vlan|prefix, isp; optional: name, deliver_interface, deliver_mac, deliver_vlan, deliver_addresses)',
      )
      .argument('<file>', 'CSV file with a header row, or - for stdin')
      .option('--replace', 'also remove the subscribers the file does not list')
      .option('--allow-empty', 'with --replace: a file with no rows removes every subscriber (refused otherwise)')
      .option('--dry-run', 'validate and show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (file: string, o: { replace?: boolean; allowEmpty?: boolean; dryRun?: boolean }, cmd: Command) => {
        const parsed = parseSubscriberCsv(readInput(file));
        if (parsed.errors.length) {
          const shown = parsed.errors.slice(0, 20);
          throw new CliError(
            `${file}: ${parsed.errors.length} bad row(s)${parsed.errors.length > shown.length ? ` (the first ${shown.length} listed)` : ''}; nothing was imported`,
            1,
            shown.map((e) => ({ path: `line ${e.line}`, message: e.message })),
          );
        }
        if (o.replace && parsed.rows.length === 0 && !o.allowEmpty) {
          throw new CliError(`${file} has no rows: with --replace that would remove every subscriber; nothing was changed (add --allow-empty to mean it)`, 1);
        }
        const bar = new ProgressBar(ctx.io, 'uploading', parsed.rows.length);
        let r: ChangeResult;
        try {
          r = await ctx.client(cmd).send<ChangeResult>(
            'POST',
            '/v1/subscribers/import',
            { subscribers: parsed.rows, replace: o.replace === true, allowEmpty: o.allowEmpty === true, dryRun: o.dryRun === true },
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
