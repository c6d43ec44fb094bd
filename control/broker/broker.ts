// The broker of devices and providers. Providers (the router file's ISPs, or any application
// service provider) are registered by the operator with a profile (plan, tariff, whom to bill,
// an optional webhook); a CPE is registered by the operator, who gets a one-time enrolment code,
// and then enrols itself with that code and the public half of an Ed25519 key it made. The CPE
// asks for a session with a provider by a request signed with that key (timestamp within a
// window, nonce remembered for the window); the broker checks it, asks the provider (its webhook,
// or its profile), lets the line use the provider through the session gate, and hands the CPE a
// token signed with the broker's own Ed25519 key that the provider checks offline. Renewals
// issue a new token and make the old one void; closing, revoking or letting a token expire ends
// the session. Usage is recorded per session as ledger events with ids derived from the session
// and a sequence number, and rated by ./billing.ts.
//
// Order of a change: the registry first (with its audit record), then the gate (which writes the
// maps), then the answer. A session is `opening` while the gate works: a restart that finds one
// takes it back.
import { createHash, randomBytes, createPublicKey, type KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import type { Actor } from '../registry/registry.js';
import { BrokerStore, type CpeRow, type ProviderProfile, type ProviderRow, type SessionRow } from '../registry/broker.js';
import type { Daemon } from '../daemon/daemon.js';
import type { ConfigModel } from '../daemon/model.js';
import { TRAFFIC_TYPES, usageDelta, zeroUsage, type SubscriberUsage } from '../daemon/usage.js';
import { rate, periodOf, usageDocument, type Bill } from './billing.js';
import { b64url, loadOrCreateKey, publicKeyFromRaw, rawPublicKey, requestSigningText, signToken, thumbprint, verifyToken, webhookHmac, type TokenClaims } from './crypto.js';
import { ProvisionGate, type SessionGate } from './gate.js';
import { sign, verify } from 'node:crypto';

export const BROKER_KEY_FILE = 'broker-key.pem';

/** A refusal or failure the API answers with `status` and `code`. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Why a request from a device or a provider was refused; each is counted. */
export const REFUSALS = [
  'malformed_request',
  'unknown_cpe',
  'bad_signature',
  'stale_request',
  'replayed_request',
  'revoked',
  'bad_code',
  'used_code',
  'expired_code',
  'bad_token',
  'expired_token',
  'replayed_token',
  'wrong_provider',
  'unknown_provider',
  'traffic_not_allowed',
  'provider_refused',
  'provider_unreachable',
] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface BrokerOptions {
  daemon: Daemon<unknown>;
  model: ConfigModel;
  log: Logger;
  /** how sessions reach the node (default: provisioning by subscriber moves) */
  gate?: SessionGate;
  /** the broker's private key file (default: broker-key.pem beside the registry) */
  keyPath?: string;
  /** the clock, ms since the epoch */
  now?: () => number;
  /** how long a signed request's timestamp is good for, either way (ms; default 120 s) */
  windowMs?: number;
  /** how often expiries and usage are looked at (ms; default 5 s) */
  tickMs?: number;
  /** how often an open session's usage is recorded (ms; default 60 s) */
  usageIntervalMs?: number;
  /** how long past its token's expiry a session is kept for a late renewal (ms; default 30 s) */
  graceMs?: number;
  /** how long a provider's webhook has to answer (ms; default 5 s) */
  webhookTimeoutMs?: number;
  /** the tokens' `iss` (default `fecflow:<node>`) */
  issuer?: string;
}

export interface NewProvider {
  name: string;
  kind: 'isp' | 'asp';
  profile: ProviderProfile;
  webhook?: { url: string; secret: string };
}

export interface SignedRequest {
  method: string;
  /** path with query, as sent */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SessionView {
  id: string;
  cpe: string;
  provider: string;
  state: string;
  openedAt: string;
  expiresAt: string;
  closedAt: string | null;
  cause: string | null;
  traffic: string[];
  renewals: number;
}

export interface IssuedToken {
  session: SessionView;
  token: string;
  expiresAt: string;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function sessionView(s: SessionRow): SessionView {
  return {
    id: s.id,
    cpe: s.cpe,
    provider: s.provider,
    state: s.state,
    openedAt: iso(s.openedAt)!,
    expiresAt: iso(s.expiresAt)!,
    closedAt: iso(s.closedAt),
    cause: s.cause,
    traffic: s.traffic,
    renewals: Math.max(0, s.tokenSeq - 1),
  };
}

export function providerView(p: ProviderRow) {
  return {
    name: p.name,
    kind: p.kind,
    profile: p.profile,
    webhook: p.webhookUrl ? { url: p.webhookUrl, secret: 'set' } : null,
    createdAt: iso(p.createdAt),
    revokedAt: iso(p.revokedAt),
  };
}

export function cpeView(c: CpeRow) {
  return {
    name: c.name,
    isp: c.isp,
    subscriber: c.subscriber,
    state: c.revokedAt !== null ? 'revoked' : c.publicKey ? 'enrolled' : 'awaiting enrolment',
    publicKey: c.publicKey,
    createdAt: iso(c.createdAt),
    enrolledAt: iso(c.enrolledAt),
    revokedAt: iso(c.revokedAt),
  };
}

/** Enrolment codes: 15 random bytes in Crockford's base32, grouped by four for reading out. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function newCode(): string {
  const bytes = randomBytes(15);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let s = '';
  for (let i = 0; i < 24; i++) s = CROCKFORD[Number((bits >> BigInt(5 * i)) & 31n)] + s;
  return s.match(/.{4}/g)!.join('-');
}
function codeHash(code: string): string {
  const norm = code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return createHash('sha256').update(`fecflow-enrol\n${norm}`).digest('hex');
}

const HEADER_CPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HEADER_TS = /^\d{1,12}$/;
const HEADER_NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const HEADER_SIG = /^[A-Za-z0-9_-]{86}$/;

const LOOPBACK = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/** A webhook URL the broker will call: HTTPS, or plain HTTP only to this host (loopback). */
export function webhookUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (u.username || u.password) return 'credentials in the URL are not allowed (the webhook is signed instead)';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && LOOPBACK.test(u.hostname)) return undefined;
  return 'a webhook is called over HTTPS (plain HTTP only to a loopback address)';
}

export class Broker {
  readonly store: BrokerStore;
  private readonly key: KeyObject;
  private readonly pub: KeyObject;
  readonly kid: string;
  private readonly x: string;
  private readonly gate: SessionGate;
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly graceMs: number;
  private readonly usageIntervalMs: number;
  private readonly issuer: string;
  private readonly refused = new Map<Refusal, number>(REFUSALS.map((r) => [r, 0]));
  private readonly done = { enrolled: 0, opened: 0, renewed: 0, closed: 0, usageEvents: 0 };
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: BrokerOptions) {
    const reg = o.daemon.registry;
    this.store = new BrokerStore(reg);
    this.key = loadOrCreateKey(o.keyPath ?? join(dirname(reg.path), BROKER_KEY_FILE));
    this.pub = createPublicKey(this.key);
    this.x = rawPublicKey(this.pub);
    this.kid = thumbprint(this.x);
    this.gate = o.gate ?? new ProvisionGate(o.daemon);
    this.now = o.now ?? Date.now;
    this.windowMs = o.windowMs ?? 120_000;
    this.graceMs = o.graceMs ?? 30_000;
    this.usageIntervalMs = o.usageIntervalMs ?? 60_000;
    let node = 'node';
    try {
      node = o.model.node(o.daemon.runningRaw);
    } catch {
      // before the daemon started: the registry's directory is named after the node
      node = dirname(reg.path).split('/').pop() ?? 'node';
    }
    this.issuer = o.issuer ?? `fecflow:${node}`;
  }

  private get log(): Logger {
    return this.o.log;
  }

  /** Takes back sessions a stop left half opened, then looks at expiries and usage every tick. */
  async start(): Promise<void> {
    await this.serial(async () => {
      for (const s of this.store.liveSessions()) {
        if (s.state === 'opening') await this.closeLocked(s, 'interrupted', DAEMON);
      }
    });
    const every = this.o.tickMs ?? 5000;
    if (every > 0) {
      this.timer = setInterval(() => void this.tick().catch((err) => this.log.error({ err: String(err) }, 'broker: tick failed')), every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Waits for what the broker is doing (tests, shutdown). */
  async idle(): Promise<void> {
    await this.serial(async () => undefined);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private refuse(reason: Refusal, status: number, message: string): never {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    throw new BrokerError(status, reason, message);
  }

  stats() {
    return { refused: Object.fromEntries(this.refused), ...this.done };
  }

  /** The broker's public key: as a JWK (with its RFC 7638 thumbprint as `kid`) and as PEM. */
  publicKey() {
    return {
      kid: this.kid,
      alg: 'EdDSA',
      issuer: this.issuer,
      jwk: { kty: 'OKP', crv: 'Ed25519', x: this.x, kid: this.kid, alg: 'EdDSA', use: 'sig' },
      pem: this.pub.export({ format: 'pem', type: 'spki' }) as string,
    };
  }

  // ---- providers -------------------------------------------------------------------------

  private ispNames(): Set<string> {
    return new Set(this.o.model.ispNames(this.o.daemon.runningRaw).values());
  }

  addProvider(actor: Actor, p: NewProvider): ProviderRow {
    if (p.kind === 'isp' && !this.ispNames().has(p.name)) {
      throw new BrokerError(404, 'not_found', `the router file has no ISP '${p.name}' (a provider of kind isp is one of its ISPs; any other is kind asp)`);
    }
    if (p.kind === 'asp' && this.ispNames().has(p.name)) {
      throw new BrokerError(409, 'conflict', `'${p.name}' is an ISP of the router file: register it with kind isp`);
    }
    if (p.webhook) {
      const why = webhookUrlProblem(p.webhook.url);
      if (why) throw new BrokerError(400, 'bad_request', `webhook ${p.webhook.url}: ${why}`);
    }
    const row: ProviderRow = { name: p.name, kind: p.kind, profile: p.profile, webhookUrl: p.webhook?.url ?? null, webhookSecret: p.webhook?.secret ?? null, createdAt: this.now(), revokedAt: null };
    const reg = this.o.daemon.registry;
    reg.transaction(() => {
      if (this.store.provider(p.name)) throw new BrokerError(409, 'conflict', `provider '${p.name}' exists (a profile is fixed once registered: revoke it and register a new one)`);
      this.store.addProvider(row);
      reg.writeAudit({ actor, action: 'broker.provider.add', target: p.name, detail: { kind: p.kind, profile: p.profile, webhook: p.webhook?.url ?? null } });
    });
    return row;
  }

  async revokeProvider(actor: Actor, name: string): Promise<{ closed: number }> {
    return this.revoke(actor, 'provider', name, (n) => this.store.provider(n), (n, at) => this.store.revokeProvider(n, at), (s) => s.provider === name);
  }

  /** Revokes a provider or a CPE (audited), then closes its live sessions. */
  private revoke(
    actor: Actor,
    what: 'provider' | 'cpe',
    name: string,
    find: (name: string) => { revokedAt: number | null } | undefined,
    mark: (name: string, at: number) => void,
    owns: (s: SessionRow) => boolean,
  ): Promise<{ closed: number }> {
    const label = what === 'cpe' ? 'CPE' : what;
    return this.serial(async () => {
      const reg = this.o.daemon.registry;
      const row = find(name);
      if (!row) throw new BrokerError(404, 'not_found', `no ${label} '${name}'`);
      if (row.revokedAt !== null) throw new BrokerError(409, 'conflict', `${label} '${name}' is revoked already`);
      reg.transaction(() => {
        mark(name, this.now());
        reg.writeAudit({ actor, action: `broker.${what}.revoke`, target: name });
      });
      let closed = 0;
      for (const s of this.store.liveSessions()) if (owns(s) && (await this.closeLocked(s, `${what} revoked`, actor))) closed++;
      return { closed };
    });
  }

  // ---- CPEs and enrolment -----------------------------------------------------------------

  /** Registers a CPE and issues its one-time enrolment code (only the code's hash is kept). */
  createCpe(actor: Actor, c: { name: string; isp: string; subscriber?: string; ttlSeconds?: number }): { code: string; expiresAt: string; cpe: ReturnType<typeof cpeView> } {
    if (!this.ispNames().has(c.isp)) throw new BrokerError(404, 'not_found', `the router file has no ISP '${c.isp}'`);
    const code = newCode();
    const now = this.now();
    const expiresAt = now + (c.ttlSeconds ?? 86_400) * 1000;
    const reg = this.o.daemon.registry;
    reg.transaction(() => {
      if (this.store.cpe(c.name)) throw new BrokerError(409, 'conflict', `a CPE named '${c.name}' exists (names are not reused, even once revoked)`);
      this.store.addCpe({ name: c.name, isp: c.isp, subscriber: c.subscriber ?? c.name, createdAt: now });
      this.store.addCode(codeHash(code), c.name, expiresAt);
      reg.writeAudit({ actor, action: 'broker.cpe.add', target: c.name, detail: { isp: c.isp, subscriber: c.subscriber ?? c.name, codeExpires: iso(expiresAt) } });
    });
    return { code, expiresAt: iso(expiresAt)!, cpe: cpeView(this.store.cpe(c.name)!) };
  }

  /** A device enrols: the code (one use, not expired) names the CPE; its public key is kept. */
  enrol(source: Actor, code: string, publicKey: string): { cpe: ReturnType<typeof cpeView>; broker: ReturnType<Broker['publicKey']> } {
    if (!publicKeyFromRaw(publicKey)) this.refuse('malformed_request', 400, 'publicKey is not an Ed25519 public key (32 bytes, base64url)');
    const hash = codeHash(code);
    const now = this.now();
    const reg = this.o.daemon.registry;
    const c = this.store.code(hash);
    if (!c) this.refuse('bad_code', 403, 'this enrolment code is not valid');
    if (c.usedAt !== null) this.refuse('used_code', 403, 'this enrolment code was used already: ask the operator for a new one');
    if (c.expiresAt <= now) this.refuse('expired_code', 403, 'this enrolment code has expired: ask the operator for a new one');
    const cpe = this.store.cpe(c.cpe)!;
    if (cpe.revokedAt !== null) this.refuse('revoked', 403, `CPE '${cpe.name}' is revoked`);
    const ok = reg.transaction(() => {
      if (!this.store.useCode(hash, now)) return false;
      this.store.enrolCpe(cpe.name, publicKey, now);
      reg.writeAudit({ actor: { ...source, name: `cpe:${cpe.name}`, role: 'cpe' }, action: 'broker.cpe.enrol', target: cpe.name, detail: { kid: thumbprint(publicKey) } });
      return true;
    });
    if (!ok) this.refuse('used_code', 403, 'this enrolment code was used already: ask the operator for a new one');
    this.done.enrolled++;
    return { cpe: cpeView(this.store.cpe(cpe.name)!), broker: this.publicKey() };
  }

  async revokeCpe(actor: Actor, name: string): Promise<{ closed: number }> {
    return this.revoke(actor, 'cpe', name, (n) => this.store.cpe(n), (n, at) => this.store.revokeCpe(n, at), (s) => s.cpe === name);
  }

  // ---- signed requests ----------------------------------------------------------------------

  /** Checks a CPE's signed request: its key signed it, its time is within the window, its nonce
   * is new (remembered in the registry for the window, so a restart does not forget it), and
   * the CPE is not revoked. Returns the CPE. */
  authenticate(r: SignedRequest): CpeRow {
    const h = (k: string): string | undefined => {
      const v = r.headers[k];
      return typeof v === 'string' ? v : undefined;
    };
    const name = h('x-fecflow-cpe');
    const ts = h('x-fecflow-timestamp');
    const nonce = h('x-fecflow-nonce');
    const sig = h('x-fecflow-signature');
    if (!name || !ts || !nonce || !sig || !HEADER_CPE.test(name) || !HEADER_TS.test(ts) || !HEADER_NONCE.test(nonce) || !HEADER_SIG.test(sig)) {
      this.refuse('malformed_request', 401, 'a device request is signed: x-fecflow-cpe, x-fecflow-timestamp, x-fecflow-nonce (16..64 base64url) and x-fecflow-signature are required');
    }
    const cpe = this.store.cpe(name);
    const key = cpe?.publicKey ? publicKeyFromRaw(cpe.publicKey) : undefined;
    if (!cpe || !key) this.refuse('unknown_cpe', 401, `no enrolled CPE '${name}'`);
    if (!verify(null, Buffer.from(requestSigningText(r.method, r.path, ts, nonce, r.body)), key, Buffer.from(sig, 'base64url'))) {
      this.refuse('bad_signature', 401, 'the request signature does not verify with this CPE\'s key');
    }
    if (cpe.revokedAt !== null) this.refuse('revoked', 403, `CPE '${name}' is revoked`);
    const now = this.now();
    if (Math.abs(now - Number(ts) * 1000) > this.windowMs) {
      this.refuse('stale_request', 401, `the request's timestamp is more than ${this.windowMs / 1000} s from the broker's clock`);
    }
    const fresh = this.o.daemon.registry.transaction(() => this.store.rememberNonce(name, nonce, now));
    if (!fresh) this.refuse('replayed_request', 401, 'this request was seen before (nonce reused)');
    return cpe;
  }

  // ---- sessions -------------------------------------------------------------------------------

  private deviceActor(source: Actor, cpe: string): Actor {
    return { ...source, name: `cpe:${cpe}`, role: 'cpe' };
  }

  /** Asks the provider's webhook whether it accepts the session; without one, its profile
   * decides (a registered, unrevoked provider accepts). */
  private async askProvider(p: ProviderRow, body: Record<string, unknown>): Promise<void> {
    if (!p.webhookUrl || !p.webhookSecret) return;
    const text = JSON.stringify(body);
    const ts = String(Math.floor(this.now() / 1000));
    let res: Response;
    try {
      res = await fetch(p.webhookUrl, {
        method: 'POST',
        redirect: 'error',
        signal: AbortSignal.timeout(this.o.webhookTimeoutMs ?? 5000),
        headers: {
          'content-type': 'application/json',
          'x-fecflow-timestamp': ts,
          'x-fecflow-signature': `sha256=${webhookHmac(p.webhookSecret, ts, text)}`,
          'x-fecflow-broker-signature': b64url(sign(null, Buffer.from(`${ts}.${text}`), this.key)),
          'x-fecflow-key-id': this.kid,
        },
        body: text,
      });
    } catch (err) {
      this.refuse('provider_unreachable', 502, `provider '${p.name}' did not answer its webhook: ${(err as Error).message}`);
    }
    const len = Number(res.headers.get('content-length') ?? '0');
    if (len > 65536) this.refuse('provider_unreachable', 502, `provider '${p.name}' answered with an oversized body`);
    const answer = await res.text().catch(() => '');
    let parsed: { accept?: unknown; reason?: unknown } = {};
    try {
      parsed = JSON.parse(answer.slice(0, 65536)) as typeof parsed;
    } catch {
      // not JSON: decided by the status alone below
    }
    if (!res.ok && res.status !== 403) this.refuse('provider_unreachable', 502, `provider '${p.name}' answered its webhook with HTTP ${res.status}`);
    if (res.status === 403 || parsed?.accept !== true) {
      const why = typeof parsed?.reason === 'string' ? `: ${parsed.reason.slice(0, 200)}` : '';
      this.refuse('provider_refused', 403, `provider '${p.name}' refused the session${why}`);
    }
  }

  private usageNow(subscriber: string): SubscriberUsage | undefined {
    return this.o.daemon.usage?.current(subscriber);
  }

  private issue(s: SessionRow, p: ProviderRow, seq: number, nowMs: number): string {
    const iat = Math.floor(nowMs / 1000);
    const claims: TokenClaims = {
      iss: this.issuer,
      sub: `cpe:${s.cpe}`,
      aud: p.name,
      iat,
      nbf: iat,
      exp: iat + p.profile.tokenTtl,
      jti: `${s.id}.${seq}`,
      sid: s.id,
      plan: { ...(p.profile.plan.up ? { up: p.profile.plan.up } : {}), ...(p.profile.plan.down ? { down: p.profile.plan.down } : {}), traffic: s.traffic },
    };
    return signToken(this.key, this.kid, claims);
  }

  /** Opens a session of `cpe` with a provider. */
  async open(source: Actor, cpe: CpeRow, req: { provider: string; traffic?: string[] }): Promise<IssuedToken> {
    const p = this.store.provider(req.provider);
    if (!p || p.revokedAt !== null) this.refuse('unknown_provider', 404, `no provider '${req.provider}'`);
    const traffic = req.traffic ?? p.profile.plan.traffic;
    const denied = traffic.filter((t) => !p.profile.plan.traffic.includes(t));
    if (denied.length) this.refuse('traffic_not_allowed', 403, `provider '${p.name}''s plan does not allow ${denied.join(', ')}`);
    const id = `bs-${randomBytes(12).toString('base64url')}`;
    // the provider is asked before anything is written: a slow webhook holds up no one else
    await this.askProvider(p, { type: 'session.request', session: id, cpe: cpe.name, provider: p.name, traffic, at: iso(this.now()) });
    return this.serial(async () => {
      const reg = this.o.daemon.registry;
      const actor = this.deviceActor(source, cpe.name);
      const c = this.store.cpe(cpe.name)!;
      if (c.revokedAt !== null) this.refuse('revoked', 403, `CPE '${cpe.name}' is revoked`);
      const prov = this.store.provider(p.name)!;
      if (prov.revokedAt !== null) this.refuse('unknown_provider', 404, `no provider '${p.name}'`);
      if (p.kind === 'isp') {
        const other = this.store.liveSessions().find((s) => s.cpe === c.name && this.store.provider(s.provider)?.kind === 'isp');
        if (other) throw new BrokerError(409, 'conflict', `CPE '${c.name}' has an open session with ISP '${other.provider}' (${other.id}): close it first (a line uses one ISP at a time)`);
      }
      const now = this.now();
      const row = { id, cpe: c.name, provider: p.name, subscriber: c.subscriber, homeIsp: c.isp, traffic, openedAt: now, expiresAt: now + p.profile.tokenTtl * 1000 };
      reg.transaction(() => {
        this.store.addSession(row);
        reg.writeAudit({ actor, action: 'broker.session.request', target: id, detail: { cpe: c.name, provider: p.name, traffic } });
      });
      // an application provider is reached through whatever ISP the line uses: no gate
      let gateId = 'asp';
      try {
        if (p.kind === 'isp') gateId = (await this.gate.open(c.subscriber, p.name, { actor, session: id })).id;
      } catch (err) {
        const msg = (err as Error).message;
        reg.transaction(() => {
          this.store.closeSession(id, this.now(), `gate: ${msg}`.slice(0, 300));
          reg.writeAudit({ actor, action: 'broker.session.fail', target: id, detail: { error: msg } });
        });
        throw new BrokerError(409, 'gate_failed', `the session could not be opened on the node: ${msg}`);
      }
      const mark = this.usageNow(c.subscriber);
      reg.transaction(() => {
        this.store.openSession(id, gateId, 1, row.expiresAt, mark ? usageDocument(mark) : null, now);
        reg.writeAudit({ actor, action: 'broker.session.open', target: id, detail: { cpe: c.name, provider: p.name, gate: gateId, expires: iso(row.expiresAt) } });
        this.o.daemon.events.emit({ type: 'session.opened', isp: p.kind === 'isp' ? p.name : c.isp, subject: id, data: { cpe: c.name, provider: p.name, brokered: true } });
      });
      this.done.opened++;
      const s = this.store.session(id)!;
      return { session: sessionView(s), token: this.issue(s, p, 1, now), expiresAt: iso(s.expiresAt)! };
    });
  }

  /** Checks a token against a session it must be the current token of. */
  private checkToken(s: SessionRow, token: string): void {
    const r = verifyToken(this.pub, this.kid, token, Math.floor(this.now() / 1000));
    if (!r.ok) this.refuse(r.reason, 401, r.reason === 'expired_token' ? 'the token has expired' : 'the token is not one this broker signed');
    const c = r.claims;
    if (c.sid !== s.id || c.sub !== `cpe:${s.cpe}`) this.refuse('bad_token', 401, 'the token belongs to another session');
    if (c.aud !== s.provider) this.refuse('wrong_provider', 401, `the token is for provider '${c.aud}', not '${s.provider}'`);
    if (c.jti !== `${s.id}.${s.tokenSeq}`) this.refuse('replayed_token', 401, 'the token was replaced by a renewal and is void');
  }

  private ownSession(cpe: CpeRow, id: string): SessionRow {
    const s = this.store.session(id);
    if (!s || s.cpe !== cpe.name) throw new BrokerError(404, 'not_found', `no session '${id}' of this device`);
    return s;
  }

  /** Renews a session: the CPE shows its current token and gets a new one (the old is void). */
  async renew(source: Actor, cpe: CpeRow, id: string, token: string): Promise<IssuedToken> {
    return this.serial(async () => {
      const s = this.ownSession(cpe, id);
      if (s.state !== 'open') throw new BrokerError(409, 'closed', `session ${id} is ${s.state}${s.cause ? ` (${s.cause})` : ''}: open a new one`);
      this.checkToken(s, token);
      const p = this.store.provider(s.provider)!;
      const now = this.now();
      const seq = s.tokenSeq + 1;
      const expiresAt = now + p.profile.tokenTtl * 1000;
      const reg = this.o.daemon.registry;
      reg.transaction(() => {
        this.recordSessionUsage(s, now);
        this.store.renewSession(id, seq, expiresAt);
        reg.writeAudit({ actor: this.deviceActor(source, cpe.name), action: 'broker.session.renew', target: id, detail: { token: seq, expires: iso(expiresAt) } });
      });
      this.done.renewed++;
      const after = this.store.session(id)!;
      return { session: sessionView(after), token: this.issue(after, p, seq, now), expiresAt: iso(expiresAt)! };
    });
  }

  /** Closes a session at the CPE's request. */
  async closeByDevice(source: Actor, cpe: CpeRow, id: string): Promise<SessionView> {
    return this.serial(async () => {
      const s = this.ownSession(cpe, id);
      if (s.state === 'closed') return sessionView(s);
      await this.closeLocked(s, 'closed by device', this.deviceActor(source, cpe.name));
      return sessionView(this.store.session(id)!);
    });
  }

  /** Closes a session at the operator's request. */
  async closeByOperator(actor: Actor, id: string): Promise<SessionView> {
    return this.serial(async () => {
      const s = this.store.session(id);
      if (!s) throw new BrokerError(404, 'not_found', `no session '${id}'`);
      if (s.state !== 'closed') await this.closeLocked(s, 'closed by operator', actor);
      return sessionView(this.store.session(id)!);
    });
  }

  /** Records the last usage, marks the session closed (registry first), then ends it on the
   * node through the gate. False if it was closed already. */
  private async closeLocked(s: SessionRow, cause: string, actor: Actor): Promise<boolean> {
    const reg = this.o.daemon.registry;
    const now = this.now();
    const wasOpen = s.state === 'open';
    const closed = reg.transaction(() => {
      if (wasOpen) this.recordSessionUsage(s, now);
      if (!this.store.closeSession(s.id, now, cause)) return false;
      reg.writeAudit({ actor, action: 'broker.session.close', target: s.id, detail: { cpe: s.cpe, provider: s.provider, cause } });
      this.o.daemon.events.emit({ type: 'session.closed', isp: this.store.provider(s.provider)?.kind === 'isp' ? s.provider : s.homeIsp, subject: s.id, data: { cpe: s.cpe, provider: s.provider, cause, brokered: true } });
      return true;
    });
    if (!closed) return false;
    this.done.closed++;
    if (this.store.provider(s.provider)?.kind !== 'isp') return true;
    try {
      await this.gate.close(s.gateId ?? '', cause, { actor, subscriber: s.subscriber, restore: s.homeIsp });
    } catch (err) {
      this.log.error({ session: s.id, err: String((err as Error).message ?? err) }, 'broker: the session is closed but the node could not take it back; the line stays with the provider until moved');
    }
    return true;
  }

  /** Appends a usage event for a session (call inside a transaction): what its line used since
   * the last event, and the session time since then. Its id is the session's id and sequence
   * number, so recording it twice is recording it once. */
  private recordSessionUsage(s: SessionRow, now: number): void {
    const seconds = Math.max(0, Math.floor((now - s.markAt) / 1000));
    const current = this.usageNow(s.subscriber);
    const before = s.usageMark ? parseUsage(s.usageMark) : undefined;
    const delta = current && before ? usageDelta(before, current) : zeroUsage();
    const seq = s.usageSeq + 1;
    this.store.addUsage({ id: `${s.id}#${seq}`, cpe: s.cpe, provider: s.provider, session: s.id, at: now, period: periodOf(now), seconds, usage: usageDocument(delta) });
    this.store.markSession(s.id, seq, current ? usageDocument(current) : s.usageMark, s.markAt + seconds * 1000);
    this.done.usageEvents++;
  }

  /** Closes sessions whose token expired (past the grace), records usage of open ones that is
   * due, and forgets nonces older than the window. */
  async tick(): Promise<void> {
    await this.serial(async () => {
      const now = this.now();
      const reg = this.o.daemon.registry;
      for (const s of this.store.liveSessions()) {
        if (s.state !== 'open') continue;
        if (s.expiresAt + this.graceMs <= now) await this.closeLocked(s, 'expired', DAEMON);
        else if (now - s.markAt >= this.usageIntervalMs) reg.transaction(() => this.recordSessionUsage(s, now));
      }
      reg.transaction(() => this.store.purgeNonces(now - 2 * this.windowMs));
    });
  }

  /** A provider checks a token online (the offline way needs only GET /v1/broker/key). */
  introspect(token: string, provider: string): { active: true; claims: TokenClaims } {
    const r = verifyToken(this.pub, this.kid, token, Math.floor(this.now() / 1000));
    if (!r.ok) this.refuse(r.reason, 401, r.reason === 'expired_token' ? 'the token has expired' : 'the token is not one this broker signed');
    if (r.claims.aud !== provider) this.refuse('wrong_provider', 401, `the token is for another provider, not '${provider}'`);
    const s = this.store.session(r.claims.sid);
    if (!s || s.state !== 'open') this.refuse('bad_token', 401, 'the token\'s session is not open');
    if (r.claims.jti !== `${s.id}.${s.tokenSeq}`) this.refuse('replayed_token', 401, 'the token was replaced by a renewal and is void');
    return { active: true, claims: r.claims };
  }

  /** A device's own sessions with the usage the ledger holds for each. */
  deviceStatus(cpe: CpeRow) {
    return {
      cpe: cpeView(cpe),
      sessions: this.store.sessionsOfCpe(cpe.name).map((s) => ({ ...sessionView(s), usage: this.sessionUsage(s.id) })),
    };
  }

  /** The ledger's totals of one session: seconds, and packets and bytes per direction. */
  sessionUsage(id: string) {
    let seconds = 0;
    const tot = { up: { packets: 0n, bytes: 0n }, down: { packets: 0n, bytes: 0n } };
    const byType: Record<string, { packets: bigint; bytes: bigint }> = {};
    for (const e of this.store.usageOfSession(id)) {
      seconds += e.seconds;
      const u = JSON.parse(e.usage) as Record<'up' | 'down', Record<string, { packets: string; bytes: string }>>;
      for (const d of ['up', 'down'] as const) {
        for (const t of TRAFFIC_TYPES) {
          const c = u[d]?.[t];
          if (!c) continue;
          const k = `${d} ${t}`;
          const b = (byType[k] ??= { packets: 0n, bytes: 0n });
          b.packets += BigInt(c.packets);
          b.bytes += BigInt(c.bytes);
          tot[d].packets += BigInt(c.packets);
          tot[d].bytes += BigInt(c.bytes);
        }
      }
    }
    return { seconds, ...tot, byType, metered: this.o.daemon.usage !== undefined };
  }

  /** Adds usage events to the ledger (ids already there are ignored). */
  addUsage(actor: Actor, events: Array<{ id: string; cpe: string; provider: string; at: number; seconds: number; usage: SubscriberUsage }>): { added: number; duplicates: number } {
    for (const e of events) {
      if (!this.store.provider(e.provider)) throw new BrokerError(404, 'not_found', `event ${e.id}: no provider '${e.provider}'`);
      if (!this.store.cpe(e.cpe)) throw new BrokerError(404, 'not_found', `event ${e.id}: no CPE '${e.cpe}'`);
    }
    const reg = this.o.daemon.registry;
    return reg.transaction(() => {
      let added = 0;
      for (const e of events) {
        if (this.store.addUsage({ id: e.id, cpe: e.cpe, provider: e.provider, session: null, at: e.at, period: periodOf(e.at), seconds: e.seconds, usage: usageDocument(e.usage) })) added++;
      }
      reg.writeAudit({ actor, action: 'broker.usage.add', target: `${events.length} event(s)`, detail: { added, duplicates: events.length - added } });
      return { added, duplicates: events.length - added };
    });
  }

  /** The invoice lines of a period (optionally of one provider). */
  bill(period: string, provider?: string): Bill {
    const profiles = new Map<string, ProviderProfile>();
    for (const p of this.store.providers()) if (provider === undefined || p.name === provider) profiles.set(p.name, p.profile);
    if (provider !== undefined && profiles.size === 0) throw new BrokerError(404, 'not_found', `no provider '${provider}'`);
    return rate(period, this.store.usageOfPeriod(period), profiles);
  }
}

const DAEMON: Actor = { name: 'broker', role: 'system' };

function parseUsage(doc: string): SubscriberUsage {
  const u = JSON.parse(doc) as Record<'up' | 'down', Record<string, { packets: string; bytes: string }>>;
  const out = zeroUsage();
  for (const d of ['up', 'down'] as const) {
    for (const t of TRAFFIC_TYPES) {
      const c = u[d]?.[t];
      if (c) out[d][t] = { packets: BigInt(c.packets), bytes: BigInt(c.bytes) };
    }
  }
  return out;
}
