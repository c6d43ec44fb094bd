// Webhooks from the registry's outbox: a receiver that is down (connection refused) while events
// happen — and across a restart of the sender — gets every event exactly once, in order, signed,
// once it is back; an event is owed only to webhooks that want it. The retry schedule is
// shortened (tens of ms instead of seconds); the receiver is really gone for seconds, long
// enough for many failed attempts (FECFLOW_WEBHOOK_DOWN_MS=60000 keeps it down a full minute).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../control/registry/registry.js';
import { EventLog, WebhookStore } from '../../control/registry/events.js';
import { WebhookSender, backoff, signature, SIGNATURE_HEADER } from '../../control/events/webhooks.js';
import { silentLogger } from '../../control/log.js';

let dir: string;
let registry: Registry;
let events: EventLog;
let store: WebhookStore;
const senders: WebhookSender[] = [];
const servers: Server[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fecflow-hooks-'));
  registry = Registry.open(join(dir, 'registry.sqlite'));
  events = new EventLog(registry);
  store = new WebhookStore(registry);
});
afterEach(async () => {
  for (const s of senders.splice(0)) s.stop();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); })));
  registry.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Delivery {
  id: string;
  seq: number;
  type: string;
  subject: string;
  signed: boolean;
}

const SECRET = 'a-webhook-secret-of-some-length';
/** how long the receiver stays down after the sender restarted */
const DOWN_MS = Number(process.env.FECFLOW_WEBHOOK_DOWN_MS ?? 2500);

/** A receiver on `port` (0: any) recording each delivery and checking its signature. */
function receiver(port: number, got: Delivery[]): Promise<{ server: Server; port: number }> {
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const sig = String(req.headers[SIGNATURE_HEADER] ?? '');
      const t = Number(/^t=(\d+),/.exec(sig)?.[1]);
      const e = JSON.parse(body);
      got.push({ id: e.id, seq: e.seq, type: e.type, subject: e.subject, signed: sig === signature(SECRET, t, body) && req.headers['x-fecflow-event-id'] === e.id });
      res.writeHead(204).end();
    });
  });
  servers.push(server);
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

function close(server: Server): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

function startSender(): WebhookSender {
  const s = new WebhookSender(store, events, silentLogger(), { retryMinMs: 20, retryMaxMs: 200, timeoutMs: 2000 });
  senders.push(s);
  s.start();
  return s;
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const emit = (i: number, isp = 'alpha') => events.emit({ type: 'subscriber.added', isp, subject: `s${i}`, data: { i } });

describe('webhooks', () => {
  it('a receiver down (connection refused) for a while, across a sender restart, gets every event exactly once, in order, signed', async () => {
    const got: Delivery[] = [];
    const up = await receiver(0, got);
    registry.transaction(() => store.add({ name: 'billing', url: `http://127.0.0.1:${up.port}/hook`, secret: SECRET }));
    let sender = startSender();
    for (let i = 0; i < 5; i++) emit(i);
    await until(() => got.length === 5, 'the first five');

    // the receiver goes away: its port refuses connections
    await close(up.server);
    const downAt = Date.now();
    for (let i = 5; i < 15; i++) emit(i);
    await until(() => (store.list()[0]!.lastError ?? '').includes('ECONNREFUSED'), 'a refused attempt');
    // the daemon restarts meanwhile: a new sender resumes from the outbox
    sender.stop();
    sender = startSender();
    for (let i = 15; i < 25; i++) emit(i);
    await new Promise((r) => setTimeout(r, DOWN_MS));
    expect(store.list()[0]!.pending).toBe(20);
    const down = Date.now() - downAt;

    // back on the same port
    await receiver(up.port, got);
    await until(() => got.length === 25, 'all 25 events');
    await new Promise((r) => setTimeout(r, 500)); // no late duplicates
    expect(got).toHaveLength(25);
    expect(new Set(got.map((d) => d.id)).size).toBe(25);
    expect(got.map((d) => d.subject)).toEqual(Array.from({ length: 25 }, (_v, i) => `s${i}`));
    expect(got.every((d) => d.signed)).toBe(true);
    expect(store.list()[0]).toMatchObject({ pending: 0, delivered: 25, lastError: null });
    expect(down).toBeGreaterThanOrEqual(DOWN_MS);
  }, 60_000 + 2 * DOWN_MS);

  it('retries with growing waits up to the maximum', () => {
    const o = { retryMinMs: 1000, retryMaxMs: 300_000 };
    expect([0, 1, 2, 3, 8, 9, 40].map((a) => backoff(a, o))).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });

  it('an event is owed only to the webhooks that want it (type and ISP), and only from when they were added', async () => {
    emit(0); // before any webhook: owed to none
    registry.transaction(() => {
      store.add({ name: 'all', url: 'http://127.0.0.1:9/', secret: SECRET });
      store.add({ name: 'beta-only', url: 'http://127.0.0.1:9/', secret: SECRET, isp: 'beta' });
      store.add({ name: 'removals', url: 'http://127.0.0.1:9/', secret: SECRET, types: ['subscriber.removed'] });
    });
    emit(1, 'alpha');
    emit(2, 'beta');
    events.emit({ type: 'subscriber.removed', isp: 'alpha', subject: 's3' });
    const pending = Object.fromEntries(store.list().map((w) => [w.name, w.pending]));
    expect(pending).toEqual({ all: 3, 'beta-only': 1, removals: 1 });
    // removing a webhook drops what it was owed
    registry.transaction(() => store.remove('all'));
    expect(store.list().map((w) => w.name)).toEqual(['beta-only', 'removals']);
  });

  it('prunes old events but keeps those a webhook is still owed', () => {
    for (let i = 0; i < 5; i++) emit(i);
    registry.transaction(() => store.add({ name: 'late', url: 'http://127.0.0.1:9/', secret: SECRET }));
    for (let i = 5; i < 10; i++) emit(i);
    const last = events.lastSeq();
    expect(events.prune(2)).toBe(5); // the first five; the next five are owed to 'late'
    expect(events.firstSeq()).toBe(last - 4);
    expect(store.list()[0]!.pending).toBe(5);
  });

  it('an event written in a transaction that rolls back is neither stored nor owed', () => {
    registry.transaction(() => store.add({ name: 'all', url: 'http://127.0.0.1:9/', secret: SECRET }));
    const before = events.lastSeq();
    expect(() =>
      registry.transaction(() => {
        emit(1);
        throw new Error('the change failed');
      }),
    ).toThrow('the change failed');
    expect(events.lastSeq()).toBe(before);
    expect(store.list()[0]!.pending).toBe(0);
  });
});
