// API tokens with roles, kept in the registry: who may call the API and what they may see.
// A token is 32 random bytes (hex) shown once when it is created; the registry keeps only its
// SHA-256, so a copy of the database (a backup) gives no one a working token. A token is
// looked up by that hash: the secret has 256 bits of entropy, so a fast hash is enough and
// the lookup reveals nothing useful through its timing.
//
// Roles: `admin` (everything), `reader` (status, stats, config without secrets), and
// `isp:<name>` (only that ISP's subscribers and events). The node's token file
// (control/daemon/token.ts) stays the bootstrap admin token beside these.
import { createHash, randomBytes } from 'node:crypto';
import type { Registry } from './registry.js';

export type Role = 'admin' | 'reader' | `isp:${string}`;

/** Whoever holds a valid token: its name, role and (for an isp: token) the ISP. */
export interface Principal {
  name: string;
  role: Role;
  /** the ISP an `isp:` token is limited to */
  isp?: string;
}

export interface TokenInfo {
  name: string;
  role: Role;
  created: string;
  createdBy: string;
  revoked: string | null;
  lastUsed: string | null;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly kind: 'invalid' | 'exists' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ISP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** the bootstrap token's name; no stored token may take it */
export const NODE_TOKEN_NAME = 'admin';

/** Checks a role string; returns a message when it is not one. */
export function roleProblem(role: string): string | undefined {
  if (role === 'admin' || role === 'reader') return undefined;
  if (role.startsWith('isp:') && ISP.test(role.slice(4))) return undefined;
  return `role '${role}' is not one of admin, reader, isp:<ISP name>`;
}

export function principalOf(name: string, role: Role): Principal {
  return role.startsWith('isp:') ? { name, role, isp: role.slice(4) } : { name, role };
}

export const hashToken = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

type Row = { name: string; role: string; created: string; created_by: string; revoked: string | null; last_used: string | null };

export class TokenRegistry {
  private readonly stmts;
  /** last-used stamps are written at most once a minute per token, outside any change */
  private readonly touched = new Map<string, number>();

  constructor(private readonly registry: Registry) {
    const db = registry.database;
    this.stmts = {
      byHash: db.prepare<[string], Row>('SELECT name, role, created, created_by, revoked, last_used FROM api_token WHERE hash = ?'),
      byName: db.prepare<[string], Row>('SELECT name, role, created, created_by, revoked, last_used FROM api_token WHERE name = ?'),
      all: db.prepare<[], Row>('SELECT name, role, created, created_by, revoked, last_used FROM api_token ORDER BY id'),
      insert: db.prepare('INSERT INTO api_token (name, role, hash, created, created_by) VALUES (?, ?, ?, ?, ?)'),
      revoke: db.prepare('UPDATE api_token SET revoked = ? WHERE name = ? AND revoked IS NULL'),
      touch: db.prepare('UPDATE api_token SET last_used = ? WHERE name = ?'),
    };
  }

  /** The principal a presented secret stands for, or undefined (unknown or revoked). */
  verify(secret: string): Principal | undefined {
    if (!/^[0-9a-f]{64}$/.test(secret)) return undefined;
    const row = this.stmts.byHash.get(hashToken(secret));
    if (!row || row.revoked !== null) return undefined;
    this.touch(row.name);
    return principalOf(row.name, row.role as Role);
  }

  /** Creates a token; call inside the transaction that audits it. Returns the secret, which is
   * not kept anywhere. */
  create(name: string, role: string, createdBy: string, at = new Date()): { secret: string; info: TokenInfo } {
    if (!NAME.test(name)) throw new TokenError('invalid', `token name '${name}' is not 1..63 letters, digits, dot, dash or underscore`);
    if (name === NODE_TOKEN_NAME) throw new TokenError('invalid', `'${NODE_TOKEN_NAME}' is the node token's name; choose another`);
    const problem = roleProblem(role);
    if (problem) throw new TokenError('invalid', problem);
    if (this.stmts.byName.get(name)) throw new TokenError('exists', `a token named '${name}' exists already (revoked tokens keep their name)`);
    const secret = randomBytes(32).toString('hex');
    this.stmts.insert.run(name, role, hashToken(secret), at.toISOString(), createdBy);
    return { secret, info: toInfo(this.stmts.byName.get(name)!) };
  }

  /** Revokes a token by name; call inside the transaction that audits it. */
  revoke(name: string, at = new Date()): TokenInfo {
    const row = this.stmts.byName.get(name);
    if (!row) throw new TokenError('not_found', `no token named '${name}'`);
    this.stmts.revoke.run(at.toISOString(), name);
    return toInfo(this.stmts.byName.get(name)!);
  }

  get(name: string): TokenInfo | undefined {
    const r = this.stmts.byName.get(name);
    return r ? toInfo(r) : undefined;
  }

  list(): TokenInfo[] {
    return this.stmts.all.all().map(toInfo);
  }

  /** Still valid (not revoked)? A long-lived stream checks this as it goes. */
  valid(name: string): boolean {
    const r = this.stmts.byName.get(name);
    return r !== undefined && r.revoked === null;
  }

  private touch(name: string): void {
    const now = Date.now();
    if ((this.touched.get(name) ?? 0) > now - 60_000) return;
    this.touched.set(name, now);
    try {
      this.registry.transaction(() => this.stmts.touch.run(new Date(now).toISOString(), name));
    } catch {
      // a full disk must not lock readers out: the stamp is only informative
    }
  }
}

function toInfo(r: Row): TokenInfo {
  return { name: r.name, role: r.role as Role, created: r.created, createdBy: r.created_by, revoked: r.revoked, lastUsed: r.last_used };
}
