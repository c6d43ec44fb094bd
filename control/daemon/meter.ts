// The per-subscriber meter of the control plane (the UsageMeter of ./usage.ts).
//
// The data plane counts each subscriber's packets and bytes by direction and traffic type in
// sub_stats, at the meter slot its classifier entries and downstream routes carry. The meter
// hands out those slots (one per subscriber name, kept in the registry, so a slot follows its
// subscriber across moves between ISPs and daemon restarts) and turns the counters into
// cumulative totals that only grow:
//
//   total += counters now - counters at the last reading (the baseline), per counter;
//
// - a counter below its baseline was reset (the map was recreated): all it holds now is new;
// - a counter map that is not the one the baselines were read from (another kernel map id or
//   boot) makes every baseline zero before the first reading;
// - a slot handed to a subscriber starts from the slot's counters at that moment, so what an
//   earlier holder left in it is never charged to the new one; a slot is given back only once
//   its holder is off the node (no entry points at it) and its last counts are credited.
//
// Readings run at an interval and on demand (current()); the changed rows are written to the
// registry in one transaction per reading. A daemon killed between readings loses nothing: the
// pinned counters go on counting and the next reading takes them against the stored baseline.
import { readFileSync } from 'node:fs';
import type { BpfMap } from '../bpf/index.js';
import type { Logger } from '../log.js';
import { USAGE_BYTES, UsageStore, type UsageRow } from '../registry/usage.js';
import { FF_DIR_MAX, FF_METER_SLOTS } from '../tables/shared.gen.js';
import { TRAFFIC_TYPES, zeroUsage, type SubscriberUsage, type UsageMeter } from './usage.js';
import { DaemonError } from './errors.js';

/** Where the meter reads the data plane's counters: sub_stats, or a fake in tests. */
export interface CounterSource {
  /** names the counter map: it changes when the map is recreated (another map id or boot) */
  identity(): string;
  /** the counters of slots [from, from + count), USAGE_BYTES each (up, then down) */
  read(from: number, count: number): Buffer;
  /** slots the map has (slot 0 is never handed out) */
  readonly slots: number;
}

/** sub_stats of a loaded object as a CounterSource. */
export function subStatsSource(map: BpfMap): CounterSource {
  if (map.valueSize * FF_DIR_MAX !== USAGE_BYTES) throw new Error(`sub_stats values are ${map.valueSize} bytes, the meter expects ${USAGE_BYTES / FF_DIR_MAX}`);
  let boot = 'unknown-boot';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // no procfs: the map id alone names the map
  }
  const id = map.info().id;
  return {
    identity: () => `${boot}/${id}`,
    read: (from, count) => map.readArrayRange(from * FF_DIR_MAX, count * FF_DIR_MAX),
    slots: Math.floor(map.maxEntries / FF_DIR_MAX),
  };
}

interface Entry {
  subscriber: string;
  slot: number | null;
  total: Buffer;
  /** undefined: handed out, baseline not read yet (until flush()) */
  raw: Buffer | undefined;
  readAt: number;
  dirty: boolean;
}

/** What the meter needs from the daemon to give slots back safely. */
export interface MeterHost {
  /** the names of the subscribers in the running config */
  provisioned(): Iterable<string>;
  /** how many there are */
  provisionedCount(): number;
  /** runs fn when no change is being compiled or written (the daemon's queue) */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T>;
}

export class MeterSlotsExhausted extends DaemonError {
  constructor(slots: number) {
    super('invalid', `no per-subscriber meter slot is left (the data plane has ${slots - 1}); remove subscribers first`);
  }
}

const TWO32 = 2 ** 32;

/**
 * Folds the counters now (at now[off..off + USAGE_BYTES)) into total against the baseline raw,
 * word by word as two 32-bit halves (no BigInt on the hot path), and makes now the baseline.
 * Returns whether anything moved.
 */
export function foldCounters(total: Buffer, raw: Buffer, now: Buffer, off: number): boolean {
  if (raw.compare(now, off, off + USAGE_BYTES) === 0) return false; // idle: the common case
  let changed = false;
  for (let o = 0; o < USAGE_BYTES; o += 8) {
    const nl = now.readUInt32LE(off + o);
    const nh = now.readUInt32LE(off + o + 4);
    const bl = raw.readUInt32LE(o);
    const bh = raw.readUInt32LE(o + 4);
    if (nl === bl && nh === bh) continue;
    changed = true;
    let dl: number;
    let dh: number;
    if (nh > bh || (nh === bh && nl > bl)) {
      dl = nl - bl;
      dh = nh - bh;
      if (dl < 0) {
        dl += TWO32;
        dh -= 1;
      }
    } else {
      // below its baseline: the counter restarted from zero, so all of it is new
      dl = nl;
      dh = nh;
    }
    let tl = total.readUInt32LE(o) + dl;
    let th = total.readUInt32LE(o + 4) + dh;
    if (tl >= TWO32) {
      tl -= TWO32;
      th += 1;
    }
    total.writeUInt32LE(tl, o);
    total.writeUInt32LE(th % TWO32, o + 4);
    raw.writeUInt32LE(nl, o);
    raw.writeUInt32LE(nh, o + 4);
  }
  return changed;
}

