// Routes of the tenant API: API tokens with roles, webhooks, the event stream and the OpenAPI
// document. Every change is made in one registry transaction with its audit record.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Registry } from '../../registry/registry.js';
import type { EventLog, WebhookStore } from '../../registry/events.js';
import { TokenError, type Principal, type TokenRegistry } from '../../registry/tokens.js';
import { streamEvents } from '../../events/sse.js';
import { HttpError, validate, type RequestContext, type Route } from '../http.js';
import * as R from '../responses.js';

export interface TenantDeps {
  registry: Registry;
  tokens: TokenRegistry;
  events: EventLog;
  webhooks: WebhookStore;
  /** the webhook sender picks up an added or removed webhook */
  webhooksChanged?(): void;
  /** is this caller's token still good (a stream checks as it goes) */
  stillValid(ctx: RequestContext): boolean;
  /** the whole route table's document (built lazily: it needs every route) */
  openapi(): object;
}

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name is 1..63 letters, digits, dot, dash or underscore, starting with a letter or digit');
const role = z.string().regex(/^(admin|reader|isp:[A-Za-z0-9][A-Za-z0-9._-]{0,62})$/, 'a role is admin, reader or isp:<ISP name>');
export const tokenCreateBody = z.object({ name, role }).strict();

const hookUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const p = new URL(u).protocol;
      return p === 'http:' || p === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');
export const webhookAddBody = z
  .object({
    name,
    url: hookUrl,
    /** only these event types (default: all) */
    types: z.array(z.string().regex(/^[a-z]+(\.[a-z]+)+$/, 'an event type like subscriber.added')).max(32).optional(),
    /** only this ISP's events */
    isp: z.string().min(1).max(63).optional(),
    /** the HMAC key (default: 32 random bytes, shown once) */
    secret: z.string().min(16, 'a webhook secret has at least 16 characters').max(256).optional(),
  })
  .strict();

const eventsQuery = z.object({
  after: z.string().regex(/^\d{1,15}$/).optional(),
  limit: z.string().regex(/^\d{1,4}$/).optional(),
  types: z.string().max(1024).optional(),
});

function tokenError(err: unknown): never {
  if (err instanceof TokenError) throw new HttpError(err.kind === 'not_found' ? 404 : err.kind === 'exists' ? 409 : 400, err.kind === 'invalid' ? 'bad_request' : err.kind === 'exists' ? 'conflict' : 'not_found', err.message);
  throw err;
}

/** The events a caller may see: an isp: token only its ISP's. */
function filterFor(p: Principal | undefined, types: string | null): { isp?: string; types?: Set<string> } {
  return { ...(p?.isp !== undefined ? { isp: p.isp } : {}), ...(types ? { types: new Set(types.split(',').map((t) => t.trim()).filter(Boolean)) } : {}) };
}

