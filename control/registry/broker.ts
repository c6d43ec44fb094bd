// The broker's tables in the registry: providers and their profiles, CPEs and their public keys,
// one-time enrolment codes (only their SHA-256 is kept), the nonces of signed requests within
// the replay window, brokered sessions, and the usage ledger. Reads are plain statements;
// writes are made by the broker inside registry.transaction(), together with the audit record.
import type { Registry } from './registry.js';

export type BillTo = 'cpe' | 'provider';

export interface ProviderProfile {
  /** rates per direction (as the router file writes them, e.g. '100Mbit') and the traffic types
   * a session may use */
  plan: { up?: string; down?: string; traffic: string[] };
  /** prices as decimal strings (at most 6 decimals) in `currency` */
  tariff: { currency: string; perGb: Record<string, string>; perMinute: string; monthly: string };
  /** whose account the invoice lines go to */
  billTo: BillTo;
  /** lifetime of a session token, seconds */
  tokenTtl: number;
}

export interface ProviderRow {
  name: string;
  kind: 'isp' | 'asp';
  profile: ProviderProfile;
  webhookUrl: string | null;
  webhookSecret: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface CpeRow {
  name: string;
  /** the ISP the device's line is provisioned to when no session moves it */
  isp: string;
  /** the node's subscriber (by name) that is this device's line */
  subscriber: string;
  publicKey: string | null;
  createdAt: number;
  enrolledAt: number | null;
  revokedAt: number | null;
}

export type SessionState = 'opening' | 'open' | 'closed';

export interface SessionRow {
  id: string;
  cpe: string;
  provider: string;
  state: SessionState;
  subscriber: string;
  homeIsp: string;
  gateId: string | null;
  traffic: string[];
  openedAt: number;
  expiresAt: number;
  closedAt: number | null;
  cause: string | null;
  tokenSeq: number;
  usageSeq: number;
  /** the meter's cumulative reading (JSON, decimal strings) at the last usage event */
  usageMark: string | null;
  markAt: number;
}

export interface UsageEventRow {
  id: string;
  cpe: string;
  provider: string;
  session: string | null;
  at: number;
  period: string;
  seconds: number;
  /** {up: {type: {packets, bytes}}, down: ...} with decimal strings */
  usage: string;
}

type Raw = Record<string, unknown>;

const providerOf = (r: Raw): ProviderRow => ({
  name: r.name as string,
  kind: r.kind as 'isp' | 'asp',
  profile: JSON.parse(r.profile as string) as ProviderProfile,
  webhookUrl: (r.webhook_url as string | null) ?? null,
  webhookSecret: (r.webhook_secret as string | null) ?? null,
  createdAt: r.created_at as number,
  revokedAt: (r.revoked_at as number | null) ?? null,
});

const cpeOf = (r: Raw): CpeRow => ({
  name: r.name as string,
  isp: r.isp as string,
  subscriber: r.subscriber as string,
  publicKey: (r.public_key as string | null) ?? null,
  createdAt: r.created_at as number,
  enrolledAt: (r.enrolled_at as number | null) ?? null,
  revokedAt: (r.revoked_at as number | null) ?? null,
});

const sessionOf = (r: Raw): SessionRow => ({
  id: r.id as string,
  cpe: r.cpe as string,
  provider: r.provider as string,
  state: r.state as SessionState,
  subscriber: r.subscriber as string,
  homeIsp: r.home_isp as string,
  gateId: (r.gate_id as string | null) ?? null,
  traffic: JSON.parse(r.traffic as string) as string[],
  openedAt: r.opened_at as number,
  expiresAt: r.expires_at as number,
  closedAt: (r.closed_at as number | null) ?? null,
  cause: (r.cause as string | null) ?? null,
  tokenSeq: r.token_seq as number,
  usageSeq: r.usage_seq as number,
  usageMark: (r.usage_mark as string | null) ?? null,
  markAt: r.mark_at as number,
});

export class BrokerStore {
  private readonly s;

