// The /metrics endpoint's content. Counter families are read from the data plane's per-CPU
// maps at scrape time (summed over CPUs by the source) and written as Prometheus text by hand:
// 10,000 label series per scrape are cheaper to print than to push through prom-client's
// label hashing, and bigint counters stay exact. prom-client keeps what it is good at — the
// process metrics and our own error counter. A map that cannot be read contributes no series
// at all for that scrape (never a partial family) and bumps fecflow_metrics_read_errors_total.
// Series labels are ISP, direction, point, reason, label — never a subscriber.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Direction, Point } from '../tables/types.js';
import { DIRECTIONS, DROP_REASONS, ICMP_KINDS, ICMP_OUTCOMES, ispStatsIndex } from '../tables/types.js';

export interface IspCounterRow {
  isp: number;
  direction: Direction;
  point: Point;
  packets: bigint;
  bytes: bigint;
}

export interface LabelCounterRow {
  label: number;
  packets: bigint;
  bytes: bigint;
}

export interface DropCounterRow {
  reason: string;
  packets: bigint;
  bytes: bigint;
}

/** ICMP errors the data plane owed, by kind and what became of them (fecflow_shared.h). */
export interface IcmpCounterRow {
  kind: string;
  outcome: string;
  packets: bigint;
  bytes: bigint;
}

export interface ProgramInfo {
  role: string;
  id: number;
  tag: string;
}

export interface ReconcileInfo {
  /** ms since the epoch of the last reconcile, null before the first */
  at: number | null;
  ok: boolean | null;
}

/** What the collector needs from the daemon; each read may throw, and is then left out. */
export interface MetricsSource {
  readIspStats(): IspCounterRow[] | Promise<IspCounterRow[]>;
  readLabelStats(): LabelCounterRow[] | Promise<LabelCounterRow[]>;
  readDropStats(): DropCounterRow[] | Promise<DropCounterRow[]>;
  /** absent where the data plane has no icmp_stats (older object, test fakes) */
  readIcmpStats?(): IcmpCounterRow[] | Promise<IcmpCounterRow[]>;
  /** configured ISPs: index -> name */
  ispNames(): Map<number, string>;
  programs(): ProgramInfo[];
  /** entries per configuration table, from the last successful reconcile */
  tableEntries(): Record<string, number>;
  lastReconcile(): ReconcileInfo;
}

const COUNTED_POINTS: readonly Point[] = ['in', 'out', 'transit'];

export class MetricsCollector {
  readonly registry = new Registry();
  private readonly readErrors: Counter<'map'>;

  constructor(
    private readonly source: MetricsSource,
    opts: { defaultMetrics?: boolean; onReadError?: (map: string, err: unknown) => void } = {},
  ) {
    this.onReadError = opts.onReadError ?? (() => {});
    this.readErrors = new Counter({
      name: 'fecflow_metrics_read_errors_total',
      help: 'Counter map reads that failed during a scrape; the family was left out of that scrape.',
      labelNames: ['map'],
      registers: [this.registry],
    });
    // Start at 0 so rate() works from the first failure on.
    for (const map of ['isp_stats', 'label_stats', 'drop_stats', 'icmp_stats']) this.readErrors.inc({ map }, 0);
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names a few gauges *_total (nodejs_active_handles_total, …), which
      // `promtool check metrics` rejects; they add nothing process_* does not say.
      for (const m of this.registry.getMetricsAsArray()) {
        if (m.name.endsWith('_total') && (m as unknown as { type?: string }).type !== 'counter') this.registry.removeSingleMetric(m.name);
      }
    }
  }

  private readonly onReadError: (map: string, err: unknown) => void;

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The whole exposition text for one scrape. */
  async render(): Promise<string> {
    const out: string[] = [];
    const names = this.source.ispNames();
    const ispLabel = (isp: number): string => names.get(isp) ?? String(isp);

    const isp = await this.read('isp_stats', () => this.source.readIspStats());
    if (isp) renderIsp(out, isp, names, ispLabel);

    const labels = await this.read('label_stats', () => this.source.readLabelStats());
    if (labels) renderLabels(out, labels);

    const drops = await this.read('drop_stats', () => this.source.readDropStats());
    if (drops) renderDrops(out, drops);

    const readIcmp = this.source.readIcmpStats?.bind(this.source);
    const icmp = readIcmp ? await this.read('icmp_stats', readIcmp) : undefined;
    if (icmp) renderIcmp(out, icmp);

    renderInfo(out, this.source.programs(), this.source.tableEntries(), this.source.lastReconcile());
    return out.join('') + (await this.registry.metrics());
  }

  private async read<T>(map: string, fn: () => T | Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.readErrors.inc({ map });
      this.onReadError(map, err);
      return undefined;
    }
  }
}

