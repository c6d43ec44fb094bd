// Subscriber sessions with their ISP: opened (after the ISP's RADIUS server accepts, where the
// ISP has one), accounted (Start, Interim-Update, Stop), changed by CoA and ended by a close, a
// Session-Timeout or a Disconnect.
//
// Opening or closing a session is one subscriber edit through the daemon (control/daemon
// daemon.ts editSubscribers): the session row and its accounting record are written in the
// registry transaction that records the edit, before the maps change, and a session-admitted
// subscriber's classifier entry exists only while its session is open (the compiler leaves
// it out otherwise). A close is two steps so the Stop carries the final counters: the first
// (with the map change) marks the session closing; once the entry is gone, the meter is read
// and the Stop written. A daemon killed in between finishes the close when it starts again.
//
// Accounting records go through the registry's outbox (control/registry/sessions.ts), which a
// pump sends to each ISP's server, backing off while it does not answer.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Daemon } from '../daemon/daemon.js';
import { DAEMON_ACTOR } from '../daemon/daemon.js';
import { DaemonError, conflict, notFound } from '../daemon/errors.js';
import { TRAFFIC_TYPES, usageDelta, usageTotal, zeroUsage, type SubscriberUsage } from '../daemon/usage.js';
import type { Actor } from '../registry/registry.js';
import type { SessionReply, SessionRow, SessionStore } from '../registry/sessions.js';
import { resolveIsp, type Config, type Isp, type IspRadius, type IspRef } from '../config/types.js';
import { RadiusClient } from '../radius/client.js';
import { AcctStatus, Attr, Code, TerminateCause, accessRequest, attr, find, first, intOf, ipv4, signedRequest, type Attribute, type Packet } from '../radius/packet.js';
import type { SessionMetrics } from './metrics.js';

export type CloseCause = 'admin-reset' | 'user-request' | 'session-timeout' | 'disconnect' | 'subscriber-removed';

const TERMINATE: Record<CloseCause, number> = {
  'admin-reset': TerminateCause.AdminReset,
  'user-request': TerminateCause.UserRequest,
  'session-timeout': TerminateCause.SessionTimeout,
  disconnect: TerminateCause.AdminReset,
  'subscriber-removed': TerminateCause.NasRequest,
};

/** Why a session did not open, beyond the daemon's own errors. */
export class SessionError extends Error {
  override readonly name = 'SessionError';
  constructor(
    readonly kind: 'rejected' | 'unreachable',
    message: string,
  ) {
    super(message);
  }
}

export interface OpenRequest {
  subscriber: string;
  /** User-Name (default: the subscriber's name) */
  username?: string;
  /** the PAP password (default: the ISP's `radius.password`) */
  password?: string;
}

export interface SessionView {
  id: string;
  subscriber: string;
  isp: string;
  username: string | null;
  state: SessionRow['state'];
  openedAt: string;
  closedAt: string | null;
  cause: string | null;
  expiresAt: string | null;
  interimInterval: number;
  rate: SessionReply['rate'] | null;
  /** what the session used so far (open) or in all (closed), from the meter */
  usage: { up: { octets: string; packets: string }; down: { octets: string; packets: string } };
  records: number;
}

export interface SessionManagerOptions {
  daemon: Daemon<unknown>;
  store: SessionStore;
  client: RadiusClient;
  log: Logger;
  metrics?: SessionMetrics;
  /** ms since the epoch (tests move time) */
  now?: () => number;
  /** ms between checks for interims, expiries and the outbox (default 1000) */
  tickMs?: number;
}

interface ServerState {
  /** no sends before this (ms) while the server does not answer */
  downUntil: number;
  /** the current back-off (s); 0 while the server answers */
  backoff: number;
  inflight: Set<number>;
}

const MAX_INFLIGHT = 64;
/** accepted opens admitted by one edit at most */
const MAX_BATCH = 1000;

/** The edit that admits several sessions at once is the sessions' own (each open has its own
 * audit record naming who asked). */
const SESSIONS_ACTOR: Actor = { name: 'sessions', role: 'system' };

interface PendingClose {
  id: string;
  subscriber: string;
  cause: CloseCause;
  actor: Actor;
  at: number;
  resolve(): void;
  reject(err: unknown): void;
}

