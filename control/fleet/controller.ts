// The fleet's controller (`fecflow controller serve`): it holds the intent of many routers in
// its own store (control/fleet/store.ts), publishes each node's intent to the intent bucket —
// one key per node, each write a compare-and-set on the key's revision — gathers the routers'
// status reports from the fleet's stream, and checks the network's accounting. An operator
// changes intent through its HTTP API (and the CLI over it): the change is committed to the
// store first, then published; a change made while NATS is away is published when it returns.
//
// A compare-and-set that loses means someone else wrote the key since this controller did. If
// the entry there is this controller's own (a write whose acknowledgement was lost), it adopts
// that revision and writes again. Anything else — another controller, or a generation ahead of
// this store — is a conflict: the node is marked, nothing is overwritten, an event is raised,
// and the operator decides (`fecflow controller takeover NODE` writes over it).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IspScope } from '../api/access.js';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import { HttpError, compileRoutes, match, readBody, sendError, sendJson, validate, type Route } from '../api/http.js';
import { subscriberSchema } from '../api/schemas.js';
import type { TokenStore } from '../daemon/token.js';
import { matchKey, type Subscriber } from '../daemon/model.js';
import type { ControllerStore, NodeRow } from './store.js';
import { CONTROLLER_SUBJECT, FLEET_STREAM, flatSubscriber, intentDigest, nodeIntentSchema, nodeName, statusSubject, type NodeIntent, type RouterStatus } from './intent.js';
import { checkAccounting, DEFAULT_TOLERANCE, type AccountingReport, type NodeCounters, type Tolerance } from './accounting.js';
import { bounded, connectOnce, ensureFleet, isWrongRevision, parseServers, type FleetHandles } from './nats.js';
import { z } from 'zod';

export interface ControllerOptions {
  store: ControllerStore;
  url: string;
  log: Logger;
  tolerance?: Tolerance;
  /** how often pending intents are published and events sent (ms) */
  syncMs?: number;
  /** how often the accounting check runs on its own (ms; 0: only when asked) */
  checkMs?: number;
}

