// The reconciler's view of one map (control/reconcile's MapIO), restated here so the daemon
// compiles on its own; the shapes must stay equal.
export interface MapIO {
  name: string;
  kind: 'hash' | 'array';
  valueSize: number;
  entries(): Array<[Buffer, Buffer]>;
  setMany(entries: ReadonlyArray<readonly [Buffer, Buffer]>): void;
  deleteMany(keys: readonly Buffer[]): number | void;
}
