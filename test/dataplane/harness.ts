// Test harness for the XDP programs: loads build/bpf/fecflow.bpf.o, writes a `Tables` into its
// maps through control/tables/layout.ts (so the layout is exercised too), runs one frame per
// BPF_PROG_TEST_RUN, and reads counters as deltas summed over CPUs.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BpfObject, type BpfMap } from '../../control/bpf/index.js';
import { counterCodec, encodeTables, FF_DROP_MAX } from '../../control/tables/layout.js';
import { DROP_REASONS, emptyTables, ispStatsIndex, type Direction, type DropReason, type Point, type Tables } from '../../control/tables/types.js';
import { u32 } from '../../control/bpf/codec.js';

export const OBJECT = resolve(import.meta.dirname, '../../build/bpf/fecflow.bpf.o');
export type ProgName = 'xdp_access' | 'xdp_core' | 'xdp_isp';
export const PROGRAMS: readonly ProgName[] = ['xdp_access', 'xdp_core', 'xdp_isp'];

export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_REDIRECT = 4;
export const ACTION_NAMES = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'];

/** The loopback device: always there, so devmap accepts it as a tx port. */
export const LO = 1;

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

export interface RunResult {
  action: number;
  data: Buffer;
}

const ARRAY_TYPES = new Set(['array', 'percpu_array']);

/** The counters of one run: drop reasons (packets, bytes) and any isp/label counters read. */
export interface CounterSnapshot {
  drops: Counter[];
  isp: Map<number, Counter>;
  labels: Map<number, Counter>;
}

export class Dataplane {
  readonly obj: BpfObject;
  /** keys written into ARRAY maps by the last load, to be zeroed by the next one */
  #arrayKeys = new Map<string, Buffer[]>();

  private constructor(obj: BpfObject) {
    this.obj = obj;
  }

  static open(): Dataplane {
    if (!existsSync(OBJECT)) throw new Error(`${OBJECT} is missing: run make -C dataplane`);
    return new Dataplane(BpfObject.open(OBJECT));
  }

  map(name: string): BpfMap {
    return this.obj.map(name);
  }

  /** Replaces every config map's content by the tables (label_stats entries for every ILM label). */
  load(t: Tables): void {
    for (const [name, entries] of encodeTables(t)) {
      const m = this.map(name);
      if (ARRAY_TYPES.has(m.typeName)) {
        const zero = Buffer.alloc(m.valueSize);
        for (const k of this.#arrayKeys.get(name) ?? []) m.set(k, zero);
        this.#arrayKeys.set(name, entries.map(([k]) => k));
      } else {
        for (const k of m.keys()) m.delete(k);
      }
      // One call per entry: BpfMap.setMany throws on LPM tries, whose ENOTSUPP from the batch
      // call carries the request's count and so looks like a partial write.
      for (const [k, v] of entries) m.set(k, v);
    }
    const ls = this.map('label_stats');
    const want = new Set([...t.ilm.keys()]);
    for (const k of ls.keys()) if (!want.has(u32.decode(k))) ls.delete(k);
    for (const label of want) {
      const k = u32.encode(label);
      if (!ls.get(k)) ls.set(k, Buffer.alloc(ls.valueBufferSize));
    }
  }

  run(prog: ProgName, frame: Buffer, ingressIfindex = LO): RunResult {
    const r = this.obj.program(prog).testRun({ data: frame, ingressIfindex });
    return { action: r.retval, data: r.data };
  }

  #sum(map: BpfMap, key: number): Counter {
    const v = map.get(u32.encode(key));
    const c: Counter = { packets: 0n, bytes: 0n };
    if (!v) return c;
    for (const b of map.splitPerCpu(v)) {
      const x = counterCodec.decode(b);
      c.packets += x.packets;
      c.bytes += x.bytes;
    }
    return c;
  }

  drop(reason: DropReason): Counter {
    return this.#sum(this.map('drop_stats'), DROP_REASONS.indexOf(reason));
  }

  drops(): Counter[] {
    const m = this.map('drop_stats');
    return Array.from({ length: FF_DROP_MAX }, (_, i) => this.#sum(m, i));
  }

  isp(isp: number, dir: Direction, point: Point): Counter {
    return this.#sum(this.map('isp_stats'), ispStatsIndex(isp, dir, point));
  }

  label(label: number): Counter {
    return this.#sum(this.map('label_stats'), label);
  }

  /**
   * Runs one frame and returns what changed: the drop counters (every reason), and the isp and
   * label counters named in watch.
   */
  runCounted(prog: ProgName, frame: Buffer, watch: { isp?: Array<[number, Direction, Point]>; labels?: number[] } = {}, ingressIfindex = LO): RunResult & { delta: Delta } {
    const before = this.#snapshot(watch);
    const r = this.run(prog, frame, ingressIfindex);
    const after = this.#snapshot(watch);
    return { ...r, delta: diff(before, after, watch) };
  }

  #snapshot(watch: { isp?: Array<[number, Direction, Point]>; labels?: number[] }): { drops: Counter[]; isp: Counter[]; labels: Counter[] } {
    return {
      drops: this.drops(),
      isp: (watch.isp ?? []).map(([i, d, p]) => this.isp(i, d, p)),
      labels: (watch.labels ?? []).map((l) => this.label(l)),
    };
  }

  close(): void {
    this.obj.close();
  }
}

export interface Delta {
  /** drop reasons that changed, with their deltas */
  drops: Partial<Record<DropReason, Counter>>;
  /** 'isp/dir/point' -> delta, for every watched entry (zero included) */
  isp: Record<string, Counter>;
  /** label -> delta, for every watched label */
  labels: Record<number, Counter>;
}

function sub(a: Counter, b: Counter): Counter {
  return { packets: b.packets - a.packets, bytes: b.bytes - a.bytes };
}

function diff(
  before: { drops: Counter[]; isp: Counter[]; labels: Counter[] },
  after: { drops: Counter[]; isp: Counter[]; labels: Counter[] },
  watch: { isp?: Array<[number, Direction, Point]>; labels?: number[] },
): Delta {
  const d: Delta = { drops: {}, isp: {}, labels: {} };
  before.drops.forEach((c, i) => {
    const x = sub(c, after.drops[i]!);
    if (x.packets || x.bytes) d.drops[DROP_REASONS[i]!] = x;
  });
  (watch.isp ?? []).forEach(([i, dir, p], j) => (d.isp[`${i}/${dir}/${p}`] = sub(before.isp[j]!, after.isp[j]!)));
  (watch.labels ?? []).forEach((l, j) => (d.labels[l] = sub(before.labels[j]!, after.labels[j]!)));
  return d;
}

export function counter(packets: number, bytes: number): Counter {
  return { packets: BigInt(packets), bytes: BigInt(bytes) };
}

export { emptyTables };
