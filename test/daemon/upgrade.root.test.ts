// Upgrading the daemon to an object whose map layout differs, and back, while a stream runs
// through the headend: no datagram lost, the per-ISP counters continuous, the per-label counters
// carried into the new maps, no operator action. And a version that cannot migrate hitlessly
// says so before it touches anything. (control/daemon/migrate.ts)
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfMap } from '../../control/bpf/index.js';
import { readIspStats, readLabelStats } from '../../control/daemon/counters.js';
import { resizedObject } from '../fixtures/layout/build.js';
import { describeRoot } from '../helpers/root.js';
import { buildOnce, ROOT, Rig, sleep } from './rig.js';

const NORMAL = join(ROOT, 'build', 'bpf', 'fecflow.bpf.o');
const ILM_LABEL = 100_000; // the first ILM entry of rig.config({ ilm: 2 })

describeRoot('upgrading the daemon across a map-layout change', () => {
  const rig = new Rig();
  let RESIZED = '';
  const mapsDir = () => join(rig.pinRoot, rig.node, 'maps');
  const maxEntries = (map: string): number => {
    const m = rig.pinned(map);
    try {
      return m.maxEntries;
    } finally {
      m.close();
    }
  };
  const alphaUp = (): bigint => {
    const m = rig.pinned('isp_stats');
    try {
      return readIspStats(m)
        .filter((r) => r.isp === 1 && r.direction === 'up')
        .reduce((n, r) => (r.packets > n ? r.packets : n), 0n);
    } finally {
      m.close();
    }
  };
  // what the daemon reports (the API), which adds the counts carried across a layout change
  // the API gives counters as decimal strings (exact above 2^53)
  const labelPackets = async (label: number): Promise<number | undefined> => {
    const p = (await rig.http('GET', '/v1/labels')).json.labels.find((l: { label: number }) => l.label === label)?.packets as string | undefined;
    return p === undefined ? undefined : Number(p);
  };
  const livePackets = (label: number): bigint | undefined => {
    const m = rig.pinned('label_stats');
    try {
      return readLabelStats(m).find((r) => r.label === label)?.packets;
    } finally {
      m.close();
    }
  };
  const carriedPin = () => join(rig.pinRoot, rig.node, 'carried', 'label_stats');

  beforeAll(async () => {
    buildOnce();
    RESIZED = resizedObject();
    rig.setup();
    rig.writeConfig(rig.config({ ilm: 2 }));
    await rig.start(['--object', NORMAL]);
  }, 180_000);

  afterAll(async () => {
    await rig.cleanup();
  });

  it('the fixture differs from the normal object in the ilm and label_stats layouts only', () => {
    expect(maxEntries('ilm')).toBe(1_048_576);
    expect(maxEntries('label_stats')).toBe(1_048_576);
  });

  it('goes to the resized build and back under a stream: nothing lost, counters continuous, no operator action', async () => {
    // A per-label count the data plane made before the upgrade (this headend receives no
    // labelled traffic, so it is planted): 1234 packets, 5678 bytes, on CPU 0.
    const ls = rig.pinned('label_stats');
    const key = Buffer.alloc(4);
    key.writeUInt32LE(ILM_LABEL);
    const vals = ls.splitPerCpu(ls.get(key)!).map(() => Buffer.alloc(16));
    vals[0]!.writeBigUInt64LE(1234n, 0);
    vals[0]!.writeBigUInt64LE(5678n, 8);
    ls.set(key, ls.joinPerCpu(vals));
    ls.close();

    const sinkBefore = rig.sinkCount(100);
    const ispBefore = alphaUp();
    const progsBefore = readdirSync(join(rig.pinRoot, rig.node, 'links')).sort();
    // 3,000 datagrams over 6 s; the daemon is upgraded and downgraded meanwhile.
    const sending = rig.send(3000, 500);
    await sleep(700);

    let logFrom = rig.logs.length;
    expect(await rig.stop('SIGTERM')).toBe(0);
    await rig.start(['--object', RESIZED]);
    let log = rig.logs.slice(logFrom);
    expect(log).toMatch(/map layout changed: created the new maps beside the pinned ones/);
    expect(log).toMatch(/"changed":\["ilm \(max_entries: pinned 1048576, object 1048575\)","label_stats \(max_entries: pinned 1048576, object 1048575\)"\]/);
    expect(log).toMatch(/counters carried over: the old map is kept and added in when counters are read/);
    expect(log).toMatch(/upgraded across the map-layout change without detaching/);
    expect(log).not.toMatch(/attached xdp_/); // no fresh attach: the pinned links were moved
    expect(maxEntries('ilm')).toBe(1_048_575);
    expect(maxEntries('label_stats')).toBe(1_048_575);
    expect(existsSync(join(rig.pinRoot, rig.node, 'maps_next'))).toBe(false);
    expect((await rig.http('GET', '/readyz')).status).toBe(200);
    // the new map counts from zero; the old one is kept, frozen, and added in
    expect(livePackets(ILM_LABEL)).toBe(0n);
    expect(existsSync(carriedPin())).toBe(true);
    expect(await labelPackets(ILM_LABEL)).toBe(1234);

    await sleep(1500);
    logFrom = rig.logs.length;
    expect(await rig.stop('SIGTERM')).toBe(0);
    await rig.start(['--object', NORMAL]);
    log = rig.logs.slice(logFrom);
    expect(log).toMatch(/upgraded across the map-layout change without detaching/);
    expect(maxEntries('ilm')).toBe(1_048_576);
    expect(maxEntries('label_stats')).toBe(1_048_576);

    expect(await sending).toBe(3000);
    await sleep(300);
    expect(rig.sinkCount(100) - sinkBefore).toBe(3000);
    expect(alphaUp() - ispBefore).toBe(3000n);
    expect(await labelPackets(ILM_LABEL)).toBe(1234); // carried across both changes, folded once
    expect(readdirSync(join(rig.pinRoot, rig.node, 'links')).sort()).toEqual(progsBefore);
    expect(readdirSync(mapsDir())).toContain('ilm');
    const status = JSON.parse((await rig.cli(['status', '--json'])).out);
    expect(status.lastReconcile.ok).toBe(true);
    expect(status.programs.every((p: { reused: boolean }) => p.reused)).toBe(true);
  }, 120_000);

  it('refuses an upgrade it cannot make hitless, before touching anything, and forwarding goes on', async () => {
    // A pin under links/ that is not an XDP link cannot be moved with bpf_link_update.
    const bogus = join(rig.pinRoot, rig.node, 'links', 'not-a-link');
    const settings = rig.pinned('settings');
    settings.pin(bogus);
    settings.close();
    try {
      const before = rig.snapshot(['ilm', 'label_stats', 'sub_mac', 'fec_up']);
      expect(await rig.stop('SIGTERM')).toBe(0);
      const logFrom = rig.logs.length;
      await expect(rig.start(['--object', RESIZED])).rejects.toThrow(/daemon exited with 1/);
      expect(rig.logs.slice(logFrom)).toMatch(/cannot upgrade across this map-layout change without stopping forwarding \(nothing was changed\): .*not-a-link: .*not a link/);
      expect(maxEntries('ilm')).toBe(1_048_576);
      expect(existsSync(join(rig.pinRoot, rig.node, 'maps_next'))).toBe(false);
      expect(rig.snapshot(['ilm', 'label_stats', 'sub_mac', 'fec_up'])).toBe(before);
      const sink = rig.sinkCount(100);
      expect(await rig.send(30, 300)).toBe(30);
      await sleep(200);
      expect(rig.sinkCount(100) - sink).toBe(30);
    } finally {
      BpfMap.fromPin(bogus).unpin();
    }
    await rig.start(['--object', NORMAL]);
    expect(maxEntries('ilm')).toBe(1_048_576);
  }, 60_000);
});
