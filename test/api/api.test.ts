// The HTTP API over a real Daemon (real schema, compiler and reconcile diff) with in-memory
// maps and a fake data plane: auth, validation errors, every route, atomic imports, and that a
// refused call leaves the maps, the registry and the router file exactly as they were.
import { readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, startHarness, type Harness } from './fakes.js';
import { REGISTRY_VERSION } from '../../control/registry/registry.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const macKey = (mac: string) => mac.replace(/:/g, '') + '0000';

describe('auth', () => {
  const mutations: Array<[string, string, unknown]> = [
    ['POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:02', isp: 'beta' } }],
    ['POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } }],
    ['POST', '/v1/subscribers/remove', { match: { mac: '02:00:00:00:00:01' } }],
    ['POST', '/v1/subscribers/import', { subscribers: [{ mac: '02:00:00:00:00:05', isp: 'beta' }] }],
    ['POST', '/v1/isps', { isp: { name: 'gamma' } }],
    ['DELETE', '/v1/isps/beta', undefined],
    ['PUT', '/v1/isps/alpha/rate', { up: { rate: '10Mbit' } }],
    ['POST', '/v1/config', { config: 'node: test\n' }],
    ['POST', '/v1/detach', undefined],
    ['POST', '/v1/token/rotate', undefined],
  ];

  it.each(mutations)('%s %s without a token is 401 and changes nothing', async (method, path, body) => {
    const before = h.snapshot();
    const file = readFileSync(h.configPath, 'utf8');
    for (const token of [null, 'wrong', h.token.slice(0, -1) + (h.token.endsWith('0') ? '1' : '0')]) {
      const r = await call(h, method, path, body, token);
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe('unauthorized');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect(h.snapshot()).toBe(before);
    expect(readFileSync(h.configPath, 'utf8')).toBe(file);
    expect(h.dp.detached).toBe(false);
    expect(readFileSync(h.tokens.path, 'utf8').trim()).toBe(h.token);
  });

  it('reads need no token', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/v1/status', '/v1/isps', '/v1/subscribers', '/v1/fecs', '/v1/labels', '/v1/stats', '/v1/config']) {
      expect((await call(h, 'GET', p, undefined, null)).status, p).toBe(200);
    }
  });

  it('keeps the token file at mode 0600 and rotation invalidates the old token', async () => {
    expect(statSync(h.tokens.path).mode & 0o777).toBe(0o600);
    const r = await call(h, 'POST', '/v1/token/rotate');
    expect(r.status).toBe(200);
    expect(r.json.token).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.token).not.toBe(h.token);
    expect(readFileSync(h.tokens.path, 'utf8').trim()).toBe(r.json.token);
    expect((await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } })).status).toBe(401);
    expect((await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } }, r.json.token)).status).toBe(200);
  });
});

