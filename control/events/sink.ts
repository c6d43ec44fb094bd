// What happened on the router, as typed events: the seam between the parts that change things
// (the daemon's subscriber edits, sessions, LDP, the reconciler, the policer monitor) and the
// parts that tell others (Server-Sent Events, webhooks, the fleet's status stream).
//
// A producer calls emit() inside the registry transaction that makes the change, where it has
// one, so an event is recorded exactly when its change is: the sink writes it to the registry
// (the events table and the webhook outbox) in that same transaction. Outside a transaction
// (an LDP neighbour going down), the sink records it in a transaction of its own.

export type EventType =
  | 'subscriber.added'
  | 'subscriber.moved'
  | 'subscriber.removed'
  /** one per ISP for an edit of very many subscribers (an import), with counts */
  | 'subscribers.changed'
  | 'session.opened'
  | 'session.closed'
  | 'reconcile.failed'
  | 'reconcile.recovered'
  | 'ldp.neighbor.up'
  | 'ldp.neighbor.down'
  | 'policer.drops';

export interface EventInput {
  type: EventType;
  /** the ISP the event belongs to, for role filtering (an `isp:<name>` token sees only its own) */
  isp?: string;
  /** the object it is about (a subscriber's name, a session id, a neighbour's LSR-ID) */
  subject: string;
  data?: Record<string, unknown>;
}

export interface EventSink {
  emit(e: EventInput): void;
}

/** The sink of a daemon that tells no one (tests, offline tools). */
export const NO_EVENTS: EventSink = { emit() {} };
