// The LIB's make-before-break and restart behaviour: a new local label while the old one waits
// for its Release (or a timeout), labels of before a restart taken again, labels held from
// other FECs, and graceful restart as a helper (a restarting peer's labels kept, refreshed or
// purged).
import { describe, expect, it } from 'vitest';
import { LabelAllocator } from '../../control/ldp/labels.js';
import { Lib } from '../../control/ldp/lib.js';

const P = (prefix: string) => ({ type: 'prefix' as const, prefix });
const FEC = '198.51.100.0/30';

describe('relabel', () => {
  it('advertises a new label at once and keeps the old one retiring until every holder released it', () => {
    const lib = new Lib({ allocator: new LabelAllocator(100, 199) });
    lib.setEgress([FEC]);
    lib.peerUp('2.2.2.2');
    lib.peerUp('3.3.3.3');
    const r = lib.relabel(FEC);
    expect(r.changes).toEqual([{ prefix: FEC, egress: true, localLabel: 101 }]);
    expect(r.send).toEqual([
      { peer: '2.2.2.2', msg: { kind: 'label-mapping', fec: [P(FEC)], label: 101 } },
      { peer: '3.3.3.3', msg: { kind: 'label-mapping', fec: [P(FEC)], label: 101 } },
    ]);
    expect([...lib.retiring()]).toEqual([[100, FEC]]);
    lib.release('2.2.2.2', [P(FEC)], 100);
    expect([...lib.retiring()]).toEqual([[100, FEC]]);
    lib.release('3.3.3.3', [P(FEC)], 100);
    expect([...lib.retiring()]).toEqual([]);
    expect(lib.bindings()[0]!.localLabel).toBe(101);
    expect(() => lib.relabel('192.0.2.0/24')).toThrow(RangeError);
  });

  it('frees a retiring label whose Release never comes after the timeout, and only then', () => {
    const lib = new Lib({ allocator: new LabelAllocator(100, 199) });
    lib.setEgress([FEC]);
    lib.peerUp('2.2.2.2');
    lib.relabel(FEC);
    const now = Date.now();
    expect(lib.expireRetiring(10_000, now)).toEqual([]);
    expect(lib.expireRetiring(10_000, now + 10_001)).toEqual([FEC]);
    expect([...lib.retiring()]).toEqual([]);
  });
});

describe('labels across a restart', () => {
  it('takes a FEC\'s label of before the restart again, and keeps held labels from other FECs', () => {
    const alloc = new LabelAllocator(100, 199);
    alloc.hold([100, 101, 150]);
    const lib = new Lib({ allocator: alloc, preferredLabel: (p) => (p === FEC ? 150 : undefined) });
    const out = lib.setEgress([FEC, '192.0.2.0/24']);
    expect(out.changes.map((c) => [c.prefix, c.localLabel])).toEqual([
      [FEC, 150],
      ['192.0.2.0/24', 102],
    ]);
    alloc.unhold();
    expect(alloc.allocate()).toBe(103);
    // the held labels are free again; the one in use is not
    expect(alloc.take(100)).toBe(true);
    expect(alloc.take(150)).toBe(false);
  });
});

describe('graceful restart (helper)', () => {
  const setup = () => {
    const lib = new Lib({ allocator: new LabelAllocator(100, 199), resolveNextHop: (p) => (p === FEC ? '10.0.0.3' : undefined) });
    lib.peerUp('3.3.3.3');
    lib.peerUp('1.1.1.1');
    lib.addresses('3.3.3.3', ['10.0.0.3'], false);
    lib.mapping('3.3.3.3', [P(FEC)], 500);
    return lib;
  };

  it('a restarting peer\'s labels stay in use while its session is down: nothing withdrawn upstream, nothing changes', () => {
    const lib = setup();
    const down = lib.peerDown('3.3.3.3', true);
    expect(down).toEqual({ send: [], changes: [] });
    expect(lib.isStale('3.3.3.3')).toBe(true);
    expect(lib.bindings()).toEqual([{ prefix: FEC, egress: false, localLabel: 100, remote: [{ neighborId: '3.3.3.3', remoteLabel: 500, inUse: true }] }]);
  });

  it('back with the same mapping: refreshed, the purge removes nothing', () => {
    const lib = setup();
    lib.peerDown('3.3.3.3', true);
    lib.peerUp('3.3.3.3');
    expect(lib.mapping('3.3.3.3', [P(FEC)], 500).changes).toEqual([]);
    expect(lib.purgeStale('3.3.3.3')).toEqual({ send: [], changes: [] });
    expect(lib.isStale('3.3.3.3')).toBe(false);
  });

  it('back without mapping the FEC again: the purge removes its label, withdraws ours upstream', () => {
    const lib = setup();
    lib.peerDown('3.3.3.3', true);
    lib.peerUp('3.3.3.3');
    const p = lib.purgeStale('3.3.3.3');
    expect(p.changes).toEqual([{ prefix: FEC, egress: false }]);
    expect(p.send).toEqual([{ peer: '1.1.1.1', msg: { kind: 'label-withdraw', fec: [P(FEC)], label: 100 } }]);
  });

  it('never back: the purge at the end of the reconnect time is a plain session loss', () => {
    const lib = setup();
    lib.peerDown('3.3.3.3', true);
    const p = lib.purgeStale('3.3.3.3');
    expect(p.changes).toEqual([{ prefix: FEC, egress: false }]);
    expect(lib.isStale('3.3.3.3')).toBe(false);
    expect(lib.bindings()).toEqual([]);
  });

  it('without graceful restart the labels go with the session', () => {
    const lib = setup();
    expect(lib.peerDown('3.3.3.3').changes).toEqual([{ prefix: FEC, egress: false }]);
  });
});
