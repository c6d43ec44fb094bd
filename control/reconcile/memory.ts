// An in-memory MapIO that behaves like the kernel's maps where the reconciler can tell: an
// array has every index (zero when never written) and refuses deletes; a hash refuses to
// delete a missing key. By default an array lists only the slots ever written (a 65536-slot
// array read whole on every check makes tests crawl); the planner treats a zero slot as empty
// either way, and `dense: true` lists every slot as the kernel does. Every batch call is recorded in a shared log, so tests can check the
// order of writes across maps, and a hook can make a chosen call fail.

import type { MapIO } from './mapio.js';

export interface WriteEvent {
  /** position in the shared log */
  seq: number;
  map: string;
  op: 'set' | 'delete';
  /** hex keys, in call order */
  keys: string[];
  /** a set of all-zero values into an array: slots being emptied */
  cleared: boolean;
}

export class WriteLog {
  readonly events: WriteEvent[] = [];
  /** called after each successful batch call, with the maps as they now are */
  afterEach?: (e: WriteEvent) => void;
  /** return an Error to make this call fail before it changes anything */
  failWhen?: (e: Omit<WriteEvent, 'seq'>) => Error | undefined;

  /** number of entries written or deleted in all */
  get entries(): number {
    return this.events.reduce((n, e) => n + e.keys.length, 0);
  }

  clear(): void {
    this.events.length = 0;
  }
}

export interface MemoryMapOptions {
  kind: 'hash' | 'array';
  keySize?: number;
  valueSize: number;
  /** for arrays: the number of indexes */
  maxEntries?: number;
  /** for arrays: entries() lists every index, as the kernel does (default: written ones) */
  dense?: boolean;
  log?: WriteLog;
}

export class MemoryMap implements MapIO {
  readonly kind: 'hash' | 'array';
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly log: WriteLog;
  readonly dense: boolean;
  private readonly data = new Map<string, Buffer>();

  constructor(
    readonly name: string,
    opts: MemoryMapOptions,
  ) {
    this.kind = opts.kind;
    this.valueSize = opts.valueSize;
    this.maxEntries = opts.maxEntries ?? (opts.kind === 'array' ? 16 : Number.MAX_SAFE_INTEGER);
    this.log = opts.log ?? new WriteLog();
    this.dense = opts.dense ?? false;
  }

  private index(key: Buffer): number {
    if (key.length !== 4) throw new Error(`${this.name}: array key must be 4 bytes`);
    const i = key.readUInt32LE(0);
    if (i >= this.maxEntries) throw new Error(`${this.name}: index ${i} out of range (E2BIG)`);
    return i;
  }

  entries(): Array<[Buffer, Buffer]> {
    if (this.kind === 'hash' || !this.dense) return [...this.data].map(([k, v]) => [Buffer.from(k, 'hex'), Buffer.from(v)]);
    const out: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < this.maxEntries; i++) {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(i);
      out.push([k, Buffer.from(this.data.get(k.toString('hex')) ?? Buffer.alloc(this.valueSize))]);
    }
    return out;
  }

  get(key: Buffer): Buffer | undefined {
    return this.data.get(key.toString('hex'));
  }

  /** Sets an entry without logging it: the state found before a reconcile. */
  seed(entries: ReadonlyArray<readonly [Buffer, Buffer]>): this {
    for (const [k, v] of entries) this.data.set(k.toString('hex'), Buffer.from(v));
    return this;
  }

  private record(op: 'set' | 'delete', keys: readonly Buffer[], cleared = false): WriteEvent {
    const e = { map: this.name, op, keys: keys.map((k) => k.toString('hex')), cleared };
    const err = this.log.failWhen?.(e);
    if (err) throw err;
    const ev = { seq: this.log.events.length, ...e };
    this.log.events.push(ev);
    return ev;
  }

  setMany(entries: ReadonlyArray<readonly [Buffer, Buffer]>): void {
    for (const [k, v] of entries) {
      if (this.kind === 'array') this.index(k);
      if (v.length !== this.valueSize) throw new Error(`${this.name}: value of ${v.length} bytes, expected ${this.valueSize}`);
    }
    const cleared = this.kind === 'array' && entries.length > 0 && entries.every(([, v]) => v.every((x) => x === 0));
    const ev = this.record('set', entries.map(([k]) => k), cleared);
    for (const [k, v] of entries) this.data.set(k.toString('hex'), Buffer.from(v));
    this.log.afterEach?.(ev);
  }

  deleteMany(keys: readonly Buffer[]): number {
    if (this.kind === 'array') throw new Error(`${this.name}: cannot delete from an array map (EINVAL)`);
    for (const k of keys) if (!this.data.has(k.toString('hex'))) throw new Error(`${this.name}: no entry ${k.toString('hex')} (ENOENT)`);
    const ev = this.record('delete', keys);
    for (const k of keys) this.data.delete(k.toString('hex'));
    this.log.afterEach?.(ev);
    return keys.length;
  }
}
