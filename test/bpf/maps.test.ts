// BpfMap on real kernel maps: CRUD, batch operations and their fallbacks, per-CPU layout,
// typed views, pinning across processes and reuse of pinned maps by a restarted loader.
import { mkdirSync, renameSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BpfError,
  BpfMap,
  BpfObject,
  PinnedMapMismatchError,
  ipv4,
  lpmKey,
  numPossibleCpus,
  pad,
  struct,
  u32,
  u64,
  u8,
} from '../../control/bpf/index.js';
import { native } from '../../control/bpf/native.js';
import { describeRoot } from '../helpers/root.js';
import { pinDir, prog, runChild } from './fixtures.js';

const key = (n: number) => u32.encode(n);
const testValue = struct({ kind: u8, _pad: pad(3), ifindex: u32, bytes: u64 });
const counters = struct({ packets: u64, bytes: u64 });

describeRoot('BpfMap on kernel maps', () => {
  let obj: BpfObject;
  beforeAll(() => {
    obj = BpfObject.open(prog('maps'));
  });
  afterAll(() => obj?.close());

  it('reports each map type, key and value size from the kernel', () => {
    const info = obj.map('hash_map').info();
    expect(info).toMatchObject({ name: 'hash_map', typeName: 'hash', keySize: 4, valueSize: 16, maxEntries: 1024, flags: 0 });
    expect(info.id).toBeGreaterThan(0);
    expect(obj.map('lpm_map').info()).toMatchObject({ typeName: 'lpm_trie', keySize: 8, valueSize: 4, flags: 1 });
    expect(obj.maps().map((m) => m.name).sort()).toEqual(['array_map', 'devmap_hash_map', 'hash_map', 'lpm_map', 'percpu_array_map', 'percpu_hash_map']);
    expect(() => obj.map('nope')).toThrow(/no map 'nope'.*known maps: .*hash_map/);
  });

  it('does get/set/delete on a hash map, a miss being undefined', () => {
    const m = obj.map('hash_map');
    expect(m.get(key(1))).toBeUndefined();
    const v = testValue.encode({ kind: 1, ifindex: 7, bytes: 42n });
    m.set(key(1), v);
    expect(m.get(key(1))).toEqual(v);
    expect(m.delete(key(1))).toBe(true);
    expect(m.delete(key(1))).toBe(false);
    expect(m.get(key(1))).toBeUndefined();
  });

  it("throws EEXIST for mode 'create' on an existing key and ENOENT for 'update' on a missing one", () => {
    const m = obj.map('hash_map');
    const v = testValue.encode({ kind: 2, ifindex: 1, bytes: 0n });
    m.set(key(5), v, { mode: 'create' });
    let err: unknown;
    try {
      m.set(key(5), v, { mode: 'create' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'EEXIST', errno: 17, op: 'bpf_map_update_elem' });
    expect(() => m.set(key(6), v, { mode: 'update' })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    m.set(key(5), testValue.encode({ kind: 3, ifindex: 1, bytes: 0n }), { mode: 'update' });
    expect(testValue.decode(m.get(key(5))!).kind).toBe(3);
    m.delete(key(5));
  });

  it('rejects keys and values of the wrong size before calling the kernel', () => {
    const m = obj.map('hash_map');
    expect(() => m.get(Buffer.alloc(3))).toThrow(/key is 3 bytes, the map needs 4/);
    expect(() => m.set(key(1), Buffer.alloc(8))).toThrow(/value is 8 bytes, the map needs 16/);
    expect(() => m.setMany([[key(1), Buffer.alloc(15)]])).toThrow(/value is 15 bytes, the map needs 16/);
  });

  it('writes, lists and deletes many hash entries in batches', () => {
    const m = obj.map('hash_map').typed(u32, testValue);
    const entries = Array.from({ length: 300 }, (_, i) => [i + 100, { kind: i % 256, ifindex: i, bytes: BigInt(i) * 1000n }] as const);
    m.setMany(entries);
    const got = new Map(m.entries());
    expect(got.size).toBe(300);
    expect(got.get(100)).toEqual({ kind: 0, ifindex: 0, bytes: 0n });
    expect(got.get(399)).toEqual({ kind: 299 % 256, ifindex: 299, bytes: 299_000n });
    expect(m.keys().sort((a, b) => a - b)).toEqual(entries.map(([k]) => k));
    // Two of these keys do not exist: they are skipped and not counted.
    expect(m.deleteMany([100, 101, 5000, 102, 6000])).toBe(3);
    expect(m.get(101)).toBeUndefined();
    expect(m.deleteMany(entries.map(([k]) => k))).toBe(297);
    expect(m.entries()).toEqual([]);
  });

  it('lists every slot of an array map and batch-writes it', () => {
    const m = obj.map('array_map').typed(u32, u64);
    expect(m.entries()).toHaveLength(16);
    m.setMany([
      [3, 33n],
      [15, 1515n],
    ]);
    const all = new Map(m.entries());
    expect(all.get(3)).toBe(33n);
    expect(all.get(15)).toBe(1515n);
    expect(all.get(0)).toBe(0n);
    expect(() => m.set(16, 1n)).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    expect(() => m.delete(3)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('does longest-prefix entries on an LPM trie, falling back from batch calls', () => {
    const m = obj.map('lpm_map').typed(lpmKey(ipv4), u32);
    m.setMany([
      [{ prefixLen: 8, addr: '10.0.0.0' }, 1],
      [{ prefixLen: 24, addr: '10.1.2.0' }, 2],
      [{ prefixLen: 32, addr: '10.1.2.3' }, 3],
    ]);
    // A lookup with a /32 key finds the longest matching prefix.
    expect(m.get({ prefixLen: 32, addr: '10.1.2.3' })).toBe(3);
    expect(m.get({ prefixLen: 32, addr: '10.1.2.9' })).toBe(2);
    expect(m.get({ prefixLen: 32, addr: '10.9.9.9' })).toBe(1);
    expect(m.get({ prefixLen: 32, addr: '11.0.0.1' })).toBeUndefined();
    const keys = m.keys().map((k) => `${k.addr}/${k.prefixLen}`).sort();
    expect(keys).toEqual(['10.0.0.0/8', '10.1.2.0/24', '10.1.2.3/32']);
    expect(m.deleteMany([{ prefixLen: 24, addr: '10.1.2.0' }, { prefixLen: 16, addr: '10.1.0.0' }])).toBe(1);
    expect(m.get({ prefixLen: 32, addr: '10.1.2.9' })).toBe(1);
    expect(m.deleteMany(m.keys())).toBe(2);
    expect(m.entries()).toEqual([]);
  });

  it("writes many entries with mode 'create' (which batch updates refuse) and keeps EEXIST", () => {
    const m = obj.map('lpm_map').typed(lpmKey(ipv4), u32);
    const entries: Array<[{ prefixLen: number; addr: string }, number]> = Array.from({ length: 12 }, (_, i) => [
      { prefixLen: 32, addr: `10.7.${i >> 8}.${i & 255}` },
      i + 1,
    ]);
    m.setMany(entries, { mode: 'create' });
    expect(m.get({ prefixLen: 32, addr: '10.7.0.11' })).toBe(12);
    expect(m.keys()).toHaveLength(12);
    expect(() => m.setMany([entries[5]!], { mode: 'create' })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(m.deleteMany(m.keys())).toBe(12);
  });

  it('falls back to single writes on a map type without batch operations (devmap)', () => {
    const m = obj.map('devmap_hash_map').typed(u32, u32);
    // ifindex 1 is the loopback device of whatever namespace this runs in.
    m.setMany([[1, 1]]);
    expect(m.entries()).toEqual([[1, 1]]);
    expect(m.deleteMany([1])).toBe(1);
    expect(m.entries()).toEqual([]);
  });

  it('keeps one value per possible CPU in a per-CPU array and sums them field-wise', () => {
    const cpus = numPossibleCpus();
    expect(cpus).toBeGreaterThanOrEqual(1);
    const raw = obj.map('percpu_array_map');
    expect(raw.perCpu).toBe(true);
    expect(raw.valueBufferSize).toBe(16 * cpus);
    const m = raw.typedPerCpu(u32, counters);
    const values = Array.from({ length: cpus }, (_, c) => ({ packets: BigInt(c + 1), bytes: BigInt((c + 1) * 100) }));
    m.set(2, values);
    expect(m.get(2)).toEqual(values);
    const n = BigInt(cpus);
    expect(m.getSummed(2)).toEqual({ packets: (n * (n + 1n)) / 2n, bytes: ((n * (n + 1n)) / 2n) * 100n });
    // Every CPU's slot is where the kernel put it: raw buffer layout check.
    const buf = raw.get(key(2))!;
    for (let c = 0; c < cpus; c++) expect(buf.readBigUInt64LE(c * 16)).toBe(BigInt(c + 1));
    const all = new Map(m.entries());
    expect(all.size).toBe(8);
    expect(all.get(2)).toEqual(values);
  });

  it('lays a 4-byte per-CPU hash value out in 8-byte slots, in single and batch calls', () => {
    const cpus = numPossibleCpus();
    const raw = obj.map('percpu_hash_map');
    expect(raw.valueBufferSize).toBe(8 * cpus);
    const m = raw.typedPerCpu(u32, u32);
    m.set(1, Array.from({ length: cpus }, (_, c) => 1000 + c));
    expect(m.get(1)).toEqual(Array.from({ length: cpus }, (_, c) => 1000 + c));
    expect(raw.get(key(1))!.readUInt32LE(8 * (cpus - 1))).toBe(1000 + cpus - 1);
    m.setMany(Array.from({ length: 40 }, (_, i) => [i + 10, Array.from({ length: cpus }, (_, c) => i * 10 + c)] as const));
    const all = new Map(m.entries());
    expect(all.size).toBe(41);
    expect(all.get(49)).toEqual(Array.from({ length: cpus }, (_, c) => 390 + c));
    expect(m.getSummed(49)).toBe(Array.from({ length: cpus }, (_, c) => 390 + c).reduce((a, b) => a + b));
    // One value for every CPU when a single value is given.
    m.set(2, 7);
    expect(m.get(2)).toEqual(Array(cpus).fill(7));
    expect(m.deleteMany([...all.keys(), 2])).toBe(42);
  });

  it('reads every entry packed in two buffers, per-CPU values whole, from hash and array maps', () => {
    const cpus = numPossibleCpus();
    const h = obj.map('percpu_hash_map');
    const t = h.typedPerCpu(u32, u32);
    t.deleteMany(t.keys());
    t.setMany(Array.from({ length: 20 }, (_, i) => [100 + i, Array.from({ length: cpus }, (_, c) => i * 1000 + c)] as const));
    const p = h.readPacked();
    expect(p.count).toBe(20);
    const seen = new Map<number, number[]>();
    for (let i = 0; i < p.count; i++) {
      const k = p.keys.readUInt32LE(i * 4);
      seen.set(k, Array.from({ length: cpus }, (_, c) => p.values.readUInt32LE(i * h.valueBufferSize + c * 8)));
    }
    expect(seen).toEqual(new Map(Array.from({ length: 20 }, (_, i) => [100 + i, Array.from({ length: cpus }, (_, c) => i * 1000 + c)])));
    t.deleteMany(t.keys());
    // an array lists every slot
    const a = obj.map('array_map');
    a.set(key(3), u64.encode(77n));
    const pa = a.readPacked();
    expect(pa.count).toBe(16);
    expect(pa.keys.readUInt32LE(3 * 4)).toBe(3);
    expect(pa.values.readBigUInt64LE(3 * 8)).toBe(77n);
  });

  it('falls back to element calls on kernels without batch commands', () => {
    // Simulate an older kernel: every batch command fails the way bpf(2) does without support.
    const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const saved = { lookup: n.mapLookupBatch, update: n.mapUpdateBatch, del: n.mapDeleteBatch };
    const calls: string[] = [];
    const unsupported = (op: string) => () => {
      calls.push(op);
      throw Object.assign(new Error(`${op}: not supported`), { op, errno: 524, code: 'ENOTSUPP', count: 0 });
    };
    n.mapLookupBatch = unsupported('bpf_map_lookup_batch');
    n.mapUpdateBatch = unsupported('bpf_map_update_batch');
    n.mapDeleteBatch = unsupported('bpf_map_delete_batch');
    const o = BpfObject.open(prog('maps'));
    try {
      const m = o.map('hash_map').typed(u32, testValue);
      const entries = Array.from({ length: 50 }, (_, i) => [i, { kind: 1, ifindex: i, bytes: BigInt(i) }] as const);
      m.setMany(entries);
      expect(new Map(m.entries())).toEqual(new Map(entries.map(([k, v]) => [k, v])));
      expect(m.deleteMany([0, 1, 999])).toBe(2);
      expect(m.keys()).toHaveLength(48);
      const packed = o.map('hash_map').readPacked();
      expect(packed.count).toBe(48);
      expect(packed.keys.length).toBe(48 * 4);
      expect(packed.values.length).toBe(48 * 16);
      // Each batch command was tried once, then the map remembered to go element by element.
      expect(calls.sort()).toEqual(['bpf_map_delete_batch', 'bpf_map_lookup_batch', 'bpf_map_update_batch']);
    } finally {
      Object.assign(n, { mapLookupBatch: saved.lookup, mapUpdateBatch: saved.update, mapDeleteBatch: saved.del });
      o.close();
    }
  });

  it('refuses codecs whose size differs from the map, naming both sizes', () => {
    expect(() => obj.map('hash_map').typed(u32, u64)).toThrow(/value codec is 8 bytes but the map's value_size is 16/);
    expect(() => obj.map('hash_map').typed(u64, testValue)).toThrow(/key codec is 8 bytes but the map's key_size is 4/);
    expect(() => obj.map('percpu_array_map').typed(u32, counters)).toThrow(/typedPerCpu/);
    expect(() => obj.map('hash_map').typedPerCpu(u32, testValue)).toThrow(/not per-CPU/);
  });
});

describeRoot('pinned maps', () => {
  const pins = pinDir();
  afterAll(() => pins.remove());

  it('pins maps by name and a restarted loader reuses them with their contents', () => {
    const first = BpfObject.open(prog('maps'), { pinDir: pins.dir });
    try {
      expect(first.reusedMaps).toEqual([]);
      expect(first.map('hash_map').pinPath).toBe(`${pins.dir}/hash_map`);
      first.map('array_map').typed(u32, u64).set(4, 4444n);
    } finally {
      first.close();
    }
    expect(() => BpfObject.open(prog('maps'), { pinDir: pins.dir })).toThrow(/already pinned .*reusePinnedMaps/);
    const second = BpfObject.open(prog('maps'), { pinDir: pins.dir, reusePinnedMaps: true });
    try {
      expect([...second.reusedMaps].sort()).toEqual(['array_map', 'devmap_hash_map', 'hash_map', 'lpm_map', 'percpu_array_map', 'percpu_hash_map']);
      expect(second.map('array_map').typed(u32, u64).get(4)).toBe(4444n);
    } finally {
      second.close();
    }
  });

  it('refuses to reuse a pin whose definition differs, saying what differs', () => {
    const dir = `${pins.dir}/mismatch`;
    const a = BpfObject.open(prog('maps'));
    const c = BpfObject.open(prog('counter'));
    try {
      // A hash map pinned under the name of counter.bpf.o's per-CPU array.
      a.map('hash_map').pin(`${pins.dir}/tmp-hash`);
      mkdirSync(dir, { recursive: true });
      renameSync(`${pins.dir}/tmp-hash`, `${dir}/counter`);
    } finally {
      a.close();
      c.close();
    }
    let err: unknown;
    try {
      BpfObject.open(prog('counter'), { pinDir: dir, reusePinnedMaps: true }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PinnedMapMismatchError);
    expect((err as Error).message).toMatch(/type: pinned hash, object percpu_array/);
    expect((err as Error).message).toMatch(/max_entries: pinned 1024, object 4/);
  });

  it('is read and written by another process through its pin', () => {
    const path = `${pins.dir}/xproc`;
    const o = BpfObject.open(prog('maps'));
    const m = o.map('hash_map').typed(u32, testValue);
    try {
      m.set(10, { kind: 9, ifindex: 2, bytes: 123n });
      m.map.pin(path);
    } finally {
      o.close();
    }
    const out = runChild('map-pin.mjs', {
      path,
      readKey: key(10).toString('hex'),
      valueSize: 16,
      writeKey: key(11).toString('hex'),
      writeValue: testValue.encode({ kind: 8, ifindex: 3, bytes: 456n }).toString('hex'),
    }) as { found: boolean; value: string; kind: string };
    expect(out.kind).toBe('map');
    expect(out.found).toBe(true);
    expect(testValue.decode(Buffer.from(out.value, 'hex'))).toEqual({ kind: 9, ifindex: 2, bytes: 123n });
    const again = BpfMap.fromPin(path);
    try {
      expect(again.typed(u32, testValue).get(11)).toEqual({ kind: 8, ifindex: 3, bytes: 456n });
      expect(again.unpin()).toBe(true);
    } finally {
      again.close();
    }
    expect(() => BpfMap.fromPin(path)).toThrow(expect.objectContaining({ code: 'ENOENT', op: 'bpf_obj_get' }));
  });
});

