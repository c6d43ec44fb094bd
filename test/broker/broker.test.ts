// The broker over the real API, daemon, schema and compiler (fake data plane, in-memory maps):
// provider and CPE registration, one-time enrolment codes, signed device requests and what is
// refused (each counted, none disturbing anything else), sessions that move the line through the
// gate, tokens a provider verifies offline with node:crypto alone, renewal, revocation, the
// provider's webhook, usage recorded from the meter, and a restart that takes back a half-open
// session.
import { createHmac, createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerStore } from '../../control/registry/broker.js';
import { call, startHarness, CONFIG, type Harness } from '../api/fakes.js';
import { Clock, FakeMeter, PROFILE, enrolDevice, newDevice, setup, signed, type Device } from './helpers.js';

let h: Harness;
let clock: Clock;
let meter: FakeMeter;
beforeEach(async () => {
  clock = new Clock(Date.parse('2026-11-10T12:00:00Z'));
  meter = new FakeMeter();
  h = await startHarness(CONFIG, { usage: meter, broker: { now: clock.now, windowMs: 60_000, graceMs: 10_000, usageIntervalMs: 60_000 } });
});
afterEach(async () => {
  await h.close();
});

const stats = async () => (await call(h, 'GET', '/v1/broker/stats')).json;
const ispOf = (sub: string) => h.registry.subscriber(sub)?.isp;
const open = (dev: Device, provider: string, o = {}) => signed(h, dev, clock.ms, 'POST', '/v1/broker/device/sessions', { provider }, o);

/** A provider's offline check, with node:crypto only: the broker's JWK, the JWS signature, the
 * claims. Returns the claims, or a reason. */
function providerVerifies(jwk: Record<string, string>, token: string, audience: string, nowSec: number): Record<string, any> | string {
  const [head, body, sig] = token.split('.');
  const header = JSON.parse(Buffer.from(head!, 'base64url').toString());
  if (header.alg !== 'EdDSA' || header.kid !== jwk.kid) return 'wrong key';
  const key = createPublicKey({ key: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }, format: 'jwk' });
  if (!cryptoVerify(null, Buffer.from(`${head}.${body}`), key, Buffer.from(sig!, 'base64url'))) return 'bad signature';
  const claims = JSON.parse(Buffer.from(body!, 'base64url').toString());
  if (claims.aud !== audience) return 'not for me';
  if (claims.exp <= nowSec) return 'expired';
  return claims;
}

describe('registration', () => {
  it('registers a provider with its profile and audits it; the webhook secret is never shown', async () => {
    const r = await call(h, 'POST', '/v1/broker/providers', { name: 'alpha', kind: 'isp', profile: PROFILE, webhook: { url: 'https://alpha.example/fecflow', secret: 's3cret-s3cret-s3cret' } });
    expect(r.status).toBe(201);
    expect(r.json.provider.webhook).toEqual({ url: 'https://alpha.example/fecflow', secret: 'set' });
    const list = await call(h, 'GET', '/v1/broker/providers');
    expect(list.text).not.toContain('s3cret');
    expect(list.json.providers.map((p: any) => p.name)).toEqual(['alpha']);
    const audit = h.registry.auditLog().filter((a) => a.action === 'broker.provider.add');
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]!.detail)).not.toContain('s3cret');
  });

  it('refuses hostile provider bodies and registers nothing', async () => {
    const auditBefore = h.registry.auditLog().length;
    const bad: Array<[unknown, number]> = [
      ['{"name":"alpha","kind":"isp","profile":' + JSON.stringify(PROFILE) + ',"pad":"' + 'x'.repeat(20_000) + '"}', 413],
      [{ name: 'alpha', kind: 'isp', profile: { ...PROFILE, tariff: { ...PROFILE.tariff, monthly: 5 } } }, 400],
      [{ name: 'alpha', kind: 'isp', profile: { ...PROFILE, tariff: { ...PROFILE.tariff, monthly: '-1' } } }, 400],
      [{ name: 'alpha', kind: 'isp', profile: { ...PROFILE, tariff: { ...PROFILE.tariff, perGb: { constructor: '1' } } } }, 400],
      ['{"name":"alpha","kind":"isp","profile":' + JSON.stringify(PROFILE) + ',"__proto__":{"admin":true}}', 400],
      ['{"name":"alpha","kind":"isp","profile":{"__proto__":{"billTo":"provider"},"tariff":{"currency":"EUR"}}}', 400],
      [{ name: 'alpha', kind: 'isp', profile: { ...PROFILE, plan: { traffic: ['carrier_pigeon'] } } }, 400],
      [{ name: '../alpha', kind: 'isp', profile: PROFILE }, 400],
      [{ name: ['alpha'], kind: 'isp', profile: PROFILE }, 400],
      [{ name: 'gamma', kind: 'isp', profile: PROFILE }, 404],
      [{ name: 'alpha', kind: 'asp', profile: PROFILE }, 409],
      [{ name: 'alpha', kind: 'isp', profile: PROFILE, webhook: { url: 'http://alpha.example/hook', secret: 'x'.repeat(20) } }, 400],
      [{ name: 'alpha', kind: 'isp', profile: PROFILE, webhook: { url: 'https://u:p@alpha.example/hook', secret: 'x'.repeat(20) } }, 400],
      ['{"name":', 400],
    ];
    for (const [body, status] of bad) {
      const r = await call(h, 'POST', '/v1/broker/providers', body);
      expect(r.status, JSON.stringify(body).slice(0, 120)).toBe(status);
    }
    expect((await call(h, 'GET', '/v1/broker/providers')).json.providers).toEqual([]);
    expect(h.registry.auditLog().length).toBe(auditBefore);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('operator routes need the API token', async () => {
    for (const [m, p] of [['GET', '/v1/broker/providers'], ['POST', '/v1/broker/providers'], ['POST', '/v1/broker/cpes'], ['GET', '/v1/broker/bill?period=2026-11'], ['POST', '/v1/broker/usage'], ['GET', '/v1/broker/stats']] as const) {
      expect((await call(h, m, p, m === 'POST' ? {} : undefined, null)).status, p).toBe(401);
    }
  });
});

