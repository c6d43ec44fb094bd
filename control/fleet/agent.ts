// A router's fleet agent (`fecflow serve --fleet nats://…`): it watches this node's key in the
// intent bucket and applies each new generation once, through the daemon's own change path
// (Daemon.applyState: the import path for subscribers, the rate path for rates), all or
// nothing, audited as the fleet with the generation. What it applied is recorded in the
// registry in the transaction that applies it, so neither a restart nor a message seen twice
// (the watch and the poll both deliver the latest entry) applies anything twice.
//
// It reports on the fleet's stream: each outcome (applied, refused, failed) as an event queued
// in the registry's outbox with the change, and a status snapshot (applied generation, counters)
// now and then. While NATS is unreachable nothing is undone: the router keeps forwarding on the
// last intent it applied, local changes keep working, reports wait in the outbox, and the agent
// converges to the key's latest entry when NATS is back.
import type { NatsConnection } from '@nats-io/transport-node';
import type { KvEntry } from '@nats-io/kv';
import type { Logger } from '../log.js';
import type { Daemon, RateOverrides } from '../daemon/daemon.js';
import { DaemonError } from '../daemon/errors.js';
import type { Actor } from '../registry/registry.js';
import type { AppliedIntent, FleetStore } from '../registry/fleet.js';
import { IntentRefused, eventSubject, nodeName, intentDigest, parseIntent, statusSubject, type IntentDoc, type RefusalReason, type RouterCounters, type RouterStatus } from './intent.js';
import { bindFleet, bounded, connectOnce, parseServers, type FleetHandles } from './nats.js';

export interface FleetAgentOptions {
  url: string;
  node: string;
  daemon: Daemon<unknown>;
  store: FleetStore;
  /** the router's counters now, as /v1/stats has them */
  counters(): RouterCounters | null;
  log: Logger;
  /** how often the key is read besides the watch (ms) */
  pollMs?: number;
  /** how often a status snapshot is sent (ms) */
  statusMs?: number;
}

export interface AgentStatus {
  url: string;
  node: string;
  connected: boolean;
  applied: AppliedIntent | null;
  last: RouterStatus['last'];
  refused: Partial<Record<RefusalReason, number>>;
  /** entries seen again that were already applied (a redelivery, the poll after the watch) */
  duplicates: number;
  pendingReports: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FleetAgent {
  private readonly servers: string[];
  private handles: FleetHandles | undefined;
  private nc: NatsConnection | undefined;
  private connected = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** one entry at a time, in the order seen */
  private queue: Promise<unknown> = Promise.resolve();
  /** the last revision handled for good (applied, a duplicate, or refused): not handled again */
  private settledRevision = 0;
  private last: RouterStatus['last'] = null;
  private readonly refused: Partial<Record<RefusalReason, number>> = {};
  private duplicates = 0;
  private flushing: Promise<void> | undefined;
  private pruned = 0;
  private readonly msgIdPrefix: string;

  constructor(private readonly o: FleetAgentOptions) {
    this.servers = parseServers(o.url);
    const name = nodeName.safeParse(o.node);
    if (!name.success) throw new Error(`'${o.node}' is not a node name: ${name.error.issues[0]?.message}`);
    // a registry's creation time tells its outbox ids apart from those of a registry restored
    // from an older backup, whose ids start again
    this.msgIdPrefix = `${o.node}:${o.daemon.registry.meta('created') ?? 'registry'}`;
  }

  /** Starts in the background; never throws for NATS being away. */
  start(): void {
    this.loop ??= this.run();
  }

  status(): AgentStatus {
    return {
      url: this.o.url,
      node: this.o.node,
      connected: this.connected,
      applied: this.o.store.applied() ?? null,
      last: this.last,
      refused: { ...this.refused },
      duplicates: this.duplicates,
      pendingReports: this.o.store.pending(),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.queue.catch(() => undefined);
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await bounded(nc.close(), 'closing', 2000).catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const log = this.o.log;
    let wait = 250;
    while (!this.stopped && !this.nc) {
      try {
        const nc = await connectOnce(this.servers, `fecflow-${this.o.node}`);
        if (this.stopped) {
          await nc.close();
          return;
        }
        this.nc = nc;
      } catch (err) {
        if (wait === 250) log.warn({ url: this.o.url, error: (err as Error).message }, 'fleet: NATS unreachable; forwarding on the last applied intent, retrying');
        await sleep(wait);
        wait = Math.min(wait * 2, 5000);
      }
    }
    const nc = this.nc;
    if (!nc) return;
    this.connected = true;
    log.info({ url: this.o.url, node: this.o.node }, 'fleet: connected to NATS');
    void this.watchStatus(nc);
    this.timers.push(setInterval(() => void this.poll(), this.o.pollMs ?? 5000));
    this.timers.push(setInterval(() => void this.report(), this.o.statusMs ?? 10_000));
    void this.poll();
    void this.watch();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.o.log.warn({ url: this.o.url }, 'fleet: NATS connection lost; forwarding on the last applied intent');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.o.log.info({ url: this.o.url }, 'fleet: NATS connection back; converging');
        void this.poll();
        void this.watch();
      }
    }
  }

