// The node's ECMP hash key (hash_key[0], struct ff_hash_key): random, chosen once. The map is
// pinned with the others, so a restarted daemon finds the key there and keeps it, and no flow
// moves to another member; only a zero entry (a fresh map) gets a new key. Not part of the
// reconciled configuration: the reconciler never reads or writes it.
import { randomBytes } from 'node:crypto';
import { u32 } from '../bpf/codec.js';
import { hashKeyCodec } from '../tables/layout.js';

export interface HashKey {
  k0: number;
  k1: number;
}

/** What ensureHashKey needs of the map: a BpfMap or a test double. */
export interface HashKeyMap {
  get(key: Buffer): Buffer | undefined;
  set(key: Buffer, value: Buffer): void;
}

const ZERO = u32.encode(0);

/** A random key, never all zero (zero means "not set"). */
export function randomHashKey(random: (n: number) => Buffer = randomBytes): HashKey {
  for (;;) {
    const b = random(8);
    const k = { k0: b.readUInt32LE(0), k1: b.readUInt32LE(4) };
    if (k.k0 !== 0 || k.k1 !== 0) return k;
  }
}

/** The key in the map; a new random one is written first if the entry is still zero. */
export function ensureHashKey(map: HashKeyMap, random?: (n: number) => Buffer): { key: HashKey; created: boolean } {
  const v = map.get(ZERO);
  if (v) {
    const k = hashKeyCodec.decode(v);
    if (k.k0 !== 0 || k.k1 !== 0) return { key: k, created: false };
  }
  const key = randomHashKey(random);
  map.set(ZERO, hashKeyCodec.encode(key));
  return { key, created: true };
}