describe('enrolment', () => {
  it('a code enrols once; a used, expired or wrong code is refused and counted', async () => {
    const c = await call(h, 'POST', '/v1/broker/cpes', { name: 'alice', isp: 'alpha', subscriber: 's1', codeTtl: 3600 });
    expect(c.status).toBe(201);
    expect(c.json.code).toMatch(/^([0-9A-Z]{4}-){5}[0-9A-Z]{4}$/);
    expect(JSON.stringify(h.registry.auditLog())).not.toContain(c.json.code);
    const dev = newDevice('alice');
    const wrong = await call(h, 'POST', '/v1/broker/device/enrol', { code: 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF', publicKey: dev.x }, null);
    expect([wrong.status, wrong.json.error.code]).toEqual([403, 'bad_code']);
    // typed in lower case with spaces: the same code
    const ok = await call(h, 'POST', '/v1/broker/device/enrol', { code: c.json.code.toLowerCase().replace(/-/g, ' '), publicKey: dev.x }, null);
    expect(ok.status).toBe(201);
    expect(ok.json.cpe).toMatchObject({ name: 'alice', state: 'enrolled', publicKey: dev.x });
    const again = await call(h, 'POST', '/v1/broker/device/enrol', { code: c.json.code, publicKey: newDevice('mallory').x }, null);
    expect([again.status, again.json.error.code]).toEqual([403, 'used_code']);
    expect(h.broker.store.cpe('alice')!.publicKey).toBe(dev.x);

    const c2 = await call(h, 'POST', '/v1/broker/cpes', { name: 'bob', isp: 'alpha', codeTtl: 60 });
    clock.advance(61);
    const late = await call(h, 'POST', '/v1/broker/device/enrol', { code: c2.json.code, publicKey: newDevice('bob').x }, null);
    expect([late.status, late.json.error.code]).toEqual([403, 'expired_code']);
    expect(h.broker.store.cpe('bob')!.publicKey).toBeNull();
    const s = await stats();
    expect(s.refused).toMatchObject({ bad_code: 1, used_code: 1, expired_code: 1 });
    expect(s.enrolled).toBe(1);
  });

  it('refuses hostile enrolment bodies', async () => {
    for (const body of [{ code: 'x'.repeat(10) }, { code: 12345678, publicKey: newDevice('a').x }, { code: 'AAAA-BBBB', publicKey: 'A'.repeat(43), extra: 1 }, '{"__proto__":{"x":1},"code":"AAAAAAAAAA","publicKey":"' + 'A'.repeat(43) + '"}', 'x'.repeat(17_000)]) {
      const r = await call(h, 'POST', '/v1/broker/device/enrol', body, null);
      expect([400, 413]).toContain(r.status);
    }
  });
});

describe('brokered sessions', () => {
  it('moves the line to the ISP, and gives a token the provider verifies offline with the public key alone', async () => {
    const dev = await setup(h, 'alice', clock.ms);
    expect(ispOf('s1')).toBe('alpha');
    const before = h.snapshot();
    const r = await open(dev, 'beta');
    expect(r.status).toBe(201);
    expect(ispOf('s1')).toBe('beta');
    expect(h.snapshot()).not.toBe(before); // the classifier entry changed
    expect(r.json.session).toMatchObject({ cpe: 'alice', provider: 'beta', state: 'open' });

    const key = (await call(h, 'GET', '/v1/broker/key', undefined, null)).json;
    expect(key.pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const claims = providerVerifies(key.jwk, r.json.token, 'beta', Math.floor(clock.ms / 1000));
    expect(claims).toMatchObject({ sub: 'cpe:alice', aud: 'beta', sid: r.json.session.id, jti: `${r.json.session.id}.1` });
    expect((claims as any).exp - (claims as any).iat).toBe(600);
    // with the PEM too, and a tampered token fails
    const [hd, bd, sg] = r.json.token.split('.');
    expect(cryptoVerify(null, Buffer.from(`${hd}.${bd}`), createPublicKey(key.pem), Buffer.from(sg, 'base64url'))).toBe(true);
    const forgedBody = Buffer.from(JSON.stringify({ ...(claims as object), aud: 'alpha' })).toString('base64url');
    expect(providerVerifies(key.jwk, `${hd}.${forgedBody}.${sg}`, 'alpha', Math.floor(clock.ms / 1000))).toBe('bad signature');
    // for another provider, offline and online
    expect(providerVerifies(key.jwk, r.json.token, 'alpha', Math.floor(clock.ms / 1000))).toBe('not for me');
    const wrong = await call(h, 'POST', '/v1/broker/tokens/verify', { token: r.json.token, provider: 'alpha' }, null);
    expect([wrong.status, wrong.json.error.code]).toEqual([401, 'wrong_provider']);
    const right = await call(h, 'POST', '/v1/broker/tokens/verify', { token: r.json.token, provider: 'beta' }, null);
    expect(right.json.active).toBe(true);

    const closed = await signed(h, dev, clock.ms, 'POST', `/v1/broker/device/sessions/${r.json.session.id}/close`, {});
    expect(closed.json.session).toMatchObject({ state: 'closed', cause: 'closed by device' });
    expect(ispOf('s1')).toBe('alpha');
    const actions = h.registry.auditLog().map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['broker.cpe.add', 'broker.cpe.enrol', 'broker.session.request', 'subscriber.move', 'broker.session.open', 'broker.session.close']));
    expect(h.registry.auditLog().find((a) => a.action === 'broker.session.open')!.actor).toBe('cpe:alice');
  });

  it('refuses a forged signature, a stale or replayed request and a revoked key, counts each, and disturbs nothing else', async () => {
    const alice = await setup(h, 'alice', clock.ms);
    const bob = await enrolDevice(h, 'bob', 's2');
    const s = await open(alice, 'beta');
    expect(s.status).toBe(201);
    const snapshot = h.snapshot();
    const audit = h.registry.auditLog().length;

    // bob signs as alice with his key; alice's signature over another body
    const forged = await open(alice, 'alpha', { key: bob.key });
    expect([forged.status, forged.json.error.code]).toEqual([401, 'bad_signature']);
    const tampered = await open(alice, 'alpha', { tamper: JSON.stringify({ provider: 'beta', traffic: ['ipv4_tcp'] }) });
    expect(tampered.json.error.code).toBe('bad_signature');
    const forger = newDevice('carol');
    expect((await open(forger, 'alpha')).json.error.code).toBe('unknown_cpe');
    // too old, from the future
    expect((await open(alice, 'alpha', { at: clock.ms - 61_000 })).json.error.code).toBe('stale_request');
    expect((await open(alice, 'alpha', { at: clock.ms + 61_000 })).json.error.code).toBe('stale_request');
    // the same request twice
    const status1 = await signed(h, alice, clock.ms, 'GET', '/v1/broker/device/sessions', undefined, { nonce: 'n'.repeat(24) });
    expect(status1.status).toBe(200);
    const status2 = await signed(h, alice, clock.ms, 'GET', '/v1/broker/device/sessions', undefined, { nonce: 'n'.repeat(24) });
    expect([status2.status, status2.json.error.code]).toEqual([401, 'replayed_request']);
    // no headers at all
    const bare = await call(h, 'POST', '/v1/broker/device/sessions', { provider: 'alpha' }, null);
    expect(bare.json.error.code).toBe('malformed_request');

    expect(h.snapshot()).toBe(snapshot);
    expect(h.registry.auditLog().length).toBe(audit);
    expect(h.broker.store.session(s.json.session.id)!.state).toBe('open');
    expect((await call(h, 'POST', '/v1/broker/tokens/verify', { token: s.json.token, provider: 'beta' }, null)).json.active).toBe(true);

    // a revoked key opens nothing
    expect((await call(h, 'POST', '/v1/broker/cpes/bob/revoke', {})).json).toMatchObject({ ok: true, closed: 0 });
    const revoked = await open(bob, 'alpha');
    expect([revoked.status, revoked.json.error.code]).toEqual([403, 'revoked']);
    expect(h.broker.store.session(s.json.session.id)!.state).toBe('open');
    expect((await stats()).refused).toMatchObject({ bad_signature: 2, unknown_cpe: 1, stale_request: 2, replayed_request: 1, malformed_request: 1, revoked: 1 });
  });

  it('renewal voids the old token; a replayed, expired or misdirected token is refused and counted', async () => {
    const alice = await setup(h, 'alice', clock.ms);
    const s = await open(alice, 'beta');
    const id = s.json.session.id;
    const renew = (token: string) => signed(h, alice, clock.ms, 'POST', `/v1/broker/device/sessions/${id}/renew`, { token });
    clock.advance(300);
    const r1 = await renew(s.json.token);
    expect(r1.status).toBe(200);
    expect(r1.json.session.renewals).toBe(1);
    expect(r1.json.token).not.toBe(s.json.token);
    const replay = await renew(s.json.token);
    expect([replay.status, replay.json.error.code]).toEqual([401, 'replayed_token']);
    // the refusal disturbed nothing: the current token still holds
    expect((await call(h, 'POST', '/v1/broker/tokens/verify', { token: r1.json.token, provider: 'beta' }, null)).json.active).toBe(true);
    expect((await call(h, 'POST', '/v1/broker/tokens/verify', { token: s.json.token, provider: 'beta' }, null)).json.error.code).toBe('replayed_token');

    // a token of another session (bob's, with alpha) presented for alice's session
    const bob = await enrolDevice(h, 'bob', 's2');
    const b = await open(bob, 'alpha');
    expect(b.status).toBe(201);
    expect((await renew(b.json.token)).json.error.code).toBe('bad_token');
    // garbage and alg=none
    expect((await renew('aaaa.bbbb.cccc')).json.error.code).toBe('bad_token');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${r1.json.token.split('.')[1]}.`;
    expect((await renew(none)).json.error.code).toBe('bad_token');

    clock.advance(601);
    const late = await renew(r1.json.token);
    expect([late.status, late.json.error.code]).toEqual([401, 'expired_token']);
    expect((await stats()).refused).toMatchObject({ replayed_token: 2, bad_token: 3, expired_token: 1 });
    // past the grace, the session is closed and the line goes home
    clock.advance(10);
    await h.broker.tick();
    expect(h.broker.store.session(id)).toMatchObject({ state: 'closed', cause: 'expired' });
    expect(ispOf('s1')).toBe('alpha');
    expect(h.broker.store.session(b.json.session.id)!.state).toBe('closed'); // bob's expired too
  });

  it('revoking a device closes its open sessions and puts its line back', async () => {
    const alice = await setup(h, 'alice', clock.ms);
    const s = await open(alice, 'beta');
    expect(ispOf('s1')).toBe('beta');
    const r = await call(h, 'POST', '/v1/broker/cpes/alice/revoke', {});
    expect(r.json).toMatchObject({ ok: true, closed: 1 });
    expect(h.broker.store.session(s.json.session.id)).toMatchObject({ state: 'closed', cause: 'cpe revoked' });
    expect(ispOf('s1')).toBe('alpha');
    expect((await open(alice, 'beta')).json.error.code).toBe('revoked');
    expect((await call(h, 'POST', '/v1/broker/tokens/verify', { token: s.json.token, provider: 'beta' }, null)).json.error.code).toBe('bad_token');
  });

  it('a line holds one ISP session at a time; an ASP session leaves the line where it is', async () => {
    const alice = await setup(h, 'alice', clock.ms);
    expect((await call(h, 'POST', '/v1/broker/providers', { name: 'video', kind: 'asp', profile: { ...PROFILE, plan: { traffic: ['ipv4_udp'] } } })).status).toBe(201);
    expect((await open(alice, 'beta')).status).toBe(201);
    const second = await open(alice, 'alpha');
    expect([second.status, second.json.error.code]).toEqual([409, 'conflict']);
    const asp = await signed(h, alice, clock.ms, 'POST', '/v1/broker/device/sessions', { provider: 'video', traffic: ['ipv4_udp'] });
    expect(asp.status).toBe(201);
    expect(ispOf('s1')).toBe('beta');
    const notAllowed = await signed(h, alice, clock.ms, 'POST', '/v1/broker/device/sessions', { provider: 'video', traffic: ['ipv4_tcp'] });
    expect(notAllowed.json.error.code).toBe('traffic_not_allowed');
    expect((await open(alice, 'nobody')).json.error.code).toBe('unknown_provider');
  });

  it('refuses hostile device bodies after the signature, with 400, and opens nothing', async () => {
    const alice = await setup(h, 'alice', clock.ms);
    const live = h.broker.store.liveSessions().length;
    for (const body of [{ provider: 5 }, { provider: 'beta', traffic: 'ipv4_tcp' }, { provider: 'beta', traffic: ['ipv4_tcp', 'gopher'] }, { provider: 'beta', admin: true }, JSON.parse('{"provider":"beta","__proto__":{"admin":true}}'), []]) {
      const r = await signed(h, alice, clock.ms, 'POST', '/v1/broker/device/sessions', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const huge = await signed(h, alice, clock.ms, 'POST', '/v1/broker/device/sessions', { provider: 'beta', pad: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
    const renewNoToken = await signed(h, alice, clock.ms, 'POST', '/v1/broker/device/sessions/bs-x/renew', { token: 1 });
    expect(renewNoToken.status).toBe(400);
    expect(h.broker.store.liveSessions().length).toBe(live);
    expect(ispOf('s1')).toBe('alpha');
  });

  it('records usage from the meter at renewal and close, with ids of session and sequence', async () => {
    const alice = await setup(h, 'alice', clock.ms);
    meter.add('s1', 'up', 'ipv4_tcp', 10, 1000); // before the session: not billed
    const s = await open(alice, 'beta');
    const id = s.json.session.id;
    meter.add('s1', 'up', 'ipv4_tcp', 5, 3000);
    meter.add('s1', 'down', 'ipv6_udp', 7, 7000);
    clock.advance(120);
    const r = await signed(h, alice, clock.ms, 'POST', `/v1/broker/device/sessions/${id}/renew`, { token: s.json.token });
    expect(r.status).toBe(200);
    meter.add('s1', 'down', 'ipv6_udp', 1, 500);
    clock.advance(61);
    await h.broker.tick(); // an interval reading
    clock.advance(30);
    await signed(h, alice, clock.ms, 'POST', `/v1/broker/device/sessions/${id}/close`, {});
    const events = h.broker.store.usageOfSession(id);
    expect(events.map((e) => [e.id, e.seconds, e.period])).toEqual([
      [`${id}#1`, 120, '2026-11'],
      [`${id}#2`, 61, '2026-11'],
      [`${id}#3`, 30, '2026-11'],
    ]);
    const st = (await signed(h, alice, clock.ms, 'GET', '/v1/broker/device/sessions')).json;
    expect(st.sessions[0].usage).toMatchObject({ seconds: 211, up: { packets: '5', bytes: '3000' }, down: { packets: '8', bytes: '7500' }, metered: true });
  });
});

