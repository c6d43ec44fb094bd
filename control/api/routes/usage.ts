// Per-subscriber usage: cumulative packets and bytes by direction and traffic type, from the
// node's meter (control/daemon/meter.ts). Counters are decimal strings: they are 64-bit and a
// JSON number loses precision above 2^53. Both routes need the token (usage is the
// subscribers' business).
import type { Daemon } from '../../daemon/daemon.js';
import type { UsageList } from '../../daemon/meter.js';
import { TRAFFIC_TYPES, usageTotal, type SubscriberUsage } from '../../daemon/usage.js';
import { HttpError, type Route } from '../http.js';

type Pc = { packets: string; bytes: string };

/** A SubscriberUsage as the API sends it: per direction, each type and the total. */
export function usageJson(u: SubscriberUsage): { up: Record<string, Pc>; down: Record<string, Pc> } {
  const dir = (d: 'up' | 'down') => {
    const out: Record<string, Pc> = {};
    for (const t of TRAFFIC_TYPES) out[t] = { packets: String(u[d][t].packets), bytes: String(u[d][t].bytes) };
    const total = usageTotal(u, d);
    out.total = { packets: String(total.packets), bytes: String(total.bytes) };
    return out;
  };
  return { up: dir('up'), down: dir('down') };
}

function hasList(u: unknown): u is UsageList {
  return typeof (u as Partial<UsageList> | undefined)?.list === 'function' && typeof (u as Partial<UsageList>).read === 'function';
}

export function usageRoutes(daemon: Daemon<unknown>): Route[] {
  const meter = () => {
    const u = daemon.usage;
    if (!u) throw new HttpError(503, 'unavailable', 'this node has no per-subscriber meter');
    return u;
  };
  return [
    {
      method: 'GET',
      path: '/v1/usage',
      auth: true,
      access: 'isp',
      handler: async (ctx) => {
        const u = meter();
        if (!hasList(u)) throw new HttpError(503, 'unavailable', 'this meter cannot list subscribers');
        const fresh = ctx.url.searchParams.get('fresh');
        if (fresh !== null && !['', '1', 'true', '0', 'false'].includes(fresh)) {
          throw new HttpError(400, 'bad_request', 'invalid query', [{ path: 'fresh', message: 'expected true or false' }]);
        }
        // fresh: take a reading now (else the totals are those of the last interval reading)
        if (fresh === '' || fresh === '1' || fresh === 'true') await u.read();
        // an isp: token sees its own ISP's subscribers only
        const rows = ctx.scope.filter(u.list(), (r) => (daemon.registry.subscriber(r.subscriber)?.isp as string | undefined) ?? null).sort((a, b) => (a.subscriber < b.subscriber ? -1 : a.subscriber > b.subscriber ? 1 : 0));
        return {
          json: {
            at: new Date().toISOString(),
            subscribers: rows.map((r) => ({ subscriber: r.subscriber, slot: r.slot, readAt: new Date(r.readAt).toISOString(), ...usageJson(r.usage) })),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/usage/:name',
      auth: true,
      access: 'isp',
      handler: async (ctx) => {
        const name = ctx.params.name!;
        if (ctx.scope.isp !== undefined) ctx.scope.require(daemon.registry.subscriber(name)?.isp as string | undefined, `usage for a subscriber named '${name}'`);
        const usage = meter().current(name);
        if (!usage) throw new HttpError(404, 'not_found', `no usage is known for a subscriber named '${name}'`);
        return { json: { subscriber: name, at: new Date().toISOString(), ...usageJson(usage) } };
      },
    },
  ];
}
