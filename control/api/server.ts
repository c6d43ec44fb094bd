// The daemon's HTTP API: JSON over node:http on 127.0.0.1:<port> and/or a Unix socket. Reads
// are open; every call that changes the router needs `Authorization: Bearer <token>` and
// is refused with 401 — before its body is even parsed — otherwise. Input is checked with zod
// (400 with path + message per issue); the change itself goes through the daemon, which turns
// it into a new config, validates, compiles, reconciles and persists it.
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
import { addIspBody, applyBody, assignBody, importBody, removeBody, setRateBody } from './schemas.js';

export interface ApiDeps {
  daemon: Daemon<unknown>;
  model: ConfigModel;
  tokens: TokenStore;
  metrics?: MetricsCollector;
  log: Logger;
  ifname(ifindex: number): string;
  /** called after a successful detach (serve exits) */
  onDetached?(): void;
}

const STATUS_OF: Record<DaemonError['kind'], number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  failed: 500,
};

function boolQuery(url: URL, name: string): boolean | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (v === '' || v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new HttpError(400, 'bad_request', `invalid query`, [{ path: name, message: 'expected true or false' }]);
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
  const changed = (r: Awaited<ReturnType<typeof daemon.edit>>, extra: Record<string, unknown> = {}): Reply => ({
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
    {
      method: 'POST',
      path: '/v1/config',
      auth: true,
      handler: async (ctx) => {
        const b = validate(applyBody, await ctx.body(), 'apply request');
        return changed(await daemon.applyText(b.config, { dryRun: dryRun(ctx, b) }));
      },
    },
    { method: 'GET', path: '/v1/isps', auth: false, handler: async () => ({ json: { isps: model.isps(raw()) } }) },
    {
      method: 'POST',
      path: '/v1/isps',
      auth: true,
      handler: async (ctx) => {
        const b = validate(addIspBody, await ctx.body(), 'ISP');
        const r = await daemon.edit(`api:isp-add ${b.isp.name}`, (c) => model.addIsp(c, b.isp), { dryRun: dryRun(ctx, b) });
        return { status: r.dryRun ? 200 : 201, ...changed(r) };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/isps/:name',
      auth: true,
      handler: async (ctx) => {
        const force = boolQuery(ctx.url, 'force') ?? false;
        const name = ctx.params.name!;
        return changed(await daemon.edit(`api:isp-remove ${name}`, (c) => model.removeIsp(c, name, { force }), { dryRun: dryRun(ctx, {}) }));
      },
    },
    {
      method: 'PUT',
      path: '/v1/isps/:name/rate',
      auth: true,
      handler: async (ctx) => {
        const b = validate(setRateBody, await ctx.body(), 'rate');
        const name = ctx.params.name!;
        return changed(
          await daemon.edit(
            `api:isp-rate ${name}`,
            (c) => {
              if (b.up !== undefined) model.setRate(c, name, 'up', b.up);
              if (b.down !== undefined) model.setRate(c, name, 'down', b.down);
            },
            { dryRun: dryRun(ctx, b) },
          ),
        );
      },
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
        const r = await daemon.editSubscribers('api:subscriber-assign', { op: 'assign', subscriber: b.subscriber }, { dryRun: dryRun(ctx, b) });
        return { status: r.dryRun ? 200 : 201, ...changed(r) };
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/move',
      auth: true,
      handler: async (ctx) => {
        const b = validate(assignBody, await ctx.body(), 'subscriber');
        return changed(await daemon.editSubscribers('api:subscriber-move', { op: 'move', subscriber: b.subscriber }, { dryRun: dryRun(ctx, b) }));
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/remove',
      auth: true,
      handler: async (ctx) => {
        const b = validate(removeBody, await ctx.body(), 'subscriber');
        return changed(await daemon.editSubscribers('api:subscriber-remove', { op: 'remove', match: b.match }, { dryRun: dryRun(ctx, b) }));
      },
    },
    {
      method: 'POST',
      path: '/v1/subscribers/import',
      auth: true,
      handler: async (ctx) => {
        const b = validate(importBody, await ctx.body(), 'import');
        const { summary, ...r } = await daemon.editSubscribers(
          `api:subscriber-import ${b.subscribers.length}`,
          { op: 'import', subscribers: b.subscribers, replace: b.replace ?? false },
          { dryRun: dryRun(ctx, b) },
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
    const ctx: RequestContext = {
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