describe("the provider's webhook", () => {
  let srv: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));
    srv = undefined;
  });

  async function hook(answer: (body: any) => { status: number; body: unknown }): Promise<{ url: string; seen: Array<{ headers: Record<string, any>; text: string }> }> {
    const seen: Array<{ headers: Record<string, any>; text: string }> = [];
    srv = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        seen.push({ headers: req.headers, text });
        const a = answer(JSON.parse(text));
        res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', () => r()));
    return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`, seen };
  }

  it('asks the provider with an HMAC and the broker signature, and follows its answer', async () => {
    const secret = 'hook-secret-0123456789';
    let accept = false;
    const w = await hook((b) => ({ status: 200, body: accept ? { accept: true } : { accept: false, reason: `no contract with ${b.cpe}` } }));
    expect((await call(h, 'POST', '/v1/broker/providers', { name: 'beta', kind: 'isp', profile: PROFILE, webhook: { url: w.url, secret } })).status).toBe(201);
    expect((await call(h, 'POST', '/v1/broker/providers', { name: 'alpha', kind: 'isp', profile: PROFILE })).status).toBe(201);
    const alice = await enrolDevice(h, 'alice', 's1');
    const no = await open(alice, 'beta');
    expect([no.status, no.json.error.code]).toEqual([403, 'provider_refused']);
    expect(no.json.error.message).toMatch(/no contract with alice/);
    expect(ispOf('s1')).toBe('alpha');
    expect(h.broker.store.liveSessions()).toEqual([]);
    accept = true;
    const yes = await open(alice, 'beta');
    expect(yes.status).toBe(201);
    expect(ispOf('s1')).toBe('beta');
    // what the provider checks: the HMAC over timestamp.body, and the broker's Ed25519 signature
    const last = w.seen.at(-1)!;
    const ts = last.headers['x-fecflow-timestamp'];
    expect(last.headers['x-fecflow-signature']).toBe(`sha256=${createHmac('sha256', secret).update(`${ts}.${last.text}`).digest('hex')}`);
    const key = (await call(h, 'GET', '/v1/broker/key', undefined, null)).json;
    expect(cryptoVerify(null, Buffer.from(`${ts}.${last.text}`), createPublicKey(key.pem), Buffer.from(last.headers['x-fecflow-broker-signature'], 'base64url'))).toBe(true);
    expect(JSON.parse(last.text)).toMatchObject({ type: 'session.request', cpe: 'alice', provider: 'beta', session: yes.json.session.id });
    expect((await stats()).refused.provider_refused).toBe(1);
  });

  it('a provider whose webhook fails refuses the session (counted), and nothing changes', async () => {
    const w = await hook(() => ({ status: 500, body: { oops: true } }));
    await call(h, 'POST', '/v1/broker/providers', { name: 'beta', kind: 'isp', profile: PROFILE, webhook: { url: w.url, secret: 'x'.repeat(16) } });
    const alice = await enrolDevice(h, 'alice', 's1');
    const before = h.snapshot();
    const r = await open(alice, 'beta');
    expect([r.status, r.json.error.code]).toEqual([502, 'provider_unreachable']);
    expect(h.snapshot()).toBe(before);
  });
});

describe('restart', () => {
  it('keeps the broker key, and takes back a session a stop left half opened', async () => {
    await setup(h, 'alice', clock.ms);
    const key = (await call(h, 'GET', '/v1/broker/key', undefined, null)).json;
    // what a kill between the session's first record and the gate leaves behind
    const store = new BrokerStore(h.registry);
    h.registry.transaction(() => store.addSession({ id: 'bs-halfopen', cpe: 'alice', provider: 'beta', subscriber: 's1', homeIsp: 'alpha', traffic: ['ipv4_tcp'], openedAt: clock.ms, expiresAt: clock.ms + 600_000 }));
    await h.daemon.editSubscribers('test', { op: 'move', subscriber: { match: { mac: '02:00:00:00:00:01' }, isp: 'beta' } });
    await h.stop();
    h = await startHarness(CONFIG, { dir: h.dir, broker: { now: clock.now } });
    expect((await call(h, 'GET', '/v1/broker/key', undefined, null)).json.jwk).toEqual(key.jwk);
    expect(h.broker.store.session('bs-halfopen')).toMatchObject({ state: 'closed', cause: 'interrupted' });
    expect(ispOf('s1')).toBe('alpha');
    const { statSync } = await import('node:fs');
    expect(statSync(`${h.dir}/state/test/broker-key.pem`).mode & 0o777).toBe(0o600);
  });
});

void generateKeyPairSync;
