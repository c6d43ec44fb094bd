// The tenant API's access model, table-driven over the route list itself (a route added later
// is covered without editing this file): every route refuses a missing, wrong or revoked token
// and a token of a role it does not admit, and changes nothing; an isp: token sees only its own
// ISP's objects on every route it may call; tokens are kept hashed; bodies are limited per
// route; plain-HTTP listeners check the Host header; slow readers do not stall /healthz.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPEN_PATHS, permits, redactSecrets } from '../../control/api/access.js';
import { SMALL_BODY } from '../../control/api/http.js';
import { hostAllowed, routes } from '../../control/api/server.js';
import { configModel } from '../../control/daemon/config-model.js';
import { silentLogger } from '../../control/log.js';
import type { Principal } from '../../control/registry/tokens.js';
import { call, startHarness, type Harness } from './fakes.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const routeList = (hh: Harness) => routes({ daemon: hh.daemon, model: configModel, tokens: hh.tokens, log: silentLogger(), ifname: () => 'x', sessions: hh.sessions, broker: hh.broker });
const concrete = (path: string) => path.replace(/:([a-zA-Z]+)/g, 'alpha');

/** Everything a refused call must leave as it was. */
function state(hh: Harness): string {
  return JSON.stringify({
    maps: hh.snapshot(),
    subs: hh.registry.subscribers(),
    audit: hh.registry.auditLog({ after: 0, limit: 10_000 }).length,
    // (a token's last-used stamp is informative, not a change)
    tokens: hh.apiTokens.list().map((t) => [t.name, t.role, t.revoked]),
    events: hh.events.lastSeq(),
    file: readFileSync(hh.configPath, 'utf8'),
    tokenFile: readFileSync(hh.tokens.path, 'utf8'),
    detached: hh.dp.detached,
  });
}

const ROLES: Principal[] = [
  { name: 'r', role: 'reader' },
  { name: 'i', role: 'isp:alpha', isp: 'alpha' },
];

describe('every route', () => {
  it('is open only for /healthz, /readyz, /metrics and the portal\'s page; the broker\'s device routes authenticate the device themselves', () => {
    const open = routeList(h).filter((r) => !r.auth && !r.selfAuth).map((r) => r.path);
    expect(new Set(open)).toEqual(new Set(OPEN_PATHS));
    const device = routeList(h).filter((r) => !r.auth && r.selfAuth);
    expect(device.length).toBeGreaterThan(0);
    for (const r of device) expect(r.path, `${r.method} ${r.path}`).toMatch(/^\/v1\/broker\/(key|device\/|tokens\/verify)/);
  });

  it('refuses a missing, malformed, wrong or revoked token with 401 and changes nothing', async () => {
    const revoked = h.mint('admin', 'gone');
    h.registry.transaction(() => h.apiTokens.revoke('gone'));
    const wrong = h.token.slice(0, -1) + (h.token.endsWith('0') ? '1' : '0');
    const before = state(h);
    for (const r of routeList(h).filter((x) => x.auth)) {
      for (const token of [null, 'nonsense', wrong, revoked]) {
        const res = await call(h, r.method, concrete(r.path), r.method === 'GET' ? undefined : { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } }, token);
        expect(res.status, `${r.method} ${r.path} with ${token === revoked ? 'a revoked token' : String(token)}`).toBe(401);
        expect(res.json.error.code).toBe('unauthorized');
      }
    }
    expect(state(h)).toBe(before);
  });

  it('refuses a token of a role the route does not admit with 403 and changes nothing', async () => {
    const secrets = { reader: h.mint('reader'), 'isp:alpha': h.mint('isp:alpha') } as Record<string, string>;
    const before = state(h);
    let refused = 0;
    for (const r of routeList(h).filter((x) => x.auth)) {
      for (const p of ROLES) {
        if (permits(r.access ?? 'admin', r.method, p)) continue;
        const res = await call(h, r.method, concrete(r.path), r.method === 'GET' ? undefined : { subscribers: [] }, secrets[p.role]!);
        expect(res.status, `${p.role} ${r.method} ${r.path}`).toBe(403);
        expect(res.json.error.code).toBe('forbidden');
        refused++;
      }
    }
    // the table is not vacuous: every change route refuses a reader, every admin route an isp token
    expect(refused).toBeGreaterThan(20);
    expect(state(h)).toBe(before);
  });

  it('admits roles as documented: reader reads status and config but changes nothing; isp reads its subscribers, not the config', () => {
    const reader: Principal = { name: 'r', role: 'reader' };
    const isp: Principal = { name: 'i', role: 'isp:a', isp: 'a' };
    expect(permits('read', 'GET', reader)).toBe(true);
    expect(permits('isp', 'GET', reader)).toBe(true);
    expect(permits('isp', 'POST', reader)).toBe(false);
    expect(permits('admin', 'GET', reader)).toBe(false);
    expect(permits('read', 'GET', isp)).toBe(false);
    expect(permits('isp', 'POST', isp)).toBe(true);
    expect(permits('admin', 'POST', isp)).toBe(false);
  });
});

