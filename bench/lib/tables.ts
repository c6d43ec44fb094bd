// Synthetic forwarding tables of any size for the benchmarks, and a loader that writes them
// into a loaded fecflow object: encoded by control/tables/layout.ts (encodeTables), written
// with BpfMap.setMany where the map type has batch updates and entry by entry where it has not
// (LPM tries, devmaps: their batch call fails in a way setMany takes for a partial write).
import type { BpfMap, BpfObject } from '../../control/bpf/index.js';
import { u32 } from '../../control/bpf/codec.js';
import { encodeTables } from '../../control/tables/layout.js';
import type { Tables } from '../../control/tables/types.js';

/** Subscriber i's IPv4 address: 100.64.0.0/10 (shared address space) counted up from 0. */
export function subV4(i: number): string {
  const a = (0x64400000 + i) >>> 0;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Subscriber i's IPv6 /64: 2001:db8:HHHH:LLLL::/64. */
export function subV6Prefix(i: number): string {
  return `2001:db8:${((i >>> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}::`;
}

/** An address of subscriber i's /64 (host part from h). */
export function subV6(i: number, h: number): string {
  return `${subV6Prefix(i)}${((h >>> 16) & 0xffff).toString(16)}:${(h & 0xffff).toString(16)}`;
}

/** A public destination for flow f: 198.18.0.0/15 (benchmarking range, RFC 2544). */
export function remoteV4(f: number): string {
  const a = (0xc6120000 + (f & 0x1ffff)) >>> 0;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export function remoteV6(f: number): string {
  return `2001:db8:ffff::${(f & 0xffff).toString(16)}`;
}

/** The lowest label the bench allocates; 0..15 are reserved. */
export const LABEL_BASE = 16;

/** Writes every non-empty config map of t, plus a zeroed label_stats counter per ILM label. */
export function loadTables(obj: BpfObject, t: Tables, chunk = 65536): void {
  for (const [name, entries] of encodeTables(t)) {
    if (entries.length === 0) continue;
    writeEntries(obj.map(name), entries, chunk);
  }
  if (t.ilm.size) {
    const ls = obj.map('label_stats');
    const zero = Buffer.alloc(ls.valueBufferSize);
    writeEntries(ls, [...t.ilm.keys()].map((l) => [u32.encode(l), zero] as [Buffer, Buffer]), chunk);
  }
}

// Map types with bpf_map_update_batch; the others (LPM tries, devmaps) are written entry by entry.
const BATCH_TYPES = new Set(['hash', 'array', 'percpu_hash', 'percpu_array', 'lru_hash', 'lru_percpu_hash']);

export function writeEntries(m: BpfMap, entries: ReadonlyArray<readonly [Buffer, Buffer]>, chunk = 65536): void {
  if (!BATCH_TYPES.has(m.typeName)) {
    for (const [k, v] of entries) m.set(k, v);
    return;
  }
  for (let i = 0; i < entries.length; i += chunk) m.setMany(entries.slice(i, i + chunk));
}
