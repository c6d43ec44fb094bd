// The LDP routes: every one needs the token, a node without LDP says so (404), the relabel body
// is validated, and the views are what the speaker says — through the real API handler.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, startHarness, type Harness } from './fakes.js';
import { ldpRoutes, type LdpApi } from '../../control/api/routes/ldp.js';
import { HttpError, type RequestContext } from '../../control/api/http.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const PATHS: Array<[string, string, unknown]> = [
  ['GET', '/v1/ldp/neighbors', undefined],
  ['GET', '/v1/ldp/bindings', undefined],
  ['GET', '/v1/ldp/discovery', undefined],
  ['GET', '/v1/ldp/status', undefined],
  ['POST', '/v1/ldp/relabel', { fec: '198.51.100.0/30' }],
];

describe('ldp routes on a node without LDP', () => {
  it.each(PATHS)('%s %s needs the token (401), then says LDP is off (404)', async (method, path, body) => {
    for (const token of [null, 'wrong']) {
      const r = await call(h, method, path, body, token);
      expect(r.status).toBe(401);
    }
    const r = await call(h, method, path, body);
    expect(r.status).toBe(404);
    expect(r.json.error.message).toMatch(/LDP is not enabled/);
  });
});

function ctx(body: unknown): RequestContext {
  return { body: async () => body } as unknown as RequestContext;
}

describe('ldp routes with a speaker', () => {
  const calls: string[] = [];
  const api: LdpApi = {
    neighbors: () => [{ neighborId: '10.0.0.2' } as never],
    bindings: () => [{ prefix: '198.51.100.0/30', egress: true, localLabel: 100, remote: [] }],
    discovery: () => undefined,
    status: () => ({ stale: null }),
    relabel: async (p) => {
      calls.push(p);
      if (p === '192.0.2.0/24') throw new RangeError(`no local label for ${p}`);
      return { fec: p, from: 100, to: 101 };
    },
  };
  const routes = ldpRoutes(api);
  const route = (m: string, p: string) => routes.find((r) => r.method === m && r.path === p)!;

  it('marks every route as needing the token', () => {
    expect(routes.map((r) => [r.method, r.path, r.auth])).toEqual(PATHS.map(([m, p]) => [m, p, true]));
  });

  it('serves the speaker\'s views', async () => {
    expect(await route('GET', '/v1/ldp/bindings').handler(ctx(undefined))).toEqual({ json: { bindings: api.bindings() } });
    expect(await route('GET', '/v1/ldp/discovery').handler(ctx(undefined))).toEqual({ json: { discovery: null } });
  });

  it('relabels a FEC, 404s one without a local label, and refuses a body that is not one IPv4 prefix', async () => {
    const r = route('POST', '/v1/ldp/relabel');
    expect(await r.handler(ctx({ fec: '198.51.100.0/30' }))).toEqual({ json: { ok: true, fec: '198.51.100.0/30', from: 100, to: 101 } });
    await expect(r.handler(ctx({ fec: '192.0.2.0/24' }))).rejects.toMatchObject({ status: 404 });
    for (const bad of [undefined, {}, { fec: 'alpha' }, { fec: '2001:db8::/32' }, { fec: '198.51.100.0/30', extra: 1 }, { fec: 7 }]) {
      const e = await r.handler(ctx(bad)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(HttpError);
      expect((e as HttpError).status).toBe(400);
    }
    expect(calls).toEqual(['198.51.100.0/30', '192.0.2.0/24']);
  });
});
