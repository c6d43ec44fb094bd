// The reconciler's diff on encoded entries: adds, changes and removes per map, array slots,
// the policer's runtime tail, label counters, and the make-before-break order of the steps.
import { describe, expect, test } from 'vitest';
import { formatPlan, LABEL_STATS, plan, summarize, WRITE_ORDER, type Desired, type Observed } from '../../control/reconcile/index.js';
import { policerCodec } from '../../control/tables/layout.js';

const b = (...bytes: number[]) => Buffer.from(bytes);
const u32 = (n: number) => {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(n);
  return k;
};
const hash = (entries: Array<[Buffer, Buffer]> = [], valueSize = 4) => ({ kind: 'hash' as const, valueSize, entries });
const array = (n: number, valueSize: number, set: Record<number, Buffer> = {}) => ({
  kind: 'array' as const,
  valueSize,
  entries: Array.from({ length: n }, (_, i): [Buffer, Buffer] => [u32(i), set[i] ?? Buffer.alloc(valueSize)]),
});

/** Every managed map observed empty (arrays of 8 slots). */
function emptyObserved(): Observed {
  const o: Observed = new Map();
  for (const m of WRITE_ORDER) {
    o.set(m, ['settings', 'fec_up', 'nh_group', 'nexthop'].includes(m) ? array(8, 4) : m === 'policer' || m === 'icmp_limit' ? array(8, 40) : hash());
  }
  return o;
}

const policer = (rate: bigint, burst: bigint, tokens = 0n, lastNs = 0n) => policerCodec.encode({ frac: 0, rate, burst, tokens, lastNs });

describe('diff of one map', () => {
  test('nothing desired and nothing there: an empty plan', () => {
    const p = plan(new Map(), emptyObserved());
    expect(p.empty).toBe(true);
    expect(p.steps).toEqual([]);
    expect(formatPlan(p)).toBe('no changes');
  });

  test('a hash map: adds, changes and removes by key', () => {
    const o = emptyObserved();
    o.set('ilm', hash([[u32(100), b(1, 0, 0, 0)], [u32(101), b(2, 0, 0, 0)], [u32(102), b(3, 0, 0, 0)]]));
    const d: Desired = new Map([['ilm', [[u32(100), b(1, 0, 0, 0)], [u32(101), b(9, 0, 0, 0)], [u32(103), b(4, 0, 0, 0)]]]]);
    const p = plan(d, o);
    const ilm = p.diffs.find((x) => x.map === 'ilm')!;
    expect(ilm.adds).toEqual([[u32(103), b(4, 0, 0, 0)]]);
    expect(ilm.changes).toEqual([{ key: u32(101), from: b(2, 0, 0, 0), to: b(9, 0, 0, 0) }]);
    expect(ilm.removes).toEqual([[u32(102), b(3, 0, 0, 0)]]);
    expect(p.steps).toEqual([
      { map: 'ilm', phase: 'write', op: 'set', entries: [[u32(103), b(4, 0, 0, 0)], [u32(101), b(9, 0, 0, 0)]], keys: [u32(103), u32(101)] },
      { map: 'ilm', phase: 'remove', op: 'delete', entries: [], keys: [u32(102)] },
    ]);
    expect(summarize(p)).toEqual([{ map: 'ilm', added: 1, changed: 1, removed: 1 }]);
  });

  test('an array map: a zero slot is absent, and removing writes zeros', () => {
    const o = emptyObserved();
    o.set('fec_up', array(8, 4, { 1: b(1, 1, 1, 1), 2: b(2, 2, 2, 2) }));
    const d: Desired = new Map([['fec_up', [[u32(2), b(2, 2, 2, 2)], [u32(3), b(3, 3, 3, 3)], [u32(4), b(0, 0, 0, 0)]]]]);
    const p = plan(d, o);
    expect(p.steps).toEqual([
      { map: 'fec_up', phase: 'write', op: 'set', entries: [[u32(3), b(3, 3, 3, 3)]], keys: [u32(3)] },
      { map: 'fec_up', phase: 'remove', op: 'set', entries: [[u32(1), b(0, 0, 0, 0)]], keys: [u32(1)] },
    ]);
  });

  test('default settings are all zeros: nothing to write on a fresh map', () => {
    const d: Desired = new Map([['settings', [[u32(0), b(0, 0, 0, 0)]]]]);
    expect(plan(d, emptyObserved()).empty).toBe(true);
  });

  test('a duplicate desired key is a bug, not a silent last-one-wins', () => {
    const d: Desired = new Map([['ilm', [[u32(1), b(1, 0, 0, 0)], [u32(1), b(2, 0, 0, 0)]]]]);
    expect(() => plan(d, emptyObserved())).toThrow(/key 01000000 twice/);
  });

  test('an unmanaged or unobserved map is refused', () => {
    expect(() => plan(new Map([['isp_stats', []]]), emptyObserved())).toThrow(/not a map the reconciler manages/);
    const o = emptyObserved();
    o.delete('ilm');
    expect(() => plan(new Map([['ilm', [[u32(16), b(1, 0, 0, 0)]]]]), o)).toThrow(/map 'ilm' was not observed/);
    expect(plan(new Map([['ilm', []]]), o).empty).toBe(true);
  });
});

