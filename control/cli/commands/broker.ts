// The broker's commands: `fecflow provider add|list|show|revoke`, `fecflow cpe
// enrol|list|show|revoke`, `fecflow broker sessions|close|stats|key`, `fecflow bill`, and the
// device side, `fecflow agent enrol|run|status|close`.
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { CommandModule, CliContext } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';
import { resolveClientOptions, DEFAULT_URL } from '../client.js';
import { billCsv, type Bill } from '../../broker/billing.js';
import { Agent, DeviceError } from '../../broker/agent.js';
import type { SessionView } from '../../broker/broker.js';
import { TRAFFIC_TYPES } from '../../daemon/usage.js';

export const DEFAULT_AGENT_DIR = '/var/lib/fecflow-agent';

const usage = (cmd: Command, msg: string): never => cmd.error(`error: ${msg}`, { exitCode: 2, code: 'commander.usage' });

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function trafficList(v: string): string[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of list) if (!(TRAFFIC_TYPES as readonly string[]).includes(t)) throw new InvalidArgumentError(`'${t}' is not a traffic type (${TRAFFIC_TYPES.join(', ')})`);
  return list;
}

function int(v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new InvalidArgumentError(`'${v}' is not a whole number`);
  return Number(v);
}

/** --per-gb 0.50 (every type) or --per-gb ipv4_udp=0.20 (one type), repeatable. */
function perGbOf(cmd: Command, list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const m = /^(?:([a-z0-9_]+|\*)=)?(.+)$/.exec(item)!;
    out[m[1] ?? '*'] = m[2]!;
  }
  void cmd;
  return out;
}

type SessionRow = SessionView & { usage?: { seconds: number; up: { bytes: string }; down: { bytes: string } } };

function sessionTable(rows: SessionRow[]): string {
  return table(
    ['session', 'cpe', 'provider', 'state', 'opened', 'expires', 'renewals', 'seconds', 'up bytes', 'down bytes', 'cause'],
    rows.map((s) => [s.id, s.cpe, s.provider, s.state, s.openedAt, s.expiresAt, s.renewals, s.usage?.seconds, s.usage?.up.bytes, s.usage?.down.bytes, s.cause]),
  );
}

function agentDir(o: { dir?: string }, ctx: CliContext): string {
  return o.dir ?? ctx.env.FECFLOW_AGENT_DIR ?? DEFAULT_AGENT_DIR;
}

/** `fecflow provider|cpe revoke NAME` */
function revokeCommand(ctx: CliContext, parent: Command, what: string, collection: string, description: string): void {
  parent
    .command('revoke')
    .description(description)
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, _o, cmd: Command) => {
      const r = await ctx.client(cmd).send('POST', `/v1/broker/${collection}/${encodeURIComponent(name)}/revoke`, {});
      if (wantsJson(cmd)) return ctx.io.out(json(r));
      ctx.io.out(`${what} ${name} revoked; ${r.closed} session(s) closed\n`);
    });
}

