// `fecflow check -f FILE [--json]`: validate a router file offline — no daemon, no root, no BPF
// object. The same validation the daemon runs before it writes anything (schema, references,
// and whether every table fits the data plane's maps), so a file that passes here is one the
// daemon accepts, up to what only the host can tell (do the devices exist).
import type { Command } from 'commander';
import { ConfigError, loadConfigFile, parseConfig, tableUsage, type Config, type ConfigIssue } from '../../config/index.js';
import type { CommandModule } from '../context.js';
import { CliError } from '../errors.js';
import { json } from '../output.js';
import { readInput } from './common.js';

export interface CheckSummary {
  node: string;
  interfaces: number;
  isps: number;
  subscribers: number;
  labels: number;
}

export function summarize(c: Config): CheckSummary {
  return { node: c.node, interfaces: c.interfaces.length, isps: c.isps.length, subscribers: c.subscribers.length, labels: c.ilm.length };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The config of a file (or stdin for '-'), or the problems found in it. */
async function load(file: string): Promise<{ config?: Config; issues: ConfigIssue[] }> {
  try {
    const config = file === '-' ? parseConfig(readInput('-')) : await loadConfigFile(file);
    return { config, issues: [] };
  } catch (e) {
    if (e instanceof ConfigError) return { issues: e.issues };
    throw e;
  }
}

export const checkCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('check')
      .description('validate a router file offline (no daemon, no root): every mistake with its path, and whether it fits the maps')
      .requiredOption('-f, --file <file>', 'router config (YAML or JSON), or - for stdin')
      .option('--json', 'print the result as JSON')
      .action(async (o: { file: string; json?: boolean }, _cmd: Command) => {
        const r = await load(o.file);
        const issues = r.issues.map((i) => ({ path: i.path || '(document)', message: i.message }));
        if (o.json) {
          if (!r.config) {
            ctx.io.out(json({ ok: false, file: o.file, problems: issues }));
            throw new CliError(`${o.file}: ${plural(issues.length, 'problem')}`);
          }
          const tables = tableUsage(r.config).map(({ table, entries, capacity }) => ({ table, entries, capacity }));
          ctx.io.out(json({ ok: true, file: o.file, ...summarize(r.config), tables }));
          return;
        }
        if (!r.config) throw new CliError(`${o.file}: invalid configuration (${plural(issues.length, 'problem')})`, 1, issues);
        const s = summarize(r.config);
        ctx.io.out(
          `${o.file}: valid — node ${s.node}, ${plural(s.interfaces, 'interface')}, ${plural(s.isps, 'ISP')}, ` +
            `${plural(s.subscribers, 'subscriber')}, ${plural(s.labels, 'incoming label')}\n`,
        );
      });
  },
};
