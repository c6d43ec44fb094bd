// Fixture pcaps, read with pcap-parser: each holds the frame given to a program and the exact
// frame it must output. test/fixtures/scapy/ is written by scripts/fixtures/make_fixtures.py (an
// independent builder); test/fixtures/handbuilt/ by this file from test/helpers/frames.ts
// (FIXTURES_WRITE=1 rewrites them; otherwise the files must equal what the builder makes).
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ether, ETH_P_IP, ETH_P_8021AD } from '../helpers/frames.js';
import { readFrames, writePcap } from '../helpers/pcap.js';
import { describeRoot } from '../helpers/root.js';
import { Dataplane, XDP_PASS, XDP_REDIRECT, type ProgName } from './harness.js';
import { downV4, downV6, fromSub, L_TO_ISP, L_TO_SUB_A, labelled, ROUTER, standardTables, SUB_MAC, toCore, upV4, upV6 } from './topo.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');
const SCAPY = join(FIXTURES, 'scapy');
const HAND = join(FIXTURES, 'handbuilt');

const progOf = (name: string): ProgName => (name.startsWith('access') ? 'xdp_access' : name.startsWith('isp') ? 'xdp_isp' : 'xdp_core');

/** Hand-built cases: name -> [input, expected output, expected action]. */
const handbuilt: Record<string, () => [Buffer, Buffer, number]> = {
  access_untagged_v4: () => [fromSub(upV4(64)), toCore([{ label: 1001, ttl: 63 }], upV4(64)), XDP_REDIRECT],
  access_dot1q_v6: () => [fromSub(upV6(2), { tags: [{ vid: 10 }] }), toCore([{ label: 1001, ttl: 1 }], upV6(2)), XDP_REDIRECT],
  access_qinq_v4_options: () => {
    const ip = upV4(255, { options: Buffer.from([0x01, 0x01, 0x01, 0x00]) });
    return [fromSub(ip, { tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30 }] }), toCore([{ label: 1001, ttl: 254 }], ip), XDP_REDIRECT];
  },
  core_to_isp_v4: () => [labelled([{ label: L_TO_ISP, ttl: 200 }], upV4(255)), ether({ dst: '02:00:00:00:30:01', src: ROUTER, payload: upV4(199) }), XDP_REDIRECT],
  core_to_sub_v6: () => [labelled([{ label: L_TO_SUB_A, ttl: 64 }], downV6(64)), ether({ dst: SUB_MAC, src: ROUTER, payload: downV6(63) }), XDP_REDIRECT],
  // explicit null reaches the kernel only when addressed to the router (100.64.0.1 is local)
  core_explicit_null_v4: () => [
    labelled([{ label: 0, ttl: 2 }], upV4(64, { dst: '100.64.0.1' })),
    ether({ dst: ROUTER, src: '02:00:00:00:40:01', type: ETH_P_IP, payload: upV4(1, { dst: '100.64.0.1' }) }),
    XDP_PASS,
  ],
  isp_untagged_v4: () => [ether({ dst: ROUTER, src: '02:00:00:00:30:01', payload: downV4(64) }), toCore([{ label: L_TO_SUB_A, ttl: 63 }], downV4(64)), XDP_REDIRECT],
};

describe('hand-built fixtures', () => {
  it('the pcaps under test/fixtures/handbuilt are what the frame builder makes', async () => {
    if (process.env.FIXTURES_WRITE === '1') {
      mkdirSync(HAND, { recursive: true });
      for (const [name, make] of Object.entries(handbuilt)) writePcap(join(HAND, `${name}.pcap`), make().slice(0, 2) as Buffer[]);
    }
    for (const [name, make] of Object.entries(handbuilt)) {
      const [inp, out] = make();
      expect((await readFrames(join(HAND, `${name}.pcap`))).map((b) => b.toString('hex')), name).toEqual([inp.toString('hex'), out.toString('hex')]);
    }
  });
});

describe('scapy fixtures', () => {
  it('scapy and the frame builder agree on the same frames', async () => {
    const [inp] = await readFrames(join(SCAPY, 'access_qinq_v4_udp.pcap'));
    expect(inp!.toString('hex')).toBe(fromSub(upV4(64), { tags: [{ tpid: ETH_P_8021AD, vid: 20 }, { vid: 30 }] }).toString('hex'));
    const [v6] = await readFrames(join(SCAPY, 'isp_v6_tcp.pcap'));
    expect(v6!.toString('hex')).toBe(ether({ dst: ROUTER, src: '02:00:00:00:30:01', payload: downV6(64) }).toString('hex'));
  });
});

describeRoot('fixture pcaps through the programs', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
    dp.load(standardTables());
  });
  afterAll(() => dp?.close());

  for (const dir of [SCAPY, HAND]) {
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort() : [];
    it(`${dir.split('/').pop()} has fixtures`, () => expect(files.length).toBeGreaterThan(0));
    for (const file of files) {
      it(`${dir.split('/').pop()}/${file}: the output is the second frame, byte for byte`, async () => {
        const [inp, want] = await readFrames(join(dir, file));
        const name = file.replace(/\.pcap$/, '');
        const r = dp.run(progOf(name), inp!);
        expect(r.action).toBe(handbuilt[name]?.()[2] ?? XDP_REDIRECT);
        expect(r.data.toString('hex')).toBe(want!.toString('hex'));
      });
    }
  }
});