  constructor(readonly registry: Registry) {
    const db = registry.database;
    this.s = {
      provider: db.prepare<[string], Raw>('SELECT * FROM broker_provider WHERE name = ?'),
      providers: db.prepare<[], Raw>('SELECT * FROM broker_provider ORDER BY name'),
      addProvider: db.prepare('INSERT INTO broker_provider (name, kind, profile, webhook_url, webhook_secret, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      revokeProvider: db.prepare('UPDATE broker_provider SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      cpe: db.prepare<[string], Raw>('SELECT * FROM broker_cpe WHERE name = ?'),
      cpes: db.prepare<[], Raw>('SELECT * FROM broker_cpe ORDER BY name'),
      addCpe: db.prepare('INSERT INTO broker_cpe (name, isp, subscriber, created_at) VALUES (?, ?, ?, ?)'),
      enrolCpe: db.prepare('UPDATE broker_cpe SET public_key = ?, enrolled_at = ? WHERE name = ?'),
      revokeCpe: db.prepare('UPDATE broker_cpe SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      addCode: db.prepare('INSERT INTO broker_enrolment (code_hash, cpe, expires_at) VALUES (?, ?, ?)'),
      code: db.prepare<[string], { cpe: string; expires_at: number; used_at: number | null }>('SELECT cpe, expires_at, used_at FROM broker_enrolment WHERE code_hash = ?'),
      useCode: db.prepare('UPDATE broker_enrolment SET used_at = ? WHERE code_hash = ? AND used_at IS NULL'),
      dropCodes: db.prepare('UPDATE broker_enrolment SET used_at = ? WHERE cpe = ? AND used_at IS NULL'),
      nonce: db.prepare('INSERT OR IGNORE INTO broker_nonce (cpe, nonce, at) VALUES (?, ?, ?)'),
      purgeNonces: db.prepare('DELETE FROM broker_nonce WHERE at < ?'),
      session: db.prepare<[string], Raw>('SELECT * FROM broker_session WHERE id = ?'),
      live: db.prepare<[], Raw>("SELECT * FROM broker_session WHERE state != 'closed' ORDER BY opened_at, id"),
      sessionsOfCpe: db.prepare<[string], Raw>('SELECT * FROM broker_session WHERE cpe = ? ORDER BY opened_at DESC, id LIMIT 100'),
      recent: db.prepare<[number], Raw>('SELECT * FROM broker_session ORDER BY opened_at DESC, id LIMIT ?'),
      addSession: db.prepare(
        "INSERT INTO broker_session (id, cpe, provider, state, subscriber, home_isp, traffic, opened_at, expires_at, mark_at) VALUES (?, ?, ?, 'opening', ?, ?, ?, ?, ?, ?)",
      ),
      openSession: db.prepare("UPDATE broker_session SET state = 'open', gate_id = ?, token_seq = ?, expires_at = ?, usage_mark = ?, mark_at = ? WHERE id = ?"),
      renewSession: db.prepare('UPDATE broker_session SET token_seq = ?, expires_at = ? WHERE id = ?'),
      markSession: db.prepare('UPDATE broker_session SET usage_seq = ?, usage_mark = ?, mark_at = ? WHERE id = ?'),
      closeSession: db.prepare("UPDATE broker_session SET state = 'closed', closed_at = ?, cause = ? WHERE id = ? AND state != 'closed'"),
      addUsage: db.prepare('INSERT OR IGNORE INTO broker_usage (id, cpe, provider, session, at, period, seconds, usage) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      usageOfPeriod: db.prepare<[string], UsageEventRow>('SELECT * FROM broker_usage WHERE period = ? ORDER BY id'),
      usageOfSession: db.prepare<[string], UsageEventRow>('SELECT * FROM broker_usage WHERE session = ? ORDER BY at, id'),
    };
  }

  provider(name: string): ProviderRow | undefined {
    const r = this.s.provider.get(name);
    return r ? providerOf(r) : undefined;
  }
  providers(): ProviderRow[] {
    return this.s.providers.all().map(providerOf);
  }
  addProvider(p: Omit<ProviderRow, 'revokedAt'>): void {
    this.s.addProvider.run(p.name, p.kind, JSON.stringify(p.profile), p.webhookUrl, p.webhookSecret, p.createdAt);
  }
  revokeProvider(name: string, at: number): boolean {
    return this.s.revokeProvider.run(at, name).changes === 1;
  }

  cpe(name: string): CpeRow | undefined {
    const r = this.s.cpe.get(name);
    return r ? cpeOf(r) : undefined;
  }
  cpes(): CpeRow[] {
    return this.s.cpes.all().map(cpeOf);
  }
  addCpe(c: { name: string; isp: string; subscriber: string; createdAt: number }): void {
    this.s.addCpe.run(c.name, c.isp, c.subscriber, c.createdAt);
  }
  enrolCpe(name: string, publicKey: string, at: number): void {
    this.s.enrolCpe.run(publicKey, at, name);
  }
  revokeCpe(name: string, at: number): boolean {
    const done = this.s.revokeCpe.run(at, name).changes === 1;
    if (done) this.s.dropCodes.run(at, name);
    return done;
  }

  addCode(hash: string, cpe: string, expiresAt: number): void {
    this.s.addCode.run(hash, cpe, expiresAt);
  }
  code(hash: string): { cpe: string; expiresAt: number; usedAt: number | null } | undefined {
    const r = this.s.code.get(hash);
    return r ? { cpe: r.cpe, expiresAt: r.expires_at, usedAt: r.used_at } : undefined;
  }
  /** Marks a code used; false when it was used already (a race lost). */
  useCode(hash: string, at: number): boolean {
    return this.s.useCode.run(at, hash).changes === 1;
  }

  /** Remembers a request nonce; false when this CPE sent it before (a replay). */
  rememberNonce(cpe: string, nonce: string, at: number): boolean {
    return this.s.nonce.run(cpe, nonce, at).changes === 1;
  }
  purgeNonces(before: number): number {
    return this.s.purgeNonces.run(before).changes;
  }

  session(id: string): SessionRow | undefined {
    const r = this.s.session.get(id);
    return r ? sessionOf(r) : undefined;
  }
  /** Sessions not closed (opening or open), oldest first. */
  liveSessions(): SessionRow[] {
    return this.s.live.all().map(sessionOf);
  }
  sessionsOfCpe(cpe: string): SessionRow[] {
    return this.s.sessionsOfCpe.all(cpe).map(sessionOf);
  }
  recentSessions(limit: number): SessionRow[] {
    return this.s.recent.all(limit).map(sessionOf);
  }
  addSession(s: { id: string; cpe: string; provider: string; subscriber: string; homeIsp: string; traffic: string[]; openedAt: number; expiresAt: number }): void {
    this.s.addSession.run(s.id, s.cpe, s.provider, s.subscriber, s.homeIsp, JSON.stringify(s.traffic), s.openedAt, s.expiresAt, s.openedAt);
  }
  openSession(id: string, gateId: string, tokenSeq: number, expiresAt: number, usageMark: string | null, markAt: number): void {
    this.s.openSession.run(gateId, tokenSeq, expiresAt, usageMark, markAt, id);
  }
  renewSession(id: string, tokenSeq: number, expiresAt: number): void {
    this.s.renewSession.run(tokenSeq, expiresAt, id);
  }
  markSession(id: string, usageSeq: number, usageMark: string | null, markAt: number): void {
    this.s.markSession.run(usageSeq, usageMark, markAt, id);
  }
  closeSession(id: string, at: number, cause: string): boolean {
    return this.s.closeSession.run(at, cause, id).changes === 1;
  }

  /** Adds a usage event; false when its id is in the ledger already (a duplicate, ignored). */
  addUsage(e: UsageEventRow): boolean {
    return this.s.addUsage.run(e.id, e.cpe, e.provider, e.session, e.at, e.period, e.seconds, e.usage).changes === 1;
  }
  usageOfPeriod(period: string): UsageEventRow[] {
    return this.s.usageOfPeriod.all(period);
  }
  usageOfSession(session: string): UsageEventRow[] {
    return this.s.usageOfSession.all(session);
  }
}