describe('validation', () => {
  it('answers 400 with path and message for a malformed subscriber', async () => {
    const before = h.snapshot();
    const r = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: 'nope', isp: 'beta' } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('bad_request');
    expect(r.json.error.issues).toContainEqual({ path: 'subscriber.mac', message: 'expected a MAC address like aa:bb:cc:dd:ee:ff' });
    expect(h.snapshot()).toBe(before);
  });

  it('answers 400 when a match names two keys, or unknown fields', async () => {
    const r = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:02', prefix: '10.0.0.0/24', isp: 'beta' } });
    expect(r.status).toBe(400);
    expect(r.json.error.issues[0].message).toBe('give exactly one of mac, vlan, prefix');
    const r2 = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:02', isp: 'beta' }, extra: 1 });
    expect(r2.status).toBe(400);
    expect(r2.json.error.issues[0].message).toMatch(/Unrecognized key/);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const r = await call(h, 'POST', '/v1/subscribers', '{not json');
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe('the request body is not valid JSON');
  });

  it('answers 400 with the config schema issues when the edit makes the config invalid, and records nothing', async () => {
    const before = h.snapshot();
    const audit = h.registry.auditLog().length;
    // the delivery names a port that is not an access interface
    const r = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:07', isp: 'beta', deliver: { interface: 'core' } } });
    expect(r.status).toBe(400);
    expect(r.json.error.issues.length).toBeGreaterThan(0);
    expect(h.snapshot()).toBe(before);
    expect(h.registry.subscriberCount()).toBe(1);
    expect(h.registry.auditLog().length).toBe(audit);
  });

  it('refuses hostile subscriber names and deliveries before they reach the registry', async () => {
    for (const sub of [
      { mac: '02:00:00:00:00:08', isp: 'beta', name: '../../etc' },
      { mac: '02:00:00:00:00:08', isp: 'beta', name: '' },
      { mac: '02:00:00:00:00:08', isp: 'beta', deliver: {} },
      { mac: '02:00:00:00:00:08', isp: 'beta', deliver: { vlan: { outer: 5000 } } },
      { mac: '02:00:00:00:00:08', isp: 'beta', deliver: { addresses: ['not-an-address'] } },
      { mac: '02:00:00:00:00:08', isp: 'beta', deliver: { mac: 'zz' } },
      { mac: '02:00:00:00:00:08', isp: 'beta', deliver: { interface: 'acc', extra: 1 } },
    ]) {
      const r = await call(h, 'POST', '/v1/subscribers', { subscriber: sub });
      expect(r.status, JSON.stringify(sub)).toBe(400);
    }
    expect(h.registry.subscriberCount()).toBe(1);
  });

  it('answers 404 for an unknown ISP and 409 for an existing subscriber', async () => {
    expect((await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'nobody' } })).status).toBe(404);
    expect((await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:42', isp: 'beta' } })).status).toBe(404);
    const r = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } });
    expect(r.status).toBe(409);
    expect(r.json.error.message).toMatch(/use move/);
  });

  it('refuses to change the router file: ISPs and the whole config are the operator\'s (409, file untouched)', async () => {
    const file = readFileSync(h.configPath, 'utf8');
    for (const [method, path, body] of [
      ['POST', '/v1/isps', { isp: { name: 'gamma' } }],
      ['DELETE', '/v1/isps/alpha', undefined],
      ['POST', '/v1/config', { config: file }],
    ] as Array<[string, string, unknown]>) {
      const r = await call(h, method, path, body);
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe('file_owned');
      expect(r.json.error.message).toMatch(/router file/);
    }
    expect(readFileSync(h.configPath, 'utf8')).toBe(file);
  });

  it('answers 404 for unknown routes and 405 for a wrong method', async () => {
    expect((await call(h, 'GET', '/v1/nothing')).status).toBe(404);
    const r = await call(h, 'PATCH', '/v1/isps');
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toContain('GET');
  });
});

