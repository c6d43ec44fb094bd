// Benchmark 4: reading every subscriber's counters. A fresh object, a temporary registry and
// the daemon's own Meter with N subscribers holding slots 1..N; every slot's counters are then
// made to move (as if every subscriber had sent traffic) and one reading is timed: the batched
// read of sub_stats, the fold of every counter into the totals (64-bit, exact), and the write of
// the changed rows to the registry, reported apart. An idle reading (nothing moved) and
// current() of one subscriber (what accounting asks for) are timed too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from '../control/bpf/index.js';
import { u32 } from '../control/bpf/codec.js';
import { Meter, subStatsSource } from '../control/daemon/meter.js';
import { Registry } from '../control/registry/registry.js';
import { UsageStore } from '../control/registry/usage.js';
import { FF_DIR_MAX } from '../control/tables/shared.gen.js';
import { summarize, type Summary } from './lib/stats.js';

export interface MeterOptions {
  subscribers: number;
  rounds: number;
  log: (msg: string) => void;
}

export interface MeterResult {
  subscribers: number;
  /** handing out N slots and recording them (a first start) */
  allocateSeconds: number;
  /** every subscriber's counters moved: ms to read sub_stats and fold, and to write the rows */
  readAll: Summary;
  writeAll: Summary;
  /** CPU time (user + system) of the process for the whole reading with every counter moved,
   * ms: on a machine shared with other work, closer to what the reading costs than wall time */
  cpuAll: Summary;
  /** nothing moved: ms for the whole reading */
  readIdle: Summary;
  /** one subscriber, read from the data plane: µs */
  current: Summary;
}

export async function runMeter(objectPath: string, opts: MeterOptions): Promise<MeterResult> {
  const n = opts.subscribers;
  const dir = mkdtempSync(join(tmpdir(), 'fecflow-bench-meter-'));
  const obj = BpfObject.open(objectPath);
  const reg = Registry.open(join(dir, 'registry.sqlite'));
  try {
    const stats = obj.map('sub_stats');
    const meter = Meter.open(new UsageStore(reg), subStatsSource(stats));
    const names = Array.from({ length: n }, (_, i) => `sub${i}`);
    const t0 = performance.now();
    for (const name of names) meter.slotFor(name);
    meter.flush();
    const allocateSeconds = (performance.now() - t0) / 1000;
    opts.log(`  ${n} meter slots handed out and recorded in ${allocateSeconds.toFixed(1)} s`);
    meter.attach({ provisioned: () => names, provisionedCount: () => n, exclusive: async (fn) => fn() });

    const keys = Array.from({ length: (n + 1) * FF_DIR_MAX }, (_, i) => u32.encode(i));
    const readAll: number[] = [];
    const writeAll: number[] = [];
    const readIdle: number[] = [];
    const current: number[] = [];
    const cpuAll: number[] = [];
    for (let r = 1; r <= opts.rounds; r++) {
      // every slot moves: each counter of each type gets r packets and 100 r bytes
      const v = Buffer.alloc(stats.valueSize);
      for (let o = 0; o < v.length; o += 16) {
        v.writeBigUInt64LE(BigInt(r), o);
        v.writeBigUInt64LE(BigInt(100 * r), o + 8);
      }
      stats.setMany(keys.slice(FF_DIR_MAX).map((k) => [k, v] as const));
      const c0 = process.cpuUsage();
      const all = await meter.read();
      const cpu = process.cpuUsage(c0);
      cpuAll.push((cpu.user + cpu.system) / 1000);
      readAll.push(all.readMs);
      writeAll.push(all.writeMs);
      const idle = await meter.read();
      readIdle.push(idle.readMs + idle.writeMs);
      for (let i = 0; i < 1000; i++) {
        const s = performance.now();
        meter.current(names[(i * 7919) % n]!);
        current.push((performance.now() - s) * 1000);
      }
      opts.log(`  round ${r}: all moved: read+fold ${all.readMs.toFixed(0)} ms, registry write ${all.writeMs.toFixed(0)} ms (${all.changed} rows), CPU time of the whole reading ${cpuAll[cpuAll.length - 1]!.toFixed(0)} ms; idle ${(idle.readMs + idle.writeMs).toFixed(0)} ms`);
    }
    return { subscribers: n, allocateSeconds, readAll: summarize(readAll), writeAll: summarize(writeAll), cpuAll: summarize(cpuAll), readIdle: summarize(readIdle), current: summarize(current) };
  } finally {
    reg.close();
    obj.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
