// The broker's cryptography, on node:crypto only: its own Ed25519 signing key (made at first
// start, kept in a file of mode 0600 in the node's state directory), session tokens as compact
// JWS (RFC 7515/7519, `alg: EdDSA` per RFC 8037) that a provider checks offline with the
// published public key, the signed requests of a CPE (Ed25519 over method, path, timestamp,
// nonce and the body's hash), and the HMAC a provider's webhook checks.
import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

const B64URL = /^[A-Za-z0-9_-]*$/;

/** base64url text to bytes, or undefined when it is not base64url. */
export function fromB64url(s: string): Buffer | undefined {
  if (!B64URL.test(s) || s.length % 4 === 1) return undefined;
  return Buffer.from(s, 'base64url');
}

/** An Ed25519 public key from its 32 raw bytes in base64url (a JWK's `x`), or undefined. */
export function publicKeyFromRaw(x: string): KeyObject | undefined {
  const raw = fromB64url(x);
  if (!raw || raw.length !== 32) return undefined;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** The raw public key (base64url) of an Ed25519 key. */
export function rawPublicKey(k: KeyObject): string {
  const jwk = (k.type === 'private' ? createPublicKey(k) : k).export({ format: 'jwk' }) as { x: string };
  return jwk.x;
}

/** RFC 7638 thumbprint of an OKP public key: the key id (`kid`) tokens name. */
export function thumbprint(x: string): string {
  return b64url(createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest());
}

/** Reads an Ed25519 private key (PKCS#8 PEM) from a file, or makes one there (mode 0600,
 * written atomically) when there is none. */
export function loadOrCreateKey(path: string): KeyObject {
  try {
    const key = createPrivateKey(readFileSync(path, 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} holds a ${key.asymmetricKeyType} key, not Ed25519`);
    chmodSync(path, 0o600);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  renameSync(tmp, path);
  return privateKey;
}

/** The claims of a session token. */
export interface TokenClaims {
  iss: string;
  /** `cpe:<name>` */
  sub: string;
  /** the provider's name */
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  /** this token's id: `<session>.<renewal number>` */
  jti: string;
  /** the brokered session's id */
  sid: string;
  /** what the provider's plan lets the CPE use */
  plan: { up?: string; down?: string; traffic: string[] };
}

export function signToken(key: KeyObject, kid: string, claims: TokenClaims): string {
  const head = b64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid }));
  const body = b64url(JSON.stringify(claims));
  return `${head}.${body}.${b64url(sign(null, Buffer.from(`${head}.${body}`), key))}`;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: 'bad_token' | 'expired_token' };

/** Checks a compact JWS against the broker's public key: form, algorithm, key id, signature,
 * then the time claims (with `skew` seconds of leeway). */
export function verifyToken(pub: KeyObject, kid: string, token: string, nowSec: number, skew = 30): TokenCheck {
  const bad = { ok: false, reason: 'bad_token' } as const;
  if (typeof token !== 'string' || token.length > 4096) return bad;
  const parts = token.split('.');
  if (parts.length !== 3) return bad;
  const [h, b, s] = parts as [string, string, string];
  const hb = fromB64url(h);
  const bb = fromB64url(b);
  const sb = fromB64url(s);
  if (!hb || !bb || !sb || sb.length !== 64) return bad;
  let head: unknown;
  let claims: unknown;
  try {
    head = JSON.parse(hb.toString('utf8'));
    claims = JSON.parse(bb.toString('utf8'));
  } catch {
    return bad;
  }
  const hd = head as Record<string, unknown>;
  if (!hd || typeof hd !== 'object' || hd.alg !== 'EdDSA' || hd.kid !== kid) return bad;
  if (!verify(null, Buffer.from(`${h}.${b}`), pub, sb)) return bad;
  const c = claims as Record<string, unknown>;
  if (!c || typeof c !== 'object') return bad;
  for (const k of ['iss', 'sub', 'aud', 'jti', 'sid'] as const) if (typeof c[k] !== 'string') return bad;
  for (const k of ['iat', 'nbf', 'exp'] as const) if (typeof c[k] !== 'number' || !Number.isSafeInteger(c[k])) return bad;
  if ((c.nbf as number) > nowSec + skew) return bad;
  if ((c.exp as number) <= nowSec) return { ok: false, reason: 'expired_token' };
  return { ok: true, claims: c as unknown as TokenClaims };
}

/** What a CPE signs for a request: a domain tag, the method, the path with its query, the
 * timestamp, the nonce and the SHA-256 of the body. */
export function requestSigningText(method: string, path: string, timestamp: string, nonce: string, body: string): string {
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  return `fecflow-cpe-request-v1\n${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${digest}`;
}

/** The headers of a signed CPE request. */
export function signRequest(key: KeyObject, cpe: string, method: string, path: string, body: string, nowMs: number, nonce: string): Record<string, string> {
  const ts = String(Math.floor(nowMs / 1000));
  const sig = sign(null, Buffer.from(requestSigningText(method, path, ts, nonce, body)), key);
  return { 'x-fecflow-cpe': cpe, 'x-fecflow-timestamp': ts, 'x-fecflow-nonce': nonce, 'x-fecflow-signature': b64url(sig) };
}

/** A webhook's HMAC-SHA256 over `<timestamp>.<body>`, as hex. */
export function webhookHmac(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