function renderIsp(
  out: string[],
  rows: IspCounterRow[],
  names: Map<number, string>,
  ispLabel: (isp: number) => string,
): void {
  // Every configured ISP gets every series from the start (zeros included) so that rate()
  // sees the first packets; ISPs no longer configured appear only while they have counts.
  // Rows are indexed like isp_stats itself.
  const byIdx = new Map<number, IspCounterRow>();
  const isps = new Set<number>(names.keys());
  for (const r of rows) {
    byIdx.set(ispStatsIndex(r.isp, r.direction, r.point), r);
    if (r.packets !== 0n || r.bytes !== 0n) isps.add(r.isp);
  }
  const sorted = [...isps].sort((a, b) => a - b);

  let pk = '';
  let by = '';
  let pol = '';
  for (const isp of sorted) {
    const name = escapeLabel(ispLabel(isp));
    for (const dir of DIRECTIONS) {
      for (const point of COUNTED_POINTS) {
        const r = byIdx.get(ispStatsIndex(isp, dir, point));
        const l = `{isp="${name}",direction="${dir}",point="${point}"} `;
        pk += `fecflow_isp_packets_total${l}${r ? r.packets.toString() : '0'}\n`;
        by += `fecflow_isp_bytes_total${l}${r ? r.bytes.toString() : '0'}\n`;
      }
      const r = byIdx.get(ispStatsIndex(isp, dir, 'policed'));
      pol += `fecflow_policed_packets_total{isp="${name}",direction="${dir}"} ${r ? r.packets.toString() : '0'}\n`;
    }
  }
  family(out, 'fecflow_isp_packets_total', 'counter',
    'Packets per ISP, direction (up: end-user to ISP) and point (in: label pushed, out: last label popped, transit: label swapped or popped by an LSR).', pk);
  family(out, 'fecflow_isp_bytes_total', 'counter',
    'IP bytes per ISP, direction and point.', by);
  family(out, 'fecflow_policed_packets_total', 'counter',
    'Packets dropped by the ISP\'s policer, per ISP and direction.', pol);
}

function renderLabels(out: string[], rows: LabelCounterRow[]): void {
  const sorted = [...rows].sort((a, b) => a.label - b.label);
  let pk = '';
  let by = '';
  for (const r of sorted) {
    pk += `fecflow_label_packets_total{label="${r.label}"} ${r.packets.toString()}\n`;
    by += `fecflow_label_bytes_total{label="${r.label}"} ${r.bytes.toString()}\n`;
  }
  family(out, 'fecflow_label_packets_total', 'counter', 'Packets received per incoming MPLS label (ILM hits).', pk);
  family(out, 'fecflow_label_bytes_total', 'counter', 'Frame bytes received per incoming MPLS label.', by);
}

function renderDrops(out: string[], rows: DropCounterRow[]): void {
  const byReason = new Map(rows.map((r) => [r.reason, r]));
  const lines = DROP_REASONS.map((reason) => `fecflow_drops_total{reason="${reason}"} ${byReason.get(reason)?.packets ?? 0n}\n`).join('');
  family(out, 'fecflow_drops_total', 'counter', 'Frames dropped by the data plane, per reason.', lines);
}

function renderIcmp(out: string[], rows: IcmpCounterRow[]): void {
  const by = new Map(rows.map((r) => [`${r.kind}/${r.outcome}`, r]));
  const lines = ICMP_KINDS.flatMap((kind) =>
    ICMP_OUTCOMES.map((outcome) => `fecflow_icmp_errors_total{kind="${kind}",outcome="${outcome}"} ${by.get(`${kind}/${outcome}`)?.packets ?? 0n}\n`),
  ).join('');
  family(out, 'fecflow_icmp_errors_total', 'counter', 'ICMP errors the data plane owed (time exceeded, fragmentation needed, packet too big), per kind and outcome: sent, rate_limited, no_source, suppressed, unroutable.', lines);
}

function renderInfo(out: string[], programs: ProgramInfo[], tables: Record<string, number>, rec: ReconcileInfo): void {
  family(out, 'fecflow_bpf_program_info', 'gauge', 'The XDP programs attached, one series per role (value 1).',
    programs.map((p) => `fecflow_bpf_program_info{role="${escapeLabel(p.role)}",id="${p.id}",tag="${escapeLabel(p.tag)}"} 1\n`).join(''));
  family(out, 'fecflow_table_entries', 'gauge', 'Entries in each configuration map after the last successful reconcile.',
    Object.keys(tables).sort().map((t) => `fecflow_table_entries{table="${escapeLabel(t)}"} ${tables[t]}\n`).join(''));
  family(out, 'fecflow_last_reconcile_timestamp_seconds', 'gauge', 'When the last reconcile finished (seconds since the epoch), 0 before the first.',
    `fecflow_last_reconcile_timestamp_seconds ${rec.at === null ? 0 : rec.at / 1000}\n`);
  family(out, 'fecflow_last_reconcile_success', 'gauge', '1 if the last reconcile succeeded, 0 if it failed or none ran yet.',
    `fecflow_last_reconcile_success ${rec.ok ? 1 : 0}\n`);
}

function family(out: string[], name: string, type: string, help: string, body: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`, body);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
