// Who may call a route, and what an ISP's token may see. A route declares its access level; the
// server checks the token's role against it before the body is read, and hands the handler an
// IspScope that answers "may this caller see objects of ISP x?" — an `isp:` token is told 404
// for another ISP's objects, exactly as if they did not exist.
//
//   auth: false           open (only /healthz, /readyz, /metrics and the portal's page and
//                         assets, which carry no data)
//   auth: true            a token; admin only unless `access` says otherwise
//   access: 'admin'       admin
//   access: 'read'        admin and reader (status, stats, config without secrets)
//   access: 'isp'         admin; reader on GET/HEAD; isp:<name> tokens, scoped by the handler
//                         through ctx.scope
import type { Principal } from '../registry/tokens.js';
import { HttpError } from './http.js';
import { PORTAL_PATHS } from '../portal/routes.js';

export type Access = 'admin' | 'read' | 'isp';

/** The routes that may be served without a token. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', ...PORTAL_PATHS]);

export const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';

/** Whether `who` may call a route of this access level with `method`. */
export function permits(access: Access, method: string, who: Principal): boolean {
  if (who.role === 'admin') return true;
  if (access === 'admin') return false;
  if (who.role === 'reader') return access === 'read' || isRead(method);
  return access === 'isp';
}

/** What a caller may see, by ISP. */
export class IspScope {
  constructor(readonly principal: Principal | undefined) {}

  /** The ISP this caller is limited to (undefined: sees every ISP). */
  get isp(): string | undefined {
    return this.principal?.isp;
  }

  /** May the caller see (and, on a changing route, change) objects of ISP `isp`? */
  sees(isp: string | null | undefined): boolean {
    return this.isp === undefined || isp === this.isp;
  }

  /** Throws 404 — the answer for an object that does not exist — when the caller may not see it. */
  require(isp: string | null | undefined, what: string): void {
    if (!this.sees(isp)) throw new HttpError(404, 'not_found', `no ${what}`);
  }

  /** The items the caller may see. */
  filter<T>(items: readonly T[], ispOf: (t: T) => string | null | undefined): T[] {
    const own = this.isp;
    return own === undefined ? items.slice() : items.filter((t) => ispOf(t) === own);
  }

  /** Refuses what only a caller with every ISP in view may do (403: the route exists for them). */
  requireAll(what: string): void {
    if (this.isp !== undefined) throw new HttpError(403, 'forbidden', `${what} needs an admin token`);
  }
}

const SECRET_KEY = /secret|password|passphrase|token|private/i;

/** A copy of a config (or any JSON) with every value under a secret-looking key replaced. */
export function redactSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactSecrets);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = SECRET_KEY.test(k) && x !== null && typeof x !== 'object' ? '(redacted)' : redactSecrets(x);
  return out;
}
