// The counter reads behind /metrics (control/daemon/counters.ts), on the real data-plane maps:
// per-CPU values written into isp_stats, label_stats and drop_stats come back summed over the
// CPUs, at the (isp, direction, point) their index stands for, zero entries of isp_stats left
// out, every label kept.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfObject, numPossibleCpus, u32 } from '../../control/bpf/index.js';
import { readDropStats, readIspStats, readLabelStats } from '../../control/daemon/counters.js';
import { counterCodec } from '../../control/tables/layout.js';
import { FF_DROP_NO_FEC, FF_DROP_TX_PORT, FF_MAX_ISPS } from '../../control/tables/shared.gen.js';
import { ispStatsIndex } from '../../control/tables/types.js';
import { OBJECT } from '../dataplane/harness.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('counter reads on the data-plane maps', () => {
  let obj: BpfObject;
  const cpus = numPossibleCpus();
  // CPU c holds (base + c) packets and 100 × that in bytes
  const perCpu = (base: number) => Array.from({ length: cpus }, (_, c) => ({ packets: BigInt(base + c), bytes: BigInt((base + c) * 100) }));
  const sum = (base: number) => {
    const n = BigInt(cpus);
    const packets = BigInt(base) * n + (n * (n - 1n)) / 2n;
    return { packets, bytes: packets * 100n };
  };

  beforeAll(() => {
    obj = BpfObject.open(OBJECT);
  });
  afterAll(() => obj?.close());

  it('isp_stats: only entries with traffic, each at its ISP, direction and point, summed over CPUs', () => {
    const m = obj.map('isp_stats').typedPerCpu(u32, counterCodec);
    m.set(ispStatsIndex(1, 'up', 'in'), perCpu(1));
    m.set(ispStatsIndex(7, 'down', 'policed'), perCpu(50));
    m.set(ispStatsIndex(FF_MAX_ISPS - 1, 'down', 'out'), perCpu(1_000_000));
    const rows = readIspStats(obj.map('isp_stats')).sort((a, b) => a.isp - b.isp);
    expect(rows).toEqual([
      { isp: 1, direction: 'up', point: 'in', ...sum(1) },
      { isp: 7, direction: 'down', point: 'policed', ...sum(50) },
      { isp: FF_MAX_ISPS - 1, direction: 'down', point: 'out', ...sum(1_000_000) },
    ]);
  });

  it('label_stats: every label with an entry, zeros included', () => {
    const m = obj.map('label_stats').typedPerCpu(u32, counterCodec);
    m.set(5000, perCpu(3));
    m.set(5001, perCpu(0).map(() => ({ packets: 0n, bytes: 0n })));
    const rows = readLabelStats(obj.map('label_stats')).sort((a, b) => a.label - b.label);
    expect(rows).toEqual([
      { label: 5000, ...sum(3) },
      { label: 5001, packets: 0n, bytes: 0n },
    ]);
  });

  it('drop_stats: one row per reason of enum ff_drop_reason, by name', () => {
    const m = obj.map('drop_stats').typedPerCpu(u32, counterCodec);
    m.set(FF_DROP_NO_FEC, perCpu(2));
    m.set(FF_DROP_TX_PORT, perCpu(9));
    const rows = readDropStats(obj.map('drop_stats'));
    expect(rows.find((r) => r.reason === 'no_fec')).toEqual({ reason: 'no_fec', ...sum(2) });
    expect(rows.find((r) => r.reason === 'tx_port')).toEqual({ reason: 'tx_port', ...sum(9) });
    expect(rows.find((r) => r.reason === 'malformed')).toEqual({ reason: 'malformed', packets: 0n, bytes: 0n });
  });
});