interface PendingOpen {
  row: SessionRow;
  set: Record<string, unknown>;
  actor: Actor;
  resolve(): void;
  reject(err: unknown): void;
}

export class SessionManager {
  private timer: NodeJS.Timeout | undefined;
  private readonly servers = new Map<string, ServerState>();
  private pumping = false;
  private sent: number[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private stopped = false;
  private readonly now: () => number;
  private opening: PendingOpen[] = [];
  private flushing = false;
  private closingQueue: PendingClose[] = [];
  private closingNow = false;

  constructor(private readonly o: SessionManagerOptions) {
    this.now = o.now ?? Date.now;
  }

  get store(): SessionStore {
    return this.o.store;
  }

  private config(): Config {
    const c = this.o.daemon.running as Config | undefined;
    if (!c) throw new DaemonError('unavailable', 'the daemon has no running config yet');
    return c;
  }

  private ispOf(name: string): Isp | undefined {
    return this.config().isps.find((i) => i.name === name);
  }

  /** Finishes closes a killed daemon left half done, closes sessions whose subscriber is gone,
   * and starts the timer. */
  async start(): Promise<void> {
    this.finish(this.o.store.closing().map((s) => s.id));
    await this.closeOrphans();
    const tick = this.o.tickMs ?? 1000;
    this.timer = setInterval(() => void this.tick().catch((err) => this.o.log.error({ err: String(err) }, 'session tick failed')), tick);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.flushSent();
    this.o.client.close();
  }

  // ---- open ---------------------------------------------------------------------------------

  async open(actor: Actor, req: OpenRequest): Promise<SessionView> {
    const { daemon, store } = this.o;
    const cfg = this.config();
    const name = req.subscriber;
    const doc = daemon.registry.subscriber(name);
    if (!doc) throw notFound(`no subscriber named '${name}'`);
    const isp = resolveIsp(cfg.isps, doc.isp as IspRef);
    if (!isp) throw new DaemonError('failed', `subscriber '${name}' names an ISP the running config does not have`);
    const live = store.live(name);
    if (live) throw conflict(`subscriber '${name}' already has session ${live.id} (${live.state})`);

    const id = randomBytes(8).toString('hex').toUpperCase();
    const username = req.username ?? name;
    const r = isp.radius;
    let reply: SessionReply = {};
    if (r) {
      try {
        reply = await this.authenticate(cfg, isp, r, doc, id, username, req.password ?? r.password ?? '');
      } catch (err) {
        if (err instanceof SessionError) this.o.metrics?.opens.inc({ isp: isp.name, result: err.kind });
        throw err;
      }
    }
    const now = this.now();
    const set: Record<string, unknown> = { session: id };
    if (reply.rate) set.rate = rateDoc(doc.rate, reply.rate);
    const interim = r?.accounting ? (reply.interimInterval ?? r.interimInterval) : 0;
    const row: SessionRow = {
      id,
      subscriber: name,
      isp: isp.name,
      username,
      state: 'open',
      openedAt: now,
      closedAt: null,
      cause: null,
      expiresAt: reply.sessionTimeout ? now + reply.sessionTimeout * 1000 : null,
      interim,
      nextInterim: interim ? now + interim * 1000 : null,
      reply,
      base: usageJson(this.meter(name) ?? zeroUsage()),
      final: null,
      seq: 0,
    };
    await new Promise<void>((resolve, reject) => {
      this.opening.push({ row, set, actor, resolve, reject });
      this.flushOpens();
    });
    this.o.metrics?.opens.inc({ isp: isp.name, result: 'accepted' });
    this.kick();
    return this.view(store.get(id)!);
  }

  /** Starts the next batch of accepted opens unless one is being written. */
  private flushOpens(): void {
    if (this.flushing || !this.opening.length) return;
    this.flushing = true;
    setImmediate(() =>
      void this.openBatch(this.opening.splice(0, MAX_BATCH)).finally(() => {
        this.flushing = false;
        this.flushOpens();
      }),
    );
  }

  /**
   * Admits the sessions accepted meanwhile with one subscriber edit: one registry transaction
   * (each session row, its Start, its audit record) and one map write for all of them, so
   * opens are not bound by one disk flush each. If the batch fails, each is tried alone, so
   * one bad open fails only itself.
   */
  private async openBatch(batch: PendingOpen[]): Promise<void> {
    const { daemon, store } = this.o;
    const ok: PendingOpen[] = [];
    const names = new Set<string>();
    for (const p of batch) {
      const name = p.row.subscriber;
      const live = store.live(name);
      if (names.has(name) || live) p.reject(conflict(`subscriber '${name}' already has ${live ? `session ${live.id} (${live.state})` : 'a session opening'}`));
      else if (!daemon.registry.subscriber(name)) p.reject(notFound(`no subscriber named '${name}'`));
      else {
        names.add(name);
        ok.push(p);
      }
    }
    if (!ok.length) return;
    try {
      await daemon.editSubscribers(
        ok.length === 1 ? `session:open ${ok[0]!.row.id}` : `session:open ${ok.length} sessions`,
        { op: 'patch', patches: ok.map((p) => ({ name: p.row.subscriber, set: p.set })) },
        {
          actor: ok.length === 1 ? ok[0]!.actor : SESSIONS_ACTOR,
          with: {
            write: () => {
              for (const p of ok) {
                const r = p.row;
                store.insert(r);
                this.record(r, 'start', r.openedAt, zeroUsage());
                daemon.registry.writeAudit({ actor: p.actor, action: 'session.open', target: r.subscriber, detail: { session: r.id, isp: r.isp, username: r.username } });
                daemon.events.emit({ type: 'session.opened', isp: r.isp, subject: r.id, data: { subscriber: r.subscriber, username: r.username } });
              }
            },
            undo: () => {
              for (const p of ok) store.remove(p.row.id);
            },
          },
        },
      );
      for (const p of ok) p.resolve();
    } catch (err) {
      if (ok.length === 1) return ok[0]!.reject(err);
      for (const p of ok) await this.openBatch([p]);
    }
  }

  private async authenticate(cfg: Config, isp: Isp, r: IspRadius, doc: Record<string, unknown>, id: string, username: string, password: string): Promise<SessionReply> {
    const attrs: Attribute[] = [attr(Attr.UserName, username), ...this.identity(cfg, doc, id), attr(Attr.ServiceType, 2)];
    const res = await this.o.client.request({ address: r.server, port: r.authPort, secret: r.secret, timeout: r.timeout, retries: r.retries }, (ident) =>
      accessRequest(ident, attrs, r.secret, password),
    );
    if (!res) throw new SessionError('unreachable', `ISP '${isp.name}': its RADIUS server ${r.server}:${r.authPort} did not answer`);
    const p = res.packet;
    const message = first(p, Attr.ReplyMessage)?.toString('utf8');
    if (p.code === Code.AccessReject) throw new SessionError('rejected', `ISP '${isp.name}' rejected the session${message ? `: ${message}` : ''}`);
    if (p.code !== Code.AccessAccept) throw new SessionError('rejected', `ISP '${isp.name}' answered with code ${p.code} (only Access-Accept opens a session; challenges are not supported)`);
    return replyOf(p, r, message);
  }

  /** NAS-Identifier, Acct-Session-Id, NAS-Port-Type and what names the line (its MAC, its
   * single IPv4 address). */
  private identity(cfg: Config, doc: Record<string, unknown>, id: string): Attribute[] {
    const out = [attr(Attr.NasIdentifier, cfg.node), attr(Attr.AcctSessionId, id), attr(Attr.NasPortType, 15)];
    const m = (doc.match ?? {}) as { mac?: string; prefix?: string | string[] };
    if (typeof m.mac === 'string') out.push(attr(Attr.CallingStationId, m.mac.toUpperCase().replace(/:/g, '-')));
    const prefixes = Array.isArray(m.prefix) ? m.prefix : m.prefix !== undefined ? [m.prefix] : [];
    const host = prefixes.length === 1 ? /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/32)?$/.exec(String(prefixes[0])) : null;
    if (host) out.push(attr(Attr.FramedIpAddress, ipv4(host[1]!)));
    return out;
  }

