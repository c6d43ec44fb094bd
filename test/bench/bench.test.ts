// Smoke test of the benchmarks in a tiny configuration: the harnesses run, every measured path
// is really forwarded (the bench checks that itself), and the report renders. Numbers are not
// judged: a benchmark never fails on a slow machine.
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { buildBenchProgs } from '../../bench/lib/progs.js';
import { runPerPacket } from '../../bench/perpacket.js';
import { runEndToEnd } from '../../bench/e2e.js';
import { runIcmp } from '../../bench/icmp.js';
import { report, METHODS } from '../../bench/report.js';
import { describeMachine } from '../../bench/lib/machine.js';
import { config } from '../../bench/config.js';

const ROOT = resolve(import.meta.dirname, '../..');
const OBJECT = resolve(ROOT, 'build/bpf/fecflow.bpf.o');

describeRoot('bench (tiny configuration)', () => {
  it('measures every path and both floors, and the LPM/hash lookups, with positive ns/packet', () => {
    const progs = buildBenchProgs(ROOT);
    const r = runPerPacket(OBJECT, progs, { scales: [1, 100], flows: 128, rounds: 1, passes: 1, singleRounds: 1, log: () => {} });
    const ids = ['access-v4', 'access-v4-metered', 'access-v4-rate', 'access-v6', 'core-swap', 'core-pop-isp', 'core-pop-sub', 'core-pop-sub-metered', 'isp-push'];
    expect(r.results.map((x) => x.id)).toEqual([...ids, ...ids]);
    for (const x of r.results) {
      for (const v of [x.replay.path, x.replay.pass, x.replay.fwd, x.single.path]) expect(v.median).toBeGreaterThan(0);
    }
    expect(r.lookups.map((l) => l.entries)).toEqual([1, 100]);
    expect(r.programs.map((p) => p.program).sort()).toEqual(['xdp_access', 'xdp_core', 'xdp_isp']);
    const text = report({ date: new Date().toISOString(), machine: describeMachine(ROOT), quick: true, config: config(true), methods: METHODS, seconds: 0, perPacket: r });
    expect(text).toContain('| core swap | 100 |');
  });

  it('sends through the namespace chain in all four modes (kernel, nftables baseline, XDP forwarder, fecflow) and delivers what it sends', async () => {
    const progs = buildBenchProgs(ROOT);
    const e = await runEndToEnd(OBJECT, progs, { subscribers: 100, flows: 100, frameSizes: [64], seconds: 0.05, rounds: 1, log: () => {} });
    const row = e.sizes[0]!;
    for (const m of ['kernel', 'nft', 'xdp-fwd', 'fecflow'] as const) {
      expect(row[m].mpps.median).toBeGreaterThan(0);
      expect(row[m].delivered).toBeGreaterThan(0.5);
    }
    expect(e.fecflowDrops).toEqual({});
  }, 180_000); // four modes, the nftables one setting up 1,000 routing tables and rules

  it('measures the ICMP errors the programs build (each case checked to send its error) with positive ns/frame', () => {
    const progs = buildBenchProgs(ROOT);
    const r = runIcmp(OBJECT, progs, { frames: 20, rounds: 1, log: () => {} });
    expect(r.cases.map((c) => c.id)).toEqual(['access-v4', 'access-v6', 'lsr-v4']);
    for (const c of r.cases) for (const v of [c.error, c.forward, c.pass]) expect(v.median).toBeGreaterThan(0);
  });
});
