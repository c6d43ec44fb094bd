// BpfMap: one owned map descriptor with raw Buffer operations, batch operations that fall back
// to one-by-one calls where the kernel has no batch support for the map type, and typed views
// built from codecs. A lookup miss is undefined; only ENOENT counts as a miss.
import { removePin } from './bpffs.js';
import { adoptFd } from './fd.js';
import type { Codec } from './codec.js';
import { BpfError, call, closedError } from './errors.js';
import { k, native, type NativeFd } from './native.js';

export type UpdateMode = 'any' | 'create' | 'update';

export interface MapInfo {
  id: number;
  name: string;
  type: number;
  /** libbpf's name for the type, e.g. 'hash', 'percpu_array', 'lpm_trie'. */
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/**
 * Every entry of a map packed in two buffers: key i at keys[i * keySize], its value (all CPUs'
 * values for a per-CPU map, each perCpuStride apart) at values[i * valueBufferSize]. For large
 * maps read often (counters), where one Buffer per entry would cost more than the read.
 */
export interface PackedEntries {
  keys: Buffer;
  values: Buffer;
  count: number;
}

const PER_CPU = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);
// Errors that mean "this map type has no batch operation": the fallback is one call per element.
const NO_BATCH = new Set(['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP', 'ENOSYS']);

// A map without preallocation (BPF_F_NO_PREALLOC, and every per-CPU value of such a map) takes
// its elements from caches the kernel refills in the background; a burst of writes can find them
// empty for a moment and get ENOMEM although memory is there. Such a write is retried after a
// pause, with growing pauses, for about two seconds in all before the ENOMEM is reported.
const ENOMEM_PAUSES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 400, 600, 600];
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

function pause(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

function isEnomem(e: unknown): e is BpfError {
  return e instanceof BpfError && e.code === 'ENOMEM';
}

/** Runs write, retrying a transient ENOMEM (see ENOMEM_PAUSES_MS). */
export function retryEnomem<T>(write: () => T): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return write();
    } catch (e) {
      if (!isEnomem(e) || attempt >= ENOMEM_PAUSES_MS.length) throw e;
      pause(ENOMEM_PAUSES_MS[attempt]!);
    }
  }
}

function flagsOf(mode: UpdateMode | undefined): number {
  switch (mode ?? 'any') {
    case 'any':
      return k('BPF_ANY');
    case 'create':
      return k('BPF_NOEXIST');
    case 'update':
      return k('BPF_EXIST');
    default:
      throw new TypeError(`map set: unknown mode '${String(mode)}' (any, create or update)`);
  }
}

/** Number of possible CPUs: the number of values a per-CPU map holds per key. */
export function numPossibleCpus(): number {
  return call(() => native().numPossibleCpus());
}

export class BpfMap {
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** True for per-CPU maps, whose values hold one slot per possible CPU. */
  readonly perCpu: boolean;
  /** Bytes of a value buffer: valueSize, or round_up(valueSize, 8) * possible CPUs if per-CPU. */
  readonly valueBufferSize: number;
  /** Bytes between consecutive CPUs' values in a per-CPU value buffer. */
  readonly perCpuStride: number;
  #fd: NativeFd | undefined;
  #pinnedAt: string | undefined;
  // Whether each batch command worked on this map; after ENOTSUPP-like errors we go per element.
  #batch = { lookup: true, update: true, delete: true };

  /** Takes ownership of fd, which must be a map descriptor. */
  constructor(fd: NativeFd, name?: string, opts: { pinPath?: string } = {}) {
    const info = adoptFd(fd, 'map', 'BpfMap', (f) => native().mapGetInfo(f));
    this.#fd = fd;
    this.name = name ?? info.name;
    this.type = info.type;
    this.typeName = info.typeName;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.perCpu = PER_CPU.has(info.typeName);
    this.perCpuStride = this.perCpu ? Math.ceil(info.valueSize / 8) * 8 : info.valueSize;
    this.valueBufferSize = this.perCpu ? this.perCpuStride * numPossibleCpus() : info.valueSize;
    this.#pinnedAt = opts.pinPath;
  }

