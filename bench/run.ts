// `npm run bench`: runs the benchmarks, prints a markdown report and writes
// bench/results/<date>.json with the machine's description. Benchmarks, not tests: a slow
// machine fails nothing; the targets are what the figures are reported against.
//
//   node dist/bench/run.js [--quick] [--only perpacket,e2e,control] [--out FILE] [--no-write]
//
// --quick runs a tiny configuration (for the smoke test and while developing).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../control/bpf/native.js';
import { describeMachine } from './lib/machine.js';
import { buildBenchProgs } from './lib/progs.js';
import { runPerPacket, type PerPacketOptions, type PerPacketResult } from './perpacket.js';
import { runEndToEnd, type EndToEndOptions, type EndToEndResult } from './e2e.js';
import { runControlPlane, type ControlOptions, type ControlResult } from './control.js';
import { report, METHODS } from './report.js';

export interface BenchConfig {
  quick: boolean;
  perPacket: Omit<PerPacketOptions, 'log'>;
  endToEnd: Omit<EndToEndOptions, 'log'>;
  control: Omit<ControlOptions, 'log'>;
}

export function config(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        perPacket: { scales: [1, 1000], flows: 4096, rounds: 3, passes: 1, singleRounds: 1 },
        endToEnd: { subscribers: 1000, flows: 1000, frameSizes: [64], seconds: 0.3, rounds: 1 },
        control: { applySizes: [1000, 10000], applyBudgetSeconds: 60, moves: 50, moveBudgetSeconds: 20, isps: 100, labels: 1000, scrapes: 5, cliRuns: 2, kernelRoutes: 10000, rounds: 1 },
      }
    : {
        quick,
        perPacket: { scales: [1, 10000, 1000000], flows: 4096, rounds: 9, passes: 8, singleRounds: 3 },
        endToEnd: { subscribers: 1000000, flows: 65536, frameSizes: [64, 512], seconds: 2, rounds: 5 },
        control: { applySizes: [10000, 100000, 1000000], applyBudgetSeconds: 300, moves: 1000, moveBudgetSeconds: 60, isps: 1000, labels: 10000, scrapes: 20, cliRuns: 10, kernelRoutes: 1000000, rounds: 3 },
      };
}

interface Args {
  quick: boolean;
  only: Set<string>;
  out?: string;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, only: new Set(['perpacket', 'e2e', 'control']), write: true };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--no-write') a.write = false;
    else if (x === '--only') a.only = new Set(argv[++i]!.split(','));
    else if (x.startsWith('--only=')) a.only = new Set(x.slice(7).split(','));
    else if (x === '--out') a.out = argv[++i];
    else if (x.startsWith('--out=')) a.out = x.slice(6);
    else if (x === '--help' || x === '-h') {
      console.log('usage: node dist/bench/run.js [--quick] [--only perpacket,e2e,control] [--out FILE] [--no-write]');
      process.exit(0);
    } else throw new Error(`unknown argument ${x}`);
  }
  return a;
}

export interface BenchResult {
  date: string;
  machine: ReturnType<typeof describeMachine>;
  quick: boolean;
  config: BenchConfig;
  methods: typeof METHODS;
  seconds: number;
  perPacket?: PerPacketResult | { error: string };
  endToEnd?: EndToEndResult | { error: string };
  controlPlane?: ControlResult | { error: string };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench: needs root (BPF programs, XDP on veths, network namespaces)');
    process.exit(2);
  }
  const root = repoRoot();
  const t0 = performance.now();
  const cfg = config(args.quick);
  const log = (msg: string) => console.error(msg);
  const machine = describeMachine(root);
  log(`fecflow bench${args.quick ? ' (quick)' : ''} on ${machine.cpuModel}, ${machine.cores} CPUs, kernel ${machine.kernel}, load ${machine.loadAverage.join(' ')}`);
  const progDir = buildBenchProgs(root);
  const object = join(root, 'build', 'bpf', 'fecflow.bpf.o');

  const result: BenchResult = { date: new Date().toISOString(), machine, quick: args.quick, config: cfg, methods: METHODS, seconds: 0 };
  // One part failing (say, the daemon not built yet) still leaves the others' figures.
  const part = async <T>(name: string, fn: () => T | Promise<T>): Promise<T | { error: string } | undefined> => {
    if (!args.only.has(name)) return undefined;
    const s = performance.now();
    log(`\n== ${name}`);
    try {
      const r = await fn();
      log(`== ${name} done in ${((performance.now() - s) / 1000).toFixed(0)} s`);
      return r;
    } catch (e) {
      log(`== ${name} failed: ${(e as Error).stack ?? String(e)}`);
      return { error: (e as Error).message };
    }
  };
  result.perPacket = await part('perpacket', () => runPerPacket(object, progDir, { ...cfg.perPacket, log }));
  result.endToEnd = await part('e2e', () => runEndToEnd(object, progDir, { ...cfg.endToEnd, log }));
  result.controlPlane = await part('control', () => runControlPlane({ ...cfg.control, log }));
  result.seconds = Math.round((performance.now() - t0) / 1000);

  console.log(report(result));
  if (args.write) {
    const out = args.out ?? join(root, 'bench', 'results', `${result.date.slice(0, 19).replace(/:/g, '-')}${args.quick ? '-quick' : ''}.json`);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    log(`\nwrote ${out}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
