// The real data plane as the differential test sees it: one loaded fecflow.bpf.o whose config
// maps hold a `Tables` (written through control/tables/layout.ts), its three programs run with
// BPF_PROG_TEST_RUN, and its per-CPU counters read back summed over the CPUs. Counter reads are
// raw and narrow (one key at a time, or the small drop_stats map whole) because they happen
// around every frame.

import { BpfError, BpfObject, type BpfMap } from '../../control/bpf/index.js';
import { encodeTables, hashKeyCodec, MAPS } from '../../control/tables/layout.js';
import { NO_HASH_KEY, type HashKey } from '../model/hash.js';
import { DROP_REASONS, type Tables } from '../../control/tables/types.js';
import type { Program } from '../model/index.js';
import { TRAFFIC_TYPES } from '../../control/daemon/usage.js';

export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;

const PROGRAMS: Record<Program, string> = { access: 'xdp_access', core: 'xdp_core', isp: 'xdp_isp' };

export interface Count {
  packets: number;
  bytes: number;
}

export const OBJECT_PATH = 'build/bpf/fecflow.bpf.o';

export class Dataplane {
  readonly #obj: BpfObject;
  readonly #isp: BpfMap;
  readonly #labels: BpfMap;
  readonly #drops: BpfMap;
  readonly #subs: BpfMap;

  constructor(tables: Tables, hashKey: HashKey = NO_HASH_KEY, path = OBJECT_PATH) {
    this.#obj = BpfObject.open(path);
    try {
      for (const [name, entries] of encodeTables(tables)) writeAll(this.#obj.map(name), entries);
      this.#obj.map('hash_key').set(u32(0), hashKeyCodec.encode(hashKey));
      // label_stats entries are created by the control plane; the data plane skips a missing one
      const labels = this.#obj.map('label_stats');
      const zero = Buffer.alloc(labels.valueBufferSize);
      writeAll(labels, [...tables.ilm.keys()].map((label) => [MAPS.label_stats.key.encode(label), zero] as const));
      this.#isp = this.#obj.map('isp_stats');
      this.#labels = labels;
      this.#drops = this.#obj.map('drop_stats');
      this.#subs = this.#obj.map('sub_stats');
    } catch (e) {
      this.#obj.close();
      throw e;
    }
  }

  run(program: Program, frame: Buffer, ingressIfindex: number): { retval: number; data: Buffer } {
    const r = this.#obj.program(PROGRAMS[program]).testRun({ data: frame, ingressIfindex });
    return { retval: r.retval, data: r.data };
  }

  /** isp_stats[index] summed over CPUs. */
  isp(index: number): Count {
    return sum(this.#isp, this.#isp.get(u32(index)));
  }

  /** label_stats[label] summed over CPUs; undefined when the entry does not exist. */
  label(label: number): Count | undefined {
    const v = this.#labels.get(u32(label));
    return v === undefined ? undefined : sum(this.#labels, v);
  }

  /** drop_stats, one count per reason in DROP_REASONS order. */
  drops(): Count[] {
    return DROP_REASONS.map((_, i) => sum(this.#drops, this.#drops.get(u32(i))));
  }

  /** sub_stats[index] (shared by the CPUs, not per-CPU): one count per traffic type. */
  subscriber(index: number): Count[] {
    const v = this.#subs.get(u32(index));
    return Array.from({ length: TRAFFIC_TYPES.length }, (_, t) => ({
      packets: v ? Number(v.readBigUInt64LE(t * 16)) : 0,
      bytes: v ? Number(v.readBigUInt64LE(t * 16 + 8)) : 0,
    }));
  }

  /** Every non-zero isp_stats entry, by index. */
  allIsp(): Map<number, Count> {
    return nonZero(this.#isp);
  }

  /** Every non-zero label_stats entry, by label. */
  allLabels(): Map<number, Count> {
    return nonZero(this.#labels);
  }

  close(): void {
    this.#obj.close();
  }
}

/**
 * setMany, falling back to one write per entry: on LPM tries (no batch update in the kernel)
 * BpfMap.setMany currently rethrows ENOTSUPP instead of falling back, because the kernel leaves
 * the batch count as passed in and setMany reads that as a partial write.
 */
function writeAll(map: BpfMap, entries: ReadonlyArray<readonly [Buffer, Buffer]>): void {
  try {
    map.setMany(entries);
  } catch (e) {
    if (!(e instanceof BpfError) || e.code !== 'ENOTSUPP') throw e;
    for (const [key, value] of entries) map.set(key, value);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** Sums struct ff_counter { u64 packets; u64 bytes; } over the per-CPU slots of a value. */
function sum(map: BpfMap, value: Buffer | undefined): Count {
  const c = { packets: 0, bytes: 0 };
  if (!value) return c;
  const stride = roundUp8(map.valueSize); // the kernel's per-CPU slot
  for (let off = 0; off + 16 <= value.length; off += stride) {
    c.packets += Number(value.readBigUInt64LE(off));
    c.bytes += Number(value.readBigUInt64LE(off + 8));
  }
  return c;
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

function nonZero(map: BpfMap): Map<number, Count> {
  const out = new Map<number, Count>();
  for (const [key, value] of map.entries()) {
    const c = sum(map, value);
    if (c.packets !== 0 || c.bytes !== 0) out.set(key.readUInt32LE(0), c);
  }
  return out;
}
