// The registry's store of subscriber sessions, their RADIUS accounting outbox and the
// operator's ledger. A session row is written in the same transaction as the subscriber edit
// that admits it; every accounting record is a ledger row and an outbox row written in the same
// transaction as the event it records (open, interim, close), with a fixed content and a
// sequence number per session, so a restart resends what was not answered and never makes a
// record twice. Call the writing methods inside registry.transaction().
import type { Registry } from './registry.js';

export type SessionState = 'open' | 'closing' | 'closed';

export interface SessionRow {
  id: string;
  subscriber: string;
  isp: string;
  username: string | null;
  state: SessionState;
  /** ms since the epoch */
  openedAt: number;
  closedAt: number | null;
  cause: string | null;
  /** Session-Timeout's deadline (ms), if the server set one */
  expiresAt: number | null;
  /** seconds between Interim-Updates (0: none) */
  interim: number;
  nextInterim: number | null;
  /** what the Access-Accept said that the node keeps (Class, Session-Timeout, rate...) */
  reply: SessionReply;
  /** the meter's totals when the session opened, and when it closed (JSON of SubscriberUsage) */
  base: string;
  final: string | null;
  /** the sequence number of its last accounting record */
  seq: number;
}

export interface SessionReply {
  /** Class attributes, hex, echoed in every accounting record (RFC 2865 §5.25) */
  class?: string[];
  sessionTimeout?: number;
  interimInterval?: number;
  rate?: { up?: number; down?: number };
  replyMessage?: string;
}

export interface OutboxRecord {
  id: number;
  session: string;
  seq: number;
  isp: string;
  status: number;
  eventAt: number;
  /** [type, hex value] without Acct-Delay-Time, which is set at each send */
  attrs: Array<[number, string]>;
  attempts: number;
  nextTry: number;
  sentAt: number | null;
}

export interface LedgerRow {
  id: number;
  session: string;
  seq: number;
  isp: string;
  subscriber: string;
  kind: 'start' | 'interim' | 'stop';
  at: number;
  sessionTime: number;
  upOctets: string;
  upPackets: string;
  downOctets: string;
  downPackets: string;
  usage: unknown;
}

export interface AccountingRecord {
  session: string;
  seq: number;
  isp: string;
  subscriber: string;
  kind: LedgerRow['kind'];
  status: number;
  at: number;
  sessionTime: number;
  up: { octets: bigint; packets: bigint };
  down: { octets: bigint; packets: bigint };
  usage: unknown;
  /** the attributes to send, or undefined for a ledger-only record (no RADIUS accounting) */
  attrs?: Array<[number, string]>;
}

type Raw = Record<string, any>;

function sessionOf(r: Raw): SessionRow {
  return {
    id: r.id,
    subscriber: r.subscriber,
    isp: r.isp,
    username: r.username,
    state: r.state,
    openedAt: r.opened_at,
    closedAt: r.closed_at,
    cause: r.cause,
    expiresAt: r.expires_at,
    interim: r.interim,
    nextInterim: r.next_interim,
    reply: JSON.parse(r.reply) as SessionReply,
    base: r.base,
    final: r.final,
    seq: r.seq,
  };
}

function outboxOf(r: Raw): OutboxRecord {
  return {
    id: r.id,
    session: r.session,
    seq: r.seq,
    isp: r.isp,
    status: r.status,
    eventAt: r.event_at,
    attrs: JSON.parse(r.attrs) as Array<[number, string]>,
    attempts: r.attempts,
    nextTry: r.next_try,
    sentAt: r.sent_at,
  };
}

export interface SessionFilter {
  state?: SessionState | 'live';
  isp?: string;
  subscriber?: string;
  limit?: number;
}

export class SessionStore {
  private readonly st;