/** The packed counters of one subscriber as a SubscriberUsage. */
export function decodeUsage(b: Buffer): SubscriberUsage {
  const u = zeroUsage();
  (['up', 'down'] as const).forEach((d, di) => {
    TRAFFIC_TYPES.forEach((t, ti) => {
      const o = (di * TRAFFIC_TYPES.length + ti) * 16;
      u[d][t] = { packets: b.readBigUInt64LE(o), bytes: b.readBigUInt64LE(o + 8) };
    });
  });
  return u;
}

/** What a meter offers beyond UsageMeter: every subscriber's totals, and a reading on demand. */
export interface UsageList {
  list(): Array<{ subscriber: string; slot: number | null; usage: SubscriberUsage; readAt: number }>;
  read(): Promise<MeterReading>;
}

export interface MeterReading {
  /** subscribers whose totals moved */
  changed: number;
  /** slots given back (their holders left the node) */
  released: number;
  /** ms spent reading and folding the counters, and writing the registry */
  readMs: number;
  writeMs: number;
}

export class Meter implements UsageMeter, UsageList {
  private readonly entries = new Map<string, Entry>();
  private readonly bySlot = new Map<number, Entry>();
  private readonly free: number[] = [];
  private nextSlot: number;
  private pending: Entry[] = [];
  private host: MeterHost | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<MeterReading> | undefined;

  private constructor(
    private readonly store: UsageStore,
    private readonly source: CounterSource,
    private readonly log?: Logger,
  ) {
    this.nextSlot = store.nextSlot();
  }

  /** Loads the stored rows; rebaselines them all at zero if the counter map is not the one
   * they were read from. */
  static open(store: UsageStore, source: CounterSource, log?: Logger): Meter {
    const m = new Meter(store, source, log);
    const rows = store.rows();
    const identity = source.identity();
    const known = store.counters();
    const fresh = known !== undefined && known !== identity;
    for (const r of rows) {
      const e: Entry = { subscriber: r.subscriber, slot: r.slot, total: Buffer.from(r.total), raw: fresh ? Buffer.alloc(USAGE_BYTES) : Buffer.from(r.raw), readAt: r.readAt, dirty: fresh };
      m.entries.set(r.subscriber, e);
      if (e.slot !== null) m.bySlot.set(e.slot, e);
    }
    for (let s = 1; s < m.nextSlot; s++) if (!m.bySlot.has(s)) m.free.push(s);
    m.free.reverse(); // pop() hands out the lowest first
    if (fresh) {
      log?.warn({ was: known, now: identity, subscribers: rows.length }, 'the per-subscriber counters were recreated (reboot or layout change): counting goes on from zero against the stored totals');
      store.put(rows.map((r) => ({ ...r, raw: Buffer.alloc(USAGE_BYTES) })), { counters: identity });
      for (const e of m.entries.values()) e.dirty = false;
    } else if (known === undefined) {
      store.put([], { counters: identity });
    }
    return m;
  }

  /** Lets the meter give slots back (it needs to know who is on the node, and when). */
  attach(host: MeterHost): void {
    this.host = host;
  }

  /** The subscriber's slot, handing one out if it has none (its baseline is read by flush()). */
  slotFor(subscriber: string): number {
    let e = this.entries.get(subscriber);
    if (e?.slot != null) return e.slot;
    const slot = this.free.pop() ?? this.nextSlot;
    if (slot >= this.source.slots) throw new MeterSlotsExhausted(this.source.slots);
    if (slot === this.nextSlot) this.nextSlot++;
    if (!e) {
      e = { subscriber, slot, total: Buffer.alloc(USAGE_BYTES), raw: undefined, readAt: Date.now(), dirty: false };
      this.entries.set(subscriber, e);
    } else {
      e.slot = slot;
      e.raw = undefined;
    }
    this.bySlot.set(slot, e);
    this.pending.push(e);
    return slot;
  }

  /** Reads the baselines of the slots handed out since the last flush and records them, before
   * any map entry points at them. */
  flush(): void {
    if (this.pending.length === 0) return;
    const list = this.pending.filter((e) => e.slot !== null && e.raw === undefined);
    this.pending = [];
    // a loop, not Math.min(...slots): a first start hands out a million at once
    let lo = Infinity;
    let hi = -Infinity;
    for (const e of list) {
      lo = Math.min(lo, e.slot!);
      hi = Math.max(hi, e.slot!);
    }
    if (list.length === 0) return;
    // one batch over the span when the slots are dense (a first start), else one read each
    const span = hi - lo + 1 <= 4 * list.length ? this.source.read(lo, hi - lo + 1) : undefined;
    const now = Date.now();
    for (const e of list) {
      const s = e.slot!;
      e.raw = span ? Buffer.from(span.subarray((s - lo) * USAGE_BYTES, (s - lo + 1) * USAGE_BYTES)) : Buffer.from(this.source.read(s, 1));
      e.readAt = now;
    }
    this.store.put(
      list.map((e) => ({ subscriber: e.subscriber, slot: e.slot, total: e.total, raw: e.raw!, readAt: e.readAt })),
      { nextSlot: this.nextSlot },
    );
  }