describe('policer entries', () => {
  test("the data plane's tokens and last_ns are not a difference", () => {
    const o = emptyObserved();
    o.set('policer', array(8, 40, { 2: policer(1000n, 4000n, 1234n, 987654321n) }));
    const d: Desired = new Map([['policer', [[u32(2), policer(1000n, 4000n, 4000n, 0n)]]]]);
    expect(plan(d, o).empty).toBe(true);
  });

  test('a new rate or burst is written with a full bucket and last_ns 0', () => {
    const o = emptyObserved();
    o.set('policer', array(8, 40, { 2: policer(1000n, 4000n, 1234n, 987654321n) }));
    const d: Desired = new Map([
      ['policer', [[u32(2), policer(2000n, 4000n, 7n, 7n)], [u32(3), policer(500n, 3000n, 0n, 99n)]]],
    ]);
    const p = plan(d, o);
    expect(p.steps).toEqual([
      {
        map: 'policer',
        phase: 'write',
        op: 'set',
        entries: [
          [u32(3), policer(500n, 3000n, 3000n, 0n)],
          [u32(2), policer(2000n, 4000n, 4000n, 0n)],
        ],
        keys: [u32(3), u32(2)],
      },
    ]);
  });

  test('a slot whose rate and burst are zero is empty, whatever its tokens', () => {
    const o = emptyObserved();
    o.set('policer', array(8, 40, { 4: policer(0n, 0n, 55n, 66n) }));
    expect(plan(new Map([['policer', []]]), o).empty).toBe(true);
  });
});

describe('label counters', () => {
  test('missing counters are created at zero, existing ones never written, stale ones deleted', () => {
    const o = emptyObserved();
    const busy = Buffer.alloc(32, 7); // two CPUs' counters, in use
    o.set(LABEL_STATS, hash([[u32(100), busy], [u32(200), Buffer.alloc(32, 1)]], 32));
    const d: Desired = new Map([[LABEL_STATS, [[u32(100), Buffer.alloc(0)], [u32(300), Buffer.alloc(0)]]]]);
    const p = plan(d, o);
    expect(p.steps).toEqual([
      { map: LABEL_STATS, phase: 'write', op: 'set', entries: [[u32(300), Buffer.alloc(32)]], keys: [u32(300)] },
      { map: LABEL_STATS, phase: 'remove', op: 'delete', entries: [], keys: [u32(200)] },
    ]);
  });

  test('label_stats is optional on both sides', () => {
    const o = emptyObserved();
    o.delete(LABEL_STATS);
    expect(plan(new Map([[LABEL_STATS, [[u32(1), Buffer.alloc(0)]]]]), o).empty).toBe(true);
  });
});

describe('step order', () => {
  test('all writes first (pointees before pointers), then removals in reverse', () => {
    const o = emptyObserved();
    const d: Desired = new Map();
    // one stale entry and one new entry in every map
    for (const m of WRITE_ORDER) {
      const obs = o.get(m)!;
      const size = obs.valueSize;
      if (obs.kind === 'array') {
        o.set(m, array(8, size, { 0: Buffer.alloc(size, 1) }));
        d.set(m, [[u32(1), Buffer.alloc(size, 2)]]);
      } else {
        o.set(m, hash([[u32(0), Buffer.alloc(size, 1)]], size));
        d.set(m, [[u32(1), Buffer.alloc(m === LABEL_STATS ? 0 : size, 2)]]);
      }
    }
    // policer: a non-zero rate so the entries are not "empty"
    o.set('policer', array(8, 40, { 0: policer(1n, 2000n) }));
    d.set('policer', [[u32(1), policer(2n, 2000n)]]);
    const p = plan(d, o);
    expect(p.steps.map((s) => `${s.phase} ${s.map}`)).toEqual([
      'write nexthop',
      'write nh_group',
      'write tx_port',
      'write label_stats',
      'write ilm',
      'write fec_up',
      'write isp_route_v4_exact',
      'write isp_route_v4',
      'write isp_route_v6_exact',
      'write isp_route_v6',
      'write isp_port',
      'write sub_policer',
      'write down_v4_exact',
      'write down_v4',
      'write down_v6_exact',
      'write down_v6',
      'write sub_mac',
      'write sub_vlan',
      'write sub_v4_exact',
      'write sub_v4',
      'write sub_v6_exact',
      'write sub_v6',
      'write local',
      'write icmp_src',
      'write settings',
      'write policer',
      'write icmp_limit',
      'remove icmp_limit',
      'remove policer',
      'remove settings',
      'remove icmp_src',
      'remove local',
      'remove sub_v6',
      'remove sub_v6_exact',
      'remove sub_v4',
      'remove sub_v4_exact',
      'remove sub_vlan',
      'remove sub_mac',
      'remove down_v6',
      'remove down_v6_exact',
      'remove down_v4',
      'remove down_v4_exact',
      'remove sub_policer',
      'remove isp_port',
      'remove isp_route_v6',
      'remove isp_route_v6_exact',
      'remove isp_route_v4',
      'remove isp_route_v4_exact',
      'remove fec_up',
      'remove ilm',
      'remove label_stats',
      'remove tx_port',
      'remove nh_group',
      'remove nexthop',
    ]);
    expect(p.steps.filter((s) => s.phase === 'remove').map((s) => s.op)).toEqual(
      WRITE_ORDER.slice()
        .reverse()
        .map((m) => (['settings', 'fec_up', 'nh_group', 'nexthop', 'policer', 'icmp_limit'].includes(m) ? 'set' : 'delete')),
    );
  });
});