export function tenantRoutes(d: TenantDeps): Route[] {
  const reg = d.registry;
  return [
    {
      method: 'GET',
      path: '/v1/whoami',
      auth: true,
      access: 'isp',
      doc: { summary: 'The calling token: its name, role and (for an isp: token) ISP', tags: ['tokens'], responses: { 200: { description: 'the caller', schema: R.whoamiReply } } },
      handler: async (ctx) => ({ json: { name: ctx.principal!.name, role: ctx.principal!.role, isp: ctx.principal!.isp ?? null } }),
    },
    {
      method: 'GET',
      path: '/v1/tokens',
      auth: true,
      doc: { summary: 'List API tokens (never their secrets)', tags: ['tokens'], responses: { 200: { description: 'the tokens', schema: R.tokensReply } } },
      handler: async () => ({ json: { tokens: d.tokens.list() } }),
    },
    {
      method: 'POST',
      path: '/v1/tokens',
      auth: true,
      doc: { summary: 'Create an API token; its secret is in this answer only', tags: ['tokens'], body: tokenCreateBody, responses: { 201: { description: 'created', schema: R.tokenCreatedReply } } },
      handler: async (ctx) => {
        const b = validate(tokenCreateBody, await ctx.body(), 'token');
        try {
          const made = reg.transaction(() => {
            const t = d.tokens.create(b.name, b.role, ctx.actor.name);
            reg.writeAudit({ actor: ctx.actor, action: 'token.create', target: b.name, detail: { role: b.role } });
            return t;
          });
          return { status: 201, json: { ok: true, token: made.info, secret: made.secret } };
        } catch (err) {
          tokenError(err);
        }
      },
    },
    {
      method: 'DELETE',
      path: '/v1/tokens/:name',
      auth: true,
      doc: { summary: 'Revoke an API token (at once, also for open event streams)', tags: ['tokens'], responses: { 200: { description: 'revoked', schema: R.tokenRevokedReply } } },
      handler: async (ctx) => {
        try {
          const info = reg.transaction(() => {
            const t = d.tokens.revoke(ctx.params.name!);
            reg.writeAudit({ actor: ctx.actor, action: 'token.revoke', target: t.name, detail: { role: t.role } });
            return t;
          });
          return { json: { ok: true, token: info } };
        } catch (err) {
          tokenError(err);
        }
      },
    },
    {
      method: 'GET',
      path: '/v1/webhooks',
      auth: true,
      doc: { summary: 'List webhooks with what each was delivered and is still owed', tags: ['events'], responses: { 200: { description: 'the webhooks', schema: R.webhooksReply } } },
      handler: async () => ({ json: { webhooks: d.webhooks.list() } }),
    },
    {
      method: 'POST',
      path: '/v1/webhooks',
      auth: true,
      doc: { summary: 'Add a webhook: every later event it wants is posted to it, signed', tags: ['events'], body: webhookAddBody, responses: { 201: { description: 'added; the secret is in this answer only', schema: R.webhookAddedReply } } },
      handler: async (ctx) => {
        const b = validate(webhookAddBody, await ctx.body(), 'webhook');
        const secret = b.secret ?? randomBytes(32).toString('hex');
        const info = reg.transaction(() => {
          if (d.webhooks.get(b.name)) throw new HttpError(409, 'conflict', `a webhook named '${b.name}' exists already`);
          const w = d.webhooks.add({ name: b.name, url: b.url, secret, types: b.types, isp: b.isp });
          reg.writeAudit({ actor: ctx.actor, action: 'webhook.add', target: b.name, detail: { url: b.url, types: b.types ?? null, isp: b.isp ?? null } });
          return w;
        });
        d.webhooksChanged?.();
        return { status: 201, json: { ok: true, webhook: info, secret } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/webhooks/:name',
      auth: true,
      doc: { summary: 'Remove a webhook and what it was still owed', tags: ['events'], responses: { 200: { description: 'removed', schema: R.okReply } } },
      handler: async (ctx) => {
        const n = ctx.params.name!;
        reg.transaction(() => {
          if (!d.webhooks.remove(n)) throw new HttpError(404, 'not_found', `no webhook named '${n}'`);
          reg.writeAudit({ actor: ctx.actor, action: 'webhook.remove', target: n });
        });
        d.webhooksChanged?.();
        return { json: { ok: true } };
      },
    },
    {
      method: 'GET',
      path: '/v1/events',
      auth: true,
      access: 'isp',
      doc: {
        summary: 'Events: a Server-Sent Events stream (Accept: text/event-stream), resumable with Last-Event-ID; otherwise a JSON page after ?after=',
        tags: ['events'],
        query: eventsQuery,
        headers: z.object({ 'last-event-id': z.string().regex(/^\d{1,15}$/).optional() }),
        responses: {
          200: {
            description: 'a page of events (JSON), or the stream (text/event-stream: `id: <seq>`, `event: <type>`, `data: <event JSON>`)',
            schema: R.eventsReply,
            also: { contentType: 'text/event-stream', schema: z.string() },
          },
        },
      },
      handler: async (ctx) => {
        const q = validate(eventsQuery, Object.fromEntries(ctx.url.searchParams), 'query');
        const lastId = ctx.req.headers['last-event-id'];
        if (lastId !== undefined && !/^\d{1,15}$/.test(String(lastId))) throw new HttpError(400, 'bad_request', 'invalid Last-Event-ID', [{ path: 'Last-Event-ID', message: 'expected an event sequence number' }]);
        const after = lastId !== undefined ? Number(lastId) : q.after !== undefined ? Number(q.after) : undefined;
        const filter = filterFor(ctx.principal, q.types ?? null);
        if (/text\/event-stream/.test(String(ctx.req.headers.accept ?? ''))) {
          // a new stream without Last-Event-ID starts at now: history is for the JSON pages
          const from = after ?? d.events.lastSeq();
          return { stream: (res) => streamEvents(res, { log: d.events, filter, after: from, stillValid: () => d.stillValid(ctx) }) };
        }
        const page = d.events.page(after ?? 0, filter, Math.min(Math.max(Number(q.limit ?? 100), 1), 1000));
        return { json: { events: page.events, last: page.next } };
      },
    },
    {
      method: 'GET',
      path: '/v1/openapi.json',
      auth: true,
      access: 'isp',
      doc: { summary: 'This API\'s OpenAPI 3.1 document', tags: ['meta'], responses: { 200: { description: 'the document', schema: R.openapiReply } } },
      handler: async () => ({ json: d.openapi() }),
    },
  ];
}
