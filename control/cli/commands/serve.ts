// `fecflow serve -c FILE`: run the daemon in the foreground (systemd runs it this way).
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { repoRoot } from '../../bpf/native.js';
import type { CommandModule } from '../context.js';
import { CliError } from '../errors.js';

export const serveCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('serve')
      .description('run the daemon: attach the XDP programs, reconcile the config, serve the API and /metrics')
      .requiredOption('-c, --config <file>', 'router config (YAML); API changes are written back to it')
      .option('-l, --listen <addr...>', 'API addresses: HOST:PORT and/or unix:/path.sock (default 127.0.0.1:9180)')
      .option('--pin-root <dir>', 'bpffs directory for the pins (<dir>/<node>/…)', '/sys/fs/bpf/fecflow')
      .option('--state-dir <dir>', 'where the API token file is kept', '/var/lib/fecflow')
      .option('--object <file>', 'the compiled BPF object (default build/bpf/fecflow.bpf.o of the install)')
      .option('--no-watch', 'do not reload when the config file changes (SIGHUP still does)')
      .option('--fleet <url>', 'take this node\'s intent (subscribers, ISP rates) from a fleet controller through NATS JetStream: nats://HOST:PORT')
      .option('--fleet-node <name>', 'this node\'s key in the fleet (default: the node of the router file)')
      .addOption(new Option('--xdp-mode <mode>', 'force an XDP attach mode').choices(['auto', 'native', 'generic']).default('auto'))
      .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
      .action(async (o: { config: string; listen?: string[]; pinRoot: string; stateDir: string; object?: string; watch: boolean; xdpMode: 'auto' | 'native' | 'generic'; logLevel: string; fleet?: string; fleetNode?: string }, _cmd: Command) => {
        // Loaded lazily: the daemon pulls in the native addon, which the other commands never need.
        const { serve, StartError } = await import('../../serve/serve.js');
        try {
          await serve({
            config: o.config,
            listen: o.listen ?? [],
            pinRoot: o.pinRoot,
            stateDir: o.stateDir,
            object: o.object ?? join(repoRoot(), 'build', 'bpf', 'fecflow.bpf.o'),
            watch: o.watch,
            logLevel: o.logLevel,
            xdpMode: o.xdpMode,
            fleet: o.fleet,
            fleetNode: o.fleetNode,
          });
        } catch (err) {
          if (err instanceof StartError) throw new CliError(err.message);
          throw err;
        }
        void ctx;
      });
  },
};
