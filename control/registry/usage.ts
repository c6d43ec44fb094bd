// The meter's rows in the registry: per subscriber, its meter slot in the data plane, its
// cumulative usage and the slot's counters as last read (the baseline the next reading is taken
// against). Both are 2 directions x 9 traffic types x (packets, bytes) as unsigned 64-bit
// little-endian words, in the data plane's order (sub_stats[slot * 2 + direction]), so a
// reading is a copy of bytes, not a conversion.
//
// A subscriber removed from the node keeps its row (and its totals) with no slot; its slot goes
// back to the free pool, and whoever gets it next starts from the slot's counters at that
// moment, never from zero (the data plane's counters are never reset by the control plane).
import type Database from 'better-sqlite3';
import type { Registry } from './registry.js';

/** Bytes of one subscriber's counters: 2 directions x 9 types x 2 words x 8 bytes. */
export const USAGE_BYTES = 2 * 9 * 2 * 8;

/** The schema step of the meter's table (appended to the registry's MIGRATIONS). */
export const USAGE_MIGRATION = `CREATE TABLE usage_meter (
     subscriber TEXT PRIMARY KEY,
     slot INTEGER UNIQUE,
     total BLOB NOT NULL,
     raw BLOB NOT NULL,
     read_at INTEGER NOT NULL);`;

export interface UsageRow {
  subscriber: string;
  /** null: the subscriber is not on the node any more; its totals stay */
  slot: number | null;
  total: Buffer;
  raw: Buffer;
  /** ms since the epoch of the reading that wrote the row */
  readAt: number;
}

/** Meta keys: the identity of the counter map the baselines were read from, and the slot
 * high-water mark (slots above it were never handed out). */
const META_COUNTERS = 'usage.counters';
const META_NEXT_SLOT = 'usage.next_slot';

export class UsageStore {
  private readonly stmts;

  constructor(private readonly registry: Registry) {
    const db: Database.Database = registry.database;
    this.stmts = {
      all: db.prepare<[], { subscriber: string; slot: number | null; total: Buffer; raw: Buffer; read_at: number }>(
        'SELECT subscriber, slot, total, raw, read_at FROM usage_meter',
      ),
      one: db.prepare<[string], { subscriber: string; slot: number | null; total: Buffer; raw: Buffer; read_at: number }>(
        'SELECT subscriber, slot, total, raw, read_at FROM usage_meter WHERE subscriber = ?',
      ),
      put: db.prepare(
        `INSERT INTO usage_meter (subscriber, slot, total, raw, read_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(subscriber) DO UPDATE SET slot = excluded.slot, total = excluded.total, raw = excluded.raw, read_at = excluded.read_at`,
      ),
      reading: db.prepare('UPDATE usage_meter SET total = ?, raw = ?, read_at = ? WHERE subscriber = ?'),
      release: db.prepare('UPDATE usage_meter SET slot = NULL, total = ?, raw = ?, read_at = ? WHERE subscriber = ?'),
    };
  }

  /** Every row (a million rows load in about a second). */
  rows(): UsageRow[] {
    const out: UsageRow[] = [];
    for (const r of this.stmts.all.iterate()) out.push({ subscriber: r.subscriber, slot: r.slot, total: r.total, raw: r.raw, readAt: r.read_at });
    return out;
  }

  row(subscriber: string): UsageRow | undefined {
    const r = this.stmts.one.get(subscriber);
    return r && { subscriber: r.subscriber, slot: r.slot, total: r.total, raw: r.raw, readAt: r.read_at };
  }

  /** The counter map the stored baselines belong to (undefined before the first reading). */
  counters(): string | undefined {
    return this.registry.meta(META_COUNTERS);
  }

  /** The lowest slot never handed out (1 on a new registry). */
  nextSlot(): number {
    return Number(this.registry.meta(META_NEXT_SLOT) ?? 1);
  }

  /** Writes rows whole (new slots, rebaselined rows) and the meta, in one transaction. */
  put(rows: readonly UsageRow[], meta: { counters?: string; nextSlot?: number } = {}): void {
    if (rows.length === 0 && meta.counters === undefined && meta.nextSlot === undefined) return;
    this.registry.transaction(() => {
      for (const r of rows) this.stmts.put.run(r.subscriber, r.slot, r.total, r.raw, r.readAt);
      if (meta.counters !== undefined) this.registry.setMeta(META_COUNTERS, meta.counters);
      if (meta.nextSlot !== undefined) this.registry.setMeta(META_NEXT_SLOT, String(meta.nextSlot));
    });
  }

  /** Records a reading: new totals and baselines of the rows that changed, and the slots given
   * back (their final reading included), in one transaction. */
  record(readings: ReadonlyArray<{ subscriber: string; total: Buffer; raw: Buffer }>, released: ReadonlyArray<{ subscriber: string; total: Buffer; raw: Buffer }>, at: number): void {
    if (readings.length === 0 && released.length === 0) return;
    this.registry.transaction(() => {
      for (const r of readings) this.stmts.reading.run(r.total, r.raw, at, r.subscriber);
      for (const r of released) this.stmts.release.run(r.total, r.raw, at, r.subscriber);
    });
  }
}
