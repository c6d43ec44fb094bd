// The daemon's HTTP API: JSON over node:http(s) on TCP (plain on loopback, or TLS) and/or a
// Unix socket. Every route but /healthz, /readyz and /metrics needs `Authorization: Bearer
// <token>`: the node's token file (admin) or a token made with `fecflow token create` (admin,
// reader or isp:<name>, control/api/access.ts). A missing, wrong or revoked token is refused
// with 401, a role the route does not admit with 403 — both before the body is read. Input is
// checked with zod (400 with path + message per issue, at most 100); the change itself goes
// through the daemon, which validates it, records it in the registry (with the audit record
// naming the token and its role, and the events it causes), writes the maps, and only then
// answers. The router file is the operator's: the API re-reads it on request but never writes it.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { Daemon } from '../daemon/daemon.js';
import { DaemonError } from '../daemon/errors.js';
import type { ConfigModel } from '../daemon/model.js';
import type { TokenStore } from '../daemon/token.js';
import * as views from '../daemon/views.js';
import type { MetricsCollector } from '../metrics/collector.js';
import { EventLog, WebhookStore } from '../registry/events.js';
import { NODE_TOKEN_NAME, TokenRegistry, type Principal } from '../registry/tokens.js';
import { portalRoutes } from '../portal/routes.js';
import { IspScope, OPEN_PATHS, permits, redactSecrets } from './access.js';
import { HttpError, MAX_BODY, SMALL_BODY, compileRoutes, match, readBody, sendError, sendJson, validate, type RequestContext, type Reply, type Route } from './http.js';
import { openapiDocument } from './openapi.js';
import * as R from './responses.js';
import { tenantRoutes } from './routes/tenants.js';
import { assignBody, importBody, removeBody, setRateBody } from './schemas.js';
import { RegistryError, verifyRegistryFile } from '../registry/registry.js';
import { usageRoutes } from './routes/usage.js';
import type { SessionManager } from '../sessions/manager.js';
import { sessionRoutes } from './routes/sessions.js';
import type { Broker } from '../broker/broker.js';
import { brokerRoutes } from './routes/broker.js';
import { ldpRoutes, type LdpApi } from './routes/ldp.js';
import { fleetRoutes, type FleetView } from './routes/fleet.js';

export interface ApiDeps {
  daemon: Daemon<unknown>;
  model: ConfigModel;
  /** the node's token file: the bootstrap admin token */
  tokens: TokenStore;
  metrics?: MetricsCollector;
  /** /metrics is served on a listener of its own (serve --metrics-listen), not on the API */
  metricsElsewhere?: boolean;
  log: Logger;
  ifname(ifindex: number): string;
  /** called after a successful detach (serve exits) */
  onDetached?(): void;
  /** the event log (default: the daemon's sink when it is one, else one on its registry) */
  events?: EventLog;
  /** the webhook sender, told when a webhook is added or removed */
  webhooksChanged?(): void;
  version?: string;
  /** subscriber sessions and RADIUS, when the node runs them */
  sessions?: SessionManager;
  /** the broker of devices and providers (its routes are served when there is one) */
  broker?: Broker;
  /** the LDP speaker, when the router file enables it */
  ldp?: LdpApi;
  /** the fleet agent, when the daemon runs with --fleet */
  fleet?: FleetView;
}

const STATUS_OF: Record<DaemonError['kind'], number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  storage: 507,
  failed: 500,
};

/** The router file and its ISPs are the operator's; the API says so instead of editing them. */
function fileOwned(what: string): never {
  throw new HttpError(409, 'file_owned', `${what} are defined in the router file, which the daemon never writes: edit the file, then reload it (\`fecflow reload\`, SIGHUP, or the file watcher)`);
}

function boolQuery(url: URL, name: string): boolean | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (v === '' || v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new HttpError(400, 'bad_request', `invalid query`, [{ path: name, message: 'expected true or false' }]);
}

function intQuery(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, 'bad_request', 'invalid query', [{ path: name, message: 'expected a whole number' }]);
  return Number(v);
}

function dryRun(ctx: RequestContext, body: { dryRun?: boolean }): boolean {
  return body.dryRun ?? boolQuery(ctx.url, 'dryRun') ?? false;
}

