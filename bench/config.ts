// The bench's two configurations: the full one `npm run bench` reports, and --quick (the smoke
// test's and a developer's). The full one keeps the whole run under 15 minutes on 2 CPUs.
import type { PerPacketOptions } from './perpacket.js';
import type { EndToEndOptions } from './e2e.js';
import type { ControlOptions } from './control.js';
import type { MeterOptions } from './meter.js';
import type { SessionBenchOptions } from './sessions.js';
import type { IcmpOptions } from './icmp.js';

export interface BenchConfig {
  quick: boolean;
  perPacket: Omit<PerPacketOptions, 'log'>;
  endToEnd: Omit<EndToEndOptions, 'log'>;
  control: Omit<ControlOptions, 'log'>;
  meter: Omit<MeterOptions, 'log'>;
  sessions: Omit<SessionBenchOptions, 'log'>;
  icmp: Omit<IcmpOptions, 'log'>;
}

export function config(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        perPacket: { scales: [1, 1000], flows: 4096, rounds: 3, passes: 1, singleRounds: 1 },
        endToEnd: { subscribers: 1000, flows: 1000, frameSizes: [64], seconds: 0.3, rounds: 1 },
        control: { applySizes: [1000, 10000], applyBudgetSeconds: 60, moves: 50, moveBudgetSeconds: 20, isps: 100, labels: 1000, scrapes: 5, cliRuns: 2, kernelRoutes: 10000, rounds: 1 },
        meter: { subscribers: 10000, rounds: 1 },
        sessions: { subscribers: 2000, concurrency: 64 },
        icmp: { frames: 200, rounds: 1 },
      }
    : {
        quick,
        perPacket: { scales: [1, 10000, 1000000], flows: 4096, rounds: 9, passes: 8, singleRounds: 3 },
        endToEnd: { subscribers: 1000000, flows: 65536, frameSizes: [64, 512], seconds: 2, rounds: 5 },
        control: { applySizes: [10000, 100000, 1000000], applyBudgetSeconds: 300, moves: 1000, moveBudgetSeconds: 60, isps: 1000, labels: 10000, scrapes: 20, cliRuns: 10, kernelRoutes: 1000000, rounds: 3 },
        meter: { subscribers: 1000000, rounds: 3 },
        sessions: { subscribers: 20000, concurrency: 128 },
        icmp: { frames: 2000, rounds: 5 },
      };
}

