// The node's ECMP hash key (control/reconcile/hashkey.ts): chosen at random on the first start,
// kept in the pinned hash_key map, so a restart (the object opened again on the same pins)
// finds the same key and no flow moves; a zero entry is the only one ever replaced.
import { afterAll, describe, expect, it } from 'vitest';
import { BpfObject } from '../../control/bpf/index.js';
import { u32 } from '../../control/bpf/codec.js';
import { ensureHashKey, randomHashKey } from '../../control/reconcile/hashkey.js';
import { hashKeyCodec } from '../../control/tables/layout.js';
import { pinDir } from '../bpf/fixtures.js';
import { describeRoot } from '../helpers/root.js';
import { OBJECT } from './harness.js';

describe('hash key choice', () => {
  it('never returns the all-zero key (zero means "not set")', () => {
    const draws = [Buffer.alloc(8), Buffer.alloc(8), Buffer.from('0102030405060708', 'hex')];
    expect(randomHashKey(() => draws.shift()!)).toEqual({ k0: 0x04030201, k1: 0x08070605 });
  });

  it('writes only into a zero entry, and keeps a key already there', () => {
    const store = new Map<string, Buffer>();
    const m = { get: (k: Buffer) => store.get(k.toString('hex')), set: (k: Buffer, v: Buffer) => void store.set(k.toString('hex'), v) };
    store.set(u32.encode(0).toString('hex'), hashKeyCodec.encode({ k0: 0, k1: 0 }));
    const first = ensureHashKey(m, () => Buffer.from('aabbccdd11223344', 'hex'));
    expect(first).toEqual({ key: { k0: 0xddccbbaa, k1: 0x44332211 }, created: true });
    const again = ensureHashKey(m, () => Buffer.from('ffffffffffffffff', 'hex'));
    expect(again).toEqual({ key: first.key, created: false });
  });
});

describeRoot('hash key across restarts', () => {
  const pins = pinDir();
  afterAll(() => pins.remove());

  it('a restarted loader reusing the pins keeps the key the first one chose', () => {
    const first = BpfObject.open(OBJECT, { pinDir: pins.dir });
    let key;
    try {
      expect(hashKeyCodec.decode(first.map('hash_key').get(u32.encode(0))!)).toEqual({ k0: 0, k1: 0 });
      const r = ensureHashKey(first.map('hash_key'));
      expect(r.created).toBe(true);
      key = r.key;
      expect(key.k0 !== 0 || key.k1 !== 0).toBe(true);
    } finally {
      first.close();
    }
    const second = BpfObject.open(OBJECT, { pinDir: pins.dir, reusePinnedMaps: true });
    try {
      expect(second.reusedMaps).toContain('hash_key');
      expect(ensureHashKey(second.map('hash_key'))).toEqual({ key, created: false });
      expect(hashKeyCodec.decode(second.map('hash_key').get(u32.encode(0))!)).toEqual(key);
    } finally {
      second.close();
    }
  });
});
