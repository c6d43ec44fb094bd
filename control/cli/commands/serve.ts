// `fecflow serve -c FILE`: run the daemon in the foreground (systemd runs it this way).
import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
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
      .option('--state-dir <dir>', 'where the registry and the node token file are kept', '/var/lib/fecflow')
      .option('--object <file>', 'the compiled BPF object (default build/bpf/fecflow.bpf.o of the install)')
      .option('--no-watch', 'do not reload when the config file changes (SIGHUP still does)')
      .option('--tls-cert <file>', 'serve the API over HTTPS with this certificate (PEM; re-read on SIGHUP)')
      .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
      .option('--tls-client-ca <file>', 'require client certificates signed by this CA (PEM), besides the token')
      .option('--metrics-listen <addr...>', 'serve /metrics on these addresses instead of on the API (HOST:PORT)')
      .option('--allow-host <name...>', 'host names a plain-HTTP listener answers besides IP addresses and localhost (DNS rebinding guard)')
      .option('--webhook-retry <min,max>', 'webhook retry back-off in ms: first wait, longest wait', '1000,300000')
      .option('--usage-interval <seconds>', 'seconds between readings of the per-subscriber counters into the registry', (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 86400) throw new InvalidArgumentError('a whole number of seconds, 1..86400');
        return n;
      }, 60)
      .option('--policer-event-threshold <packets>', 'tell a policer.drops event when an ISP\'s policer drops this many packets in 10 s (and again when it falls back under)', (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of packets, at least 1');
        return n;
      }, 1000)
      .option('--fleet <url>', 'take this node\'s intent (subscribers, ISP rates) from a fleet controller through NATS JetStream: nats://HOST:PORT')
      .option('--fleet-node <name>', 'this node\'s key in the fleet (default: the node of the router file)')
      .addOption(new Option('--xdp-mode <mode>', 'force an XDP attach mode').choices(['auto', 'native', 'generic']).default('auto'))
      .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
      .action(async (o: { config: string; listen?: string[]; pinRoot: string; stateDir: string; object?: string; watch: boolean; xdpMode: 'auto' | 'native' | 'generic'; logLevel: string; tlsCert?: string; tlsKey?: string; tlsClientCa?: string; metricsListen?: string[]; allowHost?: string[]; webhookRetry: string; usageInterval: number; fleet?: string; fleetNode?: string; policerEventThreshold: number }, _cmd: Command) => {
        const retry = /^(\d{1,9}),(\d{1,9})$/.exec(o.webhookRetry);
        if (!retry || Number(retry[1]) < 1 || Number(retry[2]) < Number(retry[1])) throw new CliError(`--webhook-retry '${o.webhookRetry}': expected MIN,MAX in ms with 1 <= MIN <= MAX`, 2);
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
            tlsCert: o.tlsCert,
            tlsKey: o.tlsKey,
            tlsClientCa: o.tlsClientCa,
            metricsListen: o.metricsListen,
            allowHost: o.allowHost,
            webhookRetry: { minMs: Number(retry[1]), maxMs: Number(retry[2]) },
            usageInterval: o.usageInterval,
            fleet: o.fleet,
            policerEventThreshold: o.policerEventThreshold,
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
