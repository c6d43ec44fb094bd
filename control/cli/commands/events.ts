// `fecflow events`: the node's event log, as the calling token may see it (an isp: token only
// its ISP's). Pages after --after SEQ; --follow keeps asking for what came after the last one
// printed, so nothing is missed across pages. (Programs that want a push use GET /v1/events
// as Server-Sent Events, or a webhook.)
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';

interface EventRow {
  id: string;
  seq: number;
  at: string;
  type: string;
  isp: string | null;
  subject: string;
  data: Record<string, unknown>;
}

export const eventsCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('events')
      .description('the event log: subscribers added/moved/removed, reconcile failed/recovered, ... (oldest first)')
      .option('--after <seq>', 'events after this sequence number (default: every event kept)')
      .option('--types <list>', 'only these types, comma-separated')
      .option('--follow', 'keep printing new events as they come (Ctrl-C ends)')
      .option('--interval <seconds>', 'with --follow: how often to ask', '1')
      .option('--json', 'one JSON object per line')
      .action(async (o: { after?: string; types?: string; follow?: boolean; interval: string }, cmd: Command) => {
        if (o.after !== undefined && !/^\d{1,15}$/.test(o.after)) throw new CliError('--after takes an event sequence number', 2);
        const every = Number(o.interval);
        if (!(every > 0 && every <= 3600)) throw new CliError('--interval takes seconds, 0 < s <= 3600', 2);
        const client = ctx.client(cmd);
        const json = wantsJson(cmd);
        const types = o.types ? `&types=${encodeURIComponent(o.types)}` : '';
        let after = o.after !== undefined ? Number(o.after) : 0;
        for (;;) {
          const page = await client.get<{ events: EventRow[]; last: number }>(`/v1/events?after=${after}&limit=1000${types}`);
          for (const e of page.events) {
            ctx.io.out(json ? `${JSON.stringify(e)}\n` : `${e.seq}  ${e.at}  ${e.type.padEnd(20)} ${(e.isp ?? '-').padEnd(12)} ${e.subject}\n`);
          }
          if (page.last !== after) {
            after = page.last;
            continue;
          }
          if (!o.follow) return;
          await new Promise((r) => setTimeout(r, every * 1000));
        }
      });
  },
};
