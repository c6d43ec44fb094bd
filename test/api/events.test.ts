// Events: the daemon records subscriber and reconcile events in the registry with the change
// that causes them; GET /v1/events serves them as Server-Sent Events, filtered by role,
// resumable with Last-Event-ID without a gap, and ends a stream whose token is revoked.
import { request, type IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, startHarness, type Harness } from './fakes.js';
import { BULK_EVENTS } from '../../control/daemon/daemon.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

interface SseEvent {
  id: number;
  event: string;
  data: { id: string; seq: number; type: string; isp: string | null; subject: string; data: Record<string, unknown> };
}

/** An SSE client: collects events until closed. */
function subscribe(hh: Harness, token: string, lastEventId?: number, query = '') {
  const events: SseEvent[] = [];
  let res: IncomingMessage | undefined;
  let ended = false;
  const opened = new Promise<number>((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
    const req = request(`${hh.url}/v1/events${query}`, { headers }, (r) => {
      res = r;
      let buf = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const m = /^([a-z]+): ?(.*)$/.exec(line);
            if (m) f[m[1]!] = m[2]!;
          }
          if (f.id !== undefined && f.data !== undefined) events.push({ id: Number(f.id), event: f.event!, data: JSON.parse(f.data) });
        }
      });
      r.on('end', () => (ended = true));
      r.on('close', () => (ended = true));
      resolve(r.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  return {
    events,
    opened,
    get ended() {
      return ended;
    },
    close: () => res?.destroy(),
  };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const mac = (i: number) => `02:00:00:00:0c:${i.toString(16).padStart(2, '0')}`;

describe('subscriber events', () => {
  it('are recorded with the change: added, moved (and removed for the old ISP), removed', async () => {
    const from = h.events.lastSeq();
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(1), isp: 'alpha', name: 'c1' } });
    await call(h, 'POST', '/v1/subscribers/move', { subscriber: { mac: mac(1), isp: 'beta', name: 'c1' } });
    await call(h, 'POST', '/v1/subscribers/remove', { match: { mac: mac(1) } });
    const evs = h.events.page(from).events.map((e) => [e.type, e.isp, e.subject]);
    expect(evs).toEqual([
      ['subscriber.added', 'alpha', 'c1'],
      ['subscriber.moved', 'beta', 'c1'],
      ['subscriber.removed', 'alpha', 'c1'],
      ['subscriber.removed', 'beta', 'c1'],
    ]);
  });

  it('an edit of more than BULK_EVENTS subscribers is told as one event per ISP, with counts', async () => {
    const from = h.events.lastSeq();
    const rows = Array.from({ length: BULK_EVENTS + 1 }, (_v, i) => ({
      mac: `02:00:02:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      isp: i % 2 ? 'alpha' : 'beta',
    }));
    expect((await call(h, 'POST', '/v1/subscribers/import', { subscribers: rows })).status).toBe(200);
    const evs = h.events.page(from).events.map((e) => [e.type, e.isp, e.data]);
    expect(evs).toEqual([
      ['subscribers.changed', 'beta', { added: 5001, moved: 0, removed: 0 }],
      ['subscribers.changed', 'alpha', { added: 5000, moved: 0, removed: 0 }],
    ]);
  });

  it('a refused or dry-run edit records none', async () => {
    const from = h.events.lastSeq();
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(2), isp: 'nobody' } })).status).toBe(404);
    expect((await call(h, 'POST', '/v1/subscribers?dryRun=true', { subscriber: { mac: mac(2), isp: 'alpha' } })).status).toBe(200);
    expect(h.events.lastSeq()).toBe(from);
  });

  it('a failed map write is taken back: the added is followed by its removal, and reconcile failed / recovered are told', async () => {
    const from = h.events.lastSeq();
    h.maps.get('sub_mac')!.failNext = true;
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(3), isp: 'alpha', name: 'c3' } })).status).toBe(500);
    expect((await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(4), isp: 'alpha', name: 'c4' } })).status).toBe(201);
    expect(h.events.page(from).events.map((e) => [e.type, e.subject])).toEqual([
      ['subscriber.added', 'c3'],
      ['reconcile.failed', 'api:subscriber-assign'],
      ['subscriber.removed', 'c3'],
      ['subscriber.added', 'c4'],
      ['reconcile.recovered', 'api:subscriber-assign'],
    ]);
  });
});

describe('GET /v1/events', () => {
  it('streams new events as SSE and resumes from Last-Event-ID without a gap or a repeat', async () => {
    const a = subscribe(h, h.token);
    expect(await a.opened).toBe(200);
    for (let i = 10; i < 15; i++) await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(i), isp: 'alpha', name: `s${i}` } });
    await until(() => a.events.length === 5, 'five events');
    a.close();
    const lastSeen = a.events.at(-1)!.id;
    // while no one listens
    for (let i = 15; i < 20; i++) await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(i), isp: 'beta', name: `s${i}` } });
    const b = subscribe(h, h.token, lastSeen);
    expect(await b.opened).toBe(200);
    for (let i = 20; i < 23; i++) await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(i), isp: 'alpha', name: `s${i}` } });
    await until(() => b.events.length === 8, 'the missed and the new events');
    b.close();
    const ids = [...a.events, ...b.events].map((e) => e.id);
    expect(ids).toEqual(Array.from({ length: 13 }, (_v, k) => ids[0]! + k)); // consecutive: no gap, no repeat
    expect(b.events.map((e) => e.data.subject)).toEqual(['s15', 's16', 's17', 's18', 's19', 's20', 's21', 's22']);
    expect(new Set([...a.events, ...b.events].map((e) => e.data.id)).size).toBe(13);
    expect(b.events[0]!.event).toBe('subscriber.added');
  });

  it('an isp: token is sent only its ISP\'s events; a revoked token\'s stream ends', async () => {
    const t = h.mint('isp:alpha', 'alpha-feed');
    const s = subscribe(h, t, 0);
    expect(await s.opened).toBe(200);
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(30), isp: 'beta', name: 'b30' } });
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(31), isp: 'alpha', name: 'a31' } });
    await until(() => s.events.length >= 1, 'alpha event');
    await new Promise((r) => setTimeout(r, 100));
    expect(s.events.map((e) => [e.data.isp, e.data.subject])).toEqual([['alpha', 'a31']]);
    expect((await call(h, 'DELETE', '/v1/tokens/alpha-feed')).status).toBe(200);
    await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(32), isp: 'alpha', name: 'a32' } });
    await until(() => s.ended, 'the stream to end');
    expect(s.events.map((e) => e.data.subject)).toEqual(['a31']);
  });

  it('serves JSON pages after ?after= and refuses a malformed Last-Event-ID', async () => {
    for (let i = 40; i < 43; i++) await call(h, 'POST', '/v1/subscribers', { subscriber: { mac: mac(i), isp: 'alpha', name: `p${i}` } });
    const p = await call(h, 'GET', '/v1/events?after=0&limit=2');
    expect(p.json.events.map((e: { subject: string }) => e.subject)).toEqual(['p40', 'p41']);
    const q = await call(h, 'GET', `/v1/events?after=${p.json.last}`);
    expect(q.json.events.map((e: { subject: string }) => e.subject)).toEqual(['p42']);
    const r = await fetch(`${h.url}/v1/events`, { headers: { authorization: `Bearer ${h.token}`, 'last-event-id': 'x; DROP TABLE' } });
    expect(r.status).toBe(400);
  });
});