  private async bind(): Promise<FleetHandles | undefined> {
    if (this.handles) return this.handles;
    if (!this.nc || this.stopped || !this.connected) return undefined;
    try {
      const h = await bounded(bindFleet(this.nc), 'binding the bucket');
      await bounded(h.kv.status(), 'the bucket'); // the bucket exists (binding alone does not ask)
      this.handles = h;
    } catch (err) {
      this.o.log.debug({ error: (err as Error).message }, 'fleet: the intent bucket is not there yet (no controller ran)');
    }
    return this.handles;
  }

  private watching = false;

  /** A watch on the key, for a change to arrive at once; the poll is the safety net. */
  private async watch(): Promise<void> {
    if (this.watching || this.stopped) return;
    const h = await this.bind();
    if (!h) return;
    this.watching = true;
    try {
      const it = await bounded(h.kv.watch({ key: this.o.node }), 'watching the key');
      for await (const e of it) {
        if (this.stopped) break;
        void this.offer(e);
      }
    } catch (err) {
      this.o.log.debug({ error: (err as Error).message }, 'fleet: watch ended');
    } finally {
      this.watching = false;
    }
  }

  private polling: Promise<void> | undefined;

  /** Reads the key now and offers its entry (one read at a time; nothing while cut off). */
  poll(): Promise<void> {
    // cleared by a callback, which runs after the assignment even when the read ends at once
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped || !this.connected) return;
    const h = await this.bind();
    if (!h) return;
    try {
      const e = await bounded(h.kv.get(this.o.node), 'reading the key');
      if (e) await this.offer(e);
    } catch (err) {
      this.o.log.debug({ error: (err as Error).message }, 'fleet: reading the key failed');
    }
    await this.flush();
  }

  /** Handles one entry of the key, after any entry before it. */
  offer(e: KvEntry): Promise<void> {
    const run = this.queue.then(() => this.handle(e));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async handle(e: KvEntry): Promise<void> {
    if (this.stopped) return;
    if (e.revision <= this.settledRevision) {
      this.duplicates++;
      return;
    }
    const log = this.o.log;
    // another key's revision says nothing about this key's: it is not settled
    if (e.key !== this.o.node) return this.refuse(e.revision, undefined, new IntentRefused('wrong_node', `an entry of key '${e.key}' reached node '${this.o.node}'`), false);
    if (e.operation !== 'PUT') {
      // a deleted key undoes nothing: the router keeps what it applied
      log.warn({ revision: e.revision, operation: e.operation }, 'fleet: this node\'s intent was deleted; keeping the last applied intent');
      this.settledRevision = e.revision;
      return;
    }
    let doc: IntentDoc;
    try {
      doc = parseIntent(e.value, this.o.node);
    } catch (err) {
      if (err instanceof IntentRefused) return this.refuse(e.revision, undefined, err);
      throw err;
    }
    const store = this.o.store;
    const prev = store.applied();
    const digest = intentDigest(doc);
    if (prev && doc.generation === prev.generation && doc.controller === prev.controller && digest === prev.digest) {
      this.duplicates++;
      this.settledRevision = e.revision;
      return;
    }
    if (prev && doc.generation <= prev.generation) {
      return this.refuse(e.revision, doc.generation, new IntentRefused('backwards', `generation ${doc.generation} (from ${doc.controller}) is not after the applied generation ${prev.generation} (from ${prev.controller})`));
    }
    const applied: AppliedIntent = { controller: doc.controller, generation: doc.generation, revision: e.revision, digest, at: new Date().toISOString() };
    const actor: Actor = { name: 'fleet', role: 'fleet', request: `${doc.controller}/${doc.generation}`, source: `nats r${e.revision}` };
    const rates = new Map<string, RateOverrides>(Object.entries(doc.rates));
    let queued: number | undefined;
    try {
      const r = await this.o.daemon.applyState(`fleet r${e.revision}`, { subscribers: doc.subscribers, rates }, {
        actor,
        audit: { action: 'fleet.apply', target: this.o.node, detail: { controller: doc.controller, generation: doc.generation, revision: e.revision, digest, subscribers: doc.subscribers.length, rates: doc.rates } },
        record: {
          write: () => {
            store.setApplied(applied);
            queued = store.enqueue('event', { type: 'fleet.applied', node: this.o.node, controller: doc.controller, generation: doc.generation, revision: e.revision, at: applied.at });
          },
          undo: () => {
            store.setApplied(prev);
            if (queued !== undefined) store.unqueue(queued);
          },
        },
      });
      this.settledRevision = e.revision;
      this.last = { generation: doc.generation, revision: e.revision, ok: true };
      log.info({ generation: doc.generation, revision: e.revision, summary: r.summary, changed: r.changed }, 'fleet: applied this node\'s intent');
    } catch (err) {
      if (err instanceof DaemonError && err.kind === 'invalid') {
        const detail = err.issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`).join('; ');
        return this.refuse(e.revision, doc.generation, new IntentRefused('invalid_config', `${err.message}${detail ? ` (${detail})` : ''}`));
      }
      // not the intent's fault (a map write, the disk): tried again at the next poll
      const message = (err as Error).message;
      if (this.last?.revision !== e.revision || this.last.ok) {
        store.enqueueNow('event', { type: 'fleet.failed', node: this.o.node, generation: doc.generation, revision: e.revision, error: message, at: new Date().toISOString() });
      }
      this.last = { generation: doc.generation, revision: e.revision, ok: false, error: message };
      log.error({ generation: doc.generation, revision: e.revision, error: message }, 'fleet: applying this node\'s intent failed; retrying at the next poll');
    }
    void this.flush().then(() => this.report());
  }

  /** An entry this router will not apply: counted, reported, and nothing changes. */
  private refuse(revision: number, generation: number | undefined, err: IntentRefused, settle = true): void {
    if (settle) this.settledRevision = revision;
    this.refused[err.reason] = (this.refused[err.reason] ?? 0) + 1;
    this.last = { ...(generation !== undefined ? { generation } : {}), revision, ok: false, reason: err.reason, error: err.message };
    this.o.log.warn({ revision, reason: err.reason, error: err.message }, 'fleet: refused an entry of this node\'s key; nothing changed');
    this.o.store.enqueueNow('event', { type: 'fleet.refused', node: this.o.node, revision, generation, reason: err.reason, error: err.message.slice(0, 500), at: new Date().toISOString() });
    void this.flush();
  }

  /** Sends the outbox, oldest first; stops at the first failure (sent again later). */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    try {
      const h = await this.bind();
      if (!h || !this.connected) return;
      for (;;) {
        const rows = this.o.store.unsent(50);
        if (rows.length === 0) break;
        for (const r of rows) {
          const subject = r.kind === 'status' ? statusSubject(this.o.node) : eventSubject(this.o.node);
          await bounded(h.js.publish(subject, JSON.stringify(r.body), { msgID: `${this.msgIdPrefix}:${r.id}`, timeout: 3000 }), 'a report');
          this.o.store.markSent(r.id);
        }
      }
      // the stream keeps what was sent; the registry keeps a day of it
      if (Date.now() - this.pruned > 3600_000) {
        this.o.store.prune(new Date(Date.now() - 24 * 3600_000));
        this.pruned = Date.now();
      }
    } catch (err) {
      this.o.log.debug({ error: (err as Error).message }, 'fleet: reports wait in the outbox');
    }
  }

  /** This router's status as it reports it. */
  snapshot(): RouterStatus {
    const a = this.o.store.applied();
    let counters: RouterCounters | null = null;
    try {
      counters = this.o.counters();
    } catch (err) {
      this.o.log.warn({ error: (err as Error).message }, 'fleet: reading the counters failed; status sent without them');
    }
    return {
      kind: 'fecflow.status',
      version: 1,
      node: this.o.node,
      at: new Date().toISOString(),
      applied: a ? { controller: a.controller, generation: a.generation, revision: a.revision } : null,
      last: this.last,
      connected: this.connected,
      refused: { ...this.refused },
      counters,
    };
  }

  /** Sends a status snapshot now (not queued: the next one supersedes it). */
  private reporting = false;

  async report(): Promise<boolean> {
    if (this.reporting) return false;
    this.reporting = true;
    try {
      return await this.reportNow();
    } finally {
      this.reporting = false;
    }
  }

  private async reportNow(): Promise<boolean> {
    const h = await this.bind();
    if (!h || !this.connected || this.stopped) return false;
    const s = this.snapshot();
    try {
      await bounded(h.js.publish(statusSubject(this.o.node), JSON.stringify(s), { msgID: `${this.msgIdPrefix}:status:${s.at}`, timeout: 3000 }), 'the status');
      return true;
    } catch (err) {
      this.o.log.debug({ error: (err as Error).message }, 'fleet: status not sent');
      return false;
    }
  }
}
