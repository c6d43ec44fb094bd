// `fecflow webhook add|list|remove`: where the daemon posts its events. Webhooks live in the
// registry (not the router file) with a durable outbox: each receives every event it wants that
// happened after it was added, signed with its secret, retried until it answers 2xx.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, table } from '../output.js';
import { readInput } from './common.js';
import type { WebhookInfo } from '../../registry/events.js';


export const webhookCommand: CommandModule = {
  register(program, ctx) {
    const hook = program.command('webhook').description('webhooks: the daemon posts each event to them, HMAC-signed, retried until taken');

    hook
      .command('add')
      .description('add a webhook; prints its signing secret (shown once) unless --secret-file gives one')
      .argument('<name>', 'its name')
      .argument('<url>', 'where to POST events (https:// or http://)')
      .option('--types <list>', 'only these event types, comma-separated (e.g. subscriber.added,subscriber.moved)')
      .option('--isp <name>', 'only this ISP\'s events')
      .option('--secret-file <file>', 'the HMAC secret, from a file (at least 16 characters)')
      .option('--json', 'print JSON')
      .action(async (name: string, url: string, o: { types?: string; isp?: string; secretFile?: string }, cmd: Command) => {
        const body: Record<string, unknown> = { name, url };
        if (o.types) body.types = o.types.split(',').map((t) => t.trim()).filter(Boolean);
        if (o.isp) body.isp = o.isp;
        if (o.secretFile) body.secret = readInput(o.secretFile).trim();
        const r = await ctx.client(cmd).send<{ webhook: WebhookInfo; secret: string }>('POST', '/v1/webhooks', body);
        if (wantsJson(cmd)) return ctx.io.out(json(o.secretFile ? { webhook: r.webhook } : r));
        if (!o.secretFile) ctx.io.out(`${r.secret}\n`);
        ctx.io.err(`webhook '${r.webhook.name}' added: events are posted to ${r.webhook.url} with header X-Fecflow-Signature (HMAC-SHA256)\n`);
      });

    hook
      .command('list')
      .description('webhooks with what each was delivered and is still owed')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ webhooks: WebhookInfo[] }>('/v1/webhooks');
        if (wantsJson(cmd)) return ctx.io.out(json(r.webhooks));
        ctx.io.out(
          table(
            ['name', 'url', 'types', 'isp', 'delivered', 'pending', 'last error'],
            r.webhooks.map((w) => [w.name, w.url, w.types?.join(',') ?? 'all', w.isp ?? 'all', w.delivered, w.pending, w.lastError ?? '-']),
          ),
        );
      });

    hook
      .command('remove')
      .description('remove a webhook (and what it was still owed)')
      .argument('<name>', 'its name')
      .action(async (name: string, _o, cmd: Command) => {
        await ctx.client(cmd).send('DELETE', `/v1/webhooks/${encodeURIComponent(name)}`);
        ctx.io.out(`webhook '${name}' removed\n`);
      });
  },
};
