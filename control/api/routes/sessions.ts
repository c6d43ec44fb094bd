// Routes of subscriber sessions: open (after the ISP's RADIUS server accepts, where it has
// one), close, list and show with their accounting records. Every route needs the token:
// sessions name subscribers and what they used.
import { z } from 'zod';
import type { SessionManager } from '../../sessions/manager.js';
import { SessionError } from '../../sessions/manager.js';
import { HttpError, validate, type Route } from '../http.js';

const name = z.string().regex(/^[A-Za-z][A-Za-z0-9._-]{0,62}$/, 'a subscriber name');

export const openBody = z
  .object({
    subscriber: name,
    username: z.string().min(1).max(253).optional(),
    password: z.string().max(128).optional(),
  })
  .strict();

export const closeBody = z.object({ cause: z.enum(['admin-reset', 'user-request']).optional() }).strict();

const STATES = new Set(['open', 'closing', 'closed', 'live']);

function sessionId(s: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(s)) throw new HttpError(400, 'bad_request', 'invalid session id', [{ path: 'id', message: 'letters, digits, dot, dash or underscore (at most 64)' }]);
  return s;
}

/** A session that did not open for the RADIUS server's reasons. */
function radiusError(err: unknown): never {
  if (err instanceof SessionError) {
    if (err.kind === 'rejected') throw new HttpError(403, 'rejected', err.message);
    throw new HttpError(504, 'radius_unreachable', err.message);
  }
  throw err;
}

export function sessionRoutes(sessions: SessionManager | undefined): Route[] {
  const need = (): SessionManager => {
    if (!sessions) throw new HttpError(503, 'unavailable', 'sessions are not running on this node');
    return sessions;
  };
  return [
    {
      method: 'GET',
      path: '/v1/sessions',
      auth: true,
      access: 'isp',
      handler: async (ctx) => {
        const m = need();
        const q = ctx.url.searchParams;
        // an isp: token lists its own ISP's sessions; naming another ISP finds none there is
        const own = ctx.scope.isp;
        if (own !== undefined && q.get('isp') !== null) ctx.scope.require(q.get('isp'), `ISP named '${q.get('isp')}'`);
        const state = q.get('state') ?? 'live';
        if (!STATES.has(state)) throw new HttpError(400, 'bad_request', 'invalid query', [{ path: 'state', message: 'open, closing, closed or live' }]);
        const limit = q.get('limit');
        if (limit !== null && !/^\d{1,6}$/.test(limit)) throw new HttpError(400, 'bad_request', 'invalid query', [{ path: 'limit', message: 'a whole number' }]);
        const rows = m.store.list({
          state: state as 'live',
          isp: own ?? q.get('isp') ?? undefined,
          subscriber: q.get('subscriber') ?? undefined,
          limit: limit === null ? undefined : Number(limit),
        });
        return { json: { sessions: rows.map((r) => m.view(r)) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/sessions/:id',
      auth: true,
      access: 'isp',
      handler: async (ctx) => {
        const m = need();
        const id = sessionId(ctx.params.id!);
        const s = m.store.get(id);
        if (!s) throw new HttpError(404, 'not_found', `no session '${id}'`);
        ctx.scope.require(s.isp, `session '${id}'`);
        const outbox = new Map(m.store.outbox(id).map((o) => [o.seq, o]));
        const records = m.store.ledger(id).map((l) => {
          const o = outbox.get(l.seq);
          return {
            seq: l.seq,
            kind: l.kind,
            at: new Date(l.at).toISOString(),
            sessionTime: l.sessionTime,
            up: { octets: l.upOctets, packets: l.upPackets },
            down: { octets: l.downOctets, packets: l.downPackets },
            radius: o ? { sent: o.sentAt !== null, sentAt: o.sentAt === null ? null : new Date(o.sentAt).toISOString(), attempts: o.attempts } : null,
          };
        });
        return { json: { session: m.view(s), records } };
      },
    },
    {
      method: 'POST',
      path: '/v1/sessions',
      auth: true,
      handler: async (ctx) => {
        const m = need();
        const b = validate(openBody, await ctx.body(), 'session');
        const s = await m.open(ctx.actor, b).catch(radiusError);
        return { status: 201, json: { session: s } };
      },
    },
    {
      method: 'POST',
      path: '/v1/sessions/:id/close',
      auth: true,
      handler: async (ctx) => {
        const m = need();
        const id = sessionId(ctx.params.id!);
        const b = validate(closeBody, await ctx.body(), 'close');
        return { json: { session: await m.close(ctx.actor, id, b.cause ?? 'admin-reset') } };
      },
    },
  ];
}
