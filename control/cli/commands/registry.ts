// `fecflow reload`, `fecflow audit`, and `fecflow registry backup|restore|check`: the two
// sources of a node's state. The router file is the operator's (edit it, then reload); the
// registry is the daemon's SQLite store. A backup is SQLite's online backup, safe while the
// daemon writes; a restore needs the daemon stopped (it takes the node's lock) and checks the
// file before it replaces anything.
import { copyFileSync, existsSync, openSync, fsyncSync, closeSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';
import { printChange, type ChangeResult } from './common.js';
import type { AuditRecord } from '../../registry/registry.js';

const NODE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;


function nodeOf(o: { node?: string }): string {
  if (!o.node || !NODE_RE.test(o.node)) throw new CliError('--node NAME is required: the node name of the router file (letters, digits, _ . -)', 2);
  return o.node;
}

export const registryCommands: CommandModule = {
  register(program, ctx) {
    program
      .command('reload')
      .description('re-read the router file now (the daemon never writes it; the registry is not touched)')
      .option('--dry-run', 'show the map changes the edited file would make, without making them')
      .option('--json', 'print the result as JSON')
      .action(async (o: { dryRun?: boolean }, cmd: Command) => {
        const r = await ctx.client(cmd).send<ChangeResult>('POST', `/v1/reload${o.dryRun ? '?dryRun=true' : ''}`);
        printChange(ctx.io, cmd, r, 'reloaded the router file');
      });

    program
      .command('audit')
      .description('the audit log: every change, when, by which token and role, from which request')
      .option('--after <id>', 'records after this id (oldest first)')
      .option('--limit <n>', 'at most this many (default 100)')
      .option('--json', 'print JSON')
      .action(async (o: { after?: string; limit?: string }, cmd: Command) => {
        const q = new URLSearchParams();
        if (o.after !== undefined) q.set('after', o.after);
        if (o.limit !== undefined) q.set('limit', o.limit);
        const r = await ctx.client(cmd).get<{ records: AuditRecord[] }>(`/v1/audit${q.size ? `?${q}` : ''}`);
        if (wantsJson(cmd)) return ctx.io.out(json(r.records));
        ctx.io.out(table(['id', 'at', 'actor', 'role', 'action', 'target'], r.records.map((a) => [a.id, a.at, a.actor, a.role, a.action, a.target])));
      });

    const reg = program.command('registry').description("the node's registry (subscribers, rates, audit log): backup, restore, check");
    const where = (c: Command): Command =>
      c.option('--state-dir <dir>', 'the daemon\'s --state-dir', '/var/lib/fecflow').option('--node <name>', 'the node name of the router file');

    where(reg.command('backup'))
      .description('copy the registry to FILE with SQLite\'s online backup (safe while the daemon runs)')
      .argument('<file>', 'where to write the backup (must not exist)')
      .action(async (file: string, o: { stateDir: string; node?: string }) => {
        const node = nodeOf(o);
        const { Registry, registryPath } = await import('../../registry/registry.js');
        if (existsSync(file)) throw new CliError(`${file} exists: choose a new file (a backup never overwrites)`);
        let r;
        try {
          r = Registry.open(registryPath(o.stateDir, node), { readonly: true });
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        try {
          const { pages } = await r.backup(file);
          ctx.io.out(`backed up ${r.subscriberCount()} subscribers (${pages} pages) to ${file}\n`);
        } catch (err) {
          rmSync(file, { force: true });
          throw new CliError((err as Error).message);
        } finally {
          r.close();
        }
      });

    where(reg.command('restore'))
      .description('replace the registry with a backup (the daemon must be stopped; the backup is checked first)')
      .argument('<file>', 'a file written by `fecflow registry backup`')
      .action(async (file: string, o: { stateDir: string; node?: string }) => {
        const node = nodeOf(o);
        const { verifyRegistryFile, registryPath } = await import('../../registry/registry.js');
        const { NodeLock, stateLockPath } = await import('../../registry/lock.js');
        let info;
        try {
          info = verifyRegistryFile(file);
        } catch (err) {
          throw new CliError(`${(err as Error).message}; nothing was changed`);
        }
        let lock;
        try {
          lock = NodeLock.acquire([{ path: stateLockPath(o.stateDir, node), what: `node '${node}'` }]);
        } catch (err) {
          throw new CliError(`${(err as Error).message}; stop the daemon first`);
        }
        try {
          const dest = registryPath(o.stateDir, node);
          mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
          const tmp = join(dirname(dest), `.restore.${process.pid}.tmp`);
          copyFileSync(file, tmp);
          const fd = openSync(tmp, 'r');
          fsyncSync(fd);
          closeSync(fd);
          // the old file's write-ahead log must not be replayed onto the restored one
          rmSync(`${dest}-wal`, { force: true });
          rmSync(`${dest}-shm`, { force: true });
          renameSync(tmp, dest);
          ctx.io.out(`restored ${info.subscribers} subscribers into ${dest}; start the daemon to apply them\n`);
        } finally {
          lock.release();
        }
      });

    where(reg.command('check'))
      .description('check the registry file\'s integrity (read-only; works while the daemon runs)')
      .option('--json', 'print JSON')
      .action(async (o: { stateDir: string; node?: string }, cmd: Command) => {
        const node = nodeOf(o);
        const { verifyRegistryFile, registryPath } = await import('../../registry/registry.js');
        const path = registryPath(o.stateDir, node);
        let r;
        try {
          r = verifyRegistryFile(path);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        if (wantsJson(cmd)) return ctx.io.out(json({ ok: true, path, ...r }));
        ctx.io.out(`${path}: ok (schema ${r.version}, ${r.subscribers} subscribers)\n`);
      });
  },
};
