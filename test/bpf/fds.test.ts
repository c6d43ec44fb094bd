// Descriptor ownership: every handle closes its descriptor exactly once, closing twice is
// harmless, a closed handle refuses use, and 100,000 open/use/close cycles leak nothing.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfMap, BpfObject, Program, XdpLink, u32, u64 } from '../../control/bpf/index.js';
import { describeRoot } from '../helpers/root.js';
import { openFdCount, pinDir, prog } from './fixtures.js';

describeRoot('descriptor ownership', () => {
  const pins = pinDir();
  let obj: BpfObject;
  beforeAll(() => {
    obj = BpfObject.open(prog('maps'), { pinDir: pins.dir });
    obj.map('array_map').typed(u32, u64).set(1, 77n);
  });
  afterAll(() => {
    obj?.close();
    pins.remove();
  });

  it('leaks no descriptor over 100,000 fromPin/get/close cycles', () => {
    const path = `${pins.dir}/array_map`;
    const key = u32.encode(1);
    // Warm up so lazily opened descriptors (addon, libbpf) are counted in the baseline.
    BpfMap.fromPin(path).close();
    const before = openFdCount();
    for (let i = 0; i < 100_000; i++) {
      const m = BpfMap.fromPin(path);
      const v = m.get(key);
      if (!v || v.readBigUInt64LE(0) !== 77n) throw new Error(`cycle ${i}: wrong value ${v?.toString('hex')}`);
      m.close();
    }
    expect(openFdCount()).toBe(before);
  });

  it('leaks no descriptor over repeated object loads, including failed ones', () => {
    BpfObject.open(prog('counter')).close();
    const before = openFdCount();
    for (let i = 0; i < 200; i++) {
      const o = BpfObject.open(prog('counter'));
      o.program('xdp_count_a').testRun({ data: Buffer.alloc(64) });
      o.close();
      expect(() => BpfObject.open(prog('bad'))).toThrow();
      expect(() => BpfObject.open(prog('maps'), { pinDir: pins.dir })).toThrow(/already pinned/);
    }
    expect(openFdCount()).toBe(before);
  });

  it('closes once: close() is idempotent and a closed handle throws EBADF on use', () => {
    const m = BpfMap.fromPin(`${pins.dir}/hash_map`);
    const fd = m.fd;
    m.close();
    m.close();
    expect(m.closed).toBe(true);
    expect(() => m.fd).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => m.get(u32.encode(1))).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => m.info()).toThrow(expect.objectContaining({ code: 'EBADF' }));
    // The number is free again: the next descriptor may reuse it, and the old handle cannot touch it.
    const again = BpfMap.fromPin(`${pins.dir}/hash_map`);
    try {
      expect(again.fd).toBeLessThanOrEqual(fd);
      m.close();
      expect(again.info().name).toBe('hash_map');
    } finally {
      again.close();
    }
  });

  it('refuses to wrap a descriptor of the wrong kind and closes it', () => {
    const before = openFdCount();
    expect(() => Program.fromPin(`${pins.dir}/hash_map`)).toThrow(/descriptor is a map, not a program/);
    expect(() => XdpLink.fromPin(`${pins.dir}/hash_map`)).toThrow(/pinned map, not a link/);
    expect(openFdCount()).toBe(before);
  });
});
