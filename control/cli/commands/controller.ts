// `fecflow controller …`: run the fleet's controller (`serve`), and talk to it — set a node's
// intent from a file, move a subscriber on a node, take a conflicted key over, list the nodes
// and what their routers applied, and run the network-wide accounting check.
import type { Command } from 'commander';
import { Option } from 'commander';
import type { CommandModule, CliContext } from '../context.js';
import { createClient, type ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';
import { addMatchOptions, matchFrom, readInput, type MatchFlags } from './common.js';
import { parseConfigText } from '../../daemon/wiring.js';

const DEFAULT_URL = 'http://127.0.0.1:9190';
const DEFAULT_DIR = '/var/lib/fecflow-controller';

function client(cmd: Command, ctx: CliContext): ApiClient {
  const o = cmd.optsWithGlobals<{ controller?: string; controllerTokenFile?: string }>();
  const url = o.controller ?? ctx.env.FECFLOW_CONTROLLER ?? DEFAULT_URL;
  return createClient({ url, tokenFile: o.controllerTokenFile ?? ctx.env.FECFLOW_CONTROLLER_TOKEN_FILE ?? `${DEFAULT_DIR}/token`, token: ctx.env.FECFLOW_CONTROLLER_TOKEN }, {});
}

const asJson = (cmd: Command) => cmd.optsWithGlobals<{ json?: boolean }>().json === true;

export const controllerCommands: CommandModule = {
  register(program, ctx) {
    const c = program
      .command('controller')
      .description('the fleet controller: intent for many routers through NATS JetStream, and the accounting check')
      .addOption(new Option('--controller <url>', 'controller API URL (http://HOST:PORT or unix:/path)').env('FECFLOW_CONTROLLER'))
      .addOption(new Option('--controller-token-file <path>', `the controller's token file (default ${DEFAULT_DIR}/token)`).env('FECFLOW_CONTROLLER_TOKEN_FILE'));

    c.command('serve')
      .description('run the controller: keep intent in its store, publish it to the intent bucket, gather status')
      .requiredOption('--nats <url>', 'NATS server(s): nats://HOST:PORT[,nats://…]')
      .option('--state-dir <dir>', 'its store and token', DEFAULT_DIR)
      .option('-l, --listen <addr...>', 'API addresses: HOST:PORT and/or unix:/path.sock (default 127.0.0.1:9190)')
      .option('--check-interval <seconds>', 'run the accounting check this often (0: only when asked)', '60')
      .option('--tolerance-packets <n>', 'packets an ISP balance may be off by (in flight)', '100')
      .option('--tolerance-ratio <r>', 'and this fraction of what was taken in', '0.001')
      .option('--max-age <seconds>', 'counters older than this make the check incomplete', '60')
      .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
      .action(async (o: { nats: string; stateDir: string; listen?: string[]; checkInterval: string; tolerancePackets: string; toleranceRatio: string; maxAge: string; logLevel: string }) => {
        const n = (v: string, what: string) => {
          const x = Number(v);
          if (!Number.isFinite(x) || x < 0) throw new CliError(`--${what} must be a number >= 0`, 2);
          return x;
        };
        const { runController } = await import('../../fleet/run.js');
        await runController({
          nats: o.nats,
          stateDir: o.stateDir,
          listen: o.listen ?? [],
          logLevel: o.logLevel,
          checkMs: n(o.checkInterval, 'check-interval') * 1000,
          tolerance: { packets: n(o.tolerancePackets, 'tolerance-packets'), ratio: n(o.toleranceRatio, 'tolerance-ratio'), maxAgeMs: n(o.maxAge, 'max-age') * 1000 },
        });
      });

    c.command('nodes')
      .description('the nodes and what their routers applied')
      .option('--json', 'JSON output')
      .action(async (_o, cmd: Command) => {
        const r = await client(cmd, ctx).get<{ controller: string; connected: boolean; nodes: Array<{ node: string; generation: number; published: { generation: number; revision: number }; conflict: string | null; subscribers: number; router: { applied: { generation: number } | null; last: { ok: boolean; error?: string } | null } | null }> }>('/v1/fleet/nodes');
        if (asJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`controller ${r.controller} (${r.connected ? 'connected to NATS' : 'NATS unreachable'})\n`);
        ctx.io.out(
          table(
            ['NODE', 'GENERATION', 'PUBLISHED', 'REVISION', 'APPLIED', 'SUBSCRIBERS', 'STATE'],
            r.nodes.map((n) => [n.node, n.generation, n.published.generation, n.published.revision, n.router?.applied?.generation ?? '-', n.subscribers, n.conflict ? `conflict: ${n.conflict}` : n.router?.last && !n.router.last.ok ? `router: ${n.router.last.error}` : 'ok']),
          ),
        );
      });

    c.command('show <node>')
      .description("a node's intent and its router's status")
      .action(async (node: string, _o, cmd: Command) => ctx.io.out(json(await client(cmd, ctx).get(`/v1/fleet/nodes/${encodeURIComponent(node)}`))));

    c.command('set <node>')
      .description("set a node's whole intent from a file (JSON or YAML: subscribers: [...], rates: {isp: {up, down}})")
      .requiredOption('-f, --file <file>', 'the intent file (- for stdin)')
      .action(async (node: string, o: { file: string }, cmd: Command) => {
        let body: unknown;
        try {
          body = parseConfigText(readInput(o.file));
        } catch (err) {
          throw new CliError(`${o.file}: ${(err as Error).message}`);
        }
        const r = await client(cmd, ctx).send<{ generation: number; publish: { state: string; revision?: number; error?: string } }>('PUT', `/v1/fleet/nodes/${encodeURIComponent(node)}`, body);
        ctx.io.out(`${node}: generation ${r.generation} ${r.publish.state}${r.publish.revision ? ` (revision ${r.publish.revision})` : ''}${r.publish.error ? `: ${r.publish.error}` : ''}\n`);
      });

    addMatchOptions(c.command('move <node>').description("move a subscriber of a node to another ISP")).requiredOption('--isp <name>', 'the new ISP').action(async (node: string, o: MatchFlags & { isp: string }, cmd: Command) => {
      const r = await client(cmd, ctx).send<{ generation: number; publish: { state: string; revision?: number; error?: string } }>('POST', `/v1/fleet/nodes/${encodeURIComponent(node)}/move`, { subscriber: { ...matchFrom(cmd, o), isp: o.isp } });
      ctx.io.out(`${node}: generation ${r.generation} ${r.publish.state}${r.publish.revision ? ` (revision ${r.publish.revision})` : ''}${r.publish.error ? `: ${r.publish.error}` : ''}\n`);
    });

    c.command('takeover <node>')
      .description("publish this controller's intent for a node over another writer's (after a conflict)")
      .action(async (node: string, _o, cmd: Command) => ctx.io.out(json(await client(cmd, ctx).send('POST', `/v1/fleet/nodes/${encodeURIComponent(node)}/takeover`))));

    c.command('check')
      .description('the network-wide accounting check: per ISP and direction, taken in = delivered (exit 1 on a mismatch)')
      .option('--json', 'JSON output')
      .action(async (_o, cmd: Command) => {
        const r = await client(cmd, ctx).get<{ complete: boolean; missing: string[]; stale: string[]; balances: Array<{ isp: string; direction: string; in: number; out: number; gap: number; allowed: number; ok: boolean }>; mismatches: unknown[] }>('/v1/fleet/check');
        if (asJson(cmd)) ctx.io.out(json(r));
        else {
          if (!r.complete) ctx.io.out(`incomplete: ${[...r.missing.map((n) => `${n} (no counters)`), ...r.stale.map((n) => `${n} (stale)`)].join(', ')}\n`);
          ctx.io.out(table(['ISP', 'DIR', 'IN', 'OUT', 'GAP', 'ALLOWED', 'RESULT'], r.balances.map((b) => [b.isp, b.direction, b.in, b.out, b.gap, b.allowed, !r.complete ? '?' : b.ok ? 'ok' : 'MISMATCH'])));
        }
        if (r.mismatches.length) throw new CliError(`${r.mismatches.length} accounting mismatch(es)`, 1);
      });

    c.command('events')
      .description("the controller's events (conflicts, accounting mismatches)")
      .action(async (_o, cmd: Command) => ctx.io.out(json(await client(cmd, ctx).get('/v1/fleet/events'))));
  },
};
