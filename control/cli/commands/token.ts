// `fecflow token create|list|revoke|rotate`: API tokens with roles (admin, reader, isp:<name>).
// They talk to the daemon; with --offline (the daemon is stopped) they open the node's registry
// directly, under the node's lock. A new token's secret is printed once and kept nowhere.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';
import type { TokenInfo } from '../../registry/tokens.js';

const NODE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

interface OfflineFlags {
  offline?: boolean;
  stateDir: string;
  node?: string;
}

const offlineFlags = (c: Command): Command =>
  c
    .option('--offline', 'the daemon is stopped: use the registry in --state-dir directly')
    .option('--state-dir <dir>', 'with --offline: the daemon\'s --state-dir', '/var/lib/fecflow')
    .option('--node <name>', 'with --offline: the node name of the router file');

/** Runs fn on the node's registry under the node's lock (the daemon must be stopped). */
async function offline<T>(o: OfflineFlags, fn: (stores: { registry: import('../../registry/registry.js').Registry; tokens: import('../../registry/tokens.js').TokenRegistry }) => T): Promise<T> {
  if (!o.node || !NODE_RE.test(o.node)) throw new CliError('--offline needs --node NAME, the node name of the router file (letters, digits, _ . -)', 2);
  const { Registry, registryPath } = await import('../../registry/registry.js');
  const { NodeLock, stateLockPath } = await import('../../registry/lock.js');
  const { TokenRegistry } = await import('../../registry/tokens.js');
  let lock;
  try {
    lock = NodeLock.acquire([{ path: stateLockPath(o.stateDir, o.node), what: `node '${o.node}'` }]);
  } catch (err) {
    throw new CliError(`${(err as Error).message}; the daemon is running: leave out --offline to go through it`);
  }
  try {
    const registry = Registry.open(registryPath(o.stateDir, o.node));
    try {
      return fn({ registry, tokens: new TokenRegistry(registry) });
    } finally {
      registry.close();
    }
  } catch (err) {
    throw err instanceof CliError ? err : new CliError((err as Error).message);
  } finally {
    lock.release();
  }
}

const OFFLINE_ACTOR = { name: 'offline', role: 'admin', source: 'cli --offline' };

export const tokenCommand: CommandModule = {
  register(program, ctx) {
    const token = program.command('token').description('API tokens: admin, reader, isp:<name> (and the node token file)');

    offlineFlags(token.command('create'))
      .description('create a token with a role and print its secret (shown once only)')
      .requiredOption('--name <name>', 'what the audit log calls its holder')
      .requiredOption('--role <role>', 'admin, reader, or isp:<ISP name>')
      .option('--json', 'print JSON')
      .action(async (o: OfflineFlags & { name: string; role: string }, cmd: Command) => {
        let r: { token: TokenInfo; secret: string };
        if (o.offline) {
          r = await offline(o, ({ registry, tokens }) =>
            registry.transaction(() => {
              const made = tokens.create(o.name, o.role, OFFLINE_ACTOR.name);
              registry.writeAudit({ actor: OFFLINE_ACTOR, action: 'token.create', target: o.name, detail: { role: o.role } });
              return { token: made.info, secret: made.secret };
            }),
          );
        } else r = await ctx.client(cmd).send('POST', '/v1/tokens', { name: o.name, role: o.role });
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`${r.secret}\n`);
        ctx.io.err(`token '${r.token.name}' (${r.token.role}) created; its secret is shown only now: keep it in a file of mode 0600 and pass it with --token-file or FECFLOW_TOKEN\n`);
      });

    offlineFlags(token.command('list'))
      .description('list tokens: name, role, created, revoked, last used (never the secrets)')
      .option('--json', 'print JSON')
      .action(async (o: OfflineFlags, cmd: Command) => {
        const list = o.offline ? await offline(o, ({ tokens }) => tokens.list()) : (await ctx.client(cmd).get<{ tokens: TokenInfo[] }>('/v1/tokens')).tokens;
        if (wantsJson(cmd)) return ctx.io.out(json(list));
        ctx.io.out(table(['name', 'role', 'created', 'by', 'revoked', 'last used'], list.map((t) => [t.name, t.role, t.created, t.createdBy, t.revoked ?? '-', t.lastUsed ?? '-'])));
      });

    offlineFlags(token.command('revoke'))
      .description('revoke a token: it stops working at once, also for open event streams')
      .argument('<name>', 'the token\'s name')
      .option('--json', 'print JSON')
      .action(async (name: string, o: OfflineFlags, cmd: Command) => {
        let info: TokenInfo;
        if (o.offline) {
          info = await offline(o, ({ registry, tokens }) =>
            registry.transaction(() => {
              const t = tokens.revoke(name);
              registry.writeAudit({ actor: OFFLINE_ACTOR, action: 'token.revoke', target: name, detail: { role: t.role } });
              return t;
            }),
          );
        } else info = (await ctx.client(cmd).send<{ token: TokenInfo }>('DELETE', `/v1/tokens/${encodeURIComponent(name)}`)).token;
        if (wantsJson(cmd)) return ctx.io.out(json(info));
        ctx.io.out(`token '${info.name}' (${info.role}) revoked at ${info.revoked}\n`);
      });

    token
      .command('rotate')
      .description('replace the node token (the token file; the old one stops working at once) and print the new one')
      .option('--json', 'print JSON')
      .action(async (_o, cmd: Command) => {
        const r = await ctx.client(cmd).send<{ token: string; path: string }>('POST', '/v1/token/rotate');
        if (wantsJson(cmd)) return ctx.io.out(json(r));
        ctx.io.out(`${r.token}\n`);
        ctx.io.err(`new token written to ${r.path}\n`);
      });
  },
};
