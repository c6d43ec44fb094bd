// `fecflow lab up|down|status|replan` and `fecflow demo`: the lab of control/lab — a whole
// open-access network of namespaces on this machine — and the demo that runs on it. The lab
// module is loaded lazily: it pulls in the native addon, which the other commands never need.
import { InvalidArgumentError, type Command } from 'commander';
import type { CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { CliError } from '../errors.js';
import { json, table } from '../output.js';

const NAME_HELP = 'lab name: prefixes its namespaces and links (1..8 lowercase letters or digits)';

async function lab() {
  return import('../../lab/index.js');
}

/** Lab errors (a missing tool, a daemon that would not start) are the operator's to fix: one line, exit 1. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  const { LabError } = await lab();
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LabError) throw new CliError(err.message);
    throw err;
  }
}

function generation(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 99) throw new InvalidArgumentError('a label plan generation is 0..99');
  return n;
}

export const labCommands: CommandModule = {
  register(program, ctx) {
    const say = (s: string): void => ctx.io.out(`${s}\n`);
    const cmd = program.command('lab').description('a whole open-access network of namespaces on this machine (root)');

    cmd
      .command('up')
      .description('build the lab and start one daemon per router (an earlier lab of that name is torn down first)')
      .option('--name <name>', NAME_HELP, 'ffl')
      .option('--log-level <level>', "the daemons' log level", 'info')
      .option('--isp-mtu <bytes>', "the MTU of the tailend's links to the ISP hosts (68..1500), to see path-MTU discovery at work", (v) => Number(v))
      .option('--ldp', 'labels learned by LDP instead of the static plan, with FRR (zebra, ldpd) as a fourth router beside the lsr')
      .action(async (o: { name: string; logLevel: string; ispMtu?: number; ldp?: boolean }) => {
        const { Lab, formatStatus } = await lab();
        await guarded(async () => {
          const t0 = Date.now();
          const l = await Lab.up({ name: o.name, say, logLevel: o.logLevel, ...(o.ispMtu === undefined ? {} : { ispMtu: o.ispMtu }), ldp: o.ldp === true });
          say(`lab '${o.name}' is up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
          ctx.io.out(formatStatus(await l.status(), table));
        });
      });

    cmd
      .command('down')
      .description('stop the daemons and remove every namespace, link and pin of the lab (also after a crash)')
      .option('--name <name>', NAME_HELP, 'ffl')
      .action(async (o: { name: string }) => {
        const { Lab } = await lab();
        await guarded(async () => {
          const r = await Lab.down(o.name, say);
          say(r.namespaces || r.stopped ? `lab '${o.name}' is down` : `lab '${o.name}' was not up; nothing left of it`);
        });
      });

    cmd
      .command('status')
      .description('namespaces, daemons (PID, readiness, API socket, /metrics) and end-users of the lab')
      .option('--name <name>', NAME_HELP, 'ffl')
      .option('--json', 'print JSON')
      .action(async (o: { name: string }, c: Command) => {
        const { labStatus, formatStatus } = await lab();
        await guarded(async () => {
          const s = await labStatus(o.name);
          ctx.io.out(wantsJson(c) ? json(s) : formatStatus(s, table));
          if (!s.up) throw new CliError(`lab '${o.name}' is not (completely) up`);
        });
      });

    cmd
      .command('replan')
      .description('apply a whole new label plan to every router, make-before-break')
      .argument('<generation>', 'label plan generation 0..99 (labels 10000 × generation + …)', generation)
      .option('--name <name>', NAME_HELP, 'ffl')
      .action(async (gen: number, o: { name: string }) => {
        const { Lab } = await lab();
        await guarded(async () => {
          await Lab.open(o.name).replan(gen, say);
          say(`lab '${o.name}' runs label plan generation ${gen}`);
        });
      });

    program
      .command('demo')
      .description('bring a lab up (labels learned by LDP), send traffic, show per-ISP counters, move an end-user live, show the learned labels, change one live, tear down')
      .option('--keep', 'leave the lab running at the end, and print where each router is')
      .option('--static', 'the static label plan instead of LDP (no FRR needed)')
      .option('--name <name>', NAME_HELP, 'ffl')
      .action(async (o: { keep?: boolean; static?: boolean; name: string }) => {
        const { runDemo } = await lab();
        await guarded(() => runDemo({ name: o.name, keep: o.keep === true, static: o.static === true, out: (s) => ctx.io.out(s), table }));
      });
  },
};
