// The controller's own durable store: the intent of every node it drives, numbered per node,
// what of it reached the bucket (generation and key revision), and the controller's events
// waiting to go onto the stream. An SQLite file (WAL, synchronous=FULL) like a router's
// registry: a change an operator was told about is on disk, so a controller restart loses no
// intent, and a change made while NATS is away is published when it is back.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { registryError } from '../registry/registry.js';
import type { NodeIntent } from './intent.js';

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE node (name TEXT PRIMARY KEY, intent TEXT NOT NULL, generation INTEGER NOT NULL, updated_at TEXT NOT NULL,
     published_generation INTEGER NOT NULL DEFAULT 0, published_revision INTEGER NOT NULL DEFAULT 0, conflict TEXT);
   CREATE TABLE intent_log (id INTEGER PRIMARY KEY, node TEXT NOT NULL, generation INTEGER NOT NULL, at TEXT NOT NULL,
     actor TEXT NOT NULL, digest TEXT NOT NULL, what TEXT NOT NULL);
   CREATE TABLE event (id INTEGER PRIMARY KEY, at TEXT NOT NULL, type TEXT NOT NULL, node TEXT, data TEXT NOT NULL, sent_at TEXT);`,
];

export interface NodeRow {
  name: string;
  intent: NodeIntent;
  generation: number;
  updatedAt: string;
  publishedGeneration: number;
  publishedRevision: number;
  conflict: string | null;
}

export interface ControllerEvent {
  id: number;
  at: string;
  type: string;
  node: string | null;
  data: Record<string, unknown>;
}

interface RawNode {
  name: string;
  intent: string;
  generation: number;
  updated_at: string;
  published_generation: number;
  published_revision: number;
  conflict: string | null;
}

export class ControllerStore {
  private readonly s;
  /** this controller's id, written into every intent it publishes */
  readonly id: string;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {
    this.s = {
      meta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      node: db.prepare<[string], RawNode>('SELECT * FROM node WHERE name = ?'),
      nodes: db.prepare<[], RawNode>('SELECT * FROM node ORDER BY name'),
      put: db.prepare(
        'INSERT INTO node (name, intent, generation, updated_at) VALUES (@name, @intent, @generation, @at) ' +
          'ON CONFLICT(name) DO UPDATE SET intent = excluded.intent, generation = excluded.generation, updated_at = excluded.updated_at',
      ),
      published: db.prepare('UPDATE node SET published_generation = ?, published_revision = ? WHERE name = ? AND published_generation <= ?'),
      revision: db.prepare('UPDATE node SET published_revision = ? WHERE name = ?'),
      conflict: db.prepare('UPDATE node SET conflict = ? WHERE name = ?'),
      log: db.prepare('INSERT INTO intent_log (node, generation, at, actor, digest, what) VALUES (?, ?, ?, ?, ?, ?)'),
      event: db.prepare('INSERT INTO event (at, type, node, data) VALUES (?, ?, ?, ?)'),
      unsent: db.prepare<[number], { id: number; at: string; type: string; node: string | null; data: string }>('SELECT id, at, type, node, data FROM event WHERE sent_at IS NULL ORDER BY id LIMIT ?'),
      events: db.prepare<[number], { id: number; at: string; type: string; node: string | null; data: string }>('SELECT * FROM (SELECT id, at, type, node, data FROM event ORDER BY id DESC LIMIT ?) ORDER BY id'),
      sent: db.prepare('UPDATE event SET sent_at = ? WHERE id = ?'),
    };
    let id = this.s.meta.get('controller_id')?.value;
    if (!id) {
      id = randomUUID();
      this.tx(() => this.s.setMeta.run('controller_id', id!));
    }
    this.id = id;
  }

  static open(path: string): ControllerStore {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) throw new Error(`the controller store ${path} was written by a newer fecflow (schema ${version})`);
      const d = db;
      d.transaction(() => {
        for (let v = version; v < MIGRATIONS.length; v++) d.exec(MIGRATIONS[v]!);
        d.pragma(`user_version = ${MIGRATIONS.length}`);
      })();
      return new ControllerStore(path, db);
    } catch (err) {
      db?.close();
      throw registryError(err, path);
    }
  }

  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw registryError(err, this.path);
    }
  }

  node(name: string): NodeRow | undefined {
    const r = this.s.node.get(name);
    return r ? toRow(r) : undefined;
  }

  nodes(): NodeRow[] {
    return this.s.nodes.all().map(toRow);
  }

  /** Records a node's new intent under the next generation (at least `atLeast`); returns it. */
  setIntent(name: string, intent: NodeIntent, who: { actor: string; what: string; digest: string; atLeast?: number }): number {
    return this.tx(() => {
      const cur = this.s.node.get(name);
      const generation = Math.max((cur?.generation ?? 0) + 1, who.atLeast ?? 0);
      const at = new Date().toISOString();
      this.s.put.run({ name, intent: JSON.stringify(intent), generation, at });
      this.s.log.run(name, generation, at, who.actor, who.digest, who.what);
      return generation;
    });
  }

  /** The bucket holds `generation` of the node's intent at key revision `revision`. */
  markPublished(name: string, generation: number, revision: number): void {
    this.tx(() => this.s.published.run(generation, revision, name, generation));
  }

  /** The key's revision this controller last wrote or adopted (the next compare-and-set's). */
  setRevision(name: string, revision: number): void {
    this.tx(() => this.s.revision.run(revision, name));
  }

  setConflict(name: string, conflict: string | null): void {
    this.tx(() => this.s.conflict.run(conflict, name));
  }

  /** Records an event for the stream (in the caller's transaction, or one of its own). */
  event(type: string, node: string | null, data: Record<string, unknown>): void {
    const run = () => this.s.event.run(new Date().toISOString(), type, node, JSON.stringify(data));
    if (this.db.inTransaction) run();
    else this.tx(run);
  }

  unsentEvents(limit = 100): ControllerEvent[] {
    return this.s.unsent.all(limit).map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  events(limit = 100): ControllerEvent[] {
    return this.s.events.all(limit).map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  markEventSent(id: number): void {
    this.tx(() => this.s.sent.run(new Date().toISOString(), id));
  }

  meta(key: string): string | undefined {
    return this.s.meta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.tx(() => this.s.setMeta.run(key, value));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toRow(r: RawNode): NodeRow {
  return {
    name: r.name,
    intent: JSON.parse(r.intent) as NodeIntent,
    generation: r.generation,
    updatedAt: r.updated_at,
    publishedGeneration: r.published_generation,
    publishedRevision: r.published_revision,
    conflict: r.conflict,
  };
}
