// The /metrics text: families and labels as documented, sums exact, a failed map read leaves
// its family out and counts an error, the output passes `promtool check metrics`, and a scrape
// of 1,000 ISPs and 10,000 labels is cheap.
import { DROP_REASONS } from '../../control/tables/layout.js';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inCi } from '../helpers/root.js';
import { MetricsCollector, type IspCounterRow, type LabelCounterRow, type MetricsSource } from '../../control/metrics/collector.js';

function source(over: Partial<MetricsSource> = {}): MetricsSource {
  return {
    readIspStats: () => [
      { isp: 1, direction: 'up', point: 'in', packets: 10n, bytes: 1500n },
      { isp: 1, direction: 'down', point: 'out', packets: 7n, bytes: 700n },
      { isp: 1, direction: 'up', point: 'policed', packets: 2n, bytes: 200n },
      { isp: 9, direction: 'up', point: 'in', packets: 1n, bytes: 64n },
    ],
    readLabelStats: () => [{ label: 1000, packets: 5n, bytes: 9_007_199_254_740_993n }],
    readDropStats: () => [{ reason: 'no_fec', packets: 3n, bytes: 180n }],
    ispNames: () => new Map([[1, 'alpha "one"'], [2, 'beta']]),
    programs: () => [{ role: 'access', id: 42, tag: 'abcdef0123456789' }],
    tableEntries: () => ({ sub_mac: 3, ilm: 1 }),
    lastReconcile: () => ({ at: 1_700_000_000_000, ok: true }),
    ...over,
  };
}