describe('an isp: token', () => {
  beforeEach(async () => {
    for (const [mac, isp, name] of [
      ['02:00:00:00:0a:01', 'alpha', 'alpha-one'],
      ['02:00:00:00:0b:01', 'beta', 'beta-one'],
      ['02:00:00:00:0b:02', 'beta', 'beta-two'],
    ]) {
      expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { mac, isp, name } })).status).toBe(201);
    }
  });

  it('sees only its own ISP on every route it may read', async () => {
    const t = h.mint('isp:alpha');
    let read = 0;
    for (const r of routeList(h).filter((x) => x.auth && x.method === 'GET' && !x.path.includes(':'))) {
      if (!permits(r.access ?? 'admin', 'GET', { name: 't', role: 'isp:alpha', isp: 'alpha' })) continue;
      if (r.path === '/v1/openapi.json') continue; // the contract names no objects
      const res = await call(h, 'GET', r.path, undefined, t);
      expect(res.status, r.path).toBe(200);
      expect(res.text, r.path).not.toMatch(/beta|0b:0[12]/);
      read++;
    }
    expect(read).toBeGreaterThanOrEqual(3);
    const subs = (await call(h, 'GET', '/v1/subscribers', undefined, t)).json.subscribers;
    expect(subs.map((s: { name: string }) => s.name).sort()).toEqual(['alpha-one', 's1']);
    expect((await call(h, 'GET', '/v1/isps', undefined, t)).json.isps.map((i: { name: string }) => i.name)).toEqual(['alpha']);
    expect((await call(h, 'GET', '/v1/whoami', undefined, t)).json).toEqual({ name: expect.any(String), role: 'isp:alpha', isp: 'alpha' });
    expect((await call(h, 'GET', '/v1/whoami')).json).toEqual({ name: 'admin', role: 'admin', isp: null });
    // the admin sees both
    expect((await call(h, 'GET', '/v1/subscribers')).json.subscribers).toHaveLength(4);
  });

  it('is told 404 for another ISP\'s objects on every get and change, and nothing changes', async () => {
    const t = h.mint('isp:alpha');
    const before = state(h);
    const attempts: Array<[string, string, unknown]> = [
      ['GET', '/v1/subscribers/beta-one', undefined],
      ['GET', '/v1/subscribers?isp=beta', undefined],
      ['POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:0b:01', isp: 'alpha' } }],
      ['POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:0a:01', isp: 'beta' } }],
      ['POST', '/v1/subscribers/remove', { match: { mac: '02:00:00:00:0b:01' } }],
      ['POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:0a:09', isp: 'beta' } }],
      ['POST', '/v1/subscribers/import', { subscribers: [{ mac: '02:00:00:00:0a:09', isp: 'alpha' }, { mac: '02:00:00:00:0b:01', isp: 'alpha' }] }],
      ['POST', '/v1/subscribers/import', { subscribers: [{ mac: '02:00:00:00:0a:09', isp: 'beta' }] }],
    ];
    for (const [m, p, b] of attempts) {
      const r = await call(h, m, p, b, t);
      expect(r.status, `${m} ${p} ${JSON.stringify(b)}`).toBe(404);
      expect(r.json.error.code).toBe('not_found');
      // nothing but what was asked is echoed: no other subscriber's name or match
      expect(r.text).not.toMatch(/beta-two|0b:02/);
    }
    // an assign of a match another ISP holds is refused without naming the holder
    const taken = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:0b:01', isp: 'alpha' } }, t);
    expect(taken.status).toBe(409);
    expect(taken.text).not.toMatch(/beta/);
    // a replacing import would remove other ISPs' subscribers: admin only
    expect((await call(h, 'POST', '/v1/subscribers/import', { subscribers: [], replace: true, allowEmpty: true }, t)).status).toBe(403);
    expect(state(h)).toBe(before);
  });

  it('changes its own subscribers, audited with the token\'s name and role', async () => {
    const t = h.mint('isp:alpha', 'alpha-portal');
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:0a:02', isp: 'alpha', name: 'alpha-two' } }, t)).status).toBe(201);
    expect((await call(h, 'GET', '/v1/subscribers/alpha-two', undefined, t)).json.subscriber).toMatchObject({ isp: 'alpha', match: { mac: '02:00:00:00:0a:02' } });
    expect((await call(h, 'POST', '/v1/subscribers/remove', { match: { mac: '02:00:00:00:0a:01' } }, t)).status).toBe(200);
    const audit = h.registry.auditLog({ limit: 2 });
    expect(audit.map((a) => [a.actor, a.role, a.action])).toEqual([
      ['alpha-portal', 'isp:alpha', 'subscriber.assign'],
      ['alpha-portal', 'isp:alpha', 'subscriber.remove'],
    ]);
  });
});

