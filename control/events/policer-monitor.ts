// Tells when an ISP's policer starts dropping more than a threshold, and when it stops: the
// data plane counts every policed packet per ISP and direction (isp_stats, point `policed`);
// this reads those counters at an interval and emits one `policer.drops` event when an ISP's
// drops in an interval cross the threshold (state `above`), and one when they fall back under
// it (state `below`) — not one per interval, so a long overload is one event, not a flood.
import type { IspCounterRow } from '../metrics/collector.js';
import type { EventSink } from './sink.js';

export interface PolicerMonitorOptions {
  /** the per-ISP counters (the data plane's isp_stats, summed over CPUs) */
  read(): IspCounterRow[];
  /** an ISP's name by its index (undefined: not configured any more) */
  ispName(index: number): string | undefined;
  events: EventSink;
  /** policed packets per interval at or above which an ISP is `above` */
  threshold: number;
  intervalMs: number;
  log?: { warn(o: object, msg: string): void };
}

type Key = `${number}/${'up' | 'down'}`;

export class PolicerMonitor {
  private last = new Map<Key, bigint>();
  private above = new Set<Key>();
  private timer: NodeJS.Timeout | undefined;
  private primed = false;

  constructor(private readonly o: PolicerMonitorOptions) {
    if (!Number.isInteger(o.threshold) || o.threshold < 1) throw new Error(`policer event threshold must be a whole number of packets >= 1, not ${o.threshold}`);
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reading: compares each ISP's policed packets with the last reading. */
  tick(): void {
    let rows: IspCounterRow[];
    try {
      rows = this.o.read();
    } catch (err) {
      this.o.log?.warn({ err: String((err as Error).message ?? err) }, 'policer monitor: reading the counters failed; next interval');
      return;
    }
    const now = new Map<Key, bigint>();
    for (const r of rows) if (r.point === 'policed') now.set(`${r.isp}/${r.direction}`, r.packets);
    if (this.primed) {
      for (const [key, packets] of now) {
        const before = this.last.get(key) ?? 0n;
        // a counter that went back (the map was recreated) counts from zero
        const delta = packets >= before ? packets - before : packets;
        const [index, direction] = key.split('/') as [string, 'up' | 'down'];
        const isp = this.o.ispName(Number(index));
        if (isp === undefined) continue;
        const over = delta >= BigInt(this.o.threshold);
        if (over === this.above.has(key)) continue;
        if (over) this.above.add(key);
        else this.above.delete(key);
        this.emit(isp, direction, over ? 'above' : 'below', delta);
      }
      // an ISP whose row is gone is below now
      for (const key of [...this.above]) {
        if (now.has(key)) continue;
        this.above.delete(key);
        const [index, direction] = key.split('/') as [string, 'up' | 'down'];
        const isp = this.o.ispName(Number(index));
        if (isp !== undefined) this.emit(isp, direction, 'below', 0n);
      }
    }
    this.last = now;
    this.primed = true;
  }

  private emit(isp: string, direction: 'up' | 'down', state: 'above' | 'below', packets: bigint): void {
    try {
      this.o.events.emit({
        type: 'policer.drops',
        isp,
        subject: `${isp}/${direction}`,
        data: { direction, state, packets: String(packets), intervalMs: this.o.intervalMs, threshold: this.o.threshold },
      });
    } catch (err) {
      this.o.log?.warn({ isp, direction, err: String((err as Error).message ?? err) }, 'policer monitor: could not record the event');
    }
  }
}