  // ---- close --------------------------------------------------------------------------------

  async close(actor: Actor, id: string, cause: CloseCause): Promise<SessionView> {
    const { store } = this.o;
    const s = store.get(id);
    if (!s) throw notFound(`no session '${id}'`);
    if (s.state === 'closed') throw conflict(`session ${id} is closed already`);
    if (s.state === 'open') {
      await new Promise<void>((resolve, reject) => {
        this.closingQueue.push({ id, subscriber: s.subscriber, cause, actor, at: this.now(), resolve, reject });
        this.flushCloses();
      });
    }
    this.finish([id]);
    return this.view(store.get(id)!);
  }

  private flushCloses(): void {
    if (this.closingNow || !this.closingQueue.length) return;
    this.closingNow = true;
    setImmediate(() =>
      void this.closeBatch(this.closingQueue.splice(0, MAX_BATCH)).finally(() => {
        this.closingNow = false;
        this.flushCloses();
      }),
    );
  }

  /**
   * The first step of closes, batched like opens: one subscriber edit takes the entries out and
   * marks the sessions closing; then the Stops of all of them in one transaction. If the batch
   * fails, each is tried alone.
   */
  private async closeBatch(batch: PendingClose[]): Promise<void> {
    const { daemon, store } = this.o;
    const edit: PendingClose[] = [];
    const seen = new Set<string>();
    for (const c of batch) {
      if (seen.has(c.id) || store.get(c.id)?.state !== 'open') {
        c.resolve(); // closed (or closing) by an earlier request: finish() completes it
        continue;
      }
      seen.add(c.id);
      if (daemon.registry.subscriber(c.subscriber)) edit.push(c);
      else {
        // its subscriber was removed: nothing to take out of the maps
        try {
          daemon.registry.transaction(() => store.markClosing(c.id, c.at, c.cause));
          c.resolve();
        } catch (err) {
          c.reject(err);
        }
      }
    }
    if (!edit.length) return;
    try {
      await daemon.editSubscribers(
        edit.length === 1 ? `session:close ${edit[0]!.id}` : `session:close ${edit.length} sessions`,
        { op: 'patch', patches: edit.map((c) => ({ name: c.subscriber, set: { session: undefined } })) },
        {
          actor: edit.length === 1 ? edit[0]!.actor : SESSIONS_ACTOR,
          with: {
            write: () => {
              for (const c of edit) {
                if (!store.markClosing(c.id, c.at, c.cause)) throw conflict(`session ${c.id} is not open`);
                daemon.registry.writeAudit({ actor: c.actor, action: 'session.close', target: c.subscriber, detail: { session: c.id, cause: c.cause } });
              }
            },
            undo: () => {
              for (const c of edit) store.reopen(c.id);
            },
          },
        },
      );
    } catch (err) {
      if (edit.length === 1) return edit[0]!.reject(err);
      for (const c of edit) await this.closeBatch([c]);
      return;
    }
    this.finish(edit.map((c) => c.id));
    for (const c of edit) c.resolve();
  }

