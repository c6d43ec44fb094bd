// The registry: the daemon's own store of everything that changes at runtime — subscribers,
// ISP rates set through the API, and the audit log of every change. It is an embedded SQLite
// database (better-sqlite3) in the node's state directory, in WAL mode with synchronous=FULL:
// a transaction that returned has reached the disk, so a change the daemon acknowledged
// survives kill -9 and a power cut. One daemon writes it (control/registry/lock.ts); other
// processes (the CLI's backup) may read it at the same time, which WAL allows.
//
// Subscribers are kept as the documents the router file would hold ({name, isp, match,
// deliver}), one row each, in insertion order; the daemon validates them with the same schema
// as the file, so the registry never holds what the file could not.
import Database from 'better-sqlite3';
import { mkdirSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { USAGE_MIGRATION } from './usage.js';

/** Where a node's registry lives in a state directory. */
export function registryPath(stateDir: string, node: string): string {
  return join(stateDir, node, 'registry.sqlite');
}

/** Who made a change, as the audit log records it. */
export interface Actor {
  /** the token's name ('admin' for the node's API token), or 'daemon' for the daemon itself */
  name: string;
  role: string;
  /** the API request's id, when the change came through the API */
  request?: string;
  /** where the request came from (address or 'unix') */
  source?: string;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string;
  detail: unknown;
  request: string | null;
  source: string | null;
}

export interface AuditInput {
  actor: Actor;
  action: string;
  target: string;
  detail?: unknown;
}

/** A change to the stored subscribers: rows to delete by name, documents to write (insert or
 * replace by name, keeping the row's place). Deletes are made first. */
export interface SubscriberWrite {
  remove: string[];
  put: Array<Record<string, unknown>>;
}

export type RateOverride = { rate: string | number; burst?: string | number } | null;

export type RegistryErrorKind = 'corrupt' | 'full' | 'readonly' | 'io' | 'version';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The schema, one step per version; a newer registry than this code knows is refused. */
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE subscriber (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
   CREATE TABLE isp_rate (isp TEXT NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('up','down')),
     limit_json TEXT, PRIMARY KEY (isp, direction));
   CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
     action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT, request TEXT, source TEXT);`,
  // API tokens with roles (control/registry/tokens.ts: only the secret's hash is kept), the
  // event log and the webhooks with their outbox (control/registry/events.ts).
  `CREATE TABLE api_token (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, created_by TEXT NOT NULL, revoked TEXT, last_used TEXT);
   CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, at TEXT NOT NULL,
     type TEXT NOT NULL, isp TEXT, subject TEXT NOT NULL, data TEXT);
   CREATE INDEX event_isp ON event (isp, id);
   CREATE TABLE webhook (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, url TEXT NOT NULL, secret TEXT NOT NULL,
     types TEXT, isp TEXT, created TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, last_error TEXT);
   CREATE TABLE webhook_outbox (webhook INTEGER NOT NULL REFERENCES webhook(id) ON DELETE CASCADE,
     event INTEGER NOT NULL REFERENCES event(id), attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
     last_error TEXT, PRIMARY KEY (webhook, event)) WITHOUT ROWID;`,
  USAGE_MIGRATION,
  // subscriber sessions, their RADIUS accounting outbox and the operator's ledger (./sessions.ts)
  `CREATE TABLE subscriber_session (id TEXT PRIMARY KEY, subscriber TEXT NOT NULL, isp TEXT NOT NULL, username TEXT,
     state TEXT NOT NULL CHECK (state IN ('open','closing','closed')), opened_at INTEGER NOT NULL, closed_at INTEGER,
     cause TEXT, expires_at INTEGER, interim INTEGER NOT NULL, next_interim INTEGER, reply TEXT NOT NULL,
     base TEXT NOT NULL, final TEXT, seq INTEGER NOT NULL DEFAULT 0);
   CREATE UNIQUE INDEX subscriber_session_live ON subscriber_session (subscriber) WHERE state <> 'closed';
   CREATE INDEX subscriber_session_due ON subscriber_session (next_interim) WHERE state = 'open';
   CREATE INDEX subscriber_session_expiry ON subscriber_session (expires_at) WHERE state = 'open';
   CREATE TABLE radius_outbox (id INTEGER PRIMARY KEY, session TEXT NOT NULL, seq INTEGER NOT NULL, isp TEXT NOT NULL,
     status INTEGER NOT NULL, event_at INTEGER NOT NULL, attrs TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
     next_try INTEGER NOT NULL, sent_at INTEGER, UNIQUE (session, seq));
   CREATE INDEX radius_outbox_pending ON radius_outbox (isp, id) WHERE sent_at IS NULL;
   CREATE TABLE session_ledger (id INTEGER PRIMARY KEY, session TEXT NOT NULL, seq INTEGER NOT NULL, isp TEXT NOT NULL,
     subscriber TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL, session_time INTEGER NOT NULL,
     up_octets TEXT NOT NULL, up_packets TEXT NOT NULL, down_octets TEXT NOT NULL, down_packets TEXT NOT NULL,
     usage TEXT NOT NULL, UNIQUE (session, seq));`,
  // the broker (control/registry/broker.ts): providers, CPEs and their keys, enrolment codes,
  // request nonces, brokered sessions, and the usage ledger billing reads
  `CREATE TABLE broker_provider (name TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('isp','asp')), profile TEXT NOT NULL,
     webhook_url TEXT, webhook_secret TEXT, created_at INTEGER NOT NULL, revoked_at INTEGER);
   CREATE TABLE broker_cpe (name TEXT PRIMARY KEY, isp TEXT NOT NULL, subscriber TEXT NOT NULL, public_key TEXT,
     created_at INTEGER NOT NULL, enrolled_at INTEGER, revoked_at INTEGER);
   CREATE TABLE broker_enrolment (code_hash TEXT PRIMARY KEY, cpe TEXT NOT NULL REFERENCES broker_cpe(name),
     expires_at INTEGER NOT NULL, used_at INTEGER);
   CREATE TABLE broker_nonce (cpe TEXT NOT NULL, nonce TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (cpe, nonce)) WITHOUT ROWID;
   CREATE INDEX broker_nonce_at ON broker_nonce (at);
   CREATE TABLE broker_session (id TEXT PRIMARY KEY, cpe TEXT NOT NULL REFERENCES broker_cpe(name),
     provider TEXT NOT NULL REFERENCES broker_provider(name), state TEXT NOT NULL CHECK (state IN ('opening','open','closed')),
     subscriber TEXT NOT NULL, home_isp TEXT NOT NULL, gate_id TEXT, traffic TEXT NOT NULL,
     opened_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, closed_at INTEGER, cause TEXT,
     token_seq INTEGER NOT NULL DEFAULT 0, usage_seq INTEGER NOT NULL DEFAULT 0, usage_mark TEXT, mark_at INTEGER NOT NULL);
   CREATE INDEX broker_session_live ON broker_session (state) WHERE state != 'closed';
   CREATE TABLE broker_usage (id TEXT PRIMARY KEY, cpe TEXT NOT NULL, provider TEXT NOT NULL, session TEXT,
     at INTEGER NOT NULL, period TEXT NOT NULL, seconds INTEGER NOT NULL, usage TEXT NOT NULL);
   CREATE INDEX broker_usage_period ON broker_usage (period, provider);`,
  // the fleet (control/registry/fleet.ts): the intent revision last applied, and reports to send
  `CREATE TABLE fleet_applied (id INTEGER PRIMARY KEY CHECK (id = 1), controller TEXT NOT NULL,
     generation INTEGER NOT NULL, revision INTEGER NOT NULL, digest TEXT NOT NULL, at TEXT NOT NULL);
   CREATE TABLE fleet_outbox (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL,
     at TEXT NOT NULL, sent_at TEXT);
   CREATE INDEX fleet_outbox_unsent ON fleet_outbox (id) WHERE sent_at IS NULL;`,
];
export const REGISTRY_VERSION = MIGRATIONS.length;

/** Turns SQLite's errors into ones that say what an operator can do. */
export function registryError(err: unknown, path: string): Error {
  const code = (err as { code?: string }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err as Error;
  const msg = (err as Error).message;
  if (code === 'SQLITE_FULL') return new RegistryError('full', `the registry's disk is full (${path}): the change was not made; free space and try again`, code);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new RegistryError('corrupt', corruptMessage(path, msg), code);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_IOERR')) {
    return new RegistryError(code.startsWith('SQLITE_READONLY') ? 'readonly' : 'io', `the registry ${path} cannot be written (${code}: ${msg})`, code);
  }
  return new RegistryError('io', `registry ${path}: ${msg} (${code})`, code);
}

