// The LDP speaker's state for operators: neighbours (sessions), bindings (FEC, local label,
// remote label per neighbour, in use) and discovery (interfaces, Hello adjacencies), the shapes
// `fecflow ldp ... --json` prints; and a local label change, make-before-break, for an ISP's
// FEC (what an operator does to move a hand-off to a new label without loss).
import { z } from 'zod';
import type { BindingView } from '../../ldp/lib.js';
import type { DiscoveryView, NeighborView } from '../../ldp/speaker.js';
import { HttpError, validate, type Route } from '../http.js';

/** What the routes need of the daemon's LDP speaker (control/daemon/ldp-host.ts). */
export interface LdpApi {
  neighbors(): NeighborView[];
  bindings(): BindingView[];
  discovery(): DiscoveryView | undefined;
  status(): unknown;
  relabel(prefix: string): Promise<{ fec: string; from: number; to: number }>;
}

const relabelBody = z
  .object({
    fec: z.string({ required_error: 'fec is required', invalid_type_error: 'fec must be a prefix (a.b.c.d/len)' }).regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'fec must be an IPv4 prefix (a.b.c.d/len)'),
  })
  .strict();

export function ldpRoutes(ldp: LdpApi | undefined): Route[] {
  const need = (): LdpApi => {
    if (!ldp) throw new HttpError(404, 'not_found', 'LDP is not enabled on this node (the router file has no `ldp:` section with enable: true)');
    return ldp;
  };
  return [
    { method: 'GET', path: '/v1/ldp/neighbors', auth: true, access: 'read', handler: async () => ({ json: { neighbors: need().neighbors() } }) },
    { method: 'GET', path: '/v1/ldp/bindings', auth: true, access: 'read', handler: async () => ({ json: { bindings: need().bindings() } }) },
    { method: 'GET', path: '/v1/ldp/discovery', auth: true, access: 'read', handler: async () => ({ json: { discovery: need().discovery() ?? null } }) },
    { method: 'GET', path: '/v1/ldp/status', auth: true, access: 'read', handler: async () => ({ json: need().status() }) },
    {
      method: 'POST',
      path: '/v1/ldp/relabel',
      auth: true,
      handler: async (ctx) => {
        const l = need();
        const b = validate(relabelBody, await ctx.body(), 'relabel request');
        try {
          return { json: { ok: true, ...(await l.relabel(b.fec)) } };
        } catch (err) {
          if (err instanceof RangeError) throw new HttpError(404, 'not_found', err.message);
          throw err;
        }
      },
    },
  ];
}