  /** Forgets slots handed out by a compile that was not applied: they go back to the pool. */
  abandon(): void {
    for (const e of this.pending) {
      if (e.slot === null || e.raw !== undefined) continue;
      this.bySlot.delete(e.slot);
      this.free.push(e.slot);
      e.slot = null;
      if (e.total.equals(Buffer.alloc(USAGE_BYTES)) && !this.storedRow(e.subscriber)) this.entries.delete(e.subscriber);
    }
    this.pending = [];
  }

  private storedRow(subscriber: string): UsageRow | undefined {
    return this.store.row(subscriber);
  }

  /** Cumulative totals of a subscriber, read from the data plane now; undefined if the meter
   * never saw it. */
  current(subscriber: string): SubscriberUsage | undefined {
    const e = this.entries.get(subscriber);
    if (!e) return undefined;
    if (e.slot !== null && e.raw !== undefined) {
      if (foldCounters(e.total, e.raw, this.source.read(e.slot, 1), 0)) e.dirty = true;
    }
    return decodeUsage(e.total);
  }

  /** Every subscriber the meter knows, with its slot (null: off the node) and totals as of the
   * last reading. */
  list(): Array<{ subscriber: string; slot: number | null; usage: SubscriberUsage; readAt: number }> {
    return [...this.entries.values()].map((e) => ({ subscriber: e.subscriber, slot: e.slot, usage: decodeUsage(e.total), readAt: e.readAt }));
  }

  /** One reading of every slot in use: totals folded, changed rows and given-back slots
   * written to the registry in one transaction. Runs in the daemon's queue when attached. */
  read(): Promise<MeterReading> {
    this.reading ??= (async () => {
      try {
        return this.host ? await this.host.exclusive(() => this.readNow()) : this.readNow();
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private readNow(): MeterReading {
    const t0 = performance.now();
    const at = Date.now();
    const used = this.nextSlot - 1;
    const now = used > 0 ? this.source.read(1, used) : Buffer.alloc(0);
    const changed: Entry[] = [];
    for (const e of this.bySlot.values()) {
      if (e.raw === undefined || e.slot === null) continue;
      const off = (e.slot - 1) * USAGE_BYTES;
      if (foldCounters(e.total, e.raw, now, off)) e.dirty = true;
      if (e.dirty) changed.push(e);
    }
    const released = this.sweep();
    const t1 = performance.now();
    const rows = changed.filter((e) => e.slot !== null).map((e) => ({ subscriber: e.subscriber, total: e.total, raw: e.raw! }));
    this.store.record(rows, released.map((e) => ({ subscriber: e.subscriber, total: e.total, raw: e.raw! })), at);
    for (const e of changed) {
      e.dirty = false;
      e.readAt = at;
    }
    for (const e of released) e.readAt = at;
    const reading = { changed: changed.length, released: released.length, readMs: t1 - t0, writeMs: performance.now() - t1 };
    this.log?.debug(reading, 'usage read');
    return reading;
  }

  /** Gives back the slots of subscribers that are not on the node any more (after the reading
   * above credited their last counts). Only in the daemon's queue: a subscriber being added has
   * its slot before it is in the running config. */
  private sweep(): Entry[] {
    const host = this.host;
    if (!host || this.pending.length > 0) return [];
    if (this.bySlot.size <= host.provisionedCount()) return [];
    const on = new Set(host.provisioned());
    const gone: Entry[] = [];
    for (const e of this.bySlot.values()) {
      if (on.has(e.subscriber) || e.raw === undefined) continue;
      gone.push(e);
    }
    for (const e of gone) {
      this.bySlot.delete(e.slot!);
      this.free.push(e.slot!);
      e.slot = null;
    }
    if (gone.length) this.log?.info({ released: gone.length }, 'meter slots of subscribers no longer on the node given back');
    return gone;
  }

  /** Reads every intervalMs until stop(). */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      this.read().catch((err) => this.log?.error({ err: String((err as Error).message ?? err) }, 'usage reading failed; the next one catches up'));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the interval (a last reading is the caller's: read()). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Slots in use, and the high-water mark. */
  stats(): { subscribers: number; slotsInUse: number; nextSlot: number; slots: number } {
    return { subscribers: this.entries.size, slotsInUse: this.bySlot.size, nextSlot: this.nextSlot, slots: this.source.slots };
  }
}