function corruptMessage(path: string, detail: string): string {
  return (
    `the registry ${path} is corrupt (${detail}). Nothing was changed. Restore the last backup with ` +
    `\`fecflow registry restore --state-dir DIR --node NODE FILE\`, or move the file aside to start with an empty registry ` +
    `(the subscribers it held would then have to be imported again)`
  );
}

export interface OpenOptions {
  /** open for reading only (backup, inspection); never creates the file */
  readonly?: boolean;
  /** run SQLite's quick_check on open (the daemon does; it costs ~1 s per million subscribers) */
  check?: boolean;
}

export class Registry {
  private readonly stmts: ReturnType<Registry['prepare']>;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {
    this.stmts = this.prepare();
  }

  /** Opens (creating when needed) the registry at path. Throws RegistryError on a corrupt file. */
  static open(path: string, opts: OpenOptions = {}): Registry {
    if (!opts.readonly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    else if (!existsSync(path)) throw new RegistryError('io', `there is no registry at ${path}`);
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
      }
      db.pragma('foreign_keys = ON');
      if (opts.check) {
        const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
        const bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
        if (bad.length) throw new RegistryError('corrupt', corruptMessage(path, bad.slice(0, 3).join('; ')));
      }
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > REGISTRY_VERSION) {
        throw new RegistryError('version', `the registry ${path} was written by a newer fecflow (schema ${version}, this one knows ${REGISTRY_VERSION}); run that version, or restore a backup made by this one`);
      }
      if (version < REGISTRY_VERSION) {
        if (opts.readonly) throw new RegistryError('version', `the registry ${path} has schema ${version}; start the daemon once to upgrade it`);
        const d = db;
        d.transaction(() => {
          for (let v = version; v < REGISTRY_VERSION; v++) d.exec(MIGRATIONS[v]!);
          d.pragma(`user_version = ${REGISTRY_VERSION}`);
          if (version === 0) d.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('created', new Date().toISOString());
        })();
      }
      return new Registry(path, db);
    } catch (err) {
      db?.close();
      throw err instanceof RegistryError ? err : registryError(err, path);
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      delSub: db.prepare('DELETE FROM subscriber WHERE name = ?'),
      putSub: db.prepare('INSERT INTO subscriber (name, doc) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc'),
      countSubs: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM subscriber'),
      allSubs: db.prepare<[], [string]>('SELECT doc FROM subscriber ORDER BY id').raw(true),
      getSub: db.prepare<[string], { doc: string }>('SELECT doc FROM subscriber WHERE name = ?'),
      rates: db.prepare<[], { isp: string; direction: 'up' | 'down'; limit_json: string | null }>('SELECT isp, direction, limit_json FROM isp_rate ORDER BY isp, direction'),
      putRate: db.prepare('INSERT INTO isp_rate (isp, direction, limit_json) VALUES (?, ?, ?) ON CONFLICT(isp, direction) DO UPDATE SET limit_json = excluded.limit_json'),
      delRate: db.prepare('DELETE FROM isp_rate WHERE isp = ? AND direction = ?'),
      audit: db.prepare('INSERT INTO audit (at, actor, role, action, target, detail, request, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      auditPage: db.prepare<[number, number], { id: number; at: string; actor: string; role: string; action: string; target: string; detail: string | null; request: string | null; source: string | null }>(
        'SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?',
      ),
      auditTail: db.prepare<[number], { id: number; at: string; actor: string; role: string; action: string; target: string; detail: string | null; request: string | null; source: string | null }>(
        'SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id',
      ),
    };
  }

  /** Runs fn in one transaction (committed to disk when it returns), with SQLite errors
   * turned into RegistryErrors. */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw registryError(err, this.path);
    }
  }

  /** The database handle, for the registry's feature stores (control/registry/*.ts: sessions,
   * tokens, events, ...), which own their tables (created by a step of MIGRATIONS) and their
   * statements. Write only inside transaction(). */
  get database(): Database.Database {
    return this.db;
  }

  meta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.wrap(() => this.stmts.setMeta.run(key, value));
  }

  subscriberCount(): number {
    return this.stmts.countSubs.get()!.n;
  }

  /** Every stored subscriber document, in the order they were first written. */
  subscribers(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const [doc] of this.stmts.allSubs.iterate() as IterableIterator<[string]>) out.push(JSON.parse(doc) as Record<string, unknown>);
    return out;
  }

  subscriber(name: string): Record<string, unknown> | undefined {
    const r = this.stmts.getSub.get(name);
    return r ? (JSON.parse(r.doc) as Record<string, unknown>) : undefined;
  }

  /** Writes subscriber rows; call inside transaction() together with the audit record. */
  writeSubscribers(w: SubscriberWrite): void {
    for (const name of w.remove) this.stmts.delSub.run(name);
    for (const doc of w.put) this.stmts.putSub.run(String(doc.name), JSON.stringify(doc));
  }

  /** ISP rates set through the API: isp -> direction -> limit (null: no limit). */
  rates(): Map<string, { up?: RateOverride; down?: RateOverride }> {
    const out = new Map<string, { up?: RateOverride; down?: RateOverride }>();
    for (const r of this.stmts.rates.all()) {
      const e = out.get(r.isp) ?? {};
      e[r.direction] = r.limit_json === null ? null : (JSON.parse(r.limit_json) as RateOverride);
      out.set(r.isp, e);
    }
    return out;
  }

  /** Records a rate override (null: no limit), or with `clear` removes it so the file's applies. */
  writeRate(isp: string, direction: 'up' | 'down', limit: RateOverride, clear = false): void {
    if (clear) this.stmts.delRate.run(isp, direction);
    else this.stmts.putRate.run(isp, direction, limit === null ? null : JSON.stringify(limit));
  }

  /** Appends an audit record; call inside the transaction that makes the change. */
  writeAudit(a: AuditInput, at = new Date()): void {
    this.stmts.audit.run(at.toISOString(), a.actor.name, a.actor.role, a.action, a.target, a.detail === undefined ? null : JSON.stringify(a.detail), a.actor.request ?? null, a.actor.source ?? null);
  }

  /** Audit records after id `after` (oldest first), or the last `limit` when after is undefined. */
  auditLog(opts: { after?: number; limit?: number } = {}): AuditRecord[] {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 10_000);
    const rows = opts.after !== undefined ? this.stmts.auditPage.all(opts.after, limit) : this.stmts.auditTail.all(limit);
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : JSON.parse(r.detail) }));
  }

  /** SQLite's online backup to `dest` (a consistent copy while the daemon keeps writing). */
  async backup(dest: string): Promise<{ pages: number }> {
    try {
      const r = await this.db.backup(dest);
      return { pages: r.totalPages };
    } catch (err) {
      throw registryError(err, dest);
    }
  }

  /** Size of the database file in bytes (without the WAL). */
  fileBytes(): number {
    return statSync(this.path).size;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw registryError(err, this.path);
    }
  }
}

/** Checks a file is a sound registry (for restore): opens it read-only and runs integrity_check. */
export function verifyRegistryFile(path: string): { subscribers: number; version: number } {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    const bad = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    if (bad.length) throw new RegistryError('corrupt', `${path} is not a sound registry: ${bad.slice(0, 3).join('; ')}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < 1 || version > REGISTRY_VERSION) throw new RegistryError('version', `${path} is not a registry this fecflow can use (schema ${version})`);
    const n = (db.prepare('SELECT count(*) AS n FROM subscriber').get() as { n: number }).n;
    return { subscribers: n, version };
  } catch (err) {
    throw err instanceof RegistryError ? err : registryError(err, path);
  } finally {
    db?.close();
  }
}
