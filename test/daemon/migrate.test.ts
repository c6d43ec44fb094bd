// The decision of an upgrade across a map-layout change, without BPF: which changed counter maps
// are carried into the new layout and which restart from zero, and that the reason is given.
import { describe, expect, it } from 'vitest';
import { classify } from '../../control/daemon/migrate.js';
import type { PinnedMapChange } from '../../control/bpf/index.js';

const def = (typeName: string, keySize: number, valueSize: number, maxEntries: number) => ({ typeName, keySize, valueSize, maxEntries });
const change = (name: string, pinned: PinnedMapChange['pinned'], wanted: PinnedMapChange['wanted']): PinnedMapChange => ({ name, differences: ['x'], pinned, wanted });

describe('classify a layout change', () => {
  it('refills config maps from state and carries resized counter maps', () => {
    const p = classify([
      change('ilm', def('hash', 4, 32, 1048576), def('hash', 4, 40, 1048576)),
      change('label_stats', def('percpu_hash', 4, 16, 1048576), def('percpu_hash', 4, 16, 1048575)),
      change('isp_stats', def('percpu_array', 4, 16, 65536), def('percpu_array', 4, 16, 131072)),
    ]);
    expect(p.carry).toEqual(['label_stats', 'isp_stats']);
    expect(p.reset).toEqual([]);
    expect(p.changes.map((c) => c.name)).toEqual(['ilm', 'label_stats', 'isp_stats']);
  });

  it('reports, never silently drops, counters whose key or value layout changed', () => {
    const p = classify([
      change('drop_stats', def('percpu_array', 4, 16, 32), def('percpu_array', 4, 24, 32)),
      change('label_stats', def('percpu_hash', 4, 16, 10), def('percpu_hash', 8, 16, 10)),
    ]);
    expect(p.carry).toEqual([]);
    expect(p.reset).toEqual([
      { name: 'drop_stats', why: 'its key or value layout changed (key 4 -> 4, value 16 -> 24 bytes)' },
      { name: 'label_stats', why: 'its key or value layout changed (key 4 -> 8, value 16 -> 16 bytes)' },
    ]);
  });

  it('restarts counters that change per-CPU layout, are not 64-bit words, or whose pin is not a map', () => {
    const p = classify([
      change('isp_stats', def('percpu_array', 4, 16, 8), def('array', 4, 16, 8)),
      change('drop_stats', def('percpu_array', 4, 12, 8), def('percpu_array', 4, 12, 16)),
      change('label_stats', undefined, def('percpu_hash', 4, 16, 8)),
    ]);
    expect(p.carry).toEqual([]);
    expect(p.reset.map((r) => r.name)).toEqual(['isp_stats', 'drop_stats', 'label_stats']);
    expect(p.reset[0]!.why).toMatch(/same per-CPU layout .*percpu_array -> array/);
    expect(p.reset[2]!.why).toBe('the pin is not a map');
  });
});
