// `fecflow session open|close|list|show`: subscriber sessions with their ISP. Opening asks the
// ISP's RADIUS server first when the ISP has one; a session-admitted subscriber forwards only
// while its session is open.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, table } from '../output.js';
import { readInput } from './common.js';

interface SessionView {
  id: string;
  subscriber: string;
  isp: string;
  username: string | null;
  state: string;
  openedAt: string;
  closedAt: string | null;
  cause: string | null;
  expiresAt: string | null;
  interimInterval: number;
  rate: { up?: number; down?: number } | null;
  usage: { up: { octets: string; packets: string }; down: { octets: string; packets: string } };
  records: number;
}

interface RecordView {
  seq: number;
  kind: string;
  at: string;
  sessionTime: number;
  up: { octets: string; packets: string };
  down: { octets: string; packets: string };
  radius: { sent: boolean; sentAt: string | null; attempts: number } | null;
}

const rate = (r: SessionView['rate']): string => (r ? `up ${r.up ?? '-'} / down ${r.down ?? '-'} bit/s` : '-');

function describe(s: SessionView): string {
  const lines: Array<[string, string]> = [
    ['session', s.id],
    ['subscriber', s.subscriber],
    ['isp', s.isp],
    ['user-name', s.username ?? '-'],
    ['state', s.state + (s.cause ? ` (${s.cause})` : '')],
    ['opened', s.openedAt],
    ['closed', s.closedAt ?? '-'],
    ['expires', s.expiresAt ?? '-'],
    ['interim', s.interimInterval ? `${s.interimInterval} s` : 'none'],
    ['rate', rate(s.rate)],
    ['up', `${s.usage.up.octets} B, ${s.usage.up.packets} packets`],
    ['down', `${s.usage.down.octets} B, ${s.usage.down.packets} packets`],
  ];
  return lines.map(([k, v]) => `${k.padEnd(11)} ${v}\n`).join('');
}

export const sessionCommand: CommandModule = {
  register(program, ctx) {
    const session = program.command('session').description("subscriber sessions with their ISP (RADIUS admission and accounting)");

    session
      .command('open')
      .description("open a subscriber's session (asks the ISP's RADIUS server when it has one)")
      .argument('<subscriber>', 'subscriber name')
      .option('--username <name>', 'User-Name to send (default: the subscriber name)')
      .option('--password-file <path>', "read the PAP password from this file ('-': stdin); default: the ISP's radius.password")
      .option('--json', 'print JSON')
      .action(async (subscriber: string, o: { username?: string; passwordFile?: string }, cmd: Command) => {
        const body: Record<string, unknown> = { subscriber };
        if (o.username !== undefined) body.username = o.username;
        if (o.passwordFile !== undefined) body.password = readInput(o.passwordFile).replace(/\r?\n$/, '');
        const r = await ctx.client(cmd).send<{ session: SessionView }>('POST', '/v1/sessions', body);
        if (wantsJson(cmd)) return ctx.io.out(json(r.session));
        ctx.io.out(`session ${r.session.id} open for ${r.session.subscriber} with ${r.session.isp}\n`);
      });

    session
      .command('close')
      .description('close a session (Accounting Stop with the final counters)')
      .argument('<id>', 'session id (Acct-Session-Id)')
      .option('--cause <cause>', 'admin-reset (default) or user-request')
      .option('--json', 'print JSON')
      .action(async (id: string, o: { cause?: string }, cmd: Command) => {
        const r = await ctx.client(cmd).send<{ session: SessionView }>('POST', `/v1/sessions/${encodeURIComponent(id)}/close`, o.cause ? { cause: o.cause } : {});
        if (wantsJson(cmd)) return ctx.io.out(json(r.session));
        ctx.io.out(`session ${id} closed: up ${r.session.usage.up.octets} B, down ${r.session.usage.down.octets} B\n`);
      });

    session
      .command('list')
      .description('list sessions (default: those open or closing)')
      .option('--state <state>', 'open, closing, closed or live', 'live')
      .option('--isp <name>', 'only this ISP')
      .option('--subscriber <name>', 'only this subscriber')
      .option('--limit <n>', 'at most this many (newest first)')
      .option('--json', 'print JSON')
      .action(async (o: { state: string; isp?: string; subscriber?: string; limit?: string }, cmd: Command) => {
        const q = new URLSearchParams({ state: o.state });
        if (o.isp) q.set('isp', o.isp);
        if (o.subscriber) q.set('subscriber', o.subscriber);
        if (o.limit) q.set('limit', o.limit);
        const r = await ctx.client(cmd).get<{ sessions: SessionView[] }>(`/v1/sessions?${q}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r.sessions));
        ctx.io.out(
          table(
            ['session', 'subscriber', 'isp', 'state', 'opened', 'up B', 'down B'],
            r.sessions.map((s) => [s.id, s.subscriber, s.isp, s.state, s.openedAt, s.usage.up.octets, s.usage.down.octets]),
          ),
        );
      });

    session
      .command('show')
      .description('show a session and its accounting records')
      .argument('<id>', 'session id (Acct-Session-Id)')
      .option('--json', 'print JSON')
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const r = await ctx.client(cmd).get<{ session: SessionView; records: RecordView[] }>(`/v1/sessions/${encodeURIComponent(id)}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(describe(r.session));
        ctx.io.out(
          '\n' +
            table(
              ['seq', 'record', 'at', 'time s', 'up B', 'down B', 'radius'],
              r.records.map((x) => [x.seq, x.kind, x.at, x.sessionTime, x.up.octets, x.down.octets, x.radius ? (x.radius.sent ? 'answered' : `pending (${x.radius.attempts} tries)`) : '-']),
            ),
        );
      });
  },
};
