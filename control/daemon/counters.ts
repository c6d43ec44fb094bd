// Fast reads of the per-CPU counter maps for /metrics. isp_stats is a 24,576-entry per-CPU
// array that is almost all zeros; label_stats may hold a million labels. Both are read through
// BpfMap.readPacked (bpf_map_lookup_batch into one large buffer, not one Buffer per entry),
// zero entries are skipped by looking at 32-bit words, and only the rest is summed (exactly,
// as bigint).
import type { BpfMap } from '../bpf/index.js';
import { DROP_REASONS, ICMP_KINDS, ICMP_OUTCOMES, ispStatsSlot } from '../tables/types.js';
import type { DropCounterRow, IcmpCounterRow, IspCounterRow, LabelCounterRow } from '../metrics/collector.js';

const words = new WeakMap<Buffer, Uint32Array>();

/** Sum of struct ff_counter over CPUs at values[off...], or undefined when all zero. */
function sumAt(values: Buffer, off: number, stride: number, cpus: number): { packets: bigint; bytes: bigint } | undefined {
  // The zero test runs on a Uint32Array view (values are 8-byte aligned in the buffer).
  let w = words.get(values);
  if (!w) {
    w = values.byteOffset % 4 === 0 ? new Uint32Array(values.buffer, values.byteOffset, values.length >>> 2) : new Uint32Array(Buffer.from(values).buffer);
    words.set(values, w);
  }
  let any = 0;
  for (let c = 0; c < cpus; c++) {
    const o = (off + c * stride) >>> 2;
    any |= w[o]! | w[o + 1]! | w[o + 2]! | w[o + 3]!;
  }
  if (any === 0) return undefined;
  let packets = 0n;
  let bytes = 0n;
  for (let c = 0; c < cpus; c++) {
    const o = off + c * stride;
    packets += values.readBigUInt64LE(o);
    bytes += values.readBigUInt64LE(o + 8);
  }
  return { packets, bytes };
}

const cpusOf = (m: BpfMap): number => m.valueBufferSize / m.perCpuStride;

/** Entries with traffic only, keyed by ispStatsIndex. */
export function readIspStats(m: BpfMap): IspCounterRow[] {
  const b = m.readPacked();
  const cpus = cpusOf(m);
  const rows: IspCounterRow[] = [];
  for (let i = 0; i < b.count; i++) {
    const c = sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus);
    if (!c) continue;
    const idx = b.keys.readUInt32LE(i * 4);
    rows.push({ ...ispStatsSlot(idx), ...c });
  }
  return rows;
}

/** Every label with a counter entry (zeros included: the label exists in the ILM). */
export function readLabelStats(m: BpfMap): LabelCounterRow[] {
  const b = m.readPacked();
  const cpus = cpusOf(m);
  const rows: LabelCounterRow[] = new Array(b.count);
  for (let i = 0; i < b.count; i++) {
    const c = sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus) ?? { packets: 0n, bytes: 0n };
    rows[i] = { label: b.keys.readUInt32LE(i * 4), ...c };
  }
  return rows;
}

export function readDropStats(m: BpfMap): DropCounterRow[] {
  const b = m.readPacked();
  const cpus = cpusOf(m);
  const rows: DropCounterRow[] = [];
  for (let i = 0; i < b.count; i++) {
    const reason = DROP_REASONS[b.keys.readUInt32LE(i * 4)];
    if (!reason) continue;
    rows.push({ reason, ...(sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus) ?? { packets: 0n, bytes: 0n }) });
  }
  return rows;
}

/** Every (kind, outcome) of icmp_stats, zeros included. */
export function readIcmpStats(m: BpfMap): IcmpCounterRow[] {
  const b = m.readPacked();
  const cpus = cpusOf(m);
  const rows: IcmpCounterRow[] = [];
  for (let i = 0; i < b.count; i++) {
    const idx = b.keys.readUInt32LE(i * 4);
    const kind = ICMP_KINDS[Math.floor(idx / ICMP_OUTCOMES.length)];
    const outcome = ICMP_OUTCOMES[idx % ICMP_OUTCOMES.length];
    if (!kind || !outcome) continue;
    rows.push({ kind, outcome, ...(sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus) ?? { packets: 0n, bytes: 0n }) });
  }
  return rows;
}
