// The per-ISP token bucket: a burst passes until the burst size is used, then POLICED drops
// (counted in drop_stats and isp_stats' policed point); after a pause it passes again; and two
// CPUs forwarding at once never get more than burst + rate × elapsed through (the spin lock).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { addonPath } from '../../control/bpf/native.js';
import { policerIndex } from '../../control/tables/types.js';
import { describeRoot } from '../helpers/root.js';
import { counter, Dataplane, LO, XDP_DROP, XDP_REDIRECT } from './harness.js';
import { downV4, fromSub, ISP_A, standardTables, upV4 } from './topo.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runWorker(cpu: number, progId: number, frame: Buffer, ms: number): Promise<{ runs: number; passed: number; start: number; end: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn('taskset', ['-c', String(cpu), process.execPath, new URL('./policer-worker.mjs', import.meta.url).pathname, addonPath(), String(progId), frame.toString('hex'), String(ms), String(LO)]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker on CPU ${cpu} exited ${code}: ${err}`))));
  });
}

describeRoot('policer', () => {
  let dp: Dataplane;
  beforeAll(() => {
    dp = Dataplane.open();
  });
  afterAll(() => dp?.close());

  const frame = fromSub(upV4(64)); // one frame size throughout
  const len = BigInt(frame.length);
  const ipLen = frame.length - 14;

  beforeEach(() => {
    const t = standardTables();
    // 1000 B/s refills one byte per millisecond: the few milliseconds a burst takes add less
    // than one frame, so the counts below are exact.
    t.policers.set(policerIndex(ISP_A, 'up'), { rate: 1000n, burst: 10n * len });
    dp.load(t);
  });

  it('passes a burst of exactly burst bytes, then drops POLICED and counts policed', () => {
    for (let i = 0; i < 10; i++) expect(dp.run('xdp_access', frame).action, `frame ${i}`).toBe(XDP_REDIRECT);
    const r = dp.runCounted('xdp_access', frame, { isp: [[ISP_A, 'up', 'policed'], [ISP_A, 'up', 'in']] });
    expect(r.action).toBe(XDP_DROP);
    expect(r.delta.drops).toEqual({ policed: counter(1, frame.length) });
    expect(r.delta.isp[`${ISP_A}/up/policed`]).toEqual(counter(1, ipLen));
    expect(r.delta.isp[`${ISP_A}/up/in`]).toEqual(counter(0, 0));
  });

  it('refills at the rate: after a pause worth 2.5 frames, two pass and the third drops', async () => {
    for (let i = 0; i < 10; i++) dp.run('xdp_access', frame);
    expect(dp.run('xdp_access', frame).action).toBe(XDP_DROP);
    await sleep(Math.round(2.5 * frame.length)); // 1 byte per ms
    expect(dp.run('xdp_access', frame).action).toBe(XDP_REDIRECT);
    expect(dp.run('xdp_access', frame).action).toBe(XDP_REDIRECT);
    expect(dp.run('xdp_access', frame).action).toBe(XDP_DROP);
  });

  it('never refills beyond the burst, however long the pause', async () => {
    await sleep(1200);
    let passed = 0;
    for (let i = 0; i < 15; i++) if (dp.run('xdp_access', frame).action === XDP_REDIRECT) passed++;
    expect(passed).toBe(10);
  });

  it('polices only its own ISP and direction (downstream at the isp program is separate)', () => {
    for (let i = 0; i < 12; i++) dp.run('xdp_access', frame);
    const down = dp.run('xdp_isp', fromSub(downV4(64)));
    expect(down.action).toBe(XDP_REDIRECT);
  });

  it('two CPUs at once get at most burst + rate × elapsed (+ one frame) through', async () => {
    const rate = 200_000n; // bytes/s
    const burst = 20n * len;
    const t = standardTables();
    t.policers.set(policerIndex(ISP_A, 'up'), { rate, burst });
    dp.load(t);
    const id = dp.obj.program('xdp_access').info().id;
    const results = await Promise.all([runWorker(0, id, frame, 1000), runWorker(1, id, frame, 1000)]);
    // From the first worker's first run to the last one's last, rounded up to whole ms.
    const elapsedNs = BigInt(Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start)) + 1) * 1_000_000n;
    const passedBytes = BigInt(results.reduce((s, r) => s + r.passed, 0)) * len;
    const allowed = burst + (rate * elapsedNs) / 1_000_000_000n + len;
    const offered = BigInt(results.reduce((s, r) => s + r.runs, 0)) * len;
    console.log(`policer, 2 CPUs: offered ${offered} B, passed ${passedBytes} B, allowed ${allowed} B in ${Number(elapsedNs) / 1e6} ms`, results);
    expect(results.every((r) => r.runs > 1000)).toBe(true);
    expect(offered).toBeGreaterThan(allowed * 2n); // the policer really had to drop
    expect(passedBytes).toBeLessThanOrEqual(allowed);
    expect(passedBytes).toBeGreaterThanOrEqual(burst + (rate * 500_000_000n) / 1_000_000_000n); // and let the rate through
  });
});