  /** Opens a map pinned at path (bpf_obj_get); the new BpfMap owns its own descriptor. */
  static fromPin(path: string): BpfMap {
    const fd = call(() => native().objGet(path));
    const m = new BpfMap(fd);
    m.#pinnedAt = path;
    return m;
  }

  /** Opens a map by its kernel id. */
  static fromId(id: number): BpfMap {
    return new BpfMap(call(() => native().mapGetFdById(id)));
  }

  /** The descriptor number; throws once closed. */
  get fd(): number {
    return this.handle().fd;
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  /** Where this map was last pinned or opened from, if anywhere. */
  get pinPath(): string | undefined {
    return this.#pinnedAt;
  }

  /** @internal the owned descriptor, for other control/bpf classes. */
  handle(): NativeFd {
    if (!this.#fd) throw closedError(`map '${this.name}'`);
    return this.#fd;
  }

  info(): MapInfo {
    const i = call(() => native().mapGetInfo(this.handle()));
    return { id: i.id, name: i.name, type: i.type, typeName: i.typeName, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, flags: i.flags };
  }

  /** The value for key, or undefined when there is none. */
  get(key: Buffer): Buffer | undefined {
    const out = Buffer.alloc(this.valueBufferSize);
    return call(() => native().mapLookupElem(this.handle(), key, out)) ? out : undefined;
  }

  /** Writes key → value; 'create' fails with EEXIST on an existing key, 'update' with ENOENT on a missing one. */
  set(key: Buffer, value: Buffer, opts: { mode?: UpdateMode } = {}): void {
    const flags = flagsOf(opts.mode);
    retryEnomem(() => call(() => native().mapUpdateElem(this.handle(), key, value, flags)));
  }

  /** Deletes key; returns whether it existed. */
  delete(key: Buffer): boolean {
    return call(() => native().mapDeleteElem(this.handle(), key));
  }

  /** Every key, in the kernel's iteration order. */
  keys(): Buffer[] {
    return this.entries().map(([key]) => key);
  }

  /** Every entry, read with bpf_map_lookup_batch where supported, else key by key. */
  entries(): Array<[Buffer, Buffer]> {
    const p = this.readPacked();
    const out: Array<[Buffer, Buffer]> = new Array(p.count);
    for (let i = 0; i < p.count; i++) {
      out[i] = [
        Buffer.from(p.keys.subarray(i * this.keySize, (i + 1) * this.keySize)),
        Buffer.from(p.values.subarray(i * this.valueBufferSize, (i + 1) * this.valueBufferSize)),
      ];
    }
    return out;
  }

  /** Every entry packed in two buffers (see PackedEntries); batched where supported. */
  readPacked(): PackedEntries {
    if (this.#batch.lookup) {
      try {
        return this.#packedBatch();
      } catch (e) {
        if (!(e instanceof BpfError) || !NO_BATCH.has(e.code)) throw e;
        this.#batch.lookup = false;
      }
    }
    const list = this.#entriesIter();
    return {
      keys: Buffer.concat(list.map(([key]) => key)),
      values: Buffer.concat(list.map(([, value]) => value)),
      count: list.length,
    };
  }

  /**
   * The values of array indexes [start, start + count), packed one after the other (an array
   * map's key is its index). Reads in batches: the kernel's batch starts after the index it is
   * given, so index start - 1 is passed (none for 0).
   */
  readArrayRange(start: number, count: number): Buffer {
    if (!this.typeName.includes('array')) throw new TypeError(`readArrayRange: ${this.typeName} is not an array map`);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.maxEntries) {
      throw new RangeError(`readArrayRange: [${start}, ${start + count}) is outside 0..${this.maxEntries}`);
    }
    const vs = this.valueBufferSize;
    const values = Buffer.alloc(count * vs);
    if (count === 0) return values;
    const fd = this.handle();
    const tokenSize = Math.max(this.keySize, 8);
    const keys = Buffer.alloc(count * this.keySize);
    let done = 0;
    while (done < count) {
      const index = start + done;
      const from = index === 0 ? null : Buffer.alloc(tokenSize);
      from?.writeUInt32LE(index - 1, 0);
      const r = call(() => native().mapLookupBatch(fd, from, Buffer.alloc(tokenSize), keys, values.subarray(done * vs), count - done));
      if (r.count === 0) throw new RangeError(`readArrayRange: the kernel returned nothing at index ${index}`);
      done += r.count;
    }
    return values;
  }

  #packedBatch(): PackedEntries {
    const fd = this.handle();
    const ks = this.keySize;
    const vs = this.valueBufferSize;
    const tokenSize = Math.max(ks, 8);
    const parts: PackedEntries[] = [];
    let total = 0;
    let inBatch: Buffer | null = null;
    // An array is read in one call (its size is its entry count); a hash in slices.
    let chunk = Math.max(1, Math.min(this.maxEntries, this.typeName.includes('array') ? this.maxEntries : 16_384));
    for (;;) {
      const outBatch = Buffer.alloc(tokenSize);
      const keys = Buffer.alloc(chunk * ks);
      const values = Buffer.alloc(chunk * vs);
      let r: { count: number; done: boolean };
      try {
        const from = inBatch;
        r = call(() => native().mapLookupBatch(fd, from, outBatch, keys, values, chunk));
      } catch (e) {
        // A hash bucket holds more entries than chunk: retry the same position with room for it.
        if (e instanceof BpfError && e.code === 'ENOSPC' && chunk < this.maxEntries * 2 + 1) {
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

  #entriesIter(): Array<[Buffer, Buffer]> {
    const fd = this.handle();
    const out: Array<[Buffer, Buffer]> = [];
    let key: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      const cur = key;
      if (!call(() => native().mapGetNextKey(fd, cur, next))) return out;
      const value = this.get(next);
      // The entry may have been deleted between the two calls; skip it rather than fail.
      if (value) out.push([next, value]);
      key = next;
      if (out.length > this.maxEntries * 2 + 16) throw new BpfError('bpf_map_get_next_key', 35, 'EDEADLK', 'iteration does not terminate (map changing too fast?)');
    }
  }

  /** Writes many entries with bpf_map_update_batch where supported, else one by one. */
  setMany(entries: ReadonlyArray<readonly [Buffer, Buffer]>, opts: { mode?: UpdateMode } = {}): void {
    if (entries.length === 0) return;
    const flags = flagsOf(opts.mode);
    for (const [key, value] of entries) this.#checkSizes(key, value);
    // The kernel's batch update takes no NOEXIST/EXIST element flags (EINVAL before it writes
    // anything back), so 'create' and 'update' always go element by element.
    if (this.#batch.update && flags === 0) {
      const keys = Buffer.concat(entries.map((e) => e[0]));
      const values = Buffer.concat(entries.map((e) => e[1]));
      let start = 0;
      try {
        retryEnomem(() => {
          try {
            call(() => native().mapUpdateBatch(this.handle(), keys.subarray(start * this.keySize), values.subarray(start * this.valueBufferSize), entries.length - start, flags));
          } catch (e) {
            // A batch stopped by ENOMEM wrote `count` elements first: the retry goes on after them.
            if (isEnomem(e)) start += (e as BpfError & { count?: number }).count ?? 0;
            throw e;
          }
        });
        return;
      } catch (e) {
        if (!(e instanceof BpfError) || !NO_BATCH.has(e.code) || start > 0) throw e;
        // EINVAL may also be a real error (e.g. bad flags); the element calls below report it.
        // A map type without batch support (devmap, ...) fails before the kernel writes the
        // count back, so the count still holds what was asked: that too means nothing was done.
        const done = (e as BpfError & { count?: number }).count ?? 0;
        if (done !== 0 && done !== entries.length) throw e;
        this.#batch.update = false;
      }
    }
    for (const [key, value] of entries) this.set(key, value, opts);
  }

  /** Deletes many keys (batch where supported); returns how many existed and were deleted. */
  deleteMany(keys: readonly Buffer[]): number {
    if (keys.length === 0) return 0;
    for (const key of keys) this.#checkSizes(key);
    let deleted = 0;
    let start = 0;
    if (this.#batch.delete && !this.typeName.includes('array')) {
      try {
        while (start < keys.length) {
          const rest = Buffer.concat(keys.slice(start));
          try {
            deleted += call(() => native().mapDeleteBatch(this.handle(), rest, keys.length - start));
            return deleted;
          } catch (e) {
            // A missing key stops the batch at its position: count what went, skip it, go on.
            if (e instanceof BpfError && e.code === 'ENOENT') {
              const n = (e as BpfError & { count?: number }).count ?? 0;
              deleted += n;
              start += n + 1;
              continue;
            }
            throw e;
          }
        }
        return deleted;
      } catch (e) {
        if (!(e instanceof BpfError) || !NO_BATCH.has(e.code)) throw e;
        this.#batch.delete = false;
      }
    }
    for (const key of keys.slice(start)) if (this.delete(key)) deleted++;
    return deleted;
  }

  #checkSizes(key: Buffer, value?: Buffer): void {
    if (!Buffer.isBuffer(key) || key.length !== this.keySize) {
      throw new RangeError(`map '${this.name}': key is ${Buffer.isBuffer(key) ? key.length : typeof key} bytes, the map needs ${this.keySize}`);
    }
    if (value !== undefined && (!Buffer.isBuffer(value) || value.length !== this.valueBufferSize)) {
      throw new RangeError(`map '${this.name}': value is ${Buffer.isBuffer(value) ? value.length : typeof value} bytes, the map needs ${this.valueBufferSize}`);
    }
  }

  /** Pins the map at path on a bpffs (bpf_obj_pin). */
  pin(path: string): void {
    call(() => native().objPin(this.handle(), path));
    this.#pinnedAt = path;
  }

  /** Removes the pin made by pin() or opened by fromPin(); true if a pin was removed. */
  unpin(): boolean {
    const path = this.#pinnedAt;
    if (!path) return false;
    this.#pinnedAt = undefined;
    return removePin(path);
  }

  /** Splits a per-CPU value buffer into one value per possible CPU (valueSize bytes each). */
  splitPerCpu(value: Buffer): Buffer[] {
    if (!this.perCpu) throw new TypeError(`map '${this.name}' (${this.typeName}) is not per-CPU`);
    const out: Buffer[] = [];
    for (let off = 0; off + this.perCpuStride <= value.length; off += this.perCpuStride) {
      out.push(Buffer.from(value.subarray(off, off + this.valueSize)));
    }
    return out;
  }

  /** Joins one value per possible CPU into the kernel's per-CPU layout (8-byte aligned slots). */
  joinPerCpu(values: readonly Buffer[]): Buffer {
    if (!this.perCpu) throw new TypeError(`map '${this.name}' (${this.typeName}) is not per-CPU`);
    const cpus = this.valueBufferSize / this.perCpuStride;
    if (values.length !== cpus) throw new RangeError(`map '${this.name}': ${values.length} per-CPU values given, there are ${cpus} possible CPUs`);
    const out = Buffer.alloc(this.valueBufferSize);
    values.forEach((v, i) => {
      if (v.length !== this.valueSize) throw new RangeError(`map '${this.name}': per-CPU value is ${v.length} bytes, the map needs ${this.valueSize}`);
      v.copy(out, i * this.perCpuStride);
    });
    return out;
  }

  /** A view working in decoded values; for per-CPU maps use typedPerCpu(). */
  typed<K, V>(key: Codec<K>, value: Codec<V>): TypedMap<K, V> {
    return new TypedMap(this, key, value);
  }

  /** A view of a per-CPU map whose values are arrays with one decoded value per possible CPU. */
  typedPerCpu<K, V>(key: Codec<K>, value: Codec<V>): PerCpuTypedMap<K, V> {
    return new PerCpuTypedMap(this, key, value);
  }

  /** Closes the descriptor (once; later calls do nothing). The map lives on while pinned or in use. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    fd?.close();
  }
}

function checkCodecs(map: BpfMap, key: Codec<unknown>, value: Codec<unknown>): void {
  if (key.size !== map.keySize) {
    throw new RangeError(`map '${map.name}': key codec is ${key.size} bytes but the map's key_size is ${map.keySize}`);
  }
  if (value.size !== map.valueSize) {
    throw new RangeError(`map '${map.name}': value codec is ${value.size} bytes but the map's value_size is ${map.valueSize}`);
  }
}

/** A map seen through codecs. */
export class TypedMap<K, V> {
  constructor(readonly map: BpfMap, readonly keyCodec: Codec<K>, readonly valueCodec: Codec<V>) {
    if (map.perCpu) throw new TypeError(`map '${map.name}' is ${map.typeName}: use typedPerCpu() for one value per CPU`);
    checkCodecs(map, keyCodec, valueCodec);
  }

  get(key: K): V | undefined {
    const v = this.map.get(this.keyCodec.encode(key));
    return v === undefined ? undefined : this.valueCodec.decode(v);
  }

  set(key: K, value: V, opts?: { mode?: UpdateMode }): void {
    this.map.set(this.keyCodec.encode(key), this.valueCodec.encode(value), opts);
  }

  delete(key: K): boolean {
    return this.map.delete(this.keyCodec.encode(key));
  }

  keys(): K[] {
    return this.map.keys().map((b) => this.keyCodec.decode(b));
  }

  entries(): Array<[K, V]> {
    return this.map.entries().map(([kb, vb]) => [this.keyCodec.decode(kb), this.valueCodec.decode(vb)]);
  }

  setMany(entries: ReadonlyArray<readonly [K, V]>, opts?: { mode?: UpdateMode }): void {
    this.map.setMany(entries.map(([k, v]) => [this.keyCodec.encode(k), this.valueCodec.encode(v)] as const), opts);
  }

  deleteMany(keys: readonly K[]): number {
    return this.map.deleteMany(keys.map((k) => this.keyCodec.encode(k)));
  }
}

/** A per-CPU map seen through codecs: each value is an array, one element per possible CPU. */
export class PerCpuTypedMap<K, V> {
  constructor(readonly map: BpfMap, readonly keyCodec: Codec<K>, readonly valueCodec: Codec<V>) {
    if (!map.perCpu) throw new TypeError(`map '${map.name}' is ${map.typeName}, not per-CPU: use typed()`);
    checkCodecs(map, keyCodec, valueCodec);
  }

  #decode(buf: Buffer): V[] {
    return this.map.splitPerCpu(buf).map((b) => this.valueCodec.decode(b));
  }

  #encode(values: readonly V[] | V): Buffer {
    const cpus = numPossibleCpus();
    const list = Array.isArray(values) ? (values as readonly V[]) : Array<V>(cpus).fill(values as V);
    return this.map.joinPerCpu(list.map((v) => this.valueCodec.encode(v)));
  }