describe('changes', () => {
  it('moves a subscriber with one classifier write, records it in the registry, and leaves the router file alone', async () => {
    const sub = h.maps.get('sub_mac')!;
    const file = readFileSync(h.configPath, 'utf8');
    const writesBefore = [...h.maps.values()].reduce((n, m) => n + m.writes, 0);
    const r = await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } });
    expect(r.status).toBe(200);
    expect(r.json.counts.sub_mac).toEqual({ set: 1, delete: 0 });
    expect([...h.maps.values()].reduce((n, m) => n + m.writes, 0) - writesBefore).toBe(1);
    expect(sub.data.get(macKey('02:00:00:00:00:01'))!.readUInt32LE(0)).toBe(2);
    expect(h.registry.subscriber('s1')).toMatchObject({ name: 's1', isp: 'beta' });
    expect(readFileSync(h.configPath, 'utf8')).toBe(file);
    const audit = h.registry.auditLog();
    expect(audit.at(-1)).toMatchObject({ actor: 'admin', role: 'admin', action: 'subscriber.move', target: 'mac 02:00:00:00:00:01' });
    expect(audit.at(-1)!.request).toMatch(/\S/);
  });

  it('dry run reports the plan and changes nothing', async () => {
    const before = h.snapshot();
    const r = await call(h, 'POST', '/v1/subscribers/move?dryRun=true', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dryRun: true, changed: true });
    expect(r.json.plan).toMatch(/sub_mac/);
    expect(h.snapshot()).toBe(before);
    expect(h.registry.subscriber('s1')).toMatchObject({ isp: 'alpha' });
  });

  it('assigns, lists and removes subscribers by MAC, VLAN and prefix', async () => {
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { vlan: { interface: 'acc', outer: 100, inner: 20 }, isp: 'beta' } })).status).toBe(201);
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { prefix: '100.64.1.0/24', isp: 'alpha' } })).status).toBe(201);
    const list = await call(h, 'GET', '/v1/subscribers');
    expect(list.json.subscribers).toEqual([
      { name: 's1', match: { mac: '02:00:00:00:00:01' }, isp: 'alpha' },
      { name: 'vlan-acc-100-20', match: { vlan: { interface: 'acc', outer: 100, inner: 20 } }, isp: 'beta' },
      { name: 'prefix-100.64.1.0-24', match: { prefix: '100.64.1.0/24' }, isp: 'alpha' },
    ]);
    expect(h.maps.get('sub_vlan')!.data.size).toBe(1);
    // a prefix table is its _exact hash (longest prefixes) and its trie (the rest)
    const v4 = () => h.maps.get('sub_v4_exact')!.data.size + h.maps.get('sub_v4')!.data.size;
    expect(v4()).toBe(1);
    expect((await call(h, 'GET', '/v1/subscribers?isp=beta')).json.subscribers).toHaveLength(1);
    expect((await call(h, 'POST', '/v1/subscribers/remove', { match: { prefix: '100.64.1.0/24' } })).status).toBe(200);
    expect(v4()).toBe(0);
    expect(h.registry.subscriber('prefix-100.64.1.0-24')).toBeUndefined();
    expect(h.registry.subscriberCount()).toBe(2);
  });

  it('assigns a subscriber with a name and a return path: the downstream entry is written and listed', async () => {
    const down = () => h.maps.get('down_v4_exact')!.data.size + h.maps.get('down_v4')!.data.size;
    const before = down();
    const r = await call(h, 'POST', '/v1/subscribers', {
      subscriber: { prefix: '100.64.9.0/24', isp: 'beta', name: 'shop-9', deliver: { interface: 'acc', mac: '02:00:00:00:09:09', addresses: ['100.64.9.0/24'] } },
    });
    expect(r.status).toBe(201);
    expect(down()).toBe(before + 1);
    const listed = (await call(h, 'GET', '/v1/subscribers')).json.subscribers.find((x: { name: string }) => x.name === 'shop-9');
    expect(listed).toEqual({ name: 'shop-9', match: { prefix: '100.64.9.0/24' }, isp: 'beta', deliver: { interface: 'acc', mac: '02:00:00:00:09:09', addresses: ['100.64.9.0/24'] } });
    expect(h.registry.subscriber('shop-9')).toMatchObject({ deliver: { interface: 'acc' } });
    // the name is taken now
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:0a', isp: 'beta', name: 'shop-9' } })).status).toBe(409);
  });

  it('imports atomically: one bad row changes nothing', async () => {
    const before = h.snapshot();
    const rows = Array.from({ length: 50 }, (_v, i) => ({ mac: `02:00:00:00:10:${i.toString(16).padStart(2, '0')}`, isp: i === 37 ? 'nobody' : 'beta' }));
    const r = await call(h, 'POST', '/v1/subscribers/import', { subscribers: rows });
    expect(r.status).toBe(400);
    expect(r.json.error.issues).toEqual([{ path: 'subscribers[37].isp', message: "no ISP named 'nobody'" }]);
    expect(h.snapshot()).toBe(before);
    expect(h.registry.subscriberCount()).toBe(1);
  });

  it('refuses an empty import with replace unless allowEmpty says so', async () => {
    const before = h.snapshot();
    const r = await call(h, 'POST', '/v1/subscribers/import', { subscribers: [], replace: true });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/remove every subscriber/);
    expect(h.snapshot()).toBe(before);
    const ok = await call(h, 'POST', '/v1/subscribers/import', { subscribers: [], replace: true, allowEmpty: true });
    expect(ok.status).toBe(200);
    expect(ok.json.summary).toEqual({ added: 0, moved: 0, removed: 1, unchanged: 0 });
    expect(h.registry.subscriberCount()).toBe(0);
  });

  it('imports many subscribers in one reconcile, moving existing ones', async () => {
    const rows = [{ mac: '02:00:00:00:00:01', isp: 'beta' }, ...Array.from({ length: 200 }, (_v, i) => ({ mac: `02:00:00:00:20:${(i % 256).toString(16).padStart(2, '0')}`, isp: 'alpha' })).slice(0, 200)];
    const planned = h.fast.planned;
    const r = await call(h, 'POST', '/v1/subscribers/import', { subscribers: rows });
    expect(r.status).toBe(200);
    expect(r.json.summary).toEqual({ added: 200, moved: 1, removed: 0, unchanged: 0 });
    // one plan of the whole import, applied as one reconcile
    expect(h.fast.planned - planned).toBe(1);
    expect(h.daemon.lastReconcile).toMatchObject({ ok: true, trigger: 'api:subscriber-import 201' });
    expect(h.maps.get('sub_mac')!.data.size).toBe(201);
    expect(h.registry.subscriberCount()).toBe(201);
  });

  it('sets an ISP rate into the registry (the file is untouched), keeps it across a restart, and clears it', async () => {
    const file = readFileSync(h.configPath, 'utf8');
    const rate = await call(h, 'PUT', '/v1/isps/beta/rate', { up: { rate: '80Mbit' } });
    expect(rate.status).toBe(200);
    expect(rate.json.counts.policer.set).toBe(1);
    const pol = () => h.maps.get('policer')!.data.get('04000000'); // index 2 * 2 + up
    expect(pol()!.readBigUInt64LE(8)).toBe(10_000_000n); // 80 Mbit/s = 10 MB/s
    expect(readFileSync(h.configPath, 'utf8')).toBe(file);
    expect(h.registry.rates().get('beta')).toEqual({ up: { rate: '80Mbit' } }); // the burst defaults when applied

    // restart on the same directory: the rate comes back from the registry
    const dir = h.dir;
    await h.stop();
    h = await startHarness(undefined, { dir, configPath: join(dir, 'router.yaml') });
    expect(pol()!.readBigUInt64LE(8)).toBe(10_000_000n);
    expect((await call(h, 'GET', '/v1/isps')).json.isps.find((i: { name: string }) => i.name === 'beta').up).toEqual({ rate: '80Mbit', burst: 100_000 });

    const cleared = await call(h, 'PUT', '/v1/isps/beta/rate', { clear: ['up'] });
    expect(cleared.status).toBe(200);
    expect(h.registry.rates().get('beta')).toBeUndefined();
    expect((await call(h, 'GET', '/v1/isps')).json.isps.find((i: { name: string }) => i.name === 'beta').up).toBeUndefined();
    expect((await call(h, 'PUT', '/v1/isps/beta/rate', { up: { rate: '1Mbit' }, clear: ['up'] })).status).toBe(400);
    // an ISP the router file does not define: 404, and nothing recorded
    const unknown = await call(h, 'PUT', '/v1/isps/nobody/rate', { up: { rate: '1Mbit' } });
    expect(unknown.status).toBe(404);
    expect(h.registry.rates().size).toBe(0);
  });

  it('reloads a replaced router file (even a read-only one) and keeps the registry\'s subscribers', async () => {
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:02', isp: 'beta' } });
    const next = readFileSync(h.configPath, 'utf8').replace('labels: [200]', 'labels: [201]');
    const tmp = `${h.configPath}.new`;
    writeFileSync(tmp, next, { mode: 0o444 });
    renameSync(tmp, h.configPath);
    const ok = await call(h, 'POST', '/v1/reload');
    expect(ok.status).toBe(200);
    expect(ok.json.counts.fec_up.set).toBe(1);
    expect(readFileSync(h.configPath, 'utf8')).toBe(next);
    expect(statSync(h.configPath).mode & 0o777).toBe(0o444);
    expect(h.maps.get('sub_mac')!.data.size).toBe(2);
    expect(h.registry.subscriberCount()).toBe(2);

    const before = h.snapshot();
    writeFileSync(`${tmp}2`, next.replace('labels: [201]', 'labels: [1]'));
    renameSync(`${tmp}2`, h.configPath);
    const bad = await call(h, 'POST', '/v1/reload');
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues[0].path).toMatch(/^isps\[1\]\.upstream\.labels/);
    expect(h.snapshot()).toBe(before);
    expect(h.registry.subscriberCount()).toBe(2);
  });

  it('a map write that fails takes the change back out of the registry and rolls the maps back', async () => {
    const before = h.snapshot();
    h.maps.get('sub_mac')!.failNext = true;
    const r = await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } });
    expect(r.status).toBe(500);
    expect(r.json.error.message).toMatch(/injected write failure/);
    expect(r.json.error.message).toMatch(/taken back out of the registry/);
    expect(h.snapshot()).toBe(before);
    expect(h.registry.subscriber('s1')).toMatchObject({ isp: 'alpha' });
    const s = await call(h, 'GET', '/v1/status');
    expect(s.json.lastReconcile.ok).toBe(false);
    expect((await call(h, 'GET', '/readyz')).status).toBe(503);
  });

  it('serves the audit log to the token holder only, and checks the registry', async () => {
    await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } }, h.token);
    expect((await call(h, 'GET', '/v1/audit', undefined, null)).status).toBe(401);
    const a = await call(h, 'GET', '/v1/audit?limit=1');
    expect(a.status).toBe(200);
    expect(a.json.records).toHaveLength(1);
    expect(a.json.records[0]).toMatchObject({ action: 'subscriber.move', detail: { subscriber: { isp: 'beta' } } });
    const first = (await call(h, 'GET', '/v1/audit?after=0')).json.records;
    expect(first[0].action).toBe('registry.init');
    expect((await call(h, 'GET', '/v1/audit?after=-1')).status).toBe(400);
    expect((await call(h, 'GET', '/v1/audit?limit=abc')).status).toBe(400);
    const c = await call(h, 'POST', '/v1/registry/check');
    expect(c.json).toMatchObject({ ok: true, subscribers: 1, version: REGISTRY_VERSION });
  });
});

