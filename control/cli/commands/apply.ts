// `fecflow apply -f FILE [--dry-run]`: replace the running config with a file.
import type { Command } from 'commander';
import type { CommandModule } from '../context.js';
import { printChange, readInput, type ChangeResult } from './common.js';

export const applyCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('apply')
      .description('apply a whole config file to the running daemon (validated, then reconciled)')
      .requiredOption('-f, --file <file>', 'config file (YAML), or - for stdin')
      .option('--dry-run', 'show the map changes without making them')
      .option('--json', 'print the result as JSON')
      .action(async (o: { file: string; dryRun?: boolean }, cmd: Command) => {
        const text = readInput(o.file);
        const r = await ctx.client(cmd).send<ChangeResult>('POST', '/v1/config', { config: text, dryRun: o.dryRun === true });
        printChange(ctx.io, cmd, r, `applied ${o.file}`);
      });
  },
};
