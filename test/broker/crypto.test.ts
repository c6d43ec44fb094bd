// The broker's token and request signatures, without a daemon: what verifyToken accepts and
// refuses (form, algorithm, key id, signature, time claims), the key file, and that a request's
// signature covers method, path, time, nonce and body.
import { generateKeyPairSync, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateKey, rawPublicKey, requestSigningText, signRequest, signToken, thumbprint, verifyToken, type TokenClaims } from '../../control/broker/crypto.js';

const { privateKey } = generateKeyPairSync('ed25519');
const pub = createPublicKey(privateKey);
const kid = thumbprint(rawPublicKey(pub));
const NOW = 1_800_000_000;
const claims: TokenClaims = { iss: 'fecflow:test', sub: 'cpe:alice', aud: 'alpha', iat: NOW, nbf: NOW, exp: NOW + 600, jti: 's.1', sid: 's', plan: { traffic: ['ipv4_tcp'] } };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('session tokens', () => {
  it('accepts its own token within its life and refuses it after', () => {
    const t = signToken(privateKey, kid, claims);
    expect(verifyToken(pub, kid, t, NOW + 1)).toEqual({ ok: true, claims });
    expect(verifyToken(pub, kid, t, NOW + 600)).toEqual({ ok: false, reason: 'expired_token' });
    // not valid yet (beyond the 30 s of leeway)
    expect(verifyToken(pub, kid, signToken(privateKey, kid, { ...claims, nbf: NOW + 31 }), NOW)).toEqual({ ok: false, reason: 'bad_token' });
  });

  it('uses the RFC 7638 thumbprint of the key as kid', () => {
    // the RFC's own example key (RFC 8037 appendix A.3)
    expect(thumbprint('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo')).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('refuses another key, another kid, alg none or HS256, a bad signature and malformed tokens', () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    const t = signToken(privateKey, kid, claims);
    const [h, b, s] = t.split('.') as [string, string, string];
    const bad = [
      signToken(other, kid, claims),
      signToken(privateKey, 'another-kid', claims),
      `${b64({ alg: 'none', kid })}.${b}.`,
      `${b64({ alg: 'HS256', kid })}.${b}.${s}`,
      `${h}.${b64({ ...claims, aud: 'beta' })}.${s}`,
      `${h}.${b}.${s.slice(0, -2)}AA`,
      `${h}.${b}`,
      `${h}.${b}.${s}.x`,
      `${h}.${b}.${s}=`,
      `${h}.${b64('not an object')}.${Buffer.from(sign(null, Buffer.from(`${h}.${b64('not an object')}`), privateKey)).toString('base64url')}`,
      'x'.repeat(5000),
      '',
    ];
    for (const x of bad) expect(verifyToken(pub, kid, x, NOW).ok, x.slice(0, 60)).toBe(false);
    // claims of the wrong type, properly signed
    const hb = `${h}.${b64({ ...claims, exp: '9999999999' })}`;
    expect(verifyToken(pub, kid, `${hb}.${Buffer.from(sign(null, Buffer.from(hb), privateKey)).toString('base64url')}`, NOW).ok).toBe(false);
  });
});

describe('signed requests', () => {
  it('signs method, path, time, nonce and body: changing any one breaks the signature', () => {
    const headers = signRequest(privateKey, 'alice', 'POST', '/v1/broker/device/sessions', '{"provider":"alpha"}', NOW * 1000, 'nonce-nonce-nonce-1');
    const sig = Buffer.from(headers['x-fecflow-signature']!, 'base64url');
    const ok = (m: string, p: string, ts: string, n: string, body: string) => verify(null, Buffer.from(requestSigningText(m, p, ts, n, body)), pub, sig);
    expect(ok('POST', '/v1/broker/device/sessions', String(NOW), 'nonce-nonce-nonce-1', '{"provider":"alpha"}')).toBe(true);
    expect(ok('GET', '/v1/broker/device/sessions', String(NOW), 'nonce-nonce-nonce-1', '{"provider":"alpha"}')).toBe(false);
    expect(ok('POST', '/v1/broker/device/sessions?x=1', String(NOW), 'nonce-nonce-nonce-1', '{"provider":"alpha"}')).toBe(false);
    expect(ok('POST', '/v1/broker/device/sessions', String(NOW + 1), 'nonce-nonce-nonce-1', '{"provider":"alpha"}')).toBe(false);
    expect(ok('POST', '/v1/broker/device/sessions', String(NOW), 'nonce-nonce-nonce-2', '{"provider":"alpha"}')).toBe(false);
    expect(ok('POST', '/v1/broker/device/sessions', String(NOW), 'nonce-nonce-nonce-1', '{"provider":"beta"}')).toBe(false);
  });
});

describe('the broker key file', () => {
  it('is made once with mode 0600 and read back the same; a key of another type is refused', () => {
    dir = mkdtempSync(join(tmpdir(), 'fecflow-key-'));
    const path = join(dir, 'node', 'broker-key.pem');
    const k1 = loadOrCreateKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(rawPublicKey(loadOrCreateKey(path))).toBe(rawPublicKey(k1));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const other = join(dir, 'rsa.pem');
    writeFileSync(other, rsa.export({ format: 'pem', type: 'pkcs8' }));
    expect(() => loadOrCreateKey(other)).toThrow(/not Ed25519/);
  });
});
