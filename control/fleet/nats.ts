// The fleet's use of NATS: connecting (with reconnection forever: a router or controller never
// gives up on NATS), and the bucket and the stream both sides use. Only the controller creates
// them; a router binds to what exists. Loaded only by `fecflow controller` and `serve --fleet`.
//
// Everything here works on nats-server 2.9: no stream metadata, no filter_subjects, no message
// or marker TTLs.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { FLEET_STREAM, FLEET_SUBJECTS, INTENT_BUCKET, MAX_INTENT_BYTES } from './intent.js';

/** nats://host:port[,nats://host:port...] → the server list. */
export function parseServers(url: string): string[] {
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  if (servers.length === 0) throw new Error('no NATS server given');
  for (const s of servers) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Error(`not a NATS URL: ${s} (expected nats://HOST:PORT)`);
    }
    if (u.protocol !== 'nats:' && u.protocol !== 'tls:') throw new Error(`not a NATS URL: ${s} (expected nats://HOST:PORT)`);
  }
  return servers;
}

/** One connection attempt; once connected, the client reconnects by itself for ever. */
export async function connectOnce(servers: string[], name: string, timeoutMs = 2000): Promise<NatsConnection> {
  return connect({ servers, name, timeout: timeoutMs, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5000, maxPingOut: 2 });
}

export interface FleetHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  kv: KV;
}

/** Creates (or checks) the intent bucket and the fleet stream: the controller's job. */
export async function ensureFleet(nc: NatsConnection): Promise<FleetHandles & { jsm: JetStreamManager }> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: FLEET_STREAM,
    subjects: [FLEET_SUBJECTS],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 7 * 24 * 3600 * 1e9,
    max_msgs_per_subject: 10_000,
    max_msg_size: MAX_INTENT_BYTES,
    duplicate_window: 10 * 60 * 1e9,
  };
  try {
    await jsm.streams.info(FLEET_STREAM);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(config);
  }
  const js = jetstream(nc);
  const kv = await new Kvm(js).create(INTENT_BUCKET, { history: 10, maxValueSize: MAX_INTENT_BYTES, storage: StorageType.File });
  return { nc, js, jsm, kv };
}

/** Binds to the bucket the controller made: a router's view. */
export async function bindFleet(nc: NatsConnection): Promise<FleetHandles> {
  const js = jetstream(nc);
  const kv = await new Kvm(js).open(INTENT_BUCKET);
  return { nc, js, kv };
}

/** The NATS error of a compare-and-set that lost: the key moved on since the revision given. */
export function isWrongRevision(err: unknown): boolean {
  const e = err as { code?: number; api_error?: { err_code?: number }; message?: string };
  const code = e.api_error?.err_code ?? e.code;
  return code === 10071 || /wrong last sequence/i.test(String(e.message));
}

/** A NATS operation given at most `ms`: while the client is reconnecting, a request can wait
 * longer than its own timeout, and nothing of the fleet may hang on NATS. */
export function bounded<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer from NATS in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
