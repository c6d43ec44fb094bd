// The broker's routes. Operator routes (providers, CPEs and their enrolment codes, sessions, the
// usage ledger, bills) need the API token. Device routes do not take a bearer token: enrolment
// is authenticated by the one-time code, everything after it by the CPE's Ed25519 signature
// (checked in the handler, before the body is used); token introspection by the token itself.
// Every body is read with a small size limit and checked by a strict schema (unknown keys,
// prototype keys and wrong types are refused with 400).
import { z } from 'zod';
import type { Broker } from '../../broker/broker.js';
import { BrokerError, cpeView, providerView, sessionView } from '../../broker/broker.js';
import { billCsv, isPeriod, parseMoney } from '../../broker/billing.js';
import { parseRate } from '../../config/units.js';
import { TRAFFIC_TYPES, zeroUsage, type SubscriberUsage, type TrafficType } from '../../daemon/usage.js';
import { HttpError, readBody, validate, type RequestContext, type Reply, type Route } from '../http.js';

/** Body limits: edits and device requests are small; a usage batch is at most 10,000 events. */
const SMALL_BODY = 16 * 1024;
const USAGE_BODY = 8 * 1024 * 1024;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name is 1..63 letters, digits, dot, dash or underscore, starting with a letter or digit');
const money = z.string().refine((s) => parseMoney(s) !== undefined, 'a price is a decimal like 1.25 (at most 6 decimals, not negative)');
const trafficType = z.enum(TRAFFIC_TYPES);
const rateText = z.string().max(32).refine((s) => parseRate(s).ok, 'a rate like 100Mbit');

const profileSchema = z
  .object({
    plan: z
      .object({
        up: rateText.optional(),
        down: rateText.optional(),
        traffic: z.array(trafficType).min(1).max(TRAFFIC_TYPES.length).default([...TRAFFIC_TYPES]),
      })
      .strict()
      .default({}),
    tariff: z
      .object({
        currency: z.string().regex(/^[A-Z]{3}$/, 'a currency is three capital letters (ISO 4217), e.g. EUR'),
        perGb: z.record(z.enum([...TRAFFIC_TYPES, '*']), money).default({}),
        perMinute: money.default('0'),
        monthly: money.default('0'),
      })
      .strict(),
    billTo: z.enum(['cpe', 'provider']).default('cpe'),
    tokenTtl: z.number().int().min(2).max(86_400).default(900),
  })
  .strict();

export const providerBody = z
  .object({
    name,
    kind: z.enum(['isp', 'asp']),
    profile: profileSchema,
    webhook: z.object({ url: z.string().min(8).max(2048), secret: z.string().min(16).max(256) }).strict().optional(),
  })
  .strict();

export const cpeBody = z
  .object({
    name,
    isp: name,
    subscriber: name.optional(),
    codeTtl: z.number().int().min(60).max(30 * 86_400).optional(),
  })
  .strict();

export const enrolBody = z
  .object({
    code: z.string().min(8).max(64),
    publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an Ed25519 public key: 32 bytes in base64url (43 characters)'),
  })
  .strict();

export const openBody = z.object({ provider: name, traffic: z.array(trafficType).min(1).max(TRAFFIC_TYPES.length).optional() }).strict();
export const renewBody = z.object({ token: z.string().min(10).max(4096) }).strict();
export const introspectBody = z.object({ token: z.string().min(1).max(4096), provider: name }).strict();

const count = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);
const countPair = z.object({ packets: count, bytes: count }).strict();
const side = z.record(trafficType, countPair);

export const usageBody = z
  .object({
    events: z
      .array(
        z
          .object({
            id: z.string().min(1).max(200),
            cpe: name,
            provider: name,
            at: z.string().datetime({ offset: true }),
            seconds: z.number().int().min(0).max(31 * 86_400).default(0),
            usage: z.object({ up: side.default({}), down: side.default({}) }).strict().default({}),
          })
          .strict(),
      )
      .min(1)
      .max(10_000),
  })
  .strict();

function toUsage(u: { up: Partial<Record<TrafficType, { packets: string | number; bytes: string | number }>>; down: Partial<Record<TrafficType, { packets: string | number; bytes: string | number }>> }): SubscriberUsage {
  const out = zeroUsage();
  for (const d of ['up', 'down'] as const) {
    for (const [t, c] of Object.entries(u[d]) as Array<[TrafficType, { packets: string | number; bytes: string | number }]>) {
      out[d][t] = { packets: BigInt(c.packets), bytes: BigInt(c.bytes) };
    }
  }
  return out;
}

