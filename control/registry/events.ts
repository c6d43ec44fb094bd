// The event log and the webhook outbox, in the registry. An event is written in the same
// transaction as the change it reports (the producer calls emit() inside it), and so is one
// outbox row per webhook that wants it: an event exists exactly when its change does, and a
// webhook is owed exactly the events recorded after it was added. Readers (Server-Sent Events,
// the webhook sender) read committed rows by sequence number; emit() wakes them once the
// producer's transaction is over.
import { randomUUID } from 'node:crypto';
import type { EventInput, EventSink, EventType } from '../events/sink.js';
import type { Registry } from './registry.js';

export interface StoredEvent {
  /** the order of events on this node: SSE's `id:` and `Last-Event-ID` */
  seq: number;
  /** a unique id, the same in every delivery of this event (receivers de-duplicate by it) */
  id: string;
  at: string;
  type: EventType;
  isp: string | null;
  subject: string;
  data: Record<string, unknown>;
}

/** What a reader may see: all, or only one ISP's; optionally only some types. */
export interface EventFilter {
  isp?: string;
  types?: ReadonlySet<string>;
}

type EventRow = { id: number; uid: string; at: string; type: string; isp: string | null; subject: string; data: string | null };

const toEvent = (r: EventRow): StoredEvent => ({
  seq: r.id,
  id: r.uid,
  at: r.at,
  type: r.type as EventType,
  isp: r.isp,
  subject: r.subject,
  data: r.data === null ? {} : (JSON.parse(r.data) as Record<string, unknown>),
});

export function eventVisible(e: { type: string; isp: string | null }, f: EventFilter): boolean {
  if (f.isp !== undefined && e.isp !== f.isp) return false;
  return !f.types || f.types.has(e.type);
}

export class EventLog implements EventSink {
  private readonly stmts;
  private readonly listeners = new Set<() => void>();
  private wakeQueued = false;

  constructor(private readonly registry: Registry) {
    const db = registry.database;
    this.stmts = {
      insert: db.prepare('INSERT INTO event (uid, at, type, isp, subject, data) VALUES (?, ?, ?, ?, ?, ?)'),
      hooks: db.prepare<[], { id: number; types: string | null; isp: string | null }>('SELECT id, types, isp FROM webhook'),
      owe: db.prepare('INSERT INTO webhook_outbox (webhook, event, next_at) VALUES (?, ?, ?)'),
      after: db.prepare<[number, number], EventRow>('SELECT * FROM event WHERE id > ? ORDER BY id LIMIT ?'),
      afterIsp: db.prepare<[number, string, number], EventRow>('SELECT * FROM event WHERE id > ? AND isp = ? ORDER BY id LIMIT ?'),
      last: db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM event'),
      first: db.prepare<[], { id: number | null }>('SELECT min(id) AS id FROM event'),
      prune: db.prepare('DELETE FROM event WHERE id <= ? AND id NOT IN (SELECT event FROM webhook_outbox)'),
    };
  }

  /** Records an event (and what each webhook is owed) in the caller's transaction, or in one of
   * its own when the caller has none. */
  emit(e: EventInput): void {
    const write = (): void => {
      const at = new Date();
      const r = this.stmts.insert.run(randomUUID(), at.toISOString(), e.type, e.isp ?? null, e.subject, e.data === undefined ? null : JSON.stringify(e.data));
      const seq = Number(r.lastInsertRowid);
      for (const h of this.stmts.hooks.all()) {
        if (!eventVisible({ type: e.type, isp: e.isp ?? null }, { isp: h.isp ?? undefined, types: h.types ? new Set(JSON.parse(h.types) as string[]) : undefined })) continue;
        this.stmts.owe.run(h.id, seq, at.getTime());
      }
    };
    if (this.registry.database.inTransaction) write();
    else this.registry.transaction(write);
    this.wakeSoon();
  }

  /** Events after `seq`, oldest first, that `filter` lets through, of at most `limit` looked
   * at; `next` is where to go on from (the last one looked at). */
  page(seq: number, filter: EventFilter = {}, limit = 500): { events: StoredEvent[]; next: number } {
    const rows = filter.isp !== undefined ? this.stmts.afterIsp.all(seq, filter.isp, limit) : this.stmts.after.all(seq, limit);
    return { events: rows.map(toEvent).filter((e) => eventVisible(e, filter)), next: rows.length ? rows[rows.length - 1]!.id : seq };
  }

  /** The last event's sequence number (0: none yet). */
  lastSeq(): number {
    return this.stmts.last.get()!.id ?? 0;
  }

  /** The oldest event still kept (0: none). */
  firstSeq(): number {
    return this.stmts.first.get()!.id ?? 0;
  }