const dryRunQuery = z.object({ dryRun: z.enum(['', '0', '1', 'true', 'false']).optional() });
const auditQuery = z.object({ after: z.string().regex(/^\d+$/).optional(), limit: z.string().regex(/^\d+$/).optional() });
const ispQuery = z.object({ isp: z.string().optional() });
const subscribersQuery = ispQuery.extend({ q: z.string().optional(), limit: z.string().regex(/^\d+$/).optional() });

/** What a change answers. */
const CHANGED = { 200: { description: 'done (or, with dryRun, what would be done)', schema: R.changeReply } };

/** The stores the API keeps in the daemon's registry. */
interface Stores {
  apiTokens: TokenRegistry;
  events: EventLog;
  webhooks: WebhookStore;
}

function storesOf(deps: ApiDeps): Stores {
  const reg = deps.daemon.registry;
  const sink = deps.daemon.events;
  return {
    apiTokens: new TokenRegistry(reg),
    events: deps.events ?? (sink instanceof EventLog ? sink : new EventLog(reg)),
    webhooks: new WebhookStore(reg),
  };
}

export function routes(deps: ApiDeps, stores: Stores = storesOf(deps)): Route[] {
  const { daemon, model } = deps;
  const vd: views.ViewDeps = { daemon, model, ifname: deps.ifname };
  const raw = (): unknown => {
    const r = daemon.runningRaw;
    if (r === undefined) throw new HttpError(503, 'unavailable', 'the daemon has no running config yet');
    return r;
  };
  const changed = (r: Awaited<ReturnType<typeof daemon.reload>> & object, extra: Record<string, unknown> = {}): Reply => ({
    json: { ok: true, dryRun: r.dryRun, changed: r.changed, counts: r.counts, plan: r.plan, ...extra },
  });
  /** An isp: token names only its own ISP; another is, to it, no ISP at all. */
  const ownIsp = (ctx: RequestContext, isp: string): void => ctx.scope.require(isp, `ISP named '${isp}'`);
  /** The subscribers an edit would change must all be the caller's. */
  const guard = (ctx: RequestContext) =>
    ctx.scope.isp === undefined
      ? undefined
      : (before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined) => {
          if (before) ctx.scope.require(String(before.isp), 'such subscriber');
          if (after) ownIsp(ctx, String(after.isp));
        };
  /** A scoped caller is not told who holds a match it may not see. */
  const edit = async (ctx: RequestContext, fn: () => Promise<Reply>): Promise<Reply> => {
    try {
      return await fn();
    } catch (err) {
      if (ctx.scope.isp !== undefined && err instanceof DaemonError && err.kind === 'conflict') {
        throw new HttpError(409, 'conflict', 'a subscriber with this match or name exists already');
      }
      throw err;
    }
  };

  let doc: object | undefined;
  const table: Route[] = [
    ...usageRoutes(daemon),
    { method: 'GET', path: '/healthz', auth: false, doc: { summary: 'Liveness', tags: ['meta'], responses: { 200: { description: 'alive', schema: R.okReply } } }, handler: async () => ({ json: { ok: true } }) },
    {
      method: 'GET',
      path: '/readyz',
      auth: false,
      doc: { summary: 'Readiness: attached, config applied, edit indexes built', tags: ['meta'], responses: { 200: { description: 'ready', schema: R.readyReply }, 503: { description: 'not ready', schema: R.readyReply } } },
      handler: async () => {
        const ready = daemon.ready();
        const last = daemon.lastReconcile;
        return {
          status: ready ? 200 : 503,
          json: { ready, programs: daemon.isDetached ? 0 : daemon.dataplane.programs().length, lastReconcileOk: last?.ok ?? null, detached: daemon.isDetached },
        };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      auth: false,
      doc: { summary: 'Prometheus metrics (per ISP, label and drop reason; no subscriber)', tags: ['meta'], responses: { 200: { description: 'the exposition format', contentType: 'text/plain' } } },
      handler: async () => {
        if (!deps.metrics) throw new HttpError(404, 'not_found', 'metrics are disabled');
        if (deps.metricsElsewhere) throw new HttpError(404, 'not_found', 'metrics are served on the metrics listener (serve --metrics-listen)');
        return { text: await deps.metrics.render(), contentType: deps.metrics.contentType };
      },
    },
    { method: 'GET', path: '/v1/status', auth: true, access: 'read', doc: { summary: 'Programs, table sizes, last reconcile', tags: ['node'], responses: { 200: { description: 'the status', schema: R.statusReply } } }, handler: async () => ({ json: views.status(vd) }) },
    {
      method: 'GET',
      path: '/v1/config',
      auth: true,
      access: 'read',
      doc: { summary: 'The running config (router file + registry); secrets redacted for a reader', tags: ['node'], responses: { 200: { description: 'the config', schema: R.configReply } } },
      handler: async (ctx) => ({ json: { config: ctx.principal?.role === 'admin' ? views.withoutSecrets(raw()) : redactSecrets(views.withoutSecrets(raw())) } }),
    },
    { method: 'POST', path: '/v1/config', auth: true, maxBody: MAX_BODY, doc: { summary: 'Refused: the router file is the operator\'s (409 file_owned)', tags: ['node'], responses: {} }, handler: async () => fileOwned('the node, its interfaces, ISPs and labels') },
    {
      method: 'POST',
      path: '/v1/reload',
      auth: true,
      doc: { summary: 'Re-read the router file', tags: ['node'], query: dryRunQuery, responses: CHANGED },
      handler: async (ctx) => {
        const r = await daemon.reload('api:reload', { dryRun: dryRun(ctx, {}) });
        if (!r) return { json: { ok: true, changed: false, plan: '', counts: {} } };
        return changed(r);
      },
    },
    {
      method: 'GET',
      path: '/v1/isps',
      auth: true,
      access: 'isp',
      doc: { summary: 'ISPs with their rates and subscriber counts (an isp: token: its own)', tags: ['isps'], responses: { 200: { description: 'the ISPs', schema: R.ispsReply } } },
      handler: async (ctx) => ({ json: { isps: ctx.scope.filter(model.isps(views.withoutSecrets(raw())), (i) => i.name) } }),
    },
    { method: 'POST', path: '/v1/isps', auth: true, doc: { summary: 'Refused: ISPs are the router file\'s (409 file_owned)', tags: ['isps'], responses: {} }, handler: async () => fileOwned('ISPs') },
    { method: 'DELETE', path: '/v1/isps/:name', auth: true, doc: { summary: 'Refused: ISPs are the router file\'s (409 file_owned)', tags: ['isps'], responses: {} }, handler: async () => fileOwned('ISPs') },
    {
      method: 'PUT',
      path: '/v1/isps/:name/rate',
      auth: true,
      doc: { summary: 'Set, remove or clear an ISP\'s rate per direction (kept in the registry)', tags: ['isps'], body: setRateBody, responses: CHANGED },
      handler: async (ctx) => {
        const b = validate(setRateBody, await ctx.body(), 'rate');
        const name = ctx.params.name!;
        const limits: Parameters<typeof daemon.setRates>[2] = {};
        if (b.up !== undefined) limits.up = b.up;
        if (b.down !== undefined) limits.down = b.down;
        return changed(await daemon.setRates(ctx.actor, name, limits, { dryRun: dryRun(ctx, b), clear: b.clear }));
      },
    },
    {
      method: 'GET',
      path: '/v1/audit',
      auth: true,
      doc: { summary: 'The audit log: every change with its token\'s name and role', tags: ['node'], query: auditQuery, responses: { 200: { description: 'records, oldest first', schema: R.auditReply } } },
      handler: async (ctx) => {
        const after = intQuery(ctx.url, 'after');
        const limit = intQuery(ctx.url, 'limit');
        return { json: { records: daemon.registry.auditLog({ after, limit }) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/registry',
      auth: true,
      doc: { summary: 'Where the registry is and what it holds', tags: ['node'], responses: { 200: { description: 'the registry', schema: R.registryReply } } },
      handler: async () => {
        const reg = daemon.registry;
        return { json: { path: reg.path, bytes: reg.fileBytes(), subscribers: reg.subscriberCount(), initialized: reg.meta('initialized') ?? null } };
      },
    },
    {
      method: 'POST',
      path: '/v1/registry/check',
      auth: true,
      doc: { summary: 'Check the registry file\'s integrity', tags: ['node'], responses: { 200: { description: 'sound', schema: R.registryCheckReply } } },
      handler: async () => ({ json: { ok: true, ...verifyRegistryFile(daemon.registry.path) } }),
    },
    {
      method: 'GET',
      path: '/v1/subscribers',
      auth: true,
      access: 'isp',
      doc: { summary: 'Subscribers (an isp: token: its own), optionally of one ISP, matching a search (q), at most limit of them (total: how many matched)', tags: ['subscribers'], query: subscribersQuery, responses: { 200: { description: 'the subscribers', schema: R.subscribersReply } } },
      handler: async (ctx) => {
        const isp = ctx.url.searchParams.get('isp') ?? ctx.scope.isp;
        if (isp !== undefined) ownIsp(ctx, isp);
        const q = ctx.url.searchParams.get('q')?.toLowerCase();
        const limit = intQuery(ctx.url, 'limit');
        let subs = model.subscribers(raw());
        if (isp !== undefined) subs = subs.filter((s) => s.isp === isp);
        // a search: the name, or any part of the match or delivery as written (a MAC, a prefix, a VLAN)
        if (q) subs = subs.filter((s) => JSON.stringify([s.name ?? '', s.match, s.deliver ?? null]).toLowerCase().includes(q));
        const total = subs.length;
        if (limit !== undefined && subs.length > limit) subs = subs.slice(0, limit);
        return { json: { subscribers: subs, total } };
      },
    },
    {
      method: 'GET',
      path: '/v1/subscribers/:name',
      auth: true,
      access: 'isp',
      doc: { summary: 'One subscriber by name (404 for another ISP\'s, to an isp: token)', tags: ['subscribers'], responses: { 200: { description: 'the subscriber', schema: R.subscriberReply } } },
      handler: async (ctx) => {
        const name = ctx.params.name!;
        const stored = daemon.registry.subscriber(name);
        if (!stored) throw new HttpError(404, 'not_found', `no subscriber named '${name}'`);
        ctx.scope.require(String(stored.isp), `subscriber named '${name}'`);
        // the model reads it as it reads a whole config's list
        const [sub] = model.subscribers({ ...(raw() as object), subscribers: [stored] });
        return { json: { subscriber: sub } };
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers',
      auth: true,
      access: 'isp',
      doc: { summary: 'Assign a new subscriber to an ISP', tags: ['subscribers'], body: assignBody, query: dryRunQuery, responses: { 201: { description: 'assigned', schema: R.changeReply }, 200: { description: 'dry run', schema: R.changeReply } } },
      handler: async (ctx) => {
        const b = validate(assignBody, await ctx.body(), 'subscriber');
        ownIsp(ctx, b.subscriber.isp);
        return edit(ctx, async () => {
          const r = await daemon.editSubscribers('api:subscriber-assign', { op: 'assign', subscriber: b.subscriber }, { dryRun: dryRun(ctx, b), actor: ctx.actor, guard: guard(ctx) });
          return { status: r.dryRun ? 200 : 201, ...changed(r) };
        });
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/move',
      auth: true,
      access: 'isp',
      doc: { summary: 'Move a subscriber to another ISP (an isp: token: within its own)', tags: ['subscribers'], body: assignBody, query: dryRunQuery, responses: CHANGED },
      handler: async (ctx) => {
        const b = validate(assignBody, await ctx.body(), 'subscriber');
        ownIsp(ctx, b.subscriber.isp);
        return edit(ctx, async () => changed(await daemon.editSubscribers('api:subscriber-move', { op: 'move', subscriber: b.subscriber }, { dryRun: dryRun(ctx, b), actor: ctx.actor, guard: guard(ctx) })));
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/remove',
      auth: true,
      access: 'isp',
      doc: { summary: 'Remove a subscriber', tags: ['subscribers'], body: removeBody, query: dryRunQuery, responses: CHANGED },
      handler: async (ctx) => {
        const b = validate(removeBody, await ctx.body(), 'subscriber');
        return edit(ctx, async () => changed(await daemon.editSubscribers('api:subscriber-remove', { op: 'remove', match: b.match }, { dryRun: dryRun(ctx, b), actor: ctx.actor, guard: guard(ctx) })));
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/import',
      auth: true,
      access: 'isp',
      maxBody: MAX_BODY,
      doc: { summary: 'Add or move many subscribers in one change (replace: drop those not listed; admin only)', tags: ['subscribers'], body: importBody, query: dryRunQuery, responses: CHANGED },
      handler: async (ctx) => {
        const b = validate(importBody, await ctx.body(), 'import');
        if (b.replace) ctx.scope.requireAll('an import with replace');
        for (const s of b.subscribers) ownIsp(ctx, s.isp);
        if (b.replace && b.subscribers.length === 0 && !b.allowEmpty) {
          throw new HttpError(400, 'bad_request', 'an import with replace and no rows would remove every subscriber: refused (pass allowEmpty to mean it)');
        }
        return edit(ctx, async () => {
          const { summary, ...r } = await daemon.editSubscribers(
            `api:subscriber-import ${b.subscribers.length}`,
            { op: 'import', subscribers: b.subscribers, replace: b.replace ?? false },
            { dryRun: dryRun(ctx, b), actor: ctx.actor, guard: guard(ctx) },
          );
          return changed(r, { summary });
        });
      },
    },
    { method: 'GET', path: '/v1/fecs', auth: true, access: 'read', doc: { summary: 'FECs: upstream per ISP and the ISPs\' downstream routes', tags: ['node'], responses: { 200: { description: 'the FECs', schema: R.fecsReply } } }, handler: async () => ({ json: views.fecs(vd) }) },
    { method: 'GET', path: '/v1/labels', auth: true, access: 'read', doc: { summary: 'The ILM with its counters', tags: ['node'], responses: { 200: { description: 'the labels', schema: R.labelsReply } } }, handler: async () => ({ json: views.labels(vd) }) },
    {
      method: 'GET',
      path: '/v1/stats',
      auth: true,
      access: 'isp',
      doc: { summary: 'Counters per ISP, direction and point, and drops per reason (an isp: token: its own ISP\'s counters, no node-wide drops)', tags: ['node'], responses: { 200: { description: 'the counters', schema: R.statsReply } } },
      handler: async (ctx) => {
        if (daemon.isDetached) throw new HttpError(503, 'unavailable', 'the data plane is detached');
        const st = views.stats(vd);
        if (ctx.scope.isp === undefined) return { json: st };
        return { json: { ...st, isps: ctx.scope.filter(st.isps, (i) => i.isp), drops: [] } };
      },
    },
    {
      method: 'POST',
      path: '/v1/detach',
      auth: true,
      doc: { summary: 'Detach every program and remove the pins (forwarding stops); the daemon exits', tags: ['node'], responses: { 200: { description: 'detached', schema: R.detachReply } } },
      handler: async (ctx) => {
        daemon.registry.transaction(() => daemon.registry.writeAudit({ actor: ctx.actor, action: 'node.detach', target: deps.model.node(raw()) }));
        await daemon.detach();
        setImmediate(() => deps.onDetached?.());
        return { json: { ok: true, detached: true } };
      },
    },
    {
      method: 'POST',
      path: '/v1/token/rotate',
      auth: true,
      doc: { summary: 'Replace the node token (the token file); the old one stops working at once', tags: ['tokens'], responses: { 200: { description: 'the new node token', schema: R.rotateReply } } },
      handler: async (ctx) => {
        const token = await deps.tokens.rotate();
        daemon.registry.transaction(() => daemon.registry.writeAudit({ actor: ctx.actor, action: 'token.rotate', target: NODE_TOKEN_NAME }));
        deps.log.warn({ path: deps.tokens.path }, 'API token rotated');
        return { json: { ok: true, token, path: deps.tokens.path } };
      },
    },
    ...sessionRoutes(deps.sessions),
    ...brokerRoutes(deps.broker),
    ...ldpRoutes(deps.ldp),
    ...fleetRoutes(deps.fleet),
    ...portalRoutes(),
    ...tenantRoutes({
      registry: daemon.registry,
      tokens: stores.apiTokens,
      events: stores.events,
      webhooks: stores.webhooks,
      webhooksChanged: deps.webhooksChanged,
      stillValid: (ctx) => principalOf(deps, stores, ctx.req.headers.authorization)?.name === ctx.principal?.name,
      openapi: () => (doc ??= openapiDocument(table, deps.version ?? '0')),
    }),
  ];
  return table;
}

/** The principal an Authorization header stands for: the node token (admin), or a stored token. */
function principalOf(deps: ApiDeps, stores: Stores, header: string | undefined): Principal | undefined {
  if (!header) return undefined;
  if (deps.tokens.check(header)) return { name: NODE_TOKEN_NAME, role: 'admin' };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? stores.apiTokens.verify(m[1]!) : undefined;
}

/** The request handler, separate from listening so tests can drive it on any server. */
export function createHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const stores = storesOf(deps);
  const list = routes(deps, stores);
  for (const r of list) {
    if (!r.auth && !OPEN_PATHS.has(r.path) && !r.selfAuth) throw new Error(`route ${r.method} ${r.path} is open (auth: false), which only ${[...OPEN_PATHS].join(', ')} may be`);
  }
  const table = compileRoutes(list);
  return (req, res) => {
    void handle(deps, stores, table, req, res);
  };
}

async function handle(deps: ApiDeps, stores: Stores, table: ReturnType<typeof compileRoutes>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fecflow');
  const method = req.method ?? 'GET';
  const t0 = performance.now();
  let status = 500;
  let principal: Principal | undefined;
  try {
    const m = match(table, method, url.pathname);
    if (!m) throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${url.pathname}`);
    if ('allowed' in m) {
      res.setHeader('allow', m.allowed.join(', '));
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname} (allowed: ${m.allowed.join(', ')})`);
    }
    const route = m.route;
    if (route.auth) {
      principal = principalOf(deps, stores, req.headers.authorization);
      if (!principal) {
        res.setHeader('www-authenticate', 'Bearer realm="fecflow"');
        throw new HttpError(401, 'unauthorized', 'a valid API token is required: set FECFLOW_TOKEN or pass --token-file (the node token, or one from `fecflow token create`)');
      }
      if (!permits(route.access ?? 'admin', method, principal)) {
        throw new HttpError(403, 'forbidden', `a ${principal.role} token may not ${method} ${url.pathname}`);
      }
    }
    const limit = route.maxBody ?? SMALL_BODY;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      res.setHeader('connection', 'close');
      throw new HttpError(413, 'too_large', `request body over ${limit} bytes (this route takes at most that)`);
    }
    let textCache: Promise<string> | undefined;
    const text = (): Promise<string> => (textCache ??= readBody(req, limit));
    const rid = req.headers['x-request-id'];
    const ctx: RequestContext = {
      actor: {
        name: principal?.name ?? 'anonymous',
        role: principal?.role ?? 'none',
        request: typeof rid === 'string' && /^[\w.:-]{1,128}$/.test(rid) ? rid : randomUUID(),
        source: req.socket.remoteAddress ?? 'unix',
      },
      principal,
      scope: new IspScope(principal),
      req,
      url,
      params: m.params,
      text,
      body: async () => {
        const t = await text();
        if (t.trim() === '') return {};
        try {
          return JSON.parse(t);
        } catch (err) {
          throw new HttpError(400, 'bad_request', 'the request body is not valid JSON', [{ path: '(body)', message: (err as Error).message }]);
        }
      },
    };
    const reply = await route.handler(ctx);
    if ('stream' in reply) {
      status = 200;
      await reply.stream(res);
      return;
    }
    status = reply.status ?? 200;
    if ('json' in reply) sendJson(res, status, reply.json);
    else {
      res.writeHead(status, { ...reply.headers, 'content-type': reply.contentType });
      res.end(method === 'HEAD' ? undefined : reply.text);
    }
  } catch (err) {
    const e = toHttpError(err);
    status = e.status;
    if (e.status >= 500) deps.log.error({ method, path: url.pathname, err: String((err as Error)?.stack ?? err) }, 'API request failed');
    if (!res.headersSent) sendError(res, e);
    else res.destroy();
  } finally {
    const lvl = status >= 500 ? 'warn' : method === 'GET' ? 'debug' : 'info';
    deps.log[lvl]({ method, path: url.pathname, status, token: principal?.name, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'api');
  }
}

/** The handler of a metrics-only listener (serve --metrics-listen): /metrics and /healthz. */
export function metricsHandler(metrics: MetricsCollector, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://fecflow').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, new HttpError(405, 'method_not_allowed', 'only GET'), { allow: 'GET' });
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    if (path !== '/metrics') return sendError(res, new HttpError(404, 'not_found', 'this listener serves /metrics only'));
    metrics.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err) => {
        log.error({ err: String(err) }, 'metrics render failed');
        sendError(res, new HttpError(500, 'internal', 'metrics failed'));
      },
    );
  };
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof DaemonError) return new HttpError(STATUS_OF[err.kind], err.kind, err.message, err.issues);
  // a registry failure from a part that writes it outside the daemon's own change path (the
  // meter handing out a slot, sessions, the broker): a full disk is still the operator's to fix
  if (err instanceof RegistryError) return new HttpError(err.kind === 'full' ? 507 : 500, err.kind === 'full' ? 'storage' : 'failed', err.message);
  return new HttpError(500, 'internal', err instanceof Error ? err.message : String(err));
}

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** '127.0.0.1:9180', ':9180', '9180', 'unix:/run/fecflow.sock' or '/run/fecflow.sock'. */
export function parseListen(s: string): ListenAddress {
  if (s.startsWith('unix:')) return { kind: 'unix', path: s.slice(5) };
  if (s.startsWith('/') || s.startsWith('./')) return { kind: 'unix', path: s };
  const m = /^(?:\[?([^\]]*)\]?:)?(\d{1,5})$/.exec(s);
  if (!m) throw new Error(`cannot read listen address '${s}': use HOST:PORT or unix:/path/to.sock`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`port ${port} out of range`);
  return { kind: 'tcp', host: m[1] || '127.0.0.1', port };
}