/** The agent enrolled in --dir, or a one-line error. */
function loadAgent(o: { dir?: string }, ctx: CliContext): Agent {
  try {
    return Agent.load(agentDir(o, ctx));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function deviceError(err: unknown): never {
  if (err instanceof DeviceError) throw new CliError(`${err.message}${err.code && err.status ? ` (${err.code})` : ''}`);
  throw err;
}

export const brokerCommands: CommandModule = {
  register(program, ctx) {
    // ---- providers ----
    const provider = program.command('provider').description('register providers (ISPs of the router file, or other service providers) with the broker');
    provider
      .command('add')
      .description('register a provider with its plan, tariff and whom to bill')
      .argument('<name>', 'provider name (an ISP of the router file for --kind isp)')
      .option('--kind <kind>', 'isp or asp', 'isp')
      .requiredOption('--currency <code>', 'currency of the tariff, e.g. EUR')
      .option('--per-gb <price>', 'price per GB (10^9 bytes), for every traffic type or TYPE=PRICE for one (repeatable)', collect, [])
      .option('--per-minute <price>', 'price per session minute', '0')
      .option('--monthly <price>', 'monthly fee per subscriber (CPE) that used the provider', '0')
      .option('--bill-to <who>', 'cpe (each device is billed) or provider (the provider is billed for its devices)', 'cpe')
      .option('--up <rate>', "plan's upstream rate, e.g. 100Mbit")
      .option('--down <rate>', "plan's downstream rate, e.g. 1Gbit")
      .option('--traffic <types>', `traffic types the plan allows, comma separated (default all: ${TRAFFIC_TYPES.join(', ')})`, trafficList)
      .option('--token-ttl <seconds>', 'lifetime of a session token', int)
      .option('--webhook <url>', 'ask the provider to accept each session at this URL (HTTPS; plain HTTP only to loopback)')
      .option('--webhook-secret-file <path>', "file holding the webhook's HMAC secret (or set FECFLOW_WEBHOOK_SECRET)")
      .option('--json', 'print JSON')
      .action(async (name: string, o: Record<string, any>, cmd: Command) => {
        if (!['isp', 'asp'].includes(o.kind)) usage(cmd, '--kind is isp or asp');
        if (!['cpe', 'provider'].includes(o.billTo)) usage(cmd, '--bill-to is cpe or provider');
        let webhook: { url: string; secret: string } | undefined;
        if (o.webhook) {
          let secret = ctx.env.FECFLOW_WEBHOOK_SECRET;
          if (o.webhookSecretFile) {
            try {
              secret = readFileSync(o.webhookSecretFile, 'utf8').trim();
            } catch (err) {
              throw new CliError(`cannot read ${o.webhookSecretFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
            }
          }
          if (!secret) usage(cmd, '--webhook needs a secret: --webhook-secret-file FILE or FECFLOW_WEBHOOK_SECRET');
          webhook = { url: o.webhook, secret: secret! };
        }
        const plan: Record<string, unknown> = {};
        if (o.up) plan.up = o.up;
        if (o.down) plan.down = o.down;
        if (o.traffic) plan.traffic = o.traffic;
        const profile: Record<string, unknown> = {
          plan,
          tariff: { currency: o.currency, perGb: perGbOf(cmd, o.perGb), perMinute: o.perMinute, monthly: o.monthly },
          billTo: o.billTo,
        };
        if (o.tokenTtl !== undefined) profile.tokenTtl = o.tokenTtl;
        const r = await ctx.client(cmd).send('POST', '/v1/broker/providers', { name, kind: o.kind, profile, ...(webhook ? { webhook } : {}) });
        if (wantsJson(cmd)) return ctx.io.out(json(r.provider));
        ctx.io.out(`provider ${name} registered (${o.kind}, billed to ${o.billTo})\n`);
      });
    provider
      .command('list')
      .description('list the providers')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get('/v1/broker/providers');
        if (wantsJson(cmd)) return ctx.io.out(json(r.providers));
        ctx.io.out(
          table(
            ['provider', 'kind', 'bill to', 'currency', 'monthly', 'per minute', 'webhook', 'state'],
            r.providers.map((p: any) => [p.name, p.kind, p.profile.billTo, p.profile.tariff.currency, p.profile.tariff.monthly, p.profile.tariff.perMinute, p.webhook?.url ?? '-', p.revokedAt ? `revoked ${p.revokedAt}` : 'active']),
          ),
        );
      });
    provider
      .command('show')
      .description("show a provider's profile and open sessions")
      .argument('<name>')
      .option('--json', 'print JSON')
      .action(async (name: string, _o, cmd: Command) => {
        const r = await ctx.client(cmd).get(`/v1/broker/providers/${encodeURIComponent(name)}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        const p = r.provider;
        ctx.io.out(`provider ${p.name} (${p.kind})${p.revokedAt ? `, revoked ${p.revokedAt}` : ''}\n`);
        ctx.io.out(`  plan: up ${p.profile.plan.up ?? 'unlimited'}, down ${p.profile.plan.down ?? 'unlimited'}, traffic ${p.profile.plan.traffic.join(',')}\n`);
        const t = p.profile.tariff;
        const perGb = Object.entries(t.perGb).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
        ctx.io.out(`  tariff (${t.currency}): monthly ${t.monthly}, per minute ${t.perMinute}, per GB ${perGb}; billed to ${p.profile.billTo}\n`);
        ctx.io.out(`  tokens last ${p.profile.tokenTtl} s; webhook ${p.webhook?.url ?? 'none (accepts per profile)'}\n`);
        ctx.io.out(r.sessions.length ? sessionTable(r.sessions) : '  no open sessions\n');
      });
    revokeCommand(ctx, provider, 'provider', 'providers', 'revoke a provider: no new sessions, its open sessions close');

    // ---- CPEs ----
    const cpe = program.command('cpe').description('customer devices (CPE) registered with the broker');
    cpe
      .command('enrol')
      .description('register a device and print its one-time enrolment code')
      .requiredOption('--name <name>', 'the device name')
      .requiredOption('--isp <isp>', "the ISP of the device's line when it has no session")
      .option('--subscriber <name>', "the node's subscriber that is this device's line (default: --name)")
      .option('--code-ttl <seconds>', 'how long the code is good for (default 86400)', int)
      .option('--json', 'print JSON')
      .action(async (o: { name: string; isp: string; subscriber?: string; codeTtl?: number }, cmd: Command) => {
        const body: Record<string, unknown> = { name: o.name, isp: o.isp };
        if (o.subscriber) body.subscriber = o.subscriber;
        if (o.codeTtl !== undefined) body.codeTtl = o.codeTtl;
        const r = await ctx.client(cmd).send('POST', '/v1/broker/cpes', body);
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`${r.code}\n`);
        ctx.io.err(`enrolment code for ${o.name}: one use, valid until ${r.expiresAt}; on the device: fecflow agent enrol --code CODE\n`);
      });
    cpe
      .command('list')
      .description('list the devices')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get('/v1/broker/cpes');
        if (wantsJson(cmd)) return ctx.io.out(json(r.cpes));
        ctx.io.out(table(['cpe', 'isp', 'subscriber', 'state', 'enrolled'], r.cpes.map((c: any) => [c.name, c.isp, c.subscriber, c.state, c.enrolledAt])));
      });
    cpe
      .command('show')
      .description("show a device, its sessions and their usage")
      .argument('<name>')
      .option('--json', 'print JSON')
      .action(async (name: string, _o, cmd: Command) => {
        const r = await ctx.client(cmd).get(`/v1/broker/cpes/${encodeURIComponent(name)}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`cpe ${r.cpe.name}: ${r.cpe.state}; line ${r.cpe.subscriber}, home ISP ${r.cpe.isp}\n`);
        ctx.io.out(r.sessions.length ? sessionTable(r.sessions) : '  no sessions\n');
      });
    revokeCommand(ctx, cpe, 'cpe', 'cpes', 'revoke a device: its key opens no session, its open sessions close');

    // ---- sessions, counters, key ----
    const broker = program.command('broker').description("the broker's sessions, counters and public key");
    broker
      .command('sessions')
      .description('list brokered sessions (open ones; --all: the last 1000)')
      .option('--all', 'closed ones too')
      .option('--json', 'print JSON')
      .action(async (o: { all?: boolean }, cmd: Command) => {
        const r = await ctx.client(cmd).get(`/v1/broker/sessions${o.all ? '?all=1' : ''}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r.sessions));
        ctx.io.out(sessionTable(r.sessions));
      });
    broker
      .command('close')
      .description('close a brokered session')
      .argument('<session>')
      .option('--json', 'print JSON')
      .action(async (id: string, _o, cmd: Command) => {
        const r = await ctx.client(cmd).send('POST', `/v1/broker/sessions/${encodeURIComponent(id)}/close`, {});
        if (wantsJson(cmd)) return ctx.io.out(json(r.session));
        ctx.io.out(`session ${id}: ${r.session.state}${r.session.cause ? ` (${r.session.cause})` : ''}\n`);
      });
    broker
      .command('stats')
      .description('requests refused by reason, and sessions opened, renewed and closed since start')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get('/v1/broker/stats');
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        const { refused, ...done } = r;
        ctx.io.out(table(['counter', 'value'], [...Object.entries(done).map(([k, v]) => [k, v as number]), ...Object.entries(refused as Record<string, number>).map(([k, v]) => [`refused ${k}`, v])]));
      });
    broker
      .command('key')
      .description("print the broker's public key (PEM; --json: JWK too) that providers verify tokens with")
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).get('/v1/broker/key');
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(r.pem);
      });

    // ---- bills ----
    program
      .command('bill')
      .description('invoice lines of a month per account, from the usage ledger and the tariffs')
      .requiredOption('--period <month>', 'the month, e.g. 2026-11')
      .option('--isp <name>', 'only this provider')
      .option('--json', 'print JSON')
      .option('--csv', 'print CSV')
      .action(async (o: { period: string; isp?: string; csv?: boolean }, cmd: Command) => {
        if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(o.period)) usage(cmd, '--period is a month like 2026-11');
        const q = new URLSearchParams({ period: o.period });
        if (o.isp) q.set('isp', o.isp);
        const bill = await ctx.client(cmd).get<Bill>(`/v1/broker/bill?${q}`);
        if (o.csv) return ctx.io.out(billCsv(bill));
        if (wantsJson(cmd)) return ctx.io.out(json(bill));
        if (!bill.lines.length) return ctx.io.out(`no usage in ${bill.period}\n`);
        ctx.io.out(table(['account', 'provider', 'cpe', 'item', 'quantity', 'unit', 'price', 'per', 'amount', 'currency'], bill.lines.map((l) => [l.account, l.provider, l.cpe, l.item, l.quantity, l.unit, l.unitPrice, l.per, l.amount, l.currency])));
        ctx.io.out('\n' + table(['account', 'total', 'currency'], bill.totals.map((t) => [t.account, t.amount, t.currency])));
      });

    // ---- the device's agent ----
    const agent = program.command('agent').description('the agent of a customer device: enrol, keep a session with a provider, show usage');
    const dirOpt = (c: Command) => c.option('--dir <path>', `the agent's key and state (default ${DEFAULT_AGENT_DIR}, or FECFLOW_AGENT_DIR)`);
    dirOpt(agent.command('enrol'))
      .description("make the device's key (kept, mode 0600) and enrol with the operator's one-time code")
      .requiredOption('--code <code>', 'the enrolment code')
      .option('--broker <url>', 'the broker (http(s)://HOST:PORT or unix:/path; default --url, FECFLOW_URL or ' + DEFAULT_URL + ')')
      .action(async (o: { dir?: string; code: string; broker?: string }, cmd: Command) => {
        const g = cmd.optsWithGlobals<{ url?: string; socket?: string }>();
        const url = o.broker ?? resolveClientOptions({ url: g.url, socket: g.socket }, ctx.env).url;
        const a = await Agent.enrol(agentDir(o, ctx), url, o.code).catch(deviceError);
        ctx.io.out(`enrolled as ${a.state.name} with ${url}\n`);
      });
    dirOpt(agent.command('run'))
      .description('open a session with a provider and keep it (renewing its token) until stopped')
      .requiredOption('--provider <name>', 'the provider to use')
      .option('--traffic <types>', 'traffic types to ask for (default: what the plan allows)', trafficList)
      .action(async (o: { dir?: string; provider: string; traffic?: string[] }) => {
        const a = loadAgent(o, ctx);
        const stop = new AbortController();
        const onSig = (): void => stop.abort();
        process.once('SIGTERM', onSig);
        process.once('SIGINT', onSig);
        try {
          await a.run({
            provider: o.provider,
            traffic: o.traffic,
            signal: stop.signal,
            onEvent: (e) => ctx.io.err(`${new Date().toISOString()} ${e.type}${e.session ? ` ${e.session}` : ''}${e.delayMs !== undefined ? ` in ${e.delayMs} ms` : ''}${e.detail ? `: ${e.detail}` : ''}\n`),
          });
        } catch (err) {
          deviceError(err);
        } finally {
          process.off('SIGTERM', onSig);
          process.off('SIGINT', onSig);
        }
      });
    dirOpt(agent.command('status'))
      .description("the device's sessions and what it used, as the broker recorded it")
      .option('--json', 'print JSON')
      .action(async (o: { dir?: string }, cmd: Command) => {
        const a = loadAgent(o, ctx);
        const r = await a.status().catch(deviceError);
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`device ${r.cpe.name} (${r.cpe.state}), broker ${a.state.broker}\n`);
        ctx.io.out(r.sessions.length ? sessionTable(r.sessions) : 'no sessions\n');
      });
    dirOpt(agent.command('close'))
      .description("close the device's current session")
      .action(async (o: { dir?: string }) => {
        const a = loadAgent(o, ctx);
        const id = a.state.session?.id;
        await a.close().catch(deviceError);
        ctx.io.out(id ? `session ${id} closed\n` : 'no session\n');
      });
  },
};
