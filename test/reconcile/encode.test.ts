// encodeTables reads the usual 'a.b.c.d/len' prefixes without the codecs (a cold start encodes
// a million of them): its keys must be exactly the codecs' for any text, host bits included,
// and text it does not take must still go through parsePrefix (and fail there when bad).
import { describe, expect, it } from 'vitest';
import { encodeTables, lpmV4KeyCodec, parsePrefix, scopedV4KeyCodec, subMatchCodec } from '../../control/tables/layout.js';
import { emptyTables, type SubRoute } from '../../control/tables/types.js';
import { Prng } from '../differential/prng.js';

const ROUTE: SubRoute = { ifindex: 2, mtu: 1500, outerTpid: 0, outerVid: 0, innerVid: 0, dmac: '02:00:00:00:00:01', smac: '02:00:00:00:00:02' };

function keysOf(prefix: string): { sub: Buffer; down: Buffer } {
  const t = emptyTables();
  t.subV4.set(prefix, { isp: 7, ifindex: 3, outerVid: 0, innerVid: 0 });
  t.downV4.push([{ isp: 9, prefix }, ROUTE]);
  const enc = encodeTables(t);
  const one = (a: string, b: string) => [...(enc.get(a) ?? []), ...(enc.get(b) ?? [])];
  const sub = one('sub_v4_exact', 'sub_v4');
  const down = one('down_v4_exact', 'down_v4');
  expect(sub).toHaveLength(1);
  expect(down).toHaveLength(1);
  expect(sub[0]![1]).toEqual(subMatchCodec.encode({ isp: 7, ifindex: 3, outerVid: 0, innerVid: 0, meter: 0 }));
  return { sub: sub[0]![0], down: down[0]![0] };
}

describe('encodeTables: IPv4 prefix keys', () => {
  it('equal the codecs for random prefixes, host bits cleared', () => {
    const r = new Prng(7);
    for (let i = 0; i < 2000; i++) {
      const a = [r.int(256), r.int(256), r.int(256), r.int(256)].join('.');
      const text = r.chance(0.1) ? a : `${a}/${r.int(33)}`;
      const p = parsePrefix(text);
      const k = keysOf(text);
      expect(k.sub, text).toEqual(lpmV4KeyCodec.encode({ prefixlen: p.len, addr: p.addr }));
      expect(k.down, text).toEqual(scopedV4KeyCodec.encode({ prefixlen: 32 + p.len, isp: 9, addr: p.addr }));
    }
  });

  it('takes unusual spellings the codecs take, and refuses what they refuse', () => {
    for (const text of ['0.0.0.0/0', '255.255.255.255/32', '10.0.0.1', '100.64.0.0/10']) {
      const p = parsePrefix(text);
      expect(keysOf(text).sub, text).toEqual(lpmV4KeyCodec.encode({ prefixlen: p.len, addr: p.addr }));
    }
    for (const text of ['10.0.0.256/24', '10.0.0/24', '10.0.0.0/33', '10.0.0.0/', '010.0.0.0/8', 'x.0.0.0/8', '10.0.0.0/2a']) {
      expect(() => parsePrefix(text), text).toThrow();
      expect(() => keysOf(text), text).toThrow();
    }
  });
});
