// `fecflow status`, `fecflow detach`.
import { join } from 'node:path';
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
      .option('--offline', 'the daemon is not running: detach what is pinned for --node directly (root)')
      .option('--node <name>', 'with --offline: the node whose pins to remove')
      .option('--pin-root <dir>', 'with --offline: the pin root the daemon used (its --pin-root)', '/sys/fs/bpf/fecflow')
      .action(async (o: { yes?: boolean; offline?: boolean; node?: string; pinRoot: string }, cmd: Command) => {
        if (!o.yes) throw new CliError('detach stops forwarding on every interface of this node: run again with --yes to confirm', 2);
        if (o.offline) {
          if (!o.node || !/^[A-Za-z0-9_.-]+$/.test(o.node) || o.node.startsWith('.')) {
            throw new CliError('--offline needs --node NAME, the node name of the config (letters, digits, _ . -)', 2);
          }
          // Loaded lazily: it needs the native addon, which the other commands never load.
          const { detachPinned } = await import('../../daemon/offline.js');
          const { NodeLock, pinLockPath } = await import('../../registry/lock.js');
          const nodeDir = join(o.pinRoot, o.node);
          // A running daemon holds its node's lock: detaching under it would fight its writes.
          let lock;
          try {
            lock = NodeLock.acquire([{ path: pinLockPath(nodeDir), what: `node '${o.node}' (pin directory ${nodeDir})` }]);
          } catch (err) {
            throw new CliError(`${(err as Error).message}; stop it first, or use \`fecflow detach --yes\` to detach through it`);
          }
          let r;
          try {
            r = detachPinned(nodeDir);
          } catch (err) {
            throw new CliError((err as Error).message);
          } finally {
            lock.release();
          }
          for (const p of r.problems) ctx.io.err(`warning: ${p.pin}: ${p.error}; pin removed\n`);
          ctx.io.out(`detached ${r.detached.length ? r.detached.join(', ') : 'no interface'}; ${r.maps} map pins removed\n`);
          return;
        }
        try {
          await ctx.client(cmd).send('POST', '/v1/detach');
        } catch (err) {
          if (err instanceof CliError && /cannot reach the daemon/.test(err.message)) {
            throw new CliError(`${err.message}; if it is not running, use detach --offline --node NAME --yes`);
          }
          throw err;
        }
        ctx.io.out('detached: programs removed from every interface, pins deleted\n');
      });
  },
};