  constructor(readonly registry: Registry) {
    const db = registry.database;
    this.st = {
      insert: db.prepare(
        `INSERT INTO subscriber_session (id, subscriber, isp, username, state, opened_at, expires_at, interim, next_interim, reply, base, seq)
         VALUES (@id, @subscriber, @isp, @username, 'open', @openedAt, @expiresAt, @interim, @nextInterim, @reply, @base, 0)`,
      ),
      get: db.prepare('SELECT * FROM subscriber_session WHERE id = ?'),
      live: db.prepare(`SELECT * FROM subscriber_session WHERE subscriber = ? AND state <> 'closed'`),
      open: db.prepare(`SELECT id, subscriber FROM subscriber_session WHERE state = 'open'`).raw(true),
      openCounts: db.prepare(`SELECT isp, count(*) FROM subscriber_session WHERE state = 'open' GROUP BY isp`).raw(true),
      byUsername: db.prepare(`SELECT * FROM subscriber_session WHERE state = 'open' AND isp = ? AND (username = ? OR subscriber = ?) LIMIT 2`),
      closing: db.prepare(`SELECT * FROM subscriber_session WHERE state = 'closing'`),
      due: db.prepare(`SELECT * FROM subscriber_session WHERE state = 'open' AND next_interim <= ? ORDER BY next_interim LIMIT ?`),
      expired: db.prepare(`SELECT * FROM subscriber_session WHERE state = 'open' AND expires_at <= ? ORDER BY expires_at LIMIT ?`),
      setClosing: db.prepare(`UPDATE subscriber_session SET state = 'closing', closed_at = ?, cause = ? WHERE id = ? AND state = 'open'`),
      reopen: db.prepare(`UPDATE subscriber_session SET state = 'open', closed_at = NULL, cause = NULL WHERE id = ? AND state = 'closing'`),
      setClosed: db.prepare(`UPDATE subscriber_session SET state = 'closed', final = ? WHERE id = ? AND state = 'closing'`),
      setSeq: db.prepare('UPDATE subscriber_session SET seq = ?, next_interim = ? WHERE id = ?'),
      setReply: db.prepare('UPDATE subscriber_session SET reply = ? WHERE id = ?'),
      del: db.prepare('DELETE FROM subscriber_session WHERE id = ?'),
      outboxAdd: db.prepare('INSERT INTO radius_outbox (session, seq, isp, status, event_at, attrs, next_try) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      outboxDelSession: db.prepare('DELETE FROM radius_outbox WHERE session = ?'),
      ledgerAdd: db.prepare(
        `INSERT INTO session_ledger (session, seq, isp, subscriber, kind, at, session_time, up_octets, up_packets, down_octets, down_packets, usage)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      ledgerDelSession: db.prepare('DELETE FROM session_ledger WHERE session = ?'),
      pending: db.prepare('SELECT * FROM radius_outbox WHERE isp = ? AND sent_at IS NULL ORDER BY id LIMIT ?'),
      pendingCount: db.prepare('SELECT count(*) AS n FROM radius_outbox WHERE sent_at IS NULL'),
      markSent: db.prepare('UPDATE radius_outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ? AND sent_at IS NULL'),
      defer: db.prepare('UPDATE radius_outbox SET attempts = attempts + 1, next_try = ? WHERE id = ? AND sent_at IS NULL'),
      outboxOfSession: db.prepare('SELECT * FROM radius_outbox WHERE session = ? ORDER BY seq'),
      ledgerOfSession: db.prepare('SELECT * FROM session_ledger WHERE session = ? ORDER BY seq'),
      ledgerAfter: db.prepare('SELECT * FROM session_ledger WHERE id > ? ORDER BY id LIMIT ?'),
    };
  }

  insert(s: Pick<SessionRow, 'id' | 'subscriber' | 'isp' | 'username' | 'openedAt' | 'expiresAt' | 'interim' | 'nextInterim' | 'reply' | 'base'>): void {
    this.st.insert.run({ ...s, reply: JSON.stringify(s.reply) });
  }

  /** Takes back an insert (its map write failed): the session and its records. */
  remove(id: string): void {
    this.st.del.run(id);
    this.st.outboxDelSession.run(id);
    this.st.ledgerDelSession.run(id);
  }

  get(id: string): SessionRow | undefined {
    const r = this.st.get.get(id) as Raw | undefined;
    return r ? sessionOf(r) : undefined;
  }

  /** The subscriber's session that is open or closing, if any. */
  live(subscriber: string): SessionRow | undefined {
    const r = this.st.live.get(subscriber) as Raw | undefined;
    return r ? sessionOf(r) : undefined;
  }

  /** subscriber -> id of every open session (what admits subscribers to the running config). */
  admitted(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, sub] of this.st.open.iterate() as IterableIterator<[string, string]>) out.set(sub, id);
    return out;
  }

  /** ISP -> how many sessions are open. */
  openCounts(): Map<string, number> {
    return new Map(this.st.openCounts.all() as Array<[string, number]>);
  }

  /** The open sessions of an ISP whose User-Name (or, failing that, subscriber) is `name`. */
  openByUsername(isp: string, name: string): SessionRow[] {
    return (this.st.byUsername.all(isp, name, name) as Raw[]).map(sessionOf);
  }

  closing(): SessionRow[] {
    return (this.st.closing.all() as Raw[]).map(sessionOf);
  }

  dueInterim(now: number, limit: number): SessionRow[] {
    return (this.st.due.all(now, limit) as Raw[]).map(sessionOf);
  }

  expired(now: number, limit: number): SessionRow[] {
    return (this.st.expired.all(now, limit) as Raw[]).map(sessionOf);
  }

  list(f: SessionFilter = {}): SessionRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state === 'live') where.push(`state <> 'closed'`);
    else if (f.state) (where.push('state = ?'), args.push(f.state));
    if (f.isp) (where.push('isp = ?'), args.push(f.isp));
    if (f.subscriber) (where.push('subscriber = ?'), args.push(f.subscriber));
    const limit = Math.min(Math.max(f.limit ?? 1000, 1), 100_000);
    const sql = `SELECT * FROM subscriber_session ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, id LIMIT ${limit}`;
    return (this.registry.database.prepare(sql).all(...args) as Raw[]).map(sessionOf);
  }

  /** Marks an open session as closing (its subscriber's admission is being taken away). */
  markClosing(id: string, at: number, cause: string): boolean {
    return this.st.setClosing.run(at, cause, id).changes === 1;
  }

  reopen(id: string): void {
    this.st.reopen.run(id);
  }

  markClosed(id: string, final: string): void {
    this.st.setClosed.run(final, id);
  }

  setReply(id: string, reply: SessionReply): void {
    this.st.setReply.run(JSON.stringify(reply), id);
  }

  /** Writes one accounting record: the ledger row and, when it is to be sent, the outbox row;
   * advances the session's sequence and its next interim time. */
  record(r: AccountingRecord, nextInterim: number | null): void {
    const u = (x: bigint) => x.toString();
    this.st.ledgerAdd.run(r.session, r.seq, r.isp, r.subscriber, r.kind, r.at, r.sessionTime, u(r.up.octets), u(r.up.packets), u(r.down.octets), u(r.down.packets), JSON.stringify(r.usage, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    if (r.attrs) this.st.outboxAdd.run(r.session, r.seq, r.isp, r.status, r.at, JSON.stringify(r.attrs), r.at);
    this.st.setSeq.run(r.seq, nextInterim, r.session);
  }

  /** Records not yet answered for one ISP, oldest first. */
  pending(isp: string, limit: number): OutboxRecord[] {
    return (this.st.pending.all(isp, limit) as Raw[]).map(outboxOf);
  }

  pendingCount(): number {
    return (this.st.pendingCount.get() as { n: number }).n;
  }

  markSent(id: number, at: number): void {
    this.st.markSent.run(at, id);
  }

  defer(id: number, nextTry: number): void {
    this.st.defer.run(nextTry, id);
  }

  outbox(session: string): OutboxRecord[] {
    return (this.st.outboxOfSession.all(session) as Raw[]).map(outboxOf);
  }

  ledger(session: string): LedgerRow[] {
    return (this.st.ledgerOfSession.all(session) as Raw[]).map(ledgerOf);
  }

  ledgerAfter(after: number, limit: number): LedgerRow[] {
    return (this.st.ledgerAfter.all(after, Math.min(Math.max(limit, 1), 10_000)) as Raw[]).map(ledgerOf);
  }
}

function ledgerOf(r: Raw): LedgerRow {
  return {
    id: r.id,
    session: r.session,
    seq: r.seq,
    isp: r.isp,
    subscriber: r.subscriber,
    kind: r.kind,
    at: r.at,
    sessionTime: r.session_time,
    upOctets: r.up_octets,
    upPackets: r.up_packets,
    downOctets: r.down_octets,
    downPackets: r.down_packets,
    usage: JSON.parse(r.usage),
  };
}