describe('tokens', () => {
  it('are created, listed without secrets, work at once, and stop at once when revoked; the registry keeps only a hash', async () => {
    const c = await call(h, 'POST', '/v1/tokens', { name: 'grafana', role: 'reader' });
    expect(c.status).toBe(201);
    const secret: string = c.json.secret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const list = await call(h, 'GET', '/v1/tokens');
    expect(list.json.tokens).toEqual([expect.objectContaining({ name: 'grafana', role: 'reader', revoked: null, createdBy: 'admin' })]);
    expect(list.text).not.toContain(secret);
    expect((await call(h, 'GET', '/v1/stats', undefined, secret)).status).toBe(200);
    expect((await call(h, 'POST', '/v1/subscribers/remove', { match: { mac: '02:00:00:00:00:01' } }, secret)).status).toBe(403);
    expect((await call(h, 'DELETE', '/v1/tokens/grafana')).status).toBe(200);
    expect((await call(h, 'GET', '/v1/stats', undefined, secret)).status).toBe(401);
    const db = readFileSync(h.registry.path);
    const wal = (() => {
      try {
        return readFileSync(`${h.registry.path}-wal`);
      } catch {
        return Buffer.alloc(0);
      }
    })();
    expect(db.includes(secret)).toBe(false);
    expect(wal.includes(secret)).toBe(false);
    const audit = h.registry.auditLog({ limit: 2 }).map((a) => [a.actor, a.role, a.action, a.target]);
    expect(audit).toEqual([
      ['admin', 'admin', 'token.create', 'grafana'],
      ['admin', 'admin', 'token.revoke', 'grafana'],
    ]);
  });

  it('refuses bad names and roles, a taken name, and the node token\'s name', async () => {
    for (const body of [{ name: 'x', role: 'root' }, { name: 'x', role: 'isp:' }, { name: '../x', role: 'reader' }, { name: 'admin', role: 'reader' }, { name: 'x' }]) {
      expect((await call(h, 'POST', '/v1/tokens', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await call(h, 'POST', '/v1/tokens', { name: 'x', role: 'reader' })).status).toBe(201);
    expect((await call(h, 'POST', '/v1/tokens', { name: 'x', role: 'admin' })).status).toBe(409);
    expect((await call(h, 'DELETE', '/v1/tokens/nobody')).status).toBe(404);
  });

  it('a reader gets the config with secret-looking values redacted', async () => {
    const t = h.mint('reader');
    const r = await call(h, 'GET', '/v1/config', undefined, t);
    expect(r.status).toBe(200);
    expect(r.json.config.node).toBe('test');
    expect(redactSecrets({ isps: [{ name: 'a', radius: { server: '10.0.0.1', secret: 's3cret' } }], apiToken: 'x' })).toEqual({
      isps: [{ name: 'a', radius: { server: '10.0.0.1', secret: '(redacted)' } }],
      apiToken: '(redacted)',
    });
  });
});

describe('request limits', () => {
  it('refuses an edit body over the small limit with 413 before reading it, and takes a large import', async () => {
    const before = state(h);
    const big = JSON.stringify({ subscriber: { mac: '02:00:00:00:00:09', isp: 'beta', name: 'x'.repeat(SMALL_BODY) } });
    const r = await call(h, 'POST', '/v1/subscribers', big);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('too_large');
    expect(state(h)).toBe(before);
    const rows = Array.from({ length: 3000 }, (_v, i) => ({ mac: `02:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, isp: 'beta', name: `bulk-${i}-${'n'.repeat(20)}` }));
    const body = JSON.stringify({ subscribers: rows });
    expect(body.length).toBeGreaterThan(SMALL_BODY);
    const ok = await call(h, 'POST', '/v1/subscribers/import', body);
    expect(ok.status).toBe(200);
    expect(ok.json.summary.added).toBe(3000);
  });

  it('caps the issues of an error at 100 and says how many were left out', async () => {
    const rows = Array.from({ length: 250 }, () => ({ mac: 'bad', isp: 'beta' }));
    const r = await call(h, 'POST', '/v1/subscribers/import', { subscribers: rows });
    expect(r.status).toBe(400);
    expect(r.json.error.issues).toHaveLength(100);
    expect(r.json.error.issuesOmitted).toBe(150);
  });
});

/** A raw HTTP/1.1 request with a chosen Host header; resolves to the status code. */
function rawStatus(port: number, host: string, path = '/healthz'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${h.token}\r\nConnection: close\r\n\r\n`));
    let t = '';
    s.on('data', (c) => (t += c));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(t)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

describe('the Host check on plain HTTP (DNS rebinding)', () => {
  it('answers IP addresses and localhost, refuses other names with 421', async () => {
    const port = Number(new URL(h.url).port);
    expect(await rawStatus(port, `127.0.0.1:${port}`, '/v1/status')).toBe(200);
    expect(await rawStatus(port, `localhost:${port}`, '/v1/status')).toBe(200);
    expect(await rawStatus(port, `[::1]:${port}`, '/v1/status')).toBe(200);
    expect(await rawStatus(port, `attacker.example:${port}`, '/v1/status')).toBe(421);
    expect(await rawStatus(port, `attacker.example`)).toBe(421);
  });

  it('answers a name the operator allowed', async () => {
    const allow = new Set(['router1.example.net']);
    expect(hostAllowed('router1.example.net:9180', allow)).toBe(true);
    expect(hostAllowed('ROUTER1.example.net', allow)).toBe(true);
    expect(hostAllowed('router2.example.net', allow)).toBe(false);
    expect(hostAllowed(undefined, allow)).toBe(false);
    expect(hostAllowed('10.1.2.3:80', allow)).toBe(true);
  });
});

describe('slow clients', () => {
  it('40 clients that do not read a large answer do not stall /healthz', async () => {
    const rows = Array.from({ length: 20_000 }, (_v, i) => ({ mac: `02:00:01:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, isp: 'beta' }));
    expect((await call(h, 'POST', '/v1/subscribers/import', { subscribers: rows })).status).toBe(200);
    const size = (await call(h, 'GET', '/v1/subscribers')).text.length;
    expect(size).toBeGreaterThan(1_000_000);
    const port = Number(new URL(h.url).port);
    const slow: Socket[] = [];
    const received: number[] = [];
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_v, i) =>
          new Promise<void>((resolve, reject) => {
            const s = connect(port, '127.0.0.1', () => {
              s.write(`GET /v1/subscribers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
              resolve();
            });
            received[i] = 0;
            // read the first bytes, then stop reading: the server's writes back up
            s.once('data', (c) => {
              received[i] = c.length;
              s.pause();
            });
            s.on('error', reject);
            slow.push(s);
          }),
        ),
      );
      // every slow client got its answer started (the server is writing to all of them)
      for (let i = 0; i < 100 && received.some((n) => n === 0); i++) await new Promise((r) => setTimeout(r, 50));
      expect(received.every((n) => n > 0)).toBe(true);
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${h.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        expect(r.status).toBe(200);
        expect((await call(h, 'GET', '/v1/status')).status).toBe(200);
      }
      // and the slow ones are still stuck mid-answer: nothing was dropped to make room
      expect(slow.every((s) => !s.destroyed && s.readableLength + received[slow.indexOf(s)]! < size)).toBe(true);
    } finally {
      for (const s of slow) s.destroy();
    }
  });
});
