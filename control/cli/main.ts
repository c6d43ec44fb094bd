// The `fecflow` command line. The program is built from command modules (./commands/*.ts),
// each registering its own subcommands, so other parts (the lab's `demo` and `lab`) add
// theirs by appending a module to COMMANDS. Exit codes: 0 ok, 1 failure, 2 usage.
import { Command, CommanderError, Option } from 'commander';
import { CliError } from './errors.js';
import { defaultClientFactory, type CliContext, type CommandModule } from './context.js';
import { processIo, type Io } from './output.js';
import { serveCommand } from './commands/serve.js';
import { registryCommands } from './commands/registry.js';
import { ispCommand } from './commands/isp.js';
import { subscriberCommand } from './commands/subscriber.js';
import { showCommands } from './commands/show.js';
import { statsCommand } from './commands/stats.js';
import { adminCommands } from './commands/admin.js';
import { completionCommand } from './commands/completion.js';
import { labCommands } from './commands/lab.js';
import { checkCommand } from './commands/check.js';
import { tokenCommand } from './commands/token.js';
import { webhookCommand } from './commands/webhook.js';
import { usageCommand } from './commands/usage.js';
import { sessionCommand } from './commands/session.js';
import { brokerCommands } from './commands/broker.js';
import { eventsCommand } from './commands/events.js';
import { ldpCommand } from './commands/ldp.js';
import { controllerCommands } from './commands/controller.js';

export const COMMANDS: CommandModule[] = [
  serveCommand,
  registryCommands,
  ispCommand,
  subscriberCommand,
  showCommands,
  statsCommand,
  adminCommands,
  completionCommand,
  labCommands,
  checkCommand,
  tokenCommand,
  webhookCommand,
  usageCommand,
  sessionCommand,
  brokerCommands,
  eventsCommand,
  ldpCommand,
  controllerCommands,
];

export const VERSION = '0.1.0';

export function buildProgram(ctx: CliContext, modules: CommandModule[] = COMMANDS): Command {
  const program = new Command('fecflow')
    .description('MPLS forwarding for open-access broadband: run the daemon, or talk to it')
    .version(VERSION)
    .addOption(new Option('--url <url>', 'daemon API URL (https://HOST:PORT, http://HOST:PORT or unix:/path)').env('FECFLOW_URL'))
    .option('--socket <path>', "daemon API Unix socket")
    .addOption(new Option('--token <token>', 'API token (visible in ps: prefer FECFLOW_TOKEN or --token-file)').env('FECFLOW_TOKEN'))
    .addOption(new Option('--token-file <path>', 'read the API token from this file (default /var/lib/fecflow/token)').env('FECFLOW_TOKEN_FILE'))
    .addOption(new Option('--ca <file>', 'CA certificate (PEM) the daemon\'s HTTPS certificate is checked against').env('FECFLOW_CA'))
    .option('--cert <file>', 'client certificate (PEM), for a daemon that asks for one')
    .option('--key <file>', 'the private key of --cert (PEM)')
    .option('--insecure-plain-http', 'send the token over plain HTTP to a host that is not loopback')
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .exitOverride();
  for (const m of modules) m.register(program, ctx);
  // Subcommands inherit output and exit handling.
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      sub.configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) }).exitOverride();
      walk(sub);
    }
  };
  walk(program);
  return program;
}

const USAGE_CODES = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.excessArguments',
  'commander.invalidArgument',
  'commander.conflictingOption',
  'commander.usage',
]);

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env, modules?: CommandModule[]): Promise<number> {
  const ctx: CliContext = { io, env, client: defaultClientFactory(env) };
  const program = buildProgram(ctx, modules);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // `fecflow isp` without a subcommand prints help as an error: a usage error.
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
      if (USAGE_CODES.has(err.code)) return 2;
      return err.exitCode || 1;
    }
    if (err instanceof CliError) {
      io.err(`fecflow: ${err.message}\n`);
      for (const i of err.issues) io.err(`  ${i.path}: ${i.message}\n`);
      return err.exitCode;
    }
    io.err(`fecflow: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