export type PublishOutcome =
  | { node: string; state: 'published'; generation: number; revision: number }
  | { node: string; state: 'current'; generation: number; revision: number }
  | { node: string; state: 'pending'; generation: number; error: string }
  | { node: string; state: 'conflict'; generation: number; error: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ConflictError extends Error {}

export class Controller {
  private readonly servers: string[];
  private handles: (FleetHandles & { jsm: JetStreamManager }) | undefined;
  private nc: NatsConnection | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** publishes one node at a time, in order */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly tolerance: Tolerance;

  constructor(private readonly o: ControllerOptions) {
    this.servers = parseServers(o.url);
    this.tolerance = o.tolerance ?? DEFAULT_TOLERANCE;
  }

  get store(): ControllerStore {
    return this.o.store;
  }

  /** false while the client is reconnecting: nothing is sent then, so nothing queues up */
  private linked = false;

  get connected(): boolean {
    return this.linked && this.handles !== undefined && this.nc !== undefined && !this.nc.isClosed();
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.chain.catch(() => undefined);
    const nc = this.nc;
    this.nc = undefined;
    this.handles = undefined;
    if (nc && !nc.isClosed()) await bounded(nc.close(), 'closing', 2000).catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    let wait = 250;
    while (!this.stopped && !this.handles) {
      try {
        this.nc ??= await connectOnce(this.servers, 'fecflow-controller');
        if (this.stopped) break;
        this.handles = await bounded(ensureFleet(this.nc), 'creating the bucket and stream');
      } catch (err) {
        if (wait === 250) this.o.log.warn({ url: this.o.url, error: (err as Error).message }, 'controller: NATS unreachable; intent is kept and published when it is back');
        await sleep(wait);
        wait = Math.min(wait * 2, 5000);
      }
    }
    if (this.stopped) {
      if (this.nc && !this.nc.isClosed()) await this.nc.close();
      return;
    }
    this.o.log.info({ url: this.o.url, controller: this.store.id }, 'controller: connected to NATS');
    this.linked = true;
    void (async () => {
      for await (const s of this.nc!.status()) {
        if (s.type === 'disconnect') this.linked = false;
        else if (s.type === 'reconnect') {
          this.linked = true;
          void this.sync();
        }
      }
    })();
    this.timers.push(setInterval(() => void this.sync(), this.o.syncMs ?? 2000));
    if (this.o.checkMs) this.timers.push(setInterval(() => void this.check().catch(() => undefined), this.o.checkMs));
    await this.sync();
  }

  /** Waits until connected (tests, the CLI's one-shot commands). */
  async ready(timeoutMs = 10_000): Promise<void> {
    this.start();
    const until = Date.now() + timeoutMs;
    while (!this.connected) {
      if (Date.now() > until) throw new Error(`cannot reach NATS at ${this.o.url}`);
      await sleep(50);
    }
  }

  private syncing: Promise<PublishOutcome[]> | undefined;

  /** Publishes every node whose intent is ahead of the bucket, and sends waiting events (one
   * sync at a time: a timer tick during a sync joins it). */
  sync(): Promise<PublishOutcome[]> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<PublishOutcome[]> {
    const out: PublishOutcome[] = [];
    for (const n of this.store.nodes()) if (n.generation > n.publishedGeneration && !n.conflict) out.push(await this.publish(n.name));
    await this.flushEvents();
    return out;
  }

  // -- intent ------------------------------------------------------------------------------

  /** Sets a node's whole intent; committed before it is published. */
  setIntent(node: string, intent: NodeIntent, actor: string): number {
    nodeName.parse(node);
    const row = this.store.node(node);
    if (row?.conflict) throw new ConflictError(`node '${node}' is in conflict: ${row.conflict}; resolve it first (\`fecflow controller takeover ${node}\`)`);
    return this.store.setIntent(node, intent, { actor, what: 'set', digest: intentDigest(intent) });
  }

  /** Moves one subscriber of a node to another ISP (its match must exist). */
  move(node: string, sub: Subscriber, actor: string): number {
    const row = this.store.node(node);
    if (!row) throw new HttpError(404, 'not_found', `no intent for node '${node}'`);
    const key = matchKey(sub.match);
    const subs = row.intent.subscribers.map((s) => (matchKey(s.match) === key ? { ...s, isp: sub.isp } : s));
    if (!row.intent.subscribers.some((s) => matchKey(s.match) === key)) throw new HttpError(404, 'not_found', `node '${node}' has no subscriber ${key}`);
    if (row.conflict) throw new ConflictError(`node '${node}' is in conflict: ${row.conflict}; resolve it first (\`fecflow controller takeover ${node}\`)`);
    const intent = { ...row.intent, subscribers: subs };
    return this.store.setIntent(node, intent, { actor, what: `move ${key} -> ${sub.isp}`, digest: intentDigest(intent) });
  }

  /** Publishes a node's intent (one node at a time). */
  publish(node: string): Promise<PublishOutcome> {
    const run = this.chain.then(() => this.publishLocked(node));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async publishLocked(node: string): Promise<PublishOutcome> {
    let row = this.store.node(node);
    if (!row) throw new HttpError(404, 'not_found', `no intent for node '${node}'`);
    if (row.conflict) return { node, state: 'conflict', generation: row.generation, error: row.conflict };
    if (row.generation <= row.publishedGeneration) return { node, state: 'current', generation: row.generation, revision: row.publishedRevision };
    const h = this.handles;
    if (!h || !this.connected) return { node, state: 'pending', generation: row.generation, error: 'NATS is unreachable; published when it is back' };
    for (let attempt = 0; attempt < 4; attempt++) {
      // on the wire, subscribers are as the API's import takes them (flat)
      const doc = { kind: 'fecflow.intent', version: 1, node, controller: this.store.id, generation: row.generation, at: new Date().toISOString(), subscribers: row.intent.subscribers.map(flatSubscriber), rates: row.intent.rates };
      const value = JSON.stringify(doc);
      try {
        const revision = await bounded(row.publishedRevision === 0 ? h.kv.create(node, value) : h.kv.update(node, value, row.publishedRevision), `publishing ${node}`);
        this.store.markPublished(node, row.generation, revision);
        this.o.log.info({ node, generation: row.generation, revision }, 'controller: published');
        return { node, state: 'published', generation: row.generation, revision };
      } catch (err) {
        if (!isWrongRevision(err)) {
          return { node, state: 'pending', generation: row.generation, error: (err as Error).message };
        }
      }
      // Lost the compare-and-set: look at what is there.
      const cur = await bounded(h.kv.get(node), `reading ${node}`).catch(() => undefined);
      if (cur === undefined) return { node, state: 'pending', generation: row.generation, error: 'lost the compare-and-set and cannot read the key; retried later' };
      const theirs = cur && cur.operation === 'PUT' ? looseDoc(cur.value) : undefined;
      if (!cur || cur.operation !== 'PUT' || (theirs?.controller === this.store.id && theirs.generation <= row.generation)) {
        // a deleted key, or this controller's own earlier write: write after it
        this.store.setRevision(node, cur?.revision ?? 0);
        row = this.store.node(node)!;
        continue;
      }
      const who = theirs ? `controller ${theirs.controller} at generation ${theirs.generation}` : 'a value that is not an intent';
      const error = `the key of node '${node}' was written by ${who} (revision ${cur.revision}) since this controller's revision ${row.publishedRevision}: not overwritten`;
      this.store.tx(() => {
        this.store.setConflict(node, error);
        this.store.event('fleet.conflict', node, { revision: cur.revision, theirs: theirs ?? null, generation: row!.generation });
      });
      this.o.log.error({ node, revision: cur.revision, theirs }, 'controller: compare-and-set conflict; node marked, nothing overwritten');
      void this.flushEvents();
      return { node, state: 'conflict', generation: row.generation, error };
    }
    return { node, state: 'pending', generation: row.generation, error: 'the key kept changing under this controller; retried later' };
  }

  /** Takes a conflicted node's key over: this controller's intent, numbered after what is there. */
  async takeover(node: string, actor: string): Promise<PublishOutcome> {
    const row = this.store.node(node);
    if (!row) throw new HttpError(404, 'not_found', `no intent for node '${node}'`);
    const h = this.handles;
    if (!h) throw new HttpError(503, 'unavailable', 'NATS is unreachable: a takeover needs to read the key');
    const cur = await bounded(h.kv.get(node), `reading ${node}`);
    const theirs = cur && cur.operation === 'PUT' ? looseDoc(cur.value) : undefined;
    this.store.tx(() => {
      this.store.setIntent(node, row.intent, { actor, what: 'takeover', digest: intentDigest(row.intent), atLeast: Math.max(row.generation, theirs?.generation ?? 0) + 1 });
      this.store.setRevision(node, cur?.revision ?? 0);
      this.store.setConflict(node, null);
      this.store.event('fleet.takeover', node, { revision: cur?.revision ?? 0, theirs: theirs ?? null });
    });
    return this.publish(node);
  }

  // -- status and accounting ---------------------------------------------------------------

  /** The last status each node reported on the stream. */
  async statuses(nodes: string[] = this.store.nodes().map((n) => n.name)): Promise<Map<string, RouterStatus>> {
    const out = new Map<string, RouterStatus>();
    const h = this.handles;
    if (!h || !this.connected) return out;
    for (const n of nodes) {
      try {
        const m = await bounded(h.jsm.streams.getMessage(FLEET_STREAM, { last_by_subj: statusSubject(n) }), `status of ${n}`);
        if (!m) continue;
        const s = m.json<RouterStatus>();
        if (s && s.kind === 'fecflow.status' && s.node === n) out.set(n, s);
      } catch {
        // no status from this node yet
      }
    }
    return out;
  }

  /** Runs the accounting check over every node's last counters; a mismatch (or its end)
   * raises an event. */
  async check(): Promise<AccountingReport> {
    const nodes = this.store.nodes().map((n) => n.name);
    const statuses = await this.statuses(nodes);
    const reports: NodeCounters[] = [];
    for (const [node, s] of statuses) if (s.counters) reports.push({ node, at: s.counters.at, counters: s.counters });
    const report = checkAccounting(nodes, reports, this.tolerance);
    const key = report.mismatches.map((b) => `${b.isp}/${b.direction}`).join(',');
    if (report.complete && key !== (this.store.meta('accounting_mismatch') ?? '')) {
      this.store.tx(() => {
        for (const b of report.mismatches) this.store.event('accounting.mismatch', null, { isp: b.isp, direction: b.direction, in: b.in, out: b.out, gap: b.gap, allowed: b.allowed, nodes: b.nodes });
        if (!report.mismatches.length) this.store.event('accounting.balanced', null, { was: this.store.meta('accounting_mismatch') });
        this.store.setMeta('accounting_mismatch', key);
      });
      if (report.mismatches.length) this.o.log.warn({ mismatches: key }, 'controller: accounting mismatch');
    }
    this.store.setMeta('accounting_last', JSON.stringify(report));
    await this.flushEvents();
    return report;
  }

  /** Sends the controller's events onto the stream (deduplicated by id there). */
  async flushEvents(): Promise<void> {
    const h = this.handles;
    if (!h || !this.connected) return;
    try {
      for (const e of this.store.unsentEvents()) {
        await bounded(h.js.publish(CONTROLLER_SUBJECT, JSON.stringify({ ...e, controller: this.store.id }), { msgID: `controller:${this.store.id}:${e.id}`, timeout: 3000 }), 'an event');
        this.store.markEventSent(e.id);
      }
    } catch (err) {
      this.o.log.debug({ error: (err as Error).message }, 'controller: events wait in the store');
    }
  }

  // -- HTTP ----------------------------------------------------------------------------------

  view(n: NodeRow, status?: RouterStatus) {
    return {
      node: n.name,
      generation: n.generation,
      published: { generation: n.publishedGeneration, revision: n.publishedRevision },
      conflict: n.conflict,
      updatedAt: n.updatedAt,
      subscribers: n.intent.subscribers.length,
      router: status ? { at: status.at, applied: status.applied, last: status.last, refused: status.refused } : null,
    };
  }

  routes(): Route[] {
    const who = (ctx: { actor: { name: string } }) => ctx.actor.name;
    const nodeParam = (p: Record<string, string>) => validate(nodeName, p.node, 'node name');
    const publishReply = async (node: string, generation: number) => {
      const r = await this.publish(node);
      if (r.state === 'conflict') throw new HttpError(409, 'conflict', `generation ${generation} of node '${node}' is recorded here but not published: ${r.error}. \`fecflow controller takeover ${node}\` publishes it over the other writer`);
      return { json: { ok: true, node, generation, publish: r } };
    };
    return [
      { method: 'GET', path: '/healthz', auth: false, handler: async () => ({ json: { ok: true, connected: this.connected } }) },
      {
        method: 'GET',
        path: '/v1/fleet/nodes',
        auth: true,
        handler: async () => {
          const nodes = this.store.nodes();
          const st = await this.statuses(nodes.map((n) => n.name));
          return { json: { controller: this.store.id, connected: this.connected, nodes: nodes.map((n) => this.view(n, st.get(n.name))) } };
        },
      },
      {
        method: 'GET',
        path: '/v1/fleet/nodes/:node',
        auth: true,
        handler: async (ctx) => {
          const node = nodeParam(ctx.params);
          const n = this.store.node(node);
          if (!n) throw new HttpError(404, 'not_found', `no intent for node '${node}'`);
          const st = await this.statuses([node]);
          return { json: { ...this.view(n, st.get(node)), intent: n.intent } };
        },
      },
      {
        method: 'PUT',
        path: '/v1/fleet/nodes/:node',
        auth: true,
        handler: async (ctx) => {
          const node = nodeParam(ctx.params);
          const intent = validate(nodeIntentSchema, await ctx.body(), 'intent') as NodeIntent;
          const generation = this.guard(() => this.setIntent(node, intent, who(ctx)));
          return publishReply(node, generation);
        },
      },
      {
        method: 'POST',
        path: '/v1/fleet/nodes/:node/move',
        auth: true,
        handler: async (ctx) => {
          const node = nodeParam(ctx.params);
          const b = validate(z.object({ subscriber: subscriberSchema }).strict(), await ctx.body(), 'move');
          const generation = this.guard(() => this.move(node, b.subscriber, who(ctx)));
          return publishReply(node, generation);
        },
      },
      {
        method: 'POST',
        path: '/v1/fleet/nodes/:node/takeover',
        auth: true,
        handler: async (ctx) => {
          const node = nodeParam(ctx.params);
          return { json: { ok: true, node, publish: await this.takeover(node, who(ctx)) } };
        },
      },
      {
        method: 'GET',
        path: '/v1/fleet/check',
        auth: true,
        handler: async () => {
          if (!this.connected) throw new HttpError(503, 'unavailable', 'NATS is unreachable: the routers\' counters cannot be gathered');
          return { json: await this.check() };
        },
      },
      { method: 'GET', path: '/v1/fleet/events', auth: true, handler: async () => ({ json: { events: this.store.events(200) } }) },
    ];
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConflictError) throw new HttpError(409, 'conflict', err.message);
      throw err;
    }
  }

  /** The controller's HTTP handler, with the bearer token on every route that asks for it. */
  handler(tokens: TokenStore): (req: IncomingMessage, res: ServerResponse) => void {
    const table = compileRoutes(this.routes());
    return (req, res) => {
      void (async () => {
        try {
          const url = new URL(req.url ?? '/', 'http://controller');
          const m = match(table, req.method ?? 'GET', url.pathname);
          if (!m) throw new HttpError(404, 'not_found', `no route ${req.method} ${url.pathname}`);
          if (!('route' in m)) throw new HttpError(405, 'method_not_allowed', `use ${m.allowed.join(', ')}`);
          if (m.route.auth && !tokens.check(req.headers.authorization)) {
            res.setHeader('www-authenticate', 'Bearer realm="fecflow-controller"');
            throw new HttpError(401, 'unauthorized', 'a valid controller token is required');
          }
          let text: string | undefined;
          const reply = await m.route.handler({
            req,
            url,
            params: m.params,
            text: async () => (text ??= await readBody(req, 64 * 1024 * 1024)),
            body: async () => {
              text ??= await readBody(req, 64 * 1024 * 1024);
              if (!text.trim()) return undefined;
              try {
                return JSON.parse(text) as unknown;
              } catch {
                throw new HttpError(400, 'bad_request', 'the body is not JSON');
              }
            },
            actor: { name: m.route.auth ? 'admin' : 'anonymous', role: m.route.auth ? 'admin' : 'none', request: randomUUID(), source: req.socket.remoteAddress ?? 'unix' },
            // the controller has one token, an admin's: it sees every ISP
            principal: m.route.auth ? { name: 'admin', role: 'admin' } : undefined,
            scope: new IspScope(m.route.auth ? { name: 'admin', role: 'admin' } : undefined),
          });
          if ('json' in reply) sendJson(res, reply.status ?? 200, reply.json);
          else if ('stream' in reply) await reply.stream(res);
          else {
            res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType });
            res.end(reply.text);
          }
        } catch (err) {
          if (err instanceof HttpError) return sendError(res, err);
          this.o.log.error({ error: String((err as Error).message ?? err) }, 'controller: request failed');
          sendError(res, new HttpError(500, 'failed', (err as Error).message ?? String(err)));
        }
      })();
    };
  }
}

/** The controller and generation of a key's value, when it looks like an intent at all. */
function looseDoc(bytes: Uint8Array): { controller: string; generation: number } | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as { controller?: unknown; generation?: unknown };
    if (typeof v.controller === 'string' && typeof v.generation === 'number') return { controller: v.controller, generation: v.generation };
  } catch {
    // not JSON
  }
  return undefined;
}
