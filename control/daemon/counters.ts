// Fast reads of the per-CPU counter maps for /metrics. isp_stats is a 24,576-entry per-CPU
// array that is almost all zeros; label_stats may hold a million labels. Both are read with
// bpf_map_lookup_batch into one large buffer (not one Buffer per entry), zero entries are
// skipped by looking at 32-bit words, and only the rest is summed (exactly, as bigint).
import { BpfError, type BpfMap } from '../bpf/index.js';
import { call } from '../bpf/errors.js';
import { native } from '../bpf/native.js';
import { DIRECTIONS, DROP_REASONS, POINTS } from '../tables/types.js';
import type { DropCounterRow, IspCounterRow, LabelCounterRow } from '../metrics/collector.js';

interface Batch {
  keys: Buffer;
  values: Buffer;
  count: number;
}

/** Every entry of a map in one pair of buffers (keys, per-CPU values), by batch lookup. */
export function readAllBatched(m: BpfMap): Batch {
  const fd = m.handle();
  const ks = m.keySize;
  const vs = m.valueBufferSize;
  const tokenSize = Math.max(ks, 8);
  const parts: Batch[] = [];
  let total = 0;
  let inBatch: Buffer | null = null;
  let chunk = Math.min(m.maxEntries, m.typeName.includes('array') ? m.maxEntries : 16_384);
  for (;;) {
    const outBatch = Buffer.alloc(tokenSize);
    const keys = Buffer.alloc(chunk * ks);
    const values = Buffer.alloc(chunk * vs);
    let r: { count: number; done: boolean };
    try {
      const from = inBatch;
      r = call(() => native().mapLookupBatch(fd, from, outBatch, keys, values, chunk));
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOSPC' && chunk < m.maxEntries * 2) {
        chunk *= 2;
        continue;
      }
      throw e;
    }
    parts.push({ keys, values, count: r.count });
    total += r.count;
    if (r.done || r.count === 0) break;
    inBatch = outBatch;
  }
  if (parts.length === 1) return parts[0]!;
  return {
    keys: Buffer.concat(parts.map((p) => p.keys.subarray(0, p.count * ks))),
    values: Buffer.concat(parts.map((p) => p.values.subarray(0, p.count * vs))),
    count: total,
  };
}

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

/** Entries with traffic only. Index = (isp * 2 + direction) * POINTS.length + point. */
export function readIspStats(m: BpfMap): IspCounterRow[] {
  const b = readAllBatched(m);
  const cpus = cpusOf(m);
  const rows: IspCounterRow[] = [];
  for (let i = 0; i < b.count; i++) {
    const c = sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus);
    if (!c) continue;
    const idx = b.keys.readUInt32LE(i * 4);
    const np = POINTS.length;
    rows.push({ isp: Math.floor(idx / (2 * np)), direction: DIRECTIONS[Math.floor(idx / np) % 2]!, point: POINTS[idx % np]!, ...c });
  }
  return rows;
}

/** Every label with a counter entry (zeros included: the label exists in the ILM). */
export function readLabelStats(m: BpfMap): LabelCounterRow[] {
  const b = readAllBatched(m);
  const cpus = cpusOf(m);
  const rows: LabelCounterRow[] = new Array(b.count);
  for (let i = 0; i < b.count; i++) {
    const c = sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus) ?? { packets: 0n, bytes: 0n };
    rows[i] = { label: b.keys.readUInt32LE(i * 4), ...c };
  }
  return rows;
}

export function readDropStats(m: BpfMap): DropCounterRow[] {
  const b = readAllBatched(m);
  const cpus = cpusOf(m);
  const rows: DropCounterRow[] = [];
  for (let i = 0; i < b.count; i++) {
    const reason = DROP_REASONS[b.keys.readUInt32LE(i * 4)];
    if (!reason) continue;
    rows.push({ reason, ...(sumAt(b.values, i * m.valueBufferSize, m.perCpuStride, cpus) ?? { packets: 0n, bytes: 0n }) });
  }
  return rows;
}