const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('metrics collector', () => {
  it('writes every family with ISP names, zeros for configured ISPs and exact sums', async () => {
    const t = await new MetricsCollector(source(), { defaultMetrics: false }).render();
    expect(series(t, 'fecflow_isp_packets_total')).toEqual([
      'fecflow_isp_packets_total{isp="alpha \\"one\\"",direction="up",point="in"} 10',
      'fecflow_isp_packets_total{isp="alpha \\"one\\"",direction="up",point="out"} 0',
      'fecflow_isp_packets_total{isp="alpha \\"one\\"",direction="up",point="transit"} 0',
      'fecflow_isp_packets_total{isp="alpha \\"one\\"",direction="down",point="in"} 0',
      'fecflow_isp_packets_total{isp="alpha \\"one\\"",direction="down",point="out"} 7',
      'fecflow_isp_packets_total{isp="alpha \\"one\\"",direction="down",point="transit"} 0',
      'fecflow_isp_packets_total{isp="beta",direction="up",point="in"} 0',
      'fecflow_isp_packets_total{isp="beta",direction="up",point="out"} 0',
      'fecflow_isp_packets_total{isp="beta",direction="up",point="transit"} 0',
      'fecflow_isp_packets_total{isp="beta",direction="down",point="in"} 0',
      'fecflow_isp_packets_total{isp="beta",direction="down",point="out"} 0',
      'fecflow_isp_packets_total{isp="beta",direction="down",point="transit"} 0',
      'fecflow_isp_packets_total{isp="9",direction="up",point="in"} 1',
      'fecflow_isp_packets_total{isp="9",direction="up",point="out"} 0',
      'fecflow_isp_packets_total{isp="9",direction="up",point="transit"} 0',
      'fecflow_isp_packets_total{isp="9",direction="down",point="in"} 0',
      'fecflow_isp_packets_total{isp="9",direction="down",point="out"} 0',
      'fecflow_isp_packets_total{isp="9",direction="down",point="transit"} 0',
    ]);
    expect(series(t, 'fecflow_isp_bytes_total')[0]).toBe('fecflow_isp_bytes_total{isp="alpha \\"one\\"",direction="up",point="in"} 1500');
    expect(series(t, 'fecflow_policed_packets_total')[0]).toBe('fecflow_policed_packets_total{isp="alpha \\"one\\"",direction="up"} 2');
    expect(series(t, 'fecflow_label_bytes_total')).toEqual(['fecflow_label_bytes_total{label="1000"} 9007199254740993']);
    expect(series(t, 'fecflow_drops_total')).toHaveLength(DROP_REASONS.length);
    expect(series(t, 'fecflow_drops_total')).toContain('fecflow_drops_total{reason="no_fec"} 3');
    expect(series(t, 'fecflow_bpf_program_info')).toEqual(['fecflow_bpf_program_info{role="access",id="42",tag="abcdef0123456789"} 1']);
    expect(series(t, 'fecflow_table_entries')).toEqual(['fecflow_table_entries{table="ilm"} 1', 'fecflow_table_entries{table="sub_mac"} 3']);
    expect(series(t, 'fecflow_last_reconcile_timestamp_seconds')).toEqual(['fecflow_last_reconcile_timestamp_seconds 1700000000']);
    expect(series(t, 'fecflow_last_reconcile_success')).toEqual(['fecflow_last_reconcile_success 1']);
    expect(t).not.toMatch(/subscriber=/);
  });

  it('writes the ICMP errors owed per kind and outcome, zeros included, and leaves them out where the data plane has none', async () => {
    const c = new MetricsCollector(source({ readIcmpStats: () => [{ kind: 'frag_needed', outcome: 'rate_limited', packets: 9_007_199_254_740_993n, bytes: 1n }] }), { defaultMetrics: false });
    const s = series(await c.render(), 'fecflow_icmp_errors_total');
    expect(s).toHaveLength(4 * 5);
    expect(s).toContain('fecflow_icmp_errors_total{kind="frag_needed",outcome="rate_limited"} 9007199254740993');
    expect(s).toContain('fecflow_icmp_errors_total{kind="time_exceeded_v6",outcome="sent"} 0');
    const none = new MetricsCollector(source(), { defaultMetrics: false });
    expect(series(await none.render(), 'fecflow_icmp_errors_total')).toEqual([]);
  });

  it('leaves a family out and counts the error when its map cannot be read', async () => {
    const c = new MetricsCollector(source({ readLabelStats: () => { throw new Error('EBADF'); } }), { defaultMetrics: false });
    const t1 = await c.render();
    expect(series(t1, 'fecflow_label_packets_total')).toEqual([]);
    expect(series(t1, 'fecflow_label_bytes_total')).toEqual([]);
    expect(series(t1, 'fecflow_isp_packets_total').length).toBeGreaterThan(0);
    expect(series(t1, 'fecflow_metrics_read_errors_total')).toContain('fecflow_metrics_read_errors_total{map="label_stats"} 1');
    const t2 = await c.render();
    expect(series(t2, 'fecflow_metrics_read_errors_total')).toContain('fecflow_metrics_read_errors_total{map="label_stats"} 2');
    expect(series(t2, 'fecflow_metrics_read_errors_total')).toContain('fecflow_metrics_read_errors_total{map="isp_stats"} 0');
  });

  // promtool comes with Debian's prometheus (scripts/system-deps.sh installs it). Without it the
  // test skips with the reason in its name, except under CI=true, where it runs and fails.
  const noPromtool = !existsSync('/usr/bin/promtool') && !inCi;
  it.skipIf(noPromtool)(`passes promtool check metrics, default process metrics included${noPromtool ? ' [skipped: /usr/bin/promtool missing; apt-get install prometheus]' : ''}`, async () => {
    const t = await new MetricsCollector(source()).render();
    expect(t).toMatch(/process_cpu_seconds_total/);
    const out = execFileSync('promtool', ['check', 'metrics'], { input: t, encoding: 'utf8' });
    expect(out).toBe('');
  });

  it('renders one series per ISP point and per label for 1,000 ISPs and 10,000 labels', async () => {
    const isp: IspCounterRow[] = [];
    const names = new Map<number, string>();
    for (let i = 1; i <= 1000; i++) {
      names.set(i, `isp-${i}`);
      for (const direction of ['up', 'down'] as const) for (const point of ['in', 'out', 'policed'] as const) isp.push({ isp: i, direction, point, packets: BigInt(i * 7), bytes: BigInt(i * 7000) });
    }
    const labels: LabelCounterRow[] = Array.from({ length: 10_000 }, (_v, i) => ({ label: 16 + i, packets: BigInt(i), bytes: BigInt(i * 100) }));
    const c = new MetricsCollector(source({ readIspStats: () => isp, readLabelStats: () => labels, ispNames: () => names }), { defaultMetrics: false });
    // How long this takes is measured by `npm run bench`, not asserted here.
    const text = await c.render();
    expect(series(text, 'fecflow_label_packets_total')).toHaveLength(10_000);
    expect(series(text, 'fecflow_isp_packets_total')).toHaveLength(6000) // 1,000 ISPs x 2 directions x (in, out, transit);
  });
});