  /** The second step of closes: the Stops with the final counters, read now that the
   * subscribers' entries are gone, in one transaction. */
  private finish(ids: string[]): void {
    const { daemon, store } = this.o;
    const done: SessionRow[] = [];
    const stops: Array<[SessionRow, SubscriberUsage]> = [];
    for (const id of ids) {
      const s = store.get(id);
      if (s?.state === 'closing') stops.push([s, this.used(s)]);
    }
    if (!stops.length) return;
    daemon.registry.transaction(() => {
      for (const [s, used] of stops) {
        this.record(s, 'stop', s.closedAt ?? this.now(), used);
        store.markClosed(s.id, usageJson(used));
        daemon.events.emit({ type: 'session.closed', isp: s.isp, subject: s.id, data: { subscriber: s.subscriber, cause: s.cause } });
        done.push(s);
      }
    });
    for (const s of done) this.o.metrics?.closes.inc({ isp: s.isp, cause: s.cause ?? 'unknown' });
    this.kick();
  }

  /** What a session used: the meter's totals now less those at its open; without a meter
   * reading (no meter, or the subscriber is gone), what its last record said. */
  private used(s: SessionRow): SubscriberUsage {
    const now = this.meter(s.subscriber);
    if (now) return usageDelta(parseUsage(s.base), now);
    const last = this.o.store.ledger(s.id).at(-1);
    return last ? parseUsage(JSON.stringify(last.usage)) : zeroUsage();
  }

