// `npm run bench`: runs the benchmarks, prints a markdown report and writes
// bench/results/<date>.json with the machine's description. Benchmarks, not tests: a slow
// machine fails nothing; the targets are what the figures are reported against.
//
//   node dist/bench/run.js [--quick] [--only perpacket,e2e,control,meter,sessions,icmp] [--paths ID,..] [--scales N,..] [--out FILE] [--no-write]
//
// --quick runs a tiny configuration (for the smoke test and while developing).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../control/bpf/native.js';
import { describeMachine } from './lib/machine.js';
import { buildBenchProgs } from './lib/progs.js';
import { config, type BenchConfig } from './config.js';
import { runPerPacket, type PerPacketResult } from './perpacket.js';
import { runEndToEnd, type EndToEndResult } from './e2e.js';
import { runControlPlane, type ControlResult } from './control.js';
import { runMeter, type MeterResult } from './meter.js';
import { runSessions, type SessionBenchResult } from './sessions.js';
import { runIcmp, type IcmpResult } from './icmp.js';
import { report, METHODS } from './report.js';

interface Args {
  quick: boolean;
  only: Set<string>;
  /** perpacket: only these path ids, at these scales */
  paths?: string[];
  scales?: number[];
  out?: string;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, only: new Set(['perpacket', 'e2e', 'control', 'meter', 'sessions', 'icmp']), write: true };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--no-write') a.write = false;
    else if (x === '--only') a.only = new Set(argv[++i]!.split(','));
    else if (x.startsWith('--only=')) a.only = new Set(x.slice(7).split(','));
    else if (x === '--out') a.out = argv[++i];
    else if (x.startsWith('--out=')) a.out = x.slice(6);
    else if (x === '--paths') a.paths = argv[++i]!.split(',');
    else if (x === '--scales') a.scales = argv[++i]!.split(',').map(Number);
    else if (x === '--help' || x === '-h') {
      console.log('usage: node dist/bench/run.js [--quick] [--only perpacket,e2e,control,meter,sessions,icmp] [--paths ID,..] [--scales N,..] [--out FILE] [--no-write]');
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
  meter?: MeterResult | { error: string };
  sessions?: SessionBenchResult | { error: string };
  icmp?: IcmpResult | { error: string };
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
  const perPacket = { ...cfg.perPacket, ...(args.paths ? { paths: args.paths } : {}), ...(args.scales ? { scales: args.scales } : {}) };
  result.perPacket = await part('perpacket', () => runPerPacket(object, progDir, { ...perPacket, log }));
  result.endToEnd = await part('e2e', () => runEndToEnd(object, progDir, { ...cfg.endToEnd, log }));
  result.controlPlane = await part('control', () => runControlPlane({ ...cfg.control, log }));
  result.meter = await part('meter', () => runMeter(object, { ...cfg.meter, log }));
  result.sessions = await part('sessions', () => runSessions({ ...cfg.sessions, log }));
  result.icmp = await part('icmp', () => runIcmp(object, progDir, { ...cfg.icmp, log }));
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
