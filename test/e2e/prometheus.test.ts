// End to end: Debian's Prometheus scrapes the three routers' /metrics over the lab's
// management links, and the per-ISP rates it computes match the traffic sent within 5%.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { tempDir, testLab } from '../helpers/traffic.js';
import type { Lab } from '../../control/lab/lab.js';
import { stopProcess, processStartTime } from '../../control/lab/sys.js';
import { Receiver, Sender } from '../../control/lab/traffic.js';
import { INTERNET, ISPS, ROUTERS, USER_PLAN, type IspName, type RouterName, type UserName } from '../../control/lab/topology.js';

const PROMETHEUS = '/usr/bin/prometheus';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function query(base: string, promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
  return body.data.result;
}

describeRoot('e2e: Prometheus scrapes the lab', () => {
  const t = testLab();
  let lab: Lab;
  let prom: ChildProcess | undefined;
  let promStart = 0;
  const dir = tempDir('fecflow-e2e-prom-');

  beforeAll(async () => {
    lab = await t.up();
  }, 90_000);
  afterAll(async () => {
    if (prom?.pid) await stopProcess(prom.pid, promStart, 10_000);
    dir.remove();
    await t.down();
  }, 60_000);

  test('per-ISP packet and byte rates queried from Prometheus match the streams within 5%', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const instance = new Map<string, RouterName>();
    for (const r of ROUTERS) instance.set(new URL(lab.daemon(r).url).host, r);
    writeFileSync(
      join(dir.path, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: fecflow-lab',
        '    static_configs:',
        `      - targets: [${[...instance.keys()].map((h) => `"${h}"`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    prom = spawn(PROMETHEUS, [`--config.file=${join(dir.path, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: 'ignore',
    });
    promStart = processStartTime(prom.pid!) ?? 0;

    // every router scraped and up
    for (let i = 0; ; i++) {
      try {
        const up = await query(base, 'up');
        if (up.length === 3 && up.every((s) => s.value[1] === '1')) break;
      } catch {
        /* not listening yet */
      }
      if (i > 150) throw new Error('Prometheus did not scrape all three routers within 30 s');
      await sleep(200);
    }

    // alpha: alice 600 + carol 400 pkt/s; beta: bob 500 pkt/s — each echoed back, so the
    // downstream rates are the same. IPv4, 200 bytes of UDP payload: 228 bytes of IP.
    const plan: Array<[UserName, number]> = [
      ['alice', 600],
      ['carol', 400],
      ['bob', 500],
    ];
    const want: Record<IspName, number> = { alpha: 0, beta: 0 };
    for (const [u, rate] of plan) want[USER_PLAN[u].isp] += rate;
    const receivers = ISPS.map((i) => new Receiver(lab.names.ispNs(i), 5401, { echo: true, bind: [INTERNET.v4] }));
    await Promise.all(receivers.map((r) => r.ready));
    const senders = plan.map(([u, rate], k) => new Sender(lab.names.userNs(u), { to: INTERNET.v4, port: 5401, rate, seconds: 18, stream: k, size: 200 }));
    await Promise.all(senders.map((s) => s.ready));
    // A long window: each sample is stamped when the scrape starts, not when the daemon reads
    // its counters, so on a busy machine a short window carries a few percent of jitter.
    await sleep(14_000);
    const window = '10s';
    const [pk, by, lsr] = await Promise.all([
      query(base, `rate(fecflow_isp_packets_total[${window}])`),
      query(base, `rate(fecflow_isp_bytes_total[${window}])`),
      query(base, `sum by (instance) (rate(fecflow_label_packets_total[${window}]))`),
    ]);
    const sent = await Promise.all(senders.map((s) => s.report));
    await Promise.all(receivers.map((r) => r.stop()));
    for (const s of sent) expect(s.echoed).toBe(s.sent);

    const pick = (rows: typeof pk, router: RouterName, isp: IspName, direction: string, point: string): number => {
      const row = rows.find((r) => instance.get(r.metric.instance!) === router && r.metric.isp === isp && r.metric.direction === direction && r.metric.point === point);
      if (!row) throw new Error(`no series for ${router} ${isp} ${direction} ${point}`);
      return Number(row.value[1]);
    };
    const points: Array<[RouterName, string, string]> = [
      ['headend', 'up', 'in'],
      ['tailend', 'up', 'out'],
      ['tailend', 'down', 'in'],
      ['headend', 'down', 'out'],
    ];
    const rows: string[] = [];
    for (const isp of ISPS) {
      for (const [router, direction, point] of points) {
        const pps = pick(pk, router, isp, direction, point);
        const bps = pick(by, router, isp, direction, point);
        rows.push(`${isp} ${router} ${direction}/${point}: ${pps.toFixed(1)} pkt/s (want ${want[isp]}), ${bps.toFixed(0)} B/s (want ${want[isp] * 228})`);
      }
    }
    console.log(rows.join('\n'));
    for (const isp of ISPS) {
      for (const [router, direction, point] of points) {
        const pps = pick(pk, router, isp, direction, point);
        const bps = pick(by, router, isp, direction, point);
        expect(Math.abs(pps - want[isp]) / want[isp], `${isp} ${router} ${direction}/${point} pkt/s`).toBeLessThanOrEqual(0.05);
        expect(Math.abs(bps - want[isp] * 228) / (want[isp] * 228), `${isp} ${router} ${direction}/${point} B/s`).toBeLessThanOrEqual(0.05);
      }
    }
    // the LSR is scraped too, with its labels' counters
    const lsrRate = Number(lsr.find((r) => instance.get(r.metric.instance!) === 'lsr')?.value[1] ?? 0);
    expect(Math.abs(lsrRate - 2 * (want.alpha + want.beta)) / (2 * (want.alpha + want.beta))).toBeLessThanOrEqual(0.05);
  }, 90_000);
});
