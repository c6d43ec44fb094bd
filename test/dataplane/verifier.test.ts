// The object loads, and each program's size as the verifier saw it is printed so that growth
// shows in the test log (the per-packet path must stay lean).
import { expect, it } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { Dataplane, PROGRAMS } from './harness.js';

describeRoot('verifier', () => {
  it('loads all three programs and reports their instruction counts', () => {
    const dp = Dataplane.open();
    try {
      const rows = PROGRAMS.map((name) => {
        const i = dp.obj.program(name).info();
        return { name, verifiedInsns: i.verifiedInsns, xlatedInsns: i.xlatedSize / 8, jitedBytes: i.jitedSize };
      });
      console.table(rows);
      for (const r of rows) {
        expect(r.xlatedInsns).toBeGreaterThan(0);
        // far below the verifier's 1M processed-instruction limit
        expect(r.verifiedInsns).toBeLessThan(200_000);
      }
    } finally {
      dp.close();
    }
  });
});