describe('reads', () => {
  it('status lists programs, table sizes and the last reconcile', async () => {
    const s = (await call(h, 'GET', '/v1/status')).json;
    expect(s).toMatchObject({ node: 'test', ready: true, detached: false, isps: 2, subscribers: 1 });
    expect(s.programs).toEqual([
      { ifname: 'acc', role: 'access', mode: 'native', progId: 10, tag: 'tagaccess', reused: false },
      { ifname: 'core', role: 'core', mode: 'native', progId: 11, tag: 'tagcore', reused: false },
    ]);
    expect(s.tables).toMatchObject({ sub_mac: 1, fec_up: 2, ilm: 1 });
    expect(s.lastReconcile).toMatchObject({ ok: true, trigger: 'start' });
  });

  it('fec show and labels show name ISPs and interfaces', async () => {
    const f = (await call(h, 'GET', '/v1/fecs')).json;
    expect(f.upstream[0]).toMatchObject({ isp: 'alpha', labels: [100], nexthops: [{ ifname: 'core', dmac: '02:00:00:00:00:99' }] });
    h.dp.labels = [{ label: 1000, packets: 5n, bytes: 500n }];
    const l = (await call(h, 'GET', '/v1/labels')).json;
    expect(l.labels).toEqual([{ label: 1000, action: 'pop-forward', nexthops: [expect.objectContaining({ ifname: 'core' })], packets: '5', bytes: '500' }]);
  });

  it('stats sums per ISP, direction and point', async () => {
    h.dp.isp = [{ isp: 1, direction: 'up', point: 'in', packets: 10n, bytes: 1000n }];
    h.dp.drops = [{ reason: 'no_fec', packets: 3n, bytes: 300n }];
    const s = (await call(h, 'GET', '/v1/stats')).json;
    expect(s.isps[0]).toMatchObject({ isp: 'alpha', up: { in: { packets: '10', bytes: '1000' } } });
    expect(s.drops.find((d: { reason: string }) => d.reason === 'no_fec')).toEqual({ reason: 'no_fec', packets: '3', bytes: '300' });
  });

  it('stats and labels carry 64-bit counters above 2^53 exactly, as decimal strings', async () => {
    const big = 2n ** 64n - 1n; // a JSON number would round it to 18446744073709552000
    h.dp.isp = [{ isp: 1, direction: 'down', point: 'out', packets: 2n ** 53n + 1n, bytes: big }];
    h.dp.drops = [{ reason: 'policed', packets: 2n ** 53n + 3n, bytes: big }];
    h.dp.labels = [{ label: 1000, packets: 2n ** 60n + 7n, bytes: big }];
    const s = (await call(h, 'GET', '/v1/stats')).json;
    expect(s.isps[0].down.out).toEqual({ packets: '9007199254740993', bytes: '18446744073709551615' });
    expect(s.drops.find((d: { reason: string }) => d.reason === 'policed')).toEqual({ reason: 'policed', packets: '9007199254740995', bytes: '18446744073709551615' });
    const l = (await call(h, 'GET', '/v1/labels')).json;
    expect(l.labels[0]).toMatchObject({ packets: '1152921504606846983', bytes: '18446744073709551615' });
  });

  it('readyz is 503 after detach, healthz stays 200', async () => {
    expect((await call(h, 'GET', '/readyz')).status).toBe(200);
    expect((await call(h, 'POST', '/v1/detach')).status).toBe(200);
    expect(h.dp.detached).toBe(true);
    expect((await call(h, 'GET', '/readyz')).status).toBe(503);
    expect((await call(h, 'GET', '/healthz')).status).toBe(200);
    expect((await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } })).status).toBe(503);
  });

  it('serves the same API on the Unix socket', async () => {
    const { request } = await import('node:http');
    const body = await new Promise<string>((resolve, reject) => {
      request({ socketPath: h.socket, path: '/v1/status' }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve(t));
      })
        .on('error', reject)
        .end();
    });
    expect(JSON.parse(body).node).toBe('test');
  });
});
