// Small HTTP plumbing for the API: a route table, JSON bodies with a size limit per route,
// JSON errors with a capped list of issues. node:http(s) is enough for the control API and
// keeps the daemon's dependencies down.
import type { Actor } from '../registry/registry.js';
import type { Principal } from '../registry/tokens.js';
import type { Access, IspScope } from './access.js';
import type { RouteDoc } from './openapi.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZodType, ZodTypeDef, ZodError } from 'zod';

export interface ApiIssue {
  path: string;
  message: string;
}

/** An error the API answers with `status` and `{ error: { code, message, issues } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: ApiIssue[] = [],
  ) {
    super(message);
  }
}

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** the parsed JSON body (undefined when empty) */
  body(): Promise<unknown>;
  /** the raw body text */
  text(): Promise<string>;
  /** who is asking (the token's name and role, the request's id and source), for the audit log */
  actor: Actor;
  /** the token's holder (undefined on open routes) */
  principal: Principal | undefined;
  /** which ISPs' objects the caller may see and change (an isp: token: only its own) */
  scope: IspScope;
}

export type Reply =
  | { status?: number; json: unknown }
  | { status?: number; text: string; contentType: string; headers?: Record<string, string> }
  /** a long-lived answer (Server-Sent Events): the handler writes the response itself */
  | { stream(res: ServerResponse): Promise<void> };

export interface Route {
  method: string;
  path: string;
  /**
   * false: open to anyone (only /healthz, /readyz and /metrics may be); true: needs a token,
   * of an admin unless `access` allows more (control/api/access.ts).
   */
  auth: boolean;
  /** an open route (auth: false) whose handler authenticates the caller itself, by other means
   * than a token (a device's signature, an enrolment code): says how */
  selfAuth?: string;
  /** who besides admin may call it: 'read' (reader), 'isp' (reader on reads; isp: tokens, scoped by the handler through ctx.scope) */
  access?: Access;
  /** the largest request body taken, in bytes (default SMALL_BODY) */
  maxBody?: number;
  /** how the OpenAPI document describes it (control/api/openapi.ts) */
  doc?: RouteDoc;
  handler(ctx: RequestContext): Promise<Reply>;
}

interface CompiledRoute extends Route {
  re: RegExp;
  keys: string[];
}

export function compileRoutes(routes: Route[]): CompiledRoute[] {
  return routes.map((r) => {
    const keys: string[] = [];
    const re = new RegExp(
      '^' +
        r.path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => {
          keys.push(k);
          return '([^/]+)';
        }) +
        '/?$',
    );
    return { ...r, re, keys };
  });
}

export function match(routes: CompiledRoute[], method: string, pathname: string):
  | { route: CompiledRoute; params: Record<string, string> }
  | { allowed: string[] }
  | undefined {
  const allowed: string[] = [];
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (!m) continue;
    if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
      allowed.push(r.method);
      continue;
    }
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
    return { route: r, params };
  }
  return allowed.length ? { allowed } : undefined;
}

// A whole config of a million subscribers is about 70 MB of JSON (more as YAML): the import and
// whole-config routes take that much; every other route a small edit. A body is read only
// after the token and its role were accepted.
export const MAX_BODY = 256 * 1024 * 1024;
export const SMALL_BODY = 64 * 1024;
/** an error lists at most this many issues (and says how many there were) */
export const MAX_ISSUES = 100;

export function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, 'too_large', `request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  // a bigint becomes a decimal string: a JSON number would round it above 2^53
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError, extraHeaders: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(extraHeaders)) res.setHeader(k, v);
  // an import of a million bad rows must not answer with a million issues
  const issues = err.issues.slice(0, MAX_ISSUES);
  const more = err.issues.length - issues.length;
  sendJson(res, err.status, { error: { code: err.code, message: err.message, issues, ...(more > 0 ? { issuesOmitted: more } : {}) } });
}

export function zodIssues(err: ZodError, prefix = ''): ApiIssue[] {
  return err.issues.map((i) => ({
    path: formatPath(prefix, i.path),
    message: i.message,
  }));
}

function formatPath(prefix: string, path: Array<string | number>): string {
  let out = prefix;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

/** Parse `input` with `schema`, or throw a 400 listing every issue. */
export function validate<T>(schema: ZodType<T, ZodTypeDef, unknown>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new HttpError(400, 'bad_request', `invalid ${what}`, zodIssues(r.error));
  return r.data;
}