  /** Calls fn after events were recorded (after the producer's transaction). Returns an unsubscribe. */
  onAppend(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Drops all but the newest `keep` events, except those a webhook is still owed. */
  prune(keep: number): number {
    const cut = this.lastSeq() - keep;
    if (cut <= 0) return 0;
    return this.registry.transaction(() => this.stmts.prune.run(cut).changes);
  }

  // A producer's transaction is synchronous: by the time a microtask runs it has committed (or
  // rolled back, and then readers simply find nothing new).
  private wakeSoon(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      for (const fn of this.listeners) fn();
    });
  }
}

export interface WebhookInfo {
  name: string;
  url: string;
  types: string[] | null;
  isp: string | null;
  created: string;
  delivered: number;
  pending: number;
  lastError: string | null;
}

export interface WebhookTarget {
  id: number;
  name: string;
  url: string;
  secret: string;
}

export interface OwedEvent {
  event: StoredEvent;
  attempts: number;
  nextAt: number;
}

type HookRow = { id: number; name: string; url: string; secret: string; types: string | null; isp: string | null; created: string; delivered: number; last_error: string | null };

/** Webhooks and what each is owed. The secret signs deliveries; it is never listed. */
export class WebhookStore {
  private readonly stmts;

  constructor(private readonly registry: Registry) {
    const db = registry.database;
    this.stmts = {
      insert: db.prepare('INSERT INTO webhook (name, url, secret, types, isp, created) VALUES (?, ?, ?, ?, ?, ?)'),
      byName: db.prepare<[string], HookRow>('SELECT * FROM webhook WHERE name = ?'),
      all: db.prepare<[], HookRow>('SELECT * FROM webhook ORDER BY id'),
      remove: db.prepare('DELETE FROM webhook WHERE name = ?'),
      pendingCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM webhook_outbox WHERE webhook = ?'),
      head: db.prepare<[number], { attempts: number; next_at: number } & EventRow>(
        'SELECT o.attempts, o.next_at, e.* FROM webhook_outbox o JOIN event e ON e.id = o.event WHERE o.webhook = ? ORDER BY o.event LIMIT 1',
      ),
      done: db.prepare('DELETE FROM webhook_outbox WHERE webhook = ? AND event = ?'),
      countDone: db.prepare('UPDATE webhook SET delivered = delivered + 1, last_error = NULL WHERE id = ?'),
      retry: db.prepare('UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE webhook = ? AND event = ?'),
      hookError: db.prepare('UPDATE webhook SET last_error = ? WHERE id = ?'),
    };
  }

  /** Adds a webhook; call inside the transaction that audits it. */
  add(h: { name: string; url: string; secret: string; types?: string[]; isp?: string }, at = new Date()): WebhookInfo {
    if (this.stmts.byName.get(h.name)) throw new Error(`a webhook named '${h.name}' exists already`);
    this.stmts.insert.run(h.name, h.url, h.secret, h.types?.length ? JSON.stringify(h.types) : null, h.isp ?? null, at.toISOString());
    return this.info(this.stmts.byName.get(h.name)!);
  }

  /** Removes a webhook and what it was still owed; false when there is none by that name. */
  remove(name: string): boolean {
    return this.stmts.remove.run(name).changes > 0;
  }

  get(name: string): WebhookInfo | undefined {
    const r = this.stmts.byName.get(name);
    return r ? this.info(r) : undefined;
  }

  list(): WebhookInfo[] {
    return this.stmts.all.all().map((r) => this.info(r));
  }

  targets(): WebhookTarget[] {
    return this.stmts.all.all().map((r) => ({ id: r.id, name: r.name, url: r.url, secret: r.secret }));
  }

  /** The oldest event a webhook is owed (deliveries keep the events' order). */
  head(webhook: number): OwedEvent | undefined {
    const r = this.stmts.head.get(webhook);
    return r ? { event: toEvent(r), attempts: r.attempts, nextAt: r.next_at } : undefined;
  }

  delivered(webhook: number, seq: number): void {
    this.registry.transaction(() => {
      if (this.stmts.done.run(webhook, seq).changes) this.stmts.countDone.run(webhook);
    });
  }

  failed(webhook: number, seq: number, error: string, nextAt: number): void {
    this.registry.transaction(() => {
      this.stmts.retry.run(nextAt, error.slice(0, 500), webhook, seq);
      this.stmts.hookError.run(error.slice(0, 500), webhook);
    });
  }

  private info(r: HookRow): WebhookInfo {
    return {
      name: r.name,
      url: r.url,
      types: r.types ? (JSON.parse(r.types) as string[]) : null,
      isp: r.isp,
      created: r.created,
      delivered: r.delivered,
      pending: this.stmts.pendingCount.get(r.id)!.n,
      lastError: r.last_error,
    };
  }
}
