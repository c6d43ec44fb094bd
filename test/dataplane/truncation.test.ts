// Every frame cut short at every byte offset of its headers: a MALFORMED drop, or Pass where
// FORWARDING.md says so — never a forward of a half header, never an uncounted drop.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ETH_P_8021AD } from '../helpers/frames.js';
import { describeRoot } from '../helpers/root.js';
import { counter, Dataplane, XDP_DROP, XDP_PASS, type ProgName } from './harness.js';
import { downV4, fromSub, L_SWAP, L_TO_ISP, L_TO_SUB_A, labelled, standardTables, upV4, upV6 } from './topo.js';

interface Case {
  name: string;
  prog: ProgName;
  frame: Buffer;
  /** bytes of headers to cut through */
  headers: number;
  /** what a cut at `len` must give */
  expect: (len: number) => 'malformed' | 'pass';
}

const twoTagsV4 = fromSub(upV4(), { tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30 }] });
const oneTagV6 = fromSub(upV6(), { tags: [{ vid: 10 }] });

const cases: Case[] = [
  // cut inside the MAC addresses or ethertype: MALFORMED; inside a tag: MALFORMED; then IP.
  { name: 'access, IPv4 UDP behind two tags', prog: 'xdp_access', frame: twoTagsV4, headers: 22 + 20 + 8, expect: () => 'malformed' },
  { name: 'access, IPv6 TCP behind one tag', prog: 'xdp_access', frame: oneTagV6, headers: 18 + 40 + 20, expect: () => 'malformed' },
  { name: 'isp, IPv4 UDP untagged', prog: 'xdp_isp', frame: fromSub(downV4()), headers: 14 + 20 + 8, expect: () => 'malformed' },
  // core: the ethertype must be read (below 14 bytes MALFORMED), then the label stack; the
  // last pop validates the inner IP header, so every cut before its end is MALFORMED too.
  { name: 'core, pop-to-ISP over IPv4', prog: 'xdp_core', frame: labelled([{ label: L_TO_ISP, ttl: 64 }], upV4()), headers: 18 + 20 + 8, expect: () => 'malformed' },
  { name: 'core, pop-to-subscriber over IPv4', prog: 'xdp_core', frame: labelled([{ label: L_TO_SUB_A, ttl: 64 }], downV4()), headers: 18 + 20 + 8, expect: () => 'malformed' },
  { name: 'core, explicit null over IPv6', prog: 'xdp_core', frame: labelled([{ label: 2, ttl: 64 }], upV6()), headers: 18 + 40, expect: () => 'malformed' },
  // swap never looks past the label it swaps: only cuts inside the stack are MALFORMED.
  { name: 'core, swap of a two-label stack', prog: 'xdp_core', frame: labelled([{ label: L_SWAP, ttl: 64, s: false }, { label: 77, ttl: 64 }], upV4()), headers: 18, expect: () => 'malformed' },
];

describeRoot('truncated frames', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
    dp.load(standardTables());
  });
  afterAll(() => dp?.close());

  for (const c of cases) {
    it(`${c.name}: each of the ${c.headers - 14} cuts through the headers is ${c.expect(0)}`, () => {
      const seen: string[] = [];
      // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (EINVAL), so the
      // cuts start at 14 bytes; the programs' own < 14 check cannot be reached from here.
      for (let len = 14; len < Math.min(c.headers, c.frame.length); len++) {
        const frame = c.frame.subarray(0, len);
        const r = dp.runCounted(c.prog, Buffer.from(frame));
        const want = c.expect(len);
        const got = r.action === XDP_DROP && r.delta.drops.malformed ? 'malformed' : r.action === XDP_PASS ? 'pass' : `action ${r.action} ${JSON.stringify(Object.keys(r.delta.drops))}`;
        if (got !== want) seen.push(`len ${len}: ${got}`);
        else if (want === 'malformed') expect(r.delta.drops).toEqual({ malformed: counter(1, len) });
      }
      expect(seen).toEqual([]);
    });
  }

  it('a cut VLAN tag is MALFORMED but a non-IP ethertype is Pass', () => {
    const arp = Buffer.from(twoTagsV4);
    arp.writeUInt16BE(0x0806, 20);
    expect(dp.run('xdp_access', arp.subarray(0, 22)).action).toBe(XDP_PASS);
    expect(dp.run('xdp_access', arp.subarray(0, 21)).action).toBe(XDP_DROP);
  });

  it('a swap frame cut inside the IP packet is still swapped (the LSR does not read IP)', () => {
    const f = labelled([{ label: L_SWAP, ttl: 64 }], upV4());
    expect(dp.run('xdp_core', f.subarray(0, 18 + 3)).action).toBe(4);
  });
});
