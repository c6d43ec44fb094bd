// The policer monitor: one event when an ISP's policed packets per interval cross the
// threshold, one when they fall back under it, none while nothing changes; a recreated counter
// map or an ISP that is gone does not make it lie.
import { describe, expect, it } from 'vitest';
import { PolicerMonitor } from '../../control/events/policer-monitor.js';
import type { EventInput } from '../../control/events/sink.js';
import type { IspCounterRow } from '../../control/metrics/collector.js';

function rig(threshold = 100) {
  const events: EventInput[] = [];
  let rows: IspCounterRow[] = [];
  const names = new Map([[1, 'alpha'], [2, 'beta']]);
  const m = new PolicerMonitor({ read: () => rows, ispName: (i) => names.get(i), events: { emit: (e) => events.push(e) }, threshold, intervalMs: 1000 });
  const policed = (isp: number, direction: 'up' | 'down', packets: bigint): IspCounterRow => ({ isp, direction, point: 'policed', packets, bytes: packets * 100n });
  return { m, events, names, set: (r: IspCounterRow[]) => (rows = r), policed };
}

describe('policer drop events', () => {
  it('tells when an ISP crosses the threshold and when it falls back, once each', () => {
    const { m, events, set, policed } = rig(100);
    set([policed(1, 'up', 0n), policed(2, 'up', 0n)]);
    m.tick(); // the first reading only sets the baseline
    set([policed(1, 'up', 50n), policed(2, 'up', 0n)]);
    m.tick();
    expect(events).toEqual([]);
    set([policed(1, 'up', 200n), policed(2, 'up', 0n)]);
    m.tick();
    set([policed(1, 'up', 400n), policed(2, 'up', 0n)]);
    m.tick(); // still above: no second event
    set([policed(1, 'up', 410n), policed(2, 'up', 0n)]);
    m.tick();
    expect(events.map((e) => [e.type, e.isp, e.subject, (e.data as { state: string }).state, (e.data as { packets: string }).packets])).toEqual([
      ['policer.drops', 'alpha', 'alpha/up', 'above', '150'],
      ['policer.drops', 'alpha', 'alpha/up', 'below', '10'],
    ]);
  });

  it('keeps ISPs and directions apart, reads a recreated (reset) counter from zero, and ignores ISPs no longer configured', () => {
    const { m, events, set, policed, names } = rig(10);
    set([policed(1, 'down', 1000n), policed(2, 'up', 5n)]);
    m.tick();
    set([policed(1, 'down', 3n), policed(2, 'up', 30n)]); // alpha's map recreated: 3 since then
    m.tick();
    expect(events.map((e) => e.subject)).toEqual(['beta/up']);
    names.delete(2);
    set([policed(1, 'down', 3n)]);
    m.tick(); // beta is gone: nothing is told of an ISP that is not there
    expect(events).toHaveLength(1);
  });

  it('refuses a threshold that is not a positive whole number, and survives a failed read', () => {
    expect(() => rig(0)).toThrow(/threshold/);
    expect(() => rig(1.5)).toThrow(/threshold/);
    const warned: string[] = [];
    const m = new PolicerMonitor({ read: () => { throw new Error('map gone'); }, ispName: () => 'x', events: { emit: () => undefined }, threshold: 1, intervalMs: 1000, log: { warn: (_o, msg) => warned.push(msg) } });
    m.tick();
    expect(warned[0]).toMatch(/reading the counters failed/);
  });
});
