// The reconciler's view of a BPF map: enough to read it whole and to write or delete in
// batches. The daemon adapts control/bpf's BpfMap to it; tests use ./memory.ts.

export interface MapIO {
  /** the C name of the map, e.g. 'ilm' */
  name: string;
  /** 'array': every index exists and a zero value means empty; 'hash': keys come and go */
  kind: 'hash' | 'array';
  /** bytes of one value as entries() returns it (for per-CPU maps: all CPUs) */
  valueSize: number;
  entries(): Array<[Buffer, Buffer]>;
  setMany(entries: ReadonlyArray<readonly [Buffer, Buffer]>): void;
  deleteMany(keys: readonly Buffer[]): number | void;
}

/** What one map held when it was read. */
export interface ObservedMap {
  kind: 'hash' | 'array';
  valueSize: number;
  entries: Array<[Buffer, Buffer]>;
}

export type Observed = Map<string, ObservedMap>;

/** Encoded desired content per map name (control/tables/layout.ts encodeTables, label_stats). */
export type Desired = Map<string, ReadonlyArray<readonly [Buffer, Buffer]>>;