export function formatListen(a: ListenAddress, tls = false): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `${tls ? 'https' : 'http'}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** The host name of a Host header (without port or brackets), lower case. */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * A Host header a plain-HTTP listener answers: an IP address (a page can only name our address
 * as its own origin if it was served from here), localhost, or a name the operator allowed.
 * Anything else is a browser led here by a rebound DNS name (DNS rebinding), refused.
 */
export function hostAllowed(header: string | undefined, allow: ReadonlySet<string>): boolean {
  if (!header) return false;
  const h = hostOf(header);
  return isIP(h) !== 0 || h === 'localhost' || h.endsWith('.localhost') || allow.has(h);
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** client certificates must be signed by this CA */
  clientCa?: Buffer;
}

export interface ListenOptions {
  /** TCP listeners speak HTTPS with this certificate */
  tls?: TlsFiles;
  /** host names plain-HTTP listeners answer besides IP addresses and localhost (--allow-host) */
  allowHosts?: readonly string[];
}

export interface Listening {
  servers: Array<Server | HttpsServer>;
  bound: ListenAddress[];
  /** swap the certificate (SIGHUP): new connections use it, open ones keep theirs */
  reloadTls(tls: TlsFiles): void;
  close(): Promise<void>;
}

function tlsOptions(t: TlsFiles) {
  return { cert: t.cert, key: t.key, ...(t.clientCa ? { ca: t.clientCa, requestCert: true, rejectUnauthorized: true } : {}), minVersion: 'TLSv1.2' as const };
}

/** Listen on every address; returns the servers (closed by the caller) and where they are. */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, addresses: ListenAddress[], opts: ListenOptions = {}): Promise<Listening> {
  const servers: Array<Server | HttpsServer> = [];
  const tlsServers: HttpsServer[] = [];
  const bound: ListenAddress[] = [];
  const allow = new Set((opts.allowHosts ?? []).map((h) => hostOf(h)));
  const checked = (req: IncomingMessage, res: ServerResponse): void => {
    if (!hostAllowed(req.headers.host, allow)) {
      res.setHeader('connection', 'close');
      sendError(res, new HttpError(421, 'bad_host', `this API does not answer for host '${String(req.headers.host ?? '')}': use an IP address or localhost, or start serve with --allow-host NAME`));
      return;
    }
    handler(req, res);
  };
  try {
    for (const a of addresses) {
      const tls = a.kind === 'tcp' && opts.tls;
      const s = tls ? createHttpsServer(tlsOptions(opts.tls!), handler) : createServer(a.kind === 'tcp' ? checked : handler);
      s.keepAliveTimeout = 5000;
      if (a.kind === 'unix') {
        await unlink(a.path).catch(() => undefined); // a stale socket from a killed daemon
        await new Promise<void>((res, rej) => s.once('error', rej).listen(a.path, () => res()));
        await chmod(a.path, 0o660);
        bound.push(a);
      } else {
        await new Promise<void>((res, rej) => s.once('error', rej).listen(a.port, a.host, () => res()));
        const addr = s.address();
        bound.push({ kind: 'tcp', host: a.host, port: typeof addr === 'object' && addr ? addr.port : a.port });
      }
      servers.push(s);
      if (tls) tlsServers.push(s as HttpsServer);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    servers,
    bound,
    reloadTls(t) {
      for (const s of tlsServers) s.setSecureContext(tlsOptions(t));
    },
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((res) => {
              s.close(() => res());
              s.closeAllConnections();
            }),
        ),
      );
      for (const a of bound) if (a.kind === 'unix') await unlink(a.path).catch(() => undefined);
    },
  };
}
