// Two speakers over real TCP on loopback (discovery fed through receiveHello, since link
// multicast needs interfaces): the higher transport address connects, the session reaches
// OPERATIONAL, egress labels appear in the peer's bindings, a transit FEC gets a local label
// only once its downstream label is known (ordered control), withdraws travel, and the views
// have the shapes the CLI prints.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { applyGtsm, gtsmAvailable, socketFd } from '../../control/ldp/gtsm.js';
import { encodeMessage } from '../../control/ldp/messages.js';
import { encodePdu } from '../../control/ldp/pdu.js';
import { LdpSpeaker, defaultAcceptTransport, type SpeakerOptions } from '../../control/ldp/speaker.js';
import type { FecChange } from '../../control/ldp/lib.js';
import { freePort } from './port.js';

const running: LdpSpeaker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

const PORT = await freePort();

async function speaker(o: Partial<SpeakerOptions> & Pick<SpeakerOptions, 'lsrId' | 'transportAddress'>, port = PORT): Promise<LdpSpeaker> {
  const s = new LdpSpeaker({ interfaces: [], port, acceptTransport: () => true, localAddresses: () => [o.transportAddress], backoff: { initialMs: 200, maxMs: 800 }, ...o });
  await s.start();
  running.push(s);
  return s;
}