  private meter(name: string): SubscriberUsage | undefined {
    return this.o.daemon.usage?.current(name);
  }

  // ---- CoA ----------------------------------------------------------------------------------

  /** Applies a CoA's rate to a session's subscriber (a document edit like any other). */
  async changeRate(actor: Actor, id: string, rate: NonNullable<SessionReply['rate']>): Promise<void> {
    const { daemon, store } = this.o;
    const s = store.get(id);
    if (!s || s.state !== 'open') throw notFound(`no open session '${id}'`);
    const doc = daemon.registry.subscriber(s.subscriber);
    if (!doc) throw notFound(`session ${id}'s subscriber is gone`);
    const reply = { ...s.reply, rate: { ...s.reply.rate, ...rate } };
    await daemon.editSubscribers(`session:coa ${id}`, { op: 'patch', patches: [{ name: s.subscriber, set: { rate: rateDoc(doc.rate, rate) } }] }, {
      actor,
      with: { write: () => store.setReply(id, reply), undo: () => store.setReply(id, s.reply) },
    });
  }

  // ---- accounting ---------------------------------------------------------------------------

  /** Writes the session's next accounting record (ledger, and outbox when its ISP takes
   * accounting); call inside a registry transaction. */
  private record(s: SessionRow, kind: 'start' | 'interim' | 'stop', at: number, used: SubscriberUsage): void {
    const seq = s.seq + 1;
    s.seq = seq;
    const up = usageTotal(used, 'up');
    const down = usageTotal(used, 'down');
    const sessionTime = Math.max(0, Math.floor((at - s.openedAt) / 1000));
    const status = kind === 'start' ? AcctStatus.Start : kind === 'stop' ? AcctStatus.Stop : AcctStatus.InterimUpdate;
    let attrs: Array<[number, string]> | undefined;
    const isp = this.ispOf(s.isp);
    if (isp?.radius?.accounting) {
      const doc = this.o.daemon.registry.subscriber(s.subscriber) ?? {};
      const list: Attribute[] = [attr(Attr.AcctStatusType, status), attr(Attr.UserName, s.username ?? s.subscriber), ...this.identity(this.config(), doc, s.id), attr(Attr.EventTimestamp, Math.floor(at / 1000))];
      for (const c of s.reply.class ?? []) list.push(attr(Attr.Class, Buffer.from(c, 'hex')));
      if (kind !== 'start') {
        list.push(
          attr(Attr.AcctSessionTime, sessionTime),
          attr(Attr.AcctInputOctets, low32(up.bytes)),
          attr(Attr.AcctInputGigawords, high32(up.bytes)),
          attr(Attr.AcctOutputOctets, low32(down.bytes)),
          attr(Attr.AcctOutputGigawords, high32(down.bytes)),
          attr(Attr.AcctInputPackets, low32(up.packets)),
          attr(Attr.AcctOutputPackets, low32(down.packets)),
        );
      }
      if (kind === 'stop') list.push(attr(Attr.AcctTerminateCause, TERMINATE[(s.cause ?? 'admin-reset') as CloseCause] ?? TerminateCause.AdminReset));
      attrs = list.map((a) => [a.type, a.value.toString('hex')]);
    }
    s.nextInterim = kind === 'stop' || !s.interim ? null : at + s.interim * 1000;
    this.o.store.record(
      { session: s.id, seq, isp: s.isp, subscriber: s.subscriber, kind, status, at, sessionTime, up: { octets: up.bytes, packets: up.packets }, down: { octets: down.bytes, packets: down.packets }, usage: used, attrs },
      s.nextInterim,
    );
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.now();
    for (const s of this.o.store.expired(now, 100)) {
      await this.close(DAEMON_ACTOR, s.id, 'session-timeout').catch((err) => this.o.log.warn({ session: s.id, err: String(err) }, 'closing an expired session failed'));
    }
    const due = this.o.store.dueInterim(now, 2000);
    if (due.length) {
      const readings = due.map((s) => [s, this.used(s)] as const);
      this.o.daemon.registry.transaction(() => {
        for (const [s, used] of readings) this.record(s, 'interim', now, used);
      });
    }
    if (++this.ticks % 60 === 0) await this.closeOrphans();
    this.kick();
  }

