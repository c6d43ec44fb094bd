// `fecflow status`, `fecflow detach`, `fecflow token rotate`.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';

interface Status {
  node: string | null;
  ready: boolean;
  detached: boolean;
  configPath: string;
  uptimeSeconds: number;
  programs: Array<{ ifname: string; role: string; mode: string; progId: number; tag: string }>;
  tables: Record<string, number>;
  isps: number;
  subscribers: number;
  lastReconcile: { at: string; ok: boolean; trigger: string; error: string | null; durationMs: number } | null;
}

export const adminCommands: CommandModule = {
  register(program, ctx) {
    program
      .command('status')
      .description('programs and attach modes, table sizes, last reconcile')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const s = await ctx.client(cmd).get<Status>('/v1/status');
        if (wantsJson(cmd)) return ctx.io.out(json(s));
        const rec = s.lastReconcile;
        ctx.io.out(
          `node ${s.node ?? '-'}: ${s.detached ? 'DETACHED' : s.ready ? 'ready' : 'NOT READY'}, up ${s.uptimeSeconds} s, ${s.isps} ISPs, ${s.subscribers} subscribers\n` +
            `config ${s.configPath}\n` +
            `last reconcile: ${rec ? `${rec.ok ? 'ok' : `FAILED (${rec.error})`} at ${rec.at} by ${rec.trigger}, ${rec.durationMs} ms` : 'none yet'}\n\n`,
        );
        if (s.programs.length) ctx.io.out(table(['interface', 'role', 'mode', 'prog id', 'tag'], s.programs.map((p) => [p.ifname, p.role, p.mode, p.progId, p.tag])) + '\n');
        const t = Object.entries(s.tables).filter(([, n]) => n > 0);
        if (t.length) ctx.io.out(table(['table', 'entries'], t.map(([k, n]) => [k, n])));
      });

    program
      .command('detach')
      .description('detach every program of this node and remove its pins (forwarding stops); the daemon exits')
      .option('--yes', 'do not ask (required when stdin is not a terminal)')
      .action(async (o: { yes?: boolean }, cmd: Command) => {
        if (!o.yes) throw new CliError('detach stops forwarding on every interface of this node: run again with --yes to confirm', 2);
        await ctx.client(cmd).send('POST', '/v1/detach');
        ctx.io.out('detached: programs removed from every interface, pins deleted\n');
      });

    const token = program.command('token').description('the API token');
    token
      .command('rotate')
      .description('replace the API token (the old one stops working at once) and print the new one')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).send<{ token: string; path: string }>('POST', '/v1/token/rotate');
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`${r.token}\n`);
        ctx.io.err(`new token written to ${r.path}\n`);
      });
  },
};