  get(key: K): V[] | undefined {
    const v = this.map.get(this.keyCodec.encode(key));
    return v === undefined ? undefined : this.#decode(v);
  }

  /** The per-CPU values summed (numbers and bigints; structs field by field). */
  getSummed(key: K): V | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : sumPerCpu(v);
  }

  /** Writes one value per CPU, or the same value on every CPU when given a single value. */
  set(key: K, values: readonly V[] | V, opts?: { mode?: UpdateMode }): void {
    this.map.set(this.keyCodec.encode(key), this.#encode(values), opts);
  }

  delete(key: K): boolean {
    return this.map.delete(this.keyCodec.encode(key));
  }

  keys(): K[] {
    return this.map.keys().map((b) => this.keyCodec.decode(b));
  }

  entries(): Array<[K, V[]]> {
    return this.map.entries().map(([kb, vb]) => [this.keyCodec.decode(kb), this.#decode(vb)]);
  }

  setMany(entries: ReadonlyArray<readonly [K, readonly V[] | V]>, opts?: { mode?: UpdateMode }): void {
    this.map.setMany(entries.map(([k, v]) => [this.keyCodec.encode(k), this.#encode(v)] as const), opts);
  }

  deleteMany(keys: readonly K[]): number {
    return this.map.deleteMany(keys.map((k) => this.keyCodec.encode(k)));
  }
}

/**
 * Sums per-CPU values: numbers and bigints add up; objects are summed field by field (recursively);
 * anything else (addresses, buffers) is taken from the first CPU.
 */
export function sumPerCpu<V>(values: readonly V[]): V {
  if (values.length === 0) throw new RangeError('sumPerCpu: no values');
  return values.reduce((a, b) => addValues(a, b) as V);
}

function addValues(a: unknown, b: unknown): unknown {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Buffer.isBuffer(a) && !Array.isArray(a)) {
    const out: Record<string, unknown> = {};
    for (const [key, av] of Object.entries(a)) out[key] = addValues(av, (b as Record<string, unknown>)[key]);
    return out;
  }
  return a;
}