  /** Sessions whose subscriber was removed end (the removal took its entry out already). */
  private async closeOrphans(): Promise<void> {
    const reg = this.o.daemon.registry;
    for (const [sub, id] of this.o.store.admitted()) {
      if (!reg.subscriber(sub)) await this.close(DAEMON_ACTOR, id, 'subscriber-removed').catch(() => undefined);
    }
  }

  /** Sends what the outbox holds, soon: one pump for every kick of the next few ms (each
   * open and each answer kicks). */
  kick(): void {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    setTimeout(() => {
      this.pumping = false;
      this.pump();
    }, 2);
  }

  private pump(): void {
    if (this.stopped) return;
    const cfg = this.o.daemon.running as Config | undefined;
    if (!cfg) return;
    const now = this.now();
    // records of an ISP without an accounting server now wait until it has one again
    for (const isp of cfg.isps) {
      const name = isp.name;
      const r = isp.radius;
      if (!r?.accounting) continue;
      const st = this.servers.get(name) ?? this.servers.set(name, { downUntil: 0, backoff: 0, inflight: new Set() }).get(name)!;
      if (now < st.downUntil) continue;
      // while the server does not answer, one record at a time probes it
      const room = (st.backoff > 0 ? 1 : MAX_INFLIGHT) - st.inflight.size;
      if (room <= 0) continue;
      const answered = new Set(this.sent);
      const recs = this.o.store.pending(name, room + st.inflight.size + answered.size).filter((x) => !st.inflight.has(x.id) && !answered.has(x.id)).slice(0, room);
      for (const rec of recs) {
        st.inflight.add(rec.id);
        void this.send(name, r, st, rec).finally(() => st.inflight.delete(rec.id));
      }
    }
  }

  private async send(isp: string, r: IspRadius, st: ServerState, rec: ReturnType<SessionStore['pending']>[number]): Promise<void> {
    const base: Attribute[] = rec.attrs.map(([type, hex]) => ({ type, value: Buffer.from(hex, 'hex') }));
    const res = await this.o.client.request({ address: r.server, port: r.acctPort, secret: r.secret, timeout: r.timeout, retries: r.retries }, (id) => {
      // each send (a new Identifier) says how long the record waited (RFC 2866 §5.2)
      const delay = Math.max(0, Math.floor((this.now() - rec.eventAt) / 1000));
      const bytes = signedRequest(Code.AccountingRequest, id, [...base, attr(Attr.AcctDelayTime, delay)], r.secret);
      return { bytes, authenticator: bytes.subarray(4, 20) };
    });
    if (this.stopped) return;
    if (res && res.packet.code === Code.AccountingResponse) {
      this.sent.push(rec.id);
      this.flushTimer ??= setTimeout(() => this.flushSent(), 20);
      this.o.metrics?.acctSent.inc({ isp });
      if (st.backoff > 0) this.o.log.info({ isp, server: r.server }, 'the accounting server answers again');
      st.backoff = 0;
      st.downUntil = 0;
      this.kick();
      return;
    }
    this.o.metrics?.acctRetries.inc({ isp });
    const retry = (this.o.daemon.running as Config | undefined)?.sessions?.retry ?? { initial: 1, max: 60 };
    const was = st.backoff;
    st.backoff = st.backoff > 0 ? Math.min(retry.max, st.backoff * 2) : retry.initial;
    st.downUntil = this.now() + st.backoff * 1000;
    if (was === 0) this.o.log.warn({ isp, server: r.server, port: r.acctPort }, 'the accounting server does not answer; records wait in the outbox');
    try {
      this.o.daemon.registry.transaction(() => this.o.store.defer(rec.id, st.downUntil));
    } catch (err) {
      this.o.log.error({ err: String(err) }, 'could not record an accounting retry');
    }
  }