async function smallJson(ctx: RequestContext, limit = SMALL_BODY): Promise<{ text: string; json: unknown }> {
  // a declared length over the limit is refused before a byte is read (a streamed one is cut off)
  const declared = Number(ctx.req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, 'too_large', `request body over ${limit} bytes`);
  const text = await readBody(ctx.req, limit);
  if (text.trim() === '') return { text, json: {} };
  try {
    return { text, json: JSON.parse(text) };
  } catch (err) {
    throw new HttpError(400, 'bad_request', 'the request body is not valid JSON', [{ path: '(body)', message: (err as Error).message }]);
  }
}

/** A broker error as the API answers it. */
function wrap(fn: (ctx: RequestContext) => Promise<Reply>): (ctx: RequestContext) => Promise<Reply> {
  return async (ctx) => {
    try {
      return await fn(ctx);
    } catch (err) {
      if (err instanceof BrokerError) throw new HttpError(err.status, err.code, err.message);
      throw err;
    }
  };
}

/** The path a device signed: the request's path and query as sent. */
const signedPath = (ctx: RequestContext): string => ctx.req.url ?? '/';

export function brokerRoutes(broker: Broker | undefined): Route[] {
  if (!broker) return [];
  const b = broker;
  /** Reads a device's signed request: the body text, then the signature over it. */
  const device = async (ctx: RequestContext) => {
    const { text, json } = await smallJson(ctx);
    const cpe = b.authenticate({ method: ctx.req.method ?? 'GET', path: signedPath(ctx), headers: ctx.req.headers, body: text });
    return { cpe, json };
  };
  // The device routes take no API token: the enrolment code, the device's Ed25519 signature or
  // the session token itself authenticates the caller, in the handler (the broker key is public).
  const route = (method: string, path: string, auth: boolean, handler: (ctx: RequestContext) => Promise<Reply>): Route => ({
    method,
    path,
    auth,
    ...(auth ? {} : { selfAuth: 'device' }),
    handler: wrap(handler),
  });

  return [
    // ---- public and device routes (no bearer token; see the header comment) ----
    route('GET', '/v1/broker/key', false, async () => ({ json: b.publicKey() })),
    route('POST', '/v1/broker/device/enrol', false, async (ctx) => {
      const body = validate(enrolBody, (await smallJson(ctx)).json, 'enrolment');
      return { status: 201, json: b.enrol(ctx.actor, body.code, body.publicKey) };
    }),
    route('GET', '/v1/broker/device/sessions', false, async (ctx) => {
      const { cpe } = await device(ctx);
      return { json: b.deviceStatus(cpe) };
    }),
    route('POST', '/v1/broker/device/sessions', false, async (ctx) => {
      const { cpe, json } = await device(ctx);
      const body = validate(openBody, json, 'session request');
      return { status: 201, json: await b.open(ctx.actor, cpe, body) };
    }),
    route('POST', '/v1/broker/device/sessions/:id/renew', false, async (ctx) => {
      const { cpe, json } = await device(ctx);
      const body = validate(renewBody, json, 'renewal');
      return { json: await b.renew(ctx.actor, cpe, ctx.params.id!, body.token) };
    }),
    route('POST', '/v1/broker/device/sessions/:id/close', false, async (ctx) => {
      const { cpe, json } = await device(ctx);
      validate(z.object({}).strict(), json, 'close');
      return { json: { session: await b.closeByDevice(ctx.actor, cpe, ctx.params.id!) } };
    }),
    route('POST', '/v1/broker/tokens/verify', false, async (ctx) => {
      const body = validate(introspectBody, (await smallJson(ctx)).json, 'token');
      return { json: b.introspect(body.token, body.provider) };
    }),

    // ---- operator routes ----
    route('GET', '/v1/broker/providers', true, async () => ({ json: { providers: b.store.providers().map(providerView) } })),
    route('POST', '/v1/broker/providers', true, async (ctx) => {
      const body = validate(providerBody, (await smallJson(ctx)).json, 'provider');
      const row = b.addProvider(ctx.actor, body as Parameters<Broker['addProvider']>[1]);
      return { status: 201, json: { provider: providerView(row) } };
    }),
    route('GET', '/v1/broker/providers/:name', true, async (ctx) => {
      const p = b.store.provider(ctx.params.name!);
      if (!p) throw new HttpError(404, 'not_found', `no provider '${ctx.params.name}'`);
      const sessions = b.store.liveSessions().filter((s) => s.provider === p.name).map(sessionView);
      return { json: { provider: providerView(p), sessions } };
    }),
    route('POST', '/v1/broker/providers/:name/revoke', true, async (ctx) => {
      validate(z.object({}).strict(), (await smallJson(ctx)).json, 'revoke');
      return { json: { ok: true, ...(await b.revokeProvider(ctx.actor, ctx.params.name!)) } };
    }),
    route('GET', '/v1/broker/cpes', true, async () => ({ json: { cpes: b.store.cpes().map(cpeView) } })),
    route('POST', '/v1/broker/cpes', true, async (ctx) => {
      const body = validate(cpeBody, (await smallJson(ctx)).json, 'CPE');
      return { status: 201, json: b.createCpe(ctx.actor, { name: body.name, isp: body.isp, subscriber: body.subscriber, ttlSeconds: body.codeTtl }) };
    }),
    route('GET', '/v1/broker/cpes/:name', true, async (ctx) => {
      const c = b.store.cpe(ctx.params.name!);
      if (!c) throw new HttpError(404, 'not_found', `no CPE '${ctx.params.name}'`);
      return { json: b.deviceStatus(c) };
    }),
    route('POST', '/v1/broker/cpes/:name/revoke', true, async (ctx) => {
      validate(z.object({}).strict(), (await smallJson(ctx)).json, 'revoke');
      return { json: { ok: true, ...(await b.revokeCpe(ctx.actor, ctx.params.name!)) } };
    }),
    route('GET', '/v1/broker/sessions', true, async (ctx) => {
      const all = ctx.url.searchParams.get('all');
      const rows = all === '1' || all === 'true' ? b.store.recentSessions(1000) : b.store.liveSessions();
      return { json: { sessions: rows.map((s) => ({ ...sessionView(s), usage: b.sessionUsage(s.id) })) } };
    }),
    route('POST', '/v1/broker/sessions/:id/close', true, async (ctx) => {
      validate(z.object({}).strict(), (await smallJson(ctx)).json, 'close');
      return { json: { session: await b.closeByOperator(ctx.actor, ctx.params.id!) } };
    }),
    {
      ...route('POST', '/v1/broker/usage', true, async (ctx) => {
        const body = validate(usageBody, (await smallJson(ctx, USAGE_BODY)).json, 'usage events');
        const events = body.events.map((e) => ({ id: e.id, cpe: e.cpe, provider: e.provider, at: Date.parse(e.at), seconds: e.seconds, usage: toUsage(e.usage) }));
        return { json: { ok: true, ...b.addUsage(ctx.actor, events) } };
      }),
      maxBody: USAGE_BODY,
    },
    {
      // an isp: token gets its own ISP's invoice lines, and no other's
      ...route('GET', '/v1/broker/bill', true, async (ctx) => {
        // the period defaults to the current month (UTC)
        const period = ctx.url.searchParams.get('period') ?? new Date().toISOString().slice(0, 7);
        if (!isPeriod(period)) throw new HttpError(400, 'bad_request', 'invalid query', [{ path: 'period', message: 'a month like 2026-11' }]);
        const asked = ctx.url.searchParams.get('isp') ?? undefined;
        if (ctx.scope.isp !== undefined && asked !== undefined) ctx.scope.require(asked, `ISP named '${asked}'`);
        // an ISP the broker does not know as a provider has nothing billed: no lines, not 404
        const bill = ctx.scope.isp !== undefined && !b.store.providers().some((p) => p.name === ctx.scope.isp) ? { period, lines: [], totals: [] } : b.bill(period, ctx.scope.isp ?? asked);
        if (ctx.url.searchParams.get('format') === 'csv') return { text: billCsv(bill), contentType: 'text/csv; charset=utf-8' };
        return { json: bill };
      }),
      access: 'isp' as const,
    },
    route('GET', '/v1/broker/stats', true, async () => ({ json: b.stats() })),
  ];
}