function hello(lsrId: string, transport: string, holdTime = 15): Buffer {
  return encodePdu(lsrId, 0, [encodeMessage({ kind: 'hello', id: 1, holdTime, targeted: false, requestTargeted: false, gtsm: false, transportAddress: transport })]);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('transport address rule', () => {
  it('refuses 127/8, 0/8 and multicast transport addresses', () => {
    expect(defaultAcceptTransport('127.0.0.5')).toBe(false);
    expect(defaultAcceptTransport('0.1.2.3')).toBe(false);
    expect(defaultAcceptTransport('224.0.0.2')).toBe(false);
    expect(defaultAcceptTransport('10.0.0.1')).toBe(true);
    expect(() => new LdpSpeaker({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1', interfaces: [] })).toThrow(/transport address/);
  });
});

describe('GTSM socket options', () => {
  async function listen(enforce: boolean): Promise<net.Server> {
    const srv = net.createServer((c) => c.end('ok'));
    await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    applyGtsm(srv, enforce);
    return srv;
  }
  async function connects(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      const t = setTimeout(() => {
        c.destroy();
        resolve(false);
      }, 700);
      c.on('data', () => {
        clearTimeout(t);
        c.destroy();
        resolve(true);
      });
      c.on('error', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
  }

  it('a listener with a minimum TTL of 255 drops a SYN sent with the default TTL; without it, accepts', async () => {
    expect(gtsmAvailable()).toBe(true);
    const strict = await listen(true);
    const lax = await listen(false);
    try {
      expect(await connects((strict.address() as net.AddressInfo).port)).toBe(false);
      expect(await connects((lax.address() as net.AddressInfo).port)).toBe(true);
    } finally {
      strict.close();
      lax.close();
    }
  });

  it('finds the descriptor of a listening server and refuses a socket that has none', () => {
    const s = new net.Socket();
    expect(socketFd(s)).toBeUndefined();
    expect(() => applyGtsm(s, false)).toThrow(/no descriptor/);
  });
});

describe('speaker over loopback TCP', () => {
  it('forms a session (higher address active), exchanges egress labels, withdraws, and shows the views', async () => {
    const a = await speaker({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1', egress: ['198.51.100.0/24'], labelRange: [1000, 1999] });
    const b = await speaker({ lsrId: '2.2.2.2', transportAddress: '127.0.0.2', egress: ['203.0.113.0/24'], labelRange: [2000, 2999] });
    a.receiveHello(hello('2.2.2.2', '127.0.0.2'), '127.0.0.2', 'lo');
    b.receiveHello(hello('1.1.1.1', '127.0.0.1'), '127.0.0.1', 'lo');
    await until(() => a.neighbors()[0]?.state === 'OPERATIONAL' && b.neighbors()[0]?.state === 'OPERATIONAL');
    expect(a.neighbors()[0]).toMatchObject({ neighborId: '2.2.2.2', role: 'passive', transportAddress: '127.0.0.2', keepaliveTime: 180, maxPduLength: 4096 });
    expect(b.neighbors()[0]).toMatchObject({ neighborId: '1.1.1.1', role: 'active', sessionAttempts: 1 });
    await until(() => a.bindings().length === 2 && b.bindings().length === 2);
    expect(a.bindings()).toEqual([
      { prefix: '198.51.100.0/24', egress: true, localLabel: 1000, remote: [] },
      { prefix: '203.0.113.0/24', egress: false, localLabel: null, remote: [{ neighborId: '2.2.2.2', remoteLabel: 2000, inUse: false }] },
    ]);
    expect(a.neighbors()[0]!.addresses).toEqual(['127.0.0.2']);
    expect(a.discovery()).toMatchObject({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1', adjacencies: [{ neighborId: '2.2.2.2', interface: 'lo', source: '127.0.0.2', holdTime: 15 }] });
    // withdraw seen by the other side
    b.setEgress([]);
    await until(() => a.bindings().length === 1);
    expect(a.bindings().map((x) => x.prefix)).toEqual(['198.51.100.0/24']);
    expect(b.neighbors()[0]!.messagesSent).toMatchObject({ init: 1, address: 1, 'label-mapping': 1, 'label-withdraw': 1 });
    expect(a.neighbors()[0]!.messagesSent).toMatchObject({ 'label-release': 1 });
    expect(a.stats()).toMatchObject({ sessionsUp: 1 });
  });

  it('ordered control: the LSR advertises a transit label upstream only after the downstream label arrives, and reports the swap', async () => {
    const routes: Record<string, string> = { '203.0.113.0/24': '127.0.0.3' };
    const changes: FecChange[] = [];
    const lsr = await speaker({ lsrId: '2.2.2.2', transportAddress: '127.0.0.2', resolveNextHop: (p) => routes[p], labelRange: [2000, 2999] });
    lsr.on('fec', (c: FecChange) => changes.push(c));
    const head = await speaker({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1', labelRange: [1000, 1999] });
    const tail = await speaker({ lsrId: '3.3.3.3', transportAddress: '127.0.0.3', labelRange: [3000, 3999] });
    for (const [x, id, addr] of [
      [lsr, '1.1.1.1', '127.0.0.1'],
      [lsr, '3.3.3.3', '127.0.0.3'],
      [head, '2.2.2.2', '127.0.0.2'],
      [tail, '2.2.2.2', '127.0.0.2'],
    ] as const) x.receiveHello(hello(id, addr), addr, 'lo');
    await until(() => lsr.neighbors().every((n) => n.state === 'OPERATIONAL') && lsr.neighbors().length === 2);
    expect(head.bindings()).toEqual([]);
    tail.setEgress(['203.0.113.0/24']);
    await until(() => head.bindings().length === 1);
    expect(head.bindings()).toEqual([{ prefix: '203.0.113.0/24', egress: false, localLabel: null, remote: [{ neighborId: '2.2.2.2', remoteLabel: 2000, inUse: false }] }]);
    expect(changes).toEqual([{ prefix: '203.0.113.0/24', egress: false, localLabel: 2000, downstream: { lsrId: '3.3.3.3', nextHop: '127.0.0.3', label: 3000 } }]);
    // the tail withdraws: the LSR withdraws upstream, the swap goes away
    tail.setEgress([]);
    await until(() => head.bindings().length === 0);
    expect(changes.at(-1)).toEqual({ prefix: '203.0.113.0/24', egress: false });
  });

  it('ends the session with Hold Timer Expired when the last adjacency expires, and the peer drops its labels', async () => {
    const a = await speaker({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1', holdTime: 3 });
    const b = await speaker({ lsrId: '2.2.2.2', transportAddress: '127.0.0.2', egress: ['203.0.113.0/24'] });
    a.receiveHello(hello('2.2.2.2', '127.0.0.2', 3), '127.0.0.2', 'lo');
    b.receiveHello(hello('1.1.1.1', '127.0.0.1', 60), '127.0.0.1', 'lo');
    await until(() => a.bindings().length === 1);
    const sentBefore = a.stats().messagesSent;
    await until(() => b.neighbors()[0]?.state !== 'OPERATIONAL', 6000);
    expect(b.neighbors()[0]!.notificationsReceived).toEqual({ HoldTimerExpired: 1 });
    expect(a.neighbors()).toEqual([]);
    expect(a.bindings()).toEqual([]);
    // the neighbour is gone but its counts stay in the totals (counters never go down)
    expect(a.stats().messagesSent).toMatchObject({ ...sentBefore, notification: 1 });
    expect(a.stats().notificationsSent).toEqual({ HoldTimerExpired: 1 });
  });

  it('backs off when the peer does not answer, counting attempts', async () => {
    const a = await speaker({ lsrId: '2.2.2.2', transportAddress: '127.0.0.2' });
    // 127.0.0.1 has no listener on this port: connections are refused
    a.receiveHello(hello('1.1.1.1', '127.0.0.1', 60), '127.0.0.1', 'lo');
    // 200 ms, then 400 ms: the third attempt comes about 600 ms after the first; sample between attempts
    await until(() => a.neighbors()[0]!.sessionAttempts >= 3 && a.neighbors()[0]!.nextAttemptInMs !== null, 3000);
    const n = a.neighbors()[0]!;
    expect(n.state).toBe('NON EXISTENT');
    expect(n.lastError).toMatch(/ECONNREFUSED/);
    // the third wait is the doubled-twice one, capped at 800 ms
    expect(n.nextAttemptInMs).toBeGreaterThan(400);
    expect(n.nextAttemptInMs).toBeLessThanOrEqual(800);
  });

  it('holds at most 64 connections that no Hello announced, refusing and counting the rest', async () => {
    const a = await speaker({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1' });
    const socks = Array.from({ length: 70 }, () => net.connect({ host: '127.0.0.1', port: PORT, localAddress: '127.0.0.5' }).on('error', () => undefined));
    try {
      await until(() => a.stats().connectionsRefused === 6);
      expect(a.neighbors()).toEqual([]);
    } finally {
      for (const s of socks) s.destroy();
    }
  });

  it('drops bad Hellos and counts why', async () => {
    const a = await speaker({ lsrId: '1.1.1.1', transportAddress: '127.0.0.1', acceptTransport: (x) => x === '127.0.0.1' || defaultAcceptTransport(x) });
    a.receiveHello(hello('2.2.2.2', '127.0.0.9'), '127.0.0.9', 'lo');
    a.receiveHello(hello('2.2.2.2', '10.0.0.2', 2), '10.0.0.2', 'lo');
    a.receiveHello(Buffer.from('0001ffff'), '10.0.0.2', 'lo');
    a.receiveHello(hello('2.2.2.2', '10.0.0.2'), '10.9.0.2', undefined);
    a.receiveHello(hello('1.1.1.1', '10.0.0.1'), '10.0.0.1', 'lo');
    expect(a.stats().helloDrops).toEqual({ 'bad transport address': 1, 'hold time below 3 s': 1, BadPduLength: 1, 'not on an LDP interface': 1, 'our own Hello': 1 });
    expect(a.neighbors()).toEqual([]);
  });
});
