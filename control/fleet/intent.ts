// What the fleet's controller and its routers say to each other over NATS JetStream, and the
// checks each side makes on what it reads: nothing here imports NATS, so both the controller's
// store and the daemon can use it without loading the client.
//
// The intent of a node is the state the registry owns on that router — every subscriber and
// every ISP rate override — never the router file, which stays the router operator's. It is one
// JSON document under the node's key in a key-value bucket; the controller numbers each node's
// intent (`generation`, kept in its own store, so it keeps counting when the bucket is lost and
// refilled), and a router applies a generation once, in order.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { rateLimitSchema, subscriberSchema } from '../api/schemas.js';
import type { RateLimit, Subscriber } from '../daemon/model.js';

/** The key-value bucket of intents, one key per node. */
export const INTENT_BUCKET = 'fecflow_intent';
/** The stream routers report on (status, events) and the controller raises its events on. */
export const FLEET_STREAM = 'FECFLOW_FLEET';
export const FLEET_SUBJECTS = 'fecflow.fleet.>';
export const statusSubject = (node: string): string => `fecflow.fleet.status.${node}`;
export const eventSubject = (node: string): string => `fecflow.fleet.event.${node}`;
export const CONTROLLER_SUBJECT = 'fecflow.fleet.controller';

/** The largest intent a router reads (the bucket refuses larger values as well); NATS's
 * default max_payload is 1 MiB, about 8,000 subscribers. */
export const MAX_INTENT_BYTES = 1024 * 1024;

/** A node name as the router file allows it (it is also the key). */
export const nodeName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a node name is 1..64 of a-z 0-9 - _, starting with a letter or digit');

const ispName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'an ISP name is 1..63 letters, digits, dot, dash or underscore');

export const ratesSchema = z
  .record(ispName, z.object({ up: rateLimitSchema.nullable().optional(), down: rateLimitSchema.nullable().optional() }).strict())
  .refine((r) => Object.keys(r).length <= 4096, 'at most 4096 ISPs');

/** What an operator gives the controller for a node. */
export const nodeIntentSchema = z
  .object({
    subscribers: z.array(subscriberSchema).max(100_000),
    rates: ratesSchema.default({}),
  })
  .strict();

export type Rates = Record<string, { up?: RateLimit | null; down?: RateLimit | null }>;

export interface NodeIntent {
  subscribers: Subscriber[];
  rates: Rates;
}

/** The document under a node's key. */
export const intentDocSchema = z
  .object({
    kind: z.literal('fecflow.intent'),
    version: z.literal(1),
    node: nodeName,
    controller: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a controller id'),
    generation: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    at: z.string().max(40),
    subscribers: nodeIntentSchema.shape.subscribers,
    rates: ratesSchema,
  })
  .strict();

export interface IntentDoc extends NodeIntent {
  kind: 'fecflow.intent';
  version: 1;
  node: string;
  controller: string;
  generation: number;
  at: string;
}

/** A stable digest of an intent's content (subscribers and rates), whoever numbered it. */
export function intentDigest(i: NodeIntent): string {
  return createHash('sha256').update(canonical({ subscribers: i.subscribers, rates: i.rates })).digest('hex');
}

/** JSON with object keys sorted, so equal content has equal text. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** Subscribers as the API's import takes them (flat: mac|vlan|prefix, isp, name, deliver). */
export function flatSubscriber(s: Subscriber): Record<string, unknown> {
  return { ...s.match, isp: s.isp, ...(s.name !== undefined ? { name: s.name } : {}), ...(s.deliver !== undefined ? { deliver: s.deliver } : {}) };
}

/** Why a router refused an entry of its key (each is counted). */
export type RefusalReason = 'too_large' | 'not_json' | 'bad_schema' | 'wrong_node' | 'backwards' | 'invalid_config';

export class IntentRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a node's intent from the bytes of its key: the size first, then JSON, the schema, and
 * that it is this node's. Throws IntentRefused saying which.
 */
export function parseIntent(bytes: Uint8Array, node: string): IntentDoc {
  if (bytes.length > MAX_INTENT_BYTES) throw new IntentRefused('too_large', `the intent is ${bytes.length} bytes, over the ${MAX_INTENT_BYTES} a router reads`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (err) {
    throw new IntentRefused('not_json', `the intent is not JSON: ${(err as Error).message}`);
  }
  const r = intentDocSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
    throw new IntentRefused('bad_schema', `the intent does not fit its schema (${first.join('; ')})`);
  }
  if (r.data.node !== node) throw new IntentRefused('wrong_node', `the intent is for node '${r.data.node}', not this node '${node}'`);
  return r.data as IntentDoc;
}

/** Status of one router as it reports it on the stream. */
export interface RouterStatus {
  kind: 'fecflow.status';
  version: 1;
  node: string;
  at: string;
  applied: { controller: string; generation: number; revision: number } | null;
  /** the last intent it tried: applied, or refused/failed and why */
  last: { generation?: number; revision: number; ok: boolean; error?: string; reason?: string } | null;
  connected: boolean;
  refused: Partial<Record<RefusalReason, number>>;
  counters: RouterCounters | null;
}

export interface PointCount {
  packets: string;
  bytes: string;
}

/** A router's counters, as /v1/stats has them: per ISP (by name) and direction, per point. */
export interface RouterCounters {
  at: number;
  isps: Array<{ isp: string; up: Record<'in' | 'out' | 'policed' | 'transit', PointCount>; down: Record<'in' | 'out' | 'policed' | 'transit', PointCount> }>;
  drops: Array<{ reason: string; packets: string; bytes: string }>;
}
