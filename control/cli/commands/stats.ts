// `fecflow stats [--watch]`: per-ISP packets/s and bits/s up and down, computed from two
// samples of the counters, and drops by reason. Rates use the "in" point (where this router
// pushed the label) plus the "out" point (where it popped it) plus "transit" (where it swapped
// it as an LSR), so they mean "through this router" at every role.
import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext, CommandModule } from '../context.js';
import { wantsJson } from '../context.js';
import { json, si, table } from '../output.js';

/** Counters as the API sends them: decimal strings of 64-bit values. */
interface Pc {
  packets: string;
  bytes: string;
}
interface IspStats {
  isp: string;
  index: number;
  up: Record<'in' | 'out' | 'policed' | 'transit', Pc>;
  down: Record<'in' | 'out' | 'policed' | 'transit', Pc>;
}
export interface StatsSample {
  at: number;
  isps: IspStats[];
  drops: Array<{ reason: string; packets: string; bytes: string }>;
}

export interface IspRate {
  isp: string;
  upPps: number;
  upBps: number;
  downPps: number;
  downBps: number;
  policedPps: number;
}

interface Sum {
  packets: bigint;
  bytes: bigint;
}

// transit is absent in samples from a daemon older than the LSR counters
const through = (d: IspStats['up']): Sum => ({
  packets: BigInt(d.in.packets) + BigInt(d.out.packets) + BigInt(d.transit?.packets ?? 0),
  bytes: BigInt(d.in.bytes) + BigInt(d.out.bytes) + BigInt(d.transit?.bytes ?? 0),
});

/** Rates between two samples; counters that went backwards (a restart) count from zero. */
export function rates(a: StatsSample, b: StatsSample): { seconds: number; isps: IspRate[]; drops: Array<{ reason: string; pps: number; total: bigint }> } {
  const dt = Math.max(0.001, (b.at - a.at) / 1000);
  const prev = new Map(a.isps.map((i) => [i.isp, i]));
  // exact in bigint; only the difference between two samples becomes a number
  const delta = (xs: bigint | string, ys: bigint | string | undefined): number => {
    const x = BigInt(xs);
    const y = ys === undefined ? undefined : BigInt(ys);
    return Number(y === undefined || x < y ? x : x - y);
  };
  const isps = b.isps.map((i) => {
    const p = prev.get(i.isp);
    const up = through(i.up);
    const down = through(i.down);
    const pu = p ? through(p.up) : undefined;
    const pd = p ? through(p.down) : undefined;
    return {
      isp: i.isp,
      upPps: delta(up.packets, pu?.packets) / dt,
      upBps: (delta(up.bytes, pu?.bytes) * 8) / dt,
      downPps: delta(down.packets, pd?.packets) / dt,
      downBps: (delta(down.bytes, pd?.bytes) * 8) / dt,
      policedPps: (delta(i.up.policed.packets, p?.up.policed.packets) + delta(i.down.policed.packets, p?.down.policed.packets)) / dt,
    };
  });
  const pdrops = new Map(a.drops.map((d) => [d.reason, d.packets]));
  const drops = b.drops.map((d) => ({ reason: d.reason, pps: delta(d.packets, pdrops.get(d.reason)) / dt, total: BigInt(d.packets) }));
  return { seconds: dt, isps, drops };
}

function render(r: ReturnType<typeof rates>): string {
  const isp = table(
    ['isp', 'up pkt/s', 'up bit/s', 'down pkt/s', 'down bit/s', 'policed pkt/s'],
    r.isps.map((i) => [i.isp, si(i.upPps), si(i.upBps, 'bit/s'), si(i.downPps), si(i.downBps, 'bit/s'), si(i.policedPps)]),
  );
  const drops = r.drops.filter((d) => d.total > 0n);
  const dropText = drops.length
    ? table(['drop reason', 'pkt/s', 'total'], drops.map((d) => [d.reason, si(d.pps), String(d.total)]))
    : 'no drops\n';
  return `${isp}\n${dropText}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sample(ctx: CliContext, cmd: Command): Promise<StatsSample> {
  return ctx.client(cmd).get<StatsSample>('/v1/stats');
}

export const statsCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('stats')
      .description('per-ISP packet and bit rates up and down, and drops by reason (from two samples)')
      .option('-w, --watch', 'keep printing, every --interval seconds (Ctrl-C to stop)')
      .option('-i, --interval <seconds>', 'seconds between the two samples', (v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new InvalidArgumentError('expected a number of seconds in (0, 3600]');
        return n;
      }, 1)
      .option('--count <n>', 'with --watch: stop after n updates', (v) => Number.parseInt(v, 10))
      .option('--json', 'print JSON')
      .action(async (o: { watch?: boolean; interval: number; count?: number }, cmd: Command) => {
        let prev = await sample(ctx, cmd);
        let n = 0;
        for (;;) {
          await sleep(o.interval * 1000);
          const cur = await sample(ctx, cmd);
          const r = rates(prev, cur);
          if (wantsJson(cmd)) ctx.io.out(json({ at: new Date(cur.at).toISOString(), ...r }));
          else {
            if (o.watch && ctx.io.isTTY) ctx.io.out('\x1b[H\x1b[2J');
            ctx.io.out(`${new Date(cur.at).toISOString()}  over ${r.seconds.toFixed(1)} s\n${render(r)}`);
          }
          n++;
          if (!o.watch || (o.count !== undefined && n >= o.count)) return;
          prev = cur;
        }
      });
  },
};
