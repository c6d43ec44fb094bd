// The LIB without sockets: downstream unsolicited, ordered control, liberal retention, label
// replacement and release, split horizon, and the label allocator.
import { describe, expect, it } from 'vitest';
import { LabelAllocator } from '../../control/ldp/labels.js';
import { Lib } from '../../control/ldp/lib.js';

const P = (prefix: string) => ({ type: 'prefix' as const, prefix });

function lsr(routes: Record<string, string> = {}) {
  return new Lib({ allocator: new LabelAllocator(100, 199), resolveNextHop: (p) => routes[p] });
}

describe('label allocator', () => {
  it('hands out the lowest free label of its range, reuses freed ones, and says when exhausted', () => {
    const a = new LabelAllocator(16, 18);
    expect([a.allocate(), a.allocate(), a.allocate(), a.allocate()]).toEqual([16, 17, 18, undefined]);
    a.free(17);
    expect(a.allocate()).toBe(17);
    expect(a.inUse).toBe(3);
    expect(() => new LabelAllocator(3, 10)).toThrow(RangeError);
    expect(() => new LabelAllocator(16, 0x100000)).toThrow(RangeError);
  });
});

describe('LIB', () => {
  it('egress: allocates a label and advertises it to every peer that comes up', () => {
    const lib = lsr();
    const a = lib.setEgress(['198.51.100.0/24']);
    expect(a.changes).toEqual([{ prefix: '198.51.100.0/24', egress: true, localLabel: 100 }]);
    expect(a.send).toEqual([]);
    expect(lib.peerUp('2.2.2.2').send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-mapping', fec: [P('198.51.100.0/24')], label: 100 } }]);
  });

  it('ordered control: no local label for a transit FEC until the downstream label is known', () => {
    const lib = lsr({ '203.0.113.0/24': '10.0.12.2' });
    lib.peerUp('2.2.2.2');
    lib.peerUp('3.3.3.3');
    lib.addresses('2.2.2.2', ['10.0.12.2'], false);
    // a mapping from a peer that is not the next hop: retained (liberal), not used, nothing advertised
    const fromUp = lib.mapping('3.3.3.3', [P('203.0.113.0/24')], 500);
    expect(fromUp).toEqual({ send: [], changes: [] });
    const fromDown = lib.mapping('2.2.2.2', [P('203.0.113.0/24')], 40);
    expect(fromDown.changes).toEqual([{ prefix: '203.0.113.0/24', egress: false, localLabel: 100, downstream: { lsrId: '2.2.2.2', nextHop: '10.0.12.2', label: 40 } }]);
    // advertised upstream only: split horizon keeps it from the downstream neighbour
    expect(fromDown.send).toEqual([{ peer: '3.3.3.3', msg: { kind: 'label-mapping', fec: [P('203.0.113.0/24')], label: 100 } }]);
    expect(lib.bindings()).toEqual([
      {
        prefix: '203.0.113.0/24',
        egress: false,
        localLabel: 100,
        remote: [
          { neighborId: '2.2.2.2', remoteLabel: 40, inUse: true },
          { neighborId: '3.3.3.3', remoteLabel: 500, inUse: false },
        ],
      },
    ]);
  });

  it('a new label from the downstream peer replaces the old (which is released) and is reported', () => {
    const lib = lsr({ '203.0.113.0/24': '10.0.12.2' });
    lib.peerUp('2.2.2.2');
    lib.addresses('2.2.2.2', ['10.0.12.2'], false);
    lib.mapping('2.2.2.2', [P('203.0.113.0/24')], 40);
    const r = lib.mapping('2.2.2.2', [P('203.0.113.0/24')], 41);
    expect(r.send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-release', fec: [P('203.0.113.0/24')], label: 40 } }]);
    expect(r.changes).toEqual([{ prefix: '203.0.113.0/24', egress: false, localLabel: 100, downstream: { lsrId: '2.2.2.2', nextHop: '10.0.12.2', label: 41 } }]);
  });

  it('a withdraw of the downstream label withdraws ours upstream, releases, and frees our label only after the upstream release', () => {
    const alloc = new LabelAllocator(100, 199);
    const lib = new Lib({ allocator: alloc, resolveNextHop: () => '10.0.12.2' });
    lib.peerUp('2.2.2.2');
    lib.peerUp('3.3.3.3');
    lib.addresses('2.2.2.2', ['10.0.12.2'], false);
    lib.mapping('2.2.2.2', [P('203.0.113.0/24')], 40);
    const w = lib.withdraw('2.2.2.2', [P('203.0.113.0/24')], 40);
    expect(w.send).toEqual([
      { peer: '3.3.3.3', msg: { kind: 'label-withdraw', fec: [P('203.0.113.0/24')], label: 100 } },
      { peer: '2.2.2.2', msg: { kind: 'label-release', fec: [P('203.0.113.0/24')], label: 40 } },
    ]);
    expect(w.changes).toEqual([{ prefix: '203.0.113.0/24', egress: false }]);
    expect(alloc.inUse).toBe(1);
    lib.release('3.3.3.3', [P('203.0.113.0/24')], 100);
    expect(alloc.inUse).toBe(0);
    expect(lib.bindings()).toEqual([]);
  });

  it('a Release without a label frees only the withdrawn label of the FEC it names; a wildcard Release frees the rest', () => {
    const alloc = new LabelAllocator(100, 199);
    const lib = new Lib({ allocator: alloc });
    lib.setEgress(['198.51.100.0/24', '203.0.113.0/24']);
    lib.peerUp('2.2.2.2');
    lib.setEgress([]);
    expect(alloc.inUse).toBe(2);
    lib.release('2.2.2.2', [P('198.51.100.0/24')]);
    expect(alloc.inUse).toBe(1);
    lib.release('2.2.2.2', [P('198.51.100.0/24')]);
    expect(alloc.inUse).toBe(1);
    lib.release('2.2.2.2', [{ type: 'wildcard' }]);
    expect(alloc.inUse).toBe(0);
  });

  it('a wildcard withdraw drops every binding of that peer; peer down does the same silently', () => {
    const lib = lsr();
    lib.peerUp('2.2.2.2');
    lib.mapping('2.2.2.2', [P('10.1.0.0/16'), P('10.2.0.0/16')], 50);
    lib.mapping('2.2.2.2', [P('2001:db8::/32')], 51);
    const w = lib.withdraw('2.2.2.2', [{ type: 'typed-wildcard', fecType: 2, family: 'ipv4' }]);
    expect(w.send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-release', fec: [{ type: 'typed-wildcard', fecType: 2, family: 'ipv4' }] } }]);
    expect(lib.bindings().map((b) => b.prefix)).toEqual(['2001:db8::/32']);
    expect(lib.peerDown('2.2.2.2')).toEqual({ send: [], changes: [] });
    expect(lib.bindings()).toEqual([]);
  });

  it('the downstream session going down removes the transit label and reports the change', () => {
    const lib = lsr({ '203.0.113.0/24': '10.0.12.2' });
    lib.peerUp('2.2.2.2');
    lib.addresses('2.2.2.2', ['10.0.12.2'], false);
    lib.mapping('2.2.2.2', [P('203.0.113.0/24')], 40);
    expect(lib.peerDown('2.2.2.2').changes).toEqual([{ prefix: '203.0.113.0/24', egress: false }]);
    expect(lib.labelsInUse).toBe(0);
  });

  it('answers a Label Request from what it has, else No Route', () => {
    const lib = lsr();
    lib.setEgress(['198.51.100.0/24']);
    expect(lib.request('2.2.2.2', [P('198.51.100.0/24')], 9).send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-mapping', fec: [P('198.51.100.0/24')], label: 100, requestId: 9 } }]);
    expect(() => lib.request('2.2.2.2', [P('192.0.2.0/24')], 10)).toThrow(/NoRoute/);
  });

  it('with implicit null for egress FECs: label 3 advertised, no label allocated, none awaited back', () => {
    const alloc = new LabelAllocator(100, 199);
    const lib = new Lib({ allocator: alloc, egressLabel: 'implicit-null' });
    lib.setEgress(['198.51.100.0/24']);
    expect(lib.peerUp('2.2.2.2').send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-mapping', fec: [P('198.51.100.0/24')], label: 3 } }]);
    expect(alloc.inUse).toBe(0);
    expect(lib.setEgress([]).send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-withdraw', fec: [P('198.51.100.0/24')], label: 3 } }]);
    expect(lib.bindings()).toEqual([]);
  });

  it('egress FECs removed are withdrawn from peers', () => {
    const lib = lsr();
    lib.setEgress(['198.51.100.0/24']);
    lib.peerUp('2.2.2.2');
    expect(lib.setEgress([]).send).toEqual([{ peer: '2.2.2.2', msg: { kind: 'label-withdraw', fec: [P('198.51.100.0/24')], label: 100 } }]);
  });
});