  /** Marks answered records sent, in one transaction for all answered meanwhile. A daemon
   * killed before this resends them: the server sees the same record again (see the README). */
  private flushSent(): void {
    this.flushTimer = undefined;
    const ids = this.sent;
    if (!ids.length) return;
    const at = this.now();
    try {
      this.o.daemon.registry.transaction(() => {
        for (const id of ids) this.o.store.markSent(id, at);
      });
      this.sent = [];
    } catch (err) {
      this.o.log.error({ err: String(err) }, 'could not mark accounting records sent; retrying');
      this.flushTimer = setTimeout(() => this.flushSent(), 1000);
    }
  }

  // ---- views --------------------------------------------------------------------------------

  view(s: SessionRow): SessionView {
    const used = s.state === 'closed' && s.final ? parseUsage(s.final) : this.used(s);
    const up = usageTotal(used, 'up');
    const down = usageTotal(used, 'down');
    return {
      id: s.id,
      subscriber: s.subscriber,
      isp: s.isp,
      username: s.username,
      state: s.state,
      openedAt: new Date(s.openedAt).toISOString(),
      closedAt: s.closedAt === null ? null : new Date(s.closedAt).toISOString(),
      cause: s.cause,
      expiresAt: s.expiresAt === null ? null : new Date(s.expiresAt).toISOString(),
      interimInterval: s.interim,
      rate: s.reply.rate ?? null,
      usage: { up: { octets: String(up.bytes), packets: String(up.packets) }, down: { octets: String(down.bytes), packets: String(down.packets) } },
      records: s.seq,
    };
  }
}

const low32 = (n: bigint): number => Number(n & 0xffffffffn);
const high32 = (n: bigint): number => Number((n >> 32n) & 0xffffffffn);

/** What the node keeps of an Access-Accept. */
function replyOf(p: Packet, r: IspRadius, message: string | undefined): SessionReply {
  const out: SessionReply = {};
  const classes = p.attributes.filter((a) => a.type === Attr.Class).map((a) => a.value.toString('hex'));
  if (classes.length) out.class = classes;
  const timeout = intOf(first(p, Attr.SessionTimeout));
  if (timeout) out.sessionTimeout = timeout;
  const interim = intOf(first(p, Attr.AcctInterimInterval));
  // a server's interval below a minute would flood it and us (RFC 2869 §5.16 says 600 s)
  if (interim) out.interimInterval = Math.max(60, interim);
  const rate = rateOf(p, r);
  if (rate) out.rate = rate;
  if (message) out.replyMessage = message.slice(0, 253);
  return out;
}

/** The rate (bit/s) the mapped attributes carry, per direction; undefined when none does. */
export function rateOf(p: Packet, r: IspRadius): { up?: number; down?: number } | undefined {
  const out: { up?: number; down?: number } = {};
  for (const d of ['up', 'down'] as const) {
    const ref = r.rate[d];
    if (!ref) continue;
    const v = find(p, ref);
    if (v === undefined) continue;
    const n = v.length === 4 ? v.readUInt32BE(0) : /^\d{1,12}$/.test(v.toString('latin1')) ? Number(v.toString('latin1')) : undefined;
    if (n !== undefined) out[d] = n;
  }
  return out.up !== undefined || out.down !== undefined ? out : undefined;
}

/** A subscriber's `rate:` with the directions a server set (0: no limit) replaced. */
export function rateDoc(current: unknown, rate: { up?: number; down?: number }): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = current && typeof current === 'object' ? { ...(current as Record<string, unknown>) } : {};
  for (const d of ['up', 'down'] as const) {
    const bits = rate[d];
    if (bits === undefined) continue;
    if (bits === 0) delete out[d];
    // burst: 10 ms at the rate, at least ten full frames (as an ISP rate set through the API)
    else out[d] = { rate: bits, burst: Math.max(15_180, Math.ceil(bits / 8 / 100)) };
  }
  return Object.keys(out).length ? out : undefined;
}

function usageJson(u: SubscriberUsage): string {
  return JSON.stringify(u, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function parseUsage(json: string): SubscriberUsage {
  const raw = JSON.parse(json) as Record<string, Record<string, { packets: string; bytes: string }>>;
  const out = zeroUsage();
  for (const d of ['up', 'down'] as const) {
    for (const t of TRAFFIC_TYPES) {
      const c = raw[d]?.[t];
      if (c) out[d][t] = { packets: BigInt(c.packets), bytes: BigInt(c.bytes) };
    }
  }
  return out;
}
