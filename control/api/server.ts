// The daemon's HTTP API: JSON over node:http on 127.0.0.1:<port> and/or a Unix socket. Reads
// are open; every call that changes the router needs `Authorization: Bearer <token>` and
// is refused with 401 — before its body is even parsed — otherwise. Input is checked with zod
// (400 with path + message per issue); the change itself goes through the daemon, which
// validates it, records it in the registry (with the audit record naming the token and the
// request), writes the maps, and only then answers. The router file is the operator's: the API
// re-reads it on request but never writes it.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, unlink } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { Daemon } from '../daemon/daemon.js';
import { DaemonError } from '../daemon/errors.js';
import type { ConfigModel } from '../daemon/model.js';
import type { TokenStore } from '../daemon/token.js';
import * as views from '../daemon/views.js';
import type { MetricsCollector } from '../metrics/collector.js';
import { HttpError, compileRoutes, match, readBody, sendError, sendJson, validate, type RequestContext, type Reply, type Route } from './http.js';
import { assignBody, importBody, removeBody, setRateBody } from './schemas.js';
import { verifyRegistryFile } from '../registry/registry.js';
import { fleetRoutes, type FleetView } from './routes/fleet.js';

export interface ApiDeps {
  daemon: Daemon<unknown>;
  model: ConfigModel;
  tokens: TokenStore;
  metrics?: MetricsCollector;
  log: Logger;
  ifname(ifindex: number): string;
  /** called after a successful detach (serve exits) */
  onDetached?(): void;
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

export function routes(deps: ApiDeps): Route[] {
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

  return [
    { method: 'GET', path: '/healthz', auth: false, handler: async () => ({ json: { ok: true } }) },
    {
      method: 'GET',
      path: '/readyz',
      auth: false,
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
      handler: async () => {
        if (!deps.metrics) throw new HttpError(404, 'not_found', 'metrics are disabled');
        return { text: await deps.metrics.render(), contentType: deps.metrics.contentType };
      },
    },
    { method: 'GET', path: '/v1/status', auth: false, handler: async () => ({ json: views.status(vd) }) },
    { method: 'GET', path: '/v1/config', auth: false, handler: async () => ({ json: { config: raw() } }) },
    { method: 'POST', path: '/v1/config', auth: true, handler: async () => fileOwned('the node, its interfaces, ISPs and labels') },
    {
      method: 'POST',
      path: '/v1/reload',
      auth: true,
      handler: async (ctx) => {
        const r = await daemon.reload('api:reload', { dryRun: dryRun(ctx, {}) });
        if (!r) return { json: { ok: true, changed: false, plan: '', counts: {} } };
        return changed(r);
      },
    },
    { method: 'GET', path: '/v1/isps', auth: false, handler: async () => ({ json: { isps: model.isps(raw()) } }) },
    { method: 'POST', path: '/v1/isps', auth: true, handler: async () => fileOwned('ISPs') },
    { method: 'DELETE', path: '/v1/isps/:name', auth: true, handler: async () => fileOwned('ISPs') },
    {
      method: 'PUT',
      path: '/v1/isps/:name/rate',
      auth: true,
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
      handler: async () => {
        const reg = daemon.registry;
        return { json: { path: reg.path, bytes: reg.fileBytes(), subscribers: reg.subscriberCount(), initialized: reg.meta('initialized') ?? null } };
      },
    },
    {
      method: 'POST',
      path: '/v1/registry/check',
      auth: true,
      handler: async () => ({ json: { ok: true, ...verifyRegistryFile(daemon.registry.path) } }),
    },
    {
      method: 'GET',
      path: '/v1/subscribers',
      auth: false,
      handler: async (ctx) => {
        const isp = ctx.url.searchParams.get('isp');
        let subs = model.subscribers(raw());
        if (isp !== null) subs = subs.filter((s) => s.isp === isp);
        return { json: { subscribers: subs } };
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers',
      auth: true,
      handler: async (ctx) => {
        const b = validate(assignBody, await ctx.body(), 'subscriber');
        const r = await daemon.editSubscribers('api:subscriber-assign', { op: 'assign', subscriber: b.subscriber }, { dryRun: dryRun(ctx, b), actor: ctx.actor });
        return { status: r.dryRun ? 200 : 201, ...changed(r) };
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/move',
      auth: true,
      handler: async (ctx) => {
        const b = validate(assignBody, await ctx.body(), 'subscriber');
        return changed(await daemon.editSubscribers('api:subscriber-move', { op: 'move', subscriber: b.subscriber }, { dryRun: dryRun(ctx, b), actor: ctx.actor }));
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/remove',
      auth: true,
      handler: async (ctx) => {
        const b = validate(removeBody, await ctx.body(), 'subscriber');
        return changed(await daemon.editSubscribers('api:subscriber-remove', { op: 'remove', match: b.match }, { dryRun: dryRun(ctx, b), actor: ctx.actor }));
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/import',
      auth: true,
      handler: async (ctx) => {
        const b = validate(importBody, await ctx.body(), 'import');
        if (b.replace && b.subscribers.length === 0 && !b.allowEmpty) {
          throw new HttpError(400, 'bad_request', 'an import with replace and no rows would remove every subscriber: refused (pass allowEmpty to mean it)');
        }
        const { summary, ...r } = await daemon.editSubscribers(
          `api:subscriber-import ${b.subscribers.length}`,
          { op: 'import', subscribers: b.subscribers, replace: b.replace ?? false },
          { dryRun: dryRun(ctx, b), actor: ctx.actor },
        );
        return changed(r, { summary });
      },
    },
    { method: 'GET', path: '/v1/fecs', auth: false, handler: async () => ({ json: views.fecs(vd) }) },
    { method: 'GET', path: '/v1/labels', auth: false, handler: async () => ({ json: views.labels(vd) }) },
    {
      method: 'GET',
      path: '/v1/stats',
      auth: false,
      handler: async () => {
        if (daemon.isDetached) throw new HttpError(503, 'unavailable', 'the data plane is detached');
        return { json: views.stats(vd) };
      },
    },
    {
      method: 'POST',
      path: '/v1/detach',
      auth: true,
      handler: async () => {
        await daemon.detach();
        setImmediate(() => deps.onDetached?.());
        return { json: { ok: true, detached: true } };
      },
    },
    {
      method: 'POST',
      path: '/v1/token/rotate',
      auth: true,
      handler: async () => {
        const token = await deps.tokens.rotate();
        deps.log.warn({ path: deps.tokens.path }, 'API token rotated');
        return { json: { ok: true, token, path: deps.tokens.path } };
      },
    },
    ...fleetRoutes(deps.fleet),
  ];
}

/** The request handler, separate from listening so tests can drive it on any server. */
export function createHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const table = compileRoutes(routes(deps));
  return (req, res) => {
    void handle(deps, table, req, res);
  };
}

async function handle(deps: ApiDeps, table: ReturnType<typeof compileRoutes>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fecflow');
  const method = req.method ?? 'GET';
  const t0 = performance.now();
  let status = 500;
  try {
    const m = match(table, method, url.pathname);
    if (!m) throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${url.pathname}`);
    if ('allowed' in m) {
      res.setHeader('allow', m.allowed.join(', '));
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname} (allowed: ${m.allowed.join(', ')})`);
    }
    if (m.route.auth && !deps.tokens.check(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="fecflow"');
      throw new HttpError(401, 'unauthorized', 'a valid API token is required: pass --token, set FECFLOW_TOKEN, or use the token file');
    }
    let textCache: Promise<string> | undefined;
    const text = (): Promise<string> => (textCache ??= readBody(req));
    const rid = req.headers['x-request-id'];
    const ctx: RequestContext = {
      actor: {
        // one API token per node today: whoever holds it is the node's admin
        name: m.route.auth ? 'admin' : 'anonymous',
        role: m.route.auth ? 'admin' : 'none',
        request: typeof rid === 'string' && /^[\w.:-]{1,128}$/.test(rid) ? rid : randomUUID(),
        source: req.socket.remoteAddress ?? 'unix',
      },
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
    const reply = await m.route.handler(ctx);
    status = reply.status ?? 200;
    if ('json' in reply) sendJson(res, status, reply.json);
    else {
      res.writeHead(status, { 'content-type': reply.contentType });
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
    deps.log[lvl]({ method, path: url.pathname, status, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'api');
  }
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof DaemonError) return new HttpError(STATUS_OF[err.kind], err.kind, err.message, err.issues);
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

export function formatListen(a: ListenAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Listen on every address; returns the servers (closed by the caller) and where they are. */
export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  addresses: ListenAddress[],
): Promise<{ servers: Server[]; bound: ListenAddress[]; close(): Promise<void> }> {
  const servers: Server[] = [];
  const bound: ListenAddress[] = [];
  for (const a of addresses) {
    const s = createServer(handler);
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
  }
  return {
    servers,
    bound,
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
