// The per-ISP token bucket: a burst passes until the burst size is used, then POLICED drops
// (counted in drop_stats and isp_stats' policed point); after a pause it passes again; and two
// CPUs forwarding at once never get more than burst + rate × elapsed through (the spin lock).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { addonPath } from '../../control/bpf/native.js';
import { u32 } from '../../control/bpf/codec.js';
import { parseRate, parseSize } from '../../control/config/units.js';
import { policerCodec } from '../../control/tables/layout.js';
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

  // The largest rate and burst the configuration accepts, as the compiler writes them.
  const maxRateBits = BigInt(Number.MAX_SAFE_INTEGER);
  const MAX_RATE = maxRateBits / 8n; // bytes/s, ~9 Pbit/s
  const MAX_BURST = BigInt(Number.MAX_SAFE_INTEGER);
  const NS = 1_000_000_000n;

  /** Writes a bucket with the given state and runs one frame; returns what the kernel left. */
  function runBucket(rate: bigint, burst: bigint, tokens: bigint, idleNs: bigint) {
    const idx = u32.encode(policerIndex(ISP_A, 'up'));
    const m = dp.map('policer');
    const lastNs = process.hrtime.bigint() - idleNs; // CLOCK_MONOTONIC, as bpf_ktime_get_ns
    m.set(idx, policerCodec.encode({ frac: 0, rate, burst, tokens, lastNs }));
    const action = dp.run('xdp_access', frame).action;
    const after = policerCodec.decode(m.get(idx)!);
    return { action, after, elapsed: after.lastNs - lastNs };
  }

  it('the schema limits are what this test takes as the largest rate and burst', () => {
    expect(parseRate(`${maxRateBits}bit`)).toEqual({ ok: true, value: Number.MAX_SAFE_INTEGER });
    expect(parseRate(`${maxRateBits + 1n}bit`).ok).toBe(false);
    expect(parseSize(`${MAX_BURST}B`)).toEqual({ ok: true, value: Number.MAX_SAFE_INTEGER });
    expect(parseSize(`${MAX_BURST + 1n}B`).ok).toBe(false);
  });

  for (const [what, rate, idle] of [
    ['the largest rate, 0.3 s idle', MAX_RATE, 300_000_000n],
    ['the largest rate, 7.5 s idle (more than a second, less than the burst takes)', MAX_RATE, 7_500_000_000n],
    ['148 Gbit/s, 0.9 s idle (overflowed before)', 148_000_000_000n / 8n, 900_000_000n],
    ['1 Tbit/s, 0.999 s idle', 125_000_000_000n, 999_000_000n],
    ['7 B/s with a carried fraction', 7n, 123_456_789n],
  ] as const) {
    it(`earns exactly elapsed × rate / 1e9 bytes at ${what}, the fraction carried in frac`, () => {
      const { action, after, elapsed } = runBucket(rate, MAX_BURST, 0n, idle);
      expect(elapsed).toBeGreaterThanOrEqual(idle);
      const earned = (elapsed * rate) / NS;
      const passed = earned >= len;
      expect(action).toBe(passed ? XDP_REDIRECT : XDP_DROP);
      expect(after.tokens).toBe(passed ? earned - len : earned);
      expect(BigInt(after.frac)).toBe((elapsed * rate) % NS);
      expect(after.rate).toBe(rate);
    });
  }

  it('fills to the largest burst, and no further, after an idle longer than burst / rate', () => {
    // 2^53 B at 2^50 B/s takes 8 s; an hour's idle must give exactly a full bucket
    const { action, after } = runBucket(MAX_RATE, MAX_BURST, 0n, 3600n * NS);
    expect(action).toBe(XDP_REDIRECT);
    expect(after.tokens).toBe(MAX_BURST - len);
    expect(after.frac).toBe(0);
  });

  it('refills a burst worth more than one second fully (no one-second cap)', () => {
    // 1000 B/s and a 10 kB bucket, empty, 5 s idle: 5000 B (a one-second cap gave 1000)
    const { after, elapsed } = runBucket(1000n, 10_000n, 0n, 5n * NS);
    expect(after.tokens).toBe((elapsed * 1000n) / NS - len);
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
