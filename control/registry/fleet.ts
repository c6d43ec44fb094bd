// The router's side of the fleet in its registry: which intent revision it last applied (written
// in the transaction that applies it, so a restart or a redelivered message never applies one
// twice), and the outbox of reports for the fleet's stream (written in the transaction of the
// change they report, sent when NATS is reachable, marked sent once the stream acknowledged
// them; the stream drops a resent one by its message id).
import type { Registry } from './registry.js';
import type { EventInput, EventSink } from '../events/sink.js';

export interface AppliedIntent {
  /** the controller that wrote the intent */
  controller: string;
  /** the controller's revision of this node's intent */
  generation: number;
  /** the key-value revision it came in */
  revision: number;
  /** sha256 of the intent as applied */
  digest: string;
  at: string;
}

export type OutboxKind = 'status' | 'event';

export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  body: unknown;
  at: string;
}

export class FleetStore {
  private readonly stmts;

  constructor(private readonly registry: Registry) {
    const db = registry.database;
    this.stmts = {
      applied: db.prepare<[], AppliedIntent>('SELECT controller, generation, revision, digest, at FROM fleet_applied WHERE id = 1'),
      setApplied: db.prepare(
        'INSERT INTO fleet_applied (id, controller, generation, revision, digest, at) VALUES (1, @controller, @generation, @revision, @digest, @at) ' +
          'ON CONFLICT(id) DO UPDATE SET controller = excluded.controller, generation = excluded.generation, revision = excluded.revision, digest = excluded.digest, at = excluded.at',
      ),
      clearApplied: db.prepare('DELETE FROM fleet_applied WHERE id = 1'),
      put: db.prepare('INSERT INTO fleet_outbox (kind, body, at) VALUES (?, ?, ?)'),
      unsent: db.prepare<[number], { id: number; kind: OutboxKind; body: string; at: string }>('SELECT id, kind, body, at FROM fleet_outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?'),
      del: db.prepare('DELETE FROM fleet_outbox WHERE id = ? AND sent_at IS NULL'),
      markSent: db.prepare('UPDATE fleet_outbox SET sent_at = ? WHERE id = ?'),
      prune: db.prepare("DELETE FROM fleet_outbox WHERE sent_at IS NOT NULL AND sent_at < ?"),
      pending: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM fleet_outbox WHERE sent_at IS NULL'),
    };
  }

  /** The intent last applied, or undefined when none was. */
  applied(): AppliedIntent | undefined {
    return this.stmts.applied.get();
  }

  /** Records what was applied; call inside the transaction that applies it. */
  setApplied(a: AppliedIntent | undefined): void {
    if (a) this.stmts.setApplied.run(a);
    else this.stmts.clearApplied.run();
  }

  /** Queues a report; call inside the transaction of the change it reports. Returns its id. */
  enqueue(kind: OutboxKind, body: unknown, at = new Date()): number {
    return Number(this.stmts.put.run(kind, JSON.stringify(body), at.toISOString()).lastInsertRowid);
  }

  /** Queues a report in a transaction of its own (one that reports no change). */
  enqueueNow(kind: OutboxKind, body: unknown): number {
    return this.registry.transaction(() => this.enqueue(kind, body));
  }

  /** Takes a queued report back; call inside the transaction that undoes its change. */
  unqueue(id: number): void {
    this.stmts.del.run(id);
  }

  /** Reports not yet acknowledged by the stream, oldest first. */
  unsent(limit = 100): OutboxRow[] {
    return this.stmts.unsent.all(limit).map((r) => ({ ...r, body: JSON.parse(r.body) as unknown }));
  }

  pending(): number {
    return this.stmts.pending.get()!.n;
  }

  markSent(id: number, at = new Date()): void {
    this.registry.transaction(() => this.stmts.markSent.run(at.toISOString(), id));
  }

  /** Forgets reports sent before `before` (the stream keeps them). */
  prune(before: Date): void {
    this.registry.transaction(() => this.stmts.prune.run(before.toISOString()));
  }

  /** An event sink that queues the daemon's events for the stream, in the transaction the
   * producer is in (or one of its own). */
  sink(): EventSink {
    return {
      emit: (e: EventInput) => {
        const row = { type: e.type, isp: e.isp, subject: e.subject, data: e.data ?? {}, at: new Date().toISOString() };
        if (this.registry.database.inTransaction) this.enqueue('event', row);
        else this.enqueueNow('event', row);
      },
    };
  }
}
