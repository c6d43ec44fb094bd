// Fuzz: seeded random and mutated PDUs thrown at a listening speaker over TCP (before and after
// the session is OPERATIONAL) and at its Hello handler. The speaker must answer with decodable
// Notifications, count them, end only the fuzzing peer's session, and keep a healthy peer's
// session and labels untouched.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, type LdpMessage } from '../../control/ldp/messages.js';
import { PduFramer, decodePdu, encodePdu } from '../../control/ldp/pdu.js';
import { decodeMessage } from '../../control/ldp/messages.js';
import { LdpSpeaker } from '../../control/ldp/speaker.js';
import { freePort } from './port.js';

const PORT = await freePort();
const SEED = Number(process.env.FUZZ_SEED ?? 0x1d9);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const hello = (lsrId: string, transport: string) => encodePdu(lsrId, 0, [encodeMessage({ kind: 'hello', id: 1, holdTime: 60, targeted: false, requestTargeted: false, gtsm: false, transportAddress: transport })]);

let a: LdpSpeaker;
let b: LdpSpeaker;

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeAll(async () => {
  const common = { interfaces: [], port: PORT, acceptTransport: () => true, backoff: { initialMs: 100, maxMs: 200 } };
  a = new LdpSpeaker({ ...common, lsrId: '1.1.1.1', transportAddress: '127.0.0.1', egress: ['198.51.100.0/24'], localAddresses: () => ['127.0.0.1'] });
  b = new LdpSpeaker({ ...common, lsrId: '2.2.2.2', transportAddress: '127.0.0.2', egress: ['203.0.113.0/24'], localAddresses: () => ['127.0.0.2'] });
  await a.start();
  await b.start();
  a.receiveHello(hello('2.2.2.2', '127.0.0.2'), '127.0.0.2', 'lo');
  b.receiveHello(hello('1.1.1.1', '127.0.0.1'), '127.0.0.1', 'lo');
  await until(() => a.bindings().length === 2 && b.bindings().length === 2);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

function validMessages(r: () => number): Exclude<LdpMessage, { kind: 'ignored' }>[] {
  const p = `10.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.0/24`;
  const all: Exclude<LdpMessage, { kind: 'ignored' }>[] = [
    { kind: 'label-mapping', id: 5, fec: [{ type: 'prefix', prefix: p }], label: 16 + Math.floor(r() * 1000) },
    { kind: 'label-withdraw', id: 6, fec: [{ type: 'wildcard' }] },
    { kind: 'label-release', id: 7, fec: [{ type: 'prefix', prefix: '198.51.100.0/24' }], label: 16 },
    { kind: 'address', id: 8, family: 'ipv4', addresses: ['127.0.0.9'] },
    { kind: 'address-withdraw', id: 9, family: 'ipv6', addresses: ['2001:db8::1'] },
    { kind: 'keepalive', id: 10 },
    { kind: 'notification', id: 11, status: 0x0000000c, msgId: 1, msgType: 0x400 },
    { kind: 'capability', id: 12, capabilities: [{ type: 0x050b, enabled: true }], unsupportedCapabilities: [] },
    { kind: 'label-request', id: 13, fec: [{ type: 'prefix', prefix: '198.51.100.0/24' }] },
  ];
  return all.filter(() => r() < 0.4);
}

function mutate(buf: Buffer, r: () => number): Buffer {
  const b = Buffer.from(buf);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const what = r();
    if (what < 0.5 && b.length > 0) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    else if (what < 0.7 && b.length > 12) return Buffer.concat([b.subarray(0, 4), b.subarray(4, Math.floor(r() * (b.length - 4)) + 4)]);
    else if (b.length > 14) b.writeUInt16BE(Math.floor(r() * 0x10000), 10 + Math.floor(r() * 4)); // message type / length
  }
  return b;
}

/** one fuzzing connection from 127.0.0.x as LSR 9.9.9.x; returns what the speaker sent back */
async function fuzzOnce(r: () => number, x: number): Promise<LdpMessage[]> {
  const lsrId = `9.9.9.${x}`;
  const addr = `127.0.0.${x}`;
  a.receiveHello(hello(lsrId, addr), addr, 'lo');
  const sock = net.connect({ host: '127.0.0.1', port: PORT, localAddress: addr });
  const got: Buffer[] = [];
  sock.on('data', (d) => got.push(d));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((res) => sock.on('close', () => res()));
  await new Promise<void>((res, rej) => {
    sock.once('connect', () => res());
    sock.once('error', rej);
  });
  const mode = r();
  const pdus: Buffer[] = [];
  if (mode < 0.6) {
    // reach OPERATIONAL first, then misbehave
    pdus.push(encodePdu(lsrId, 0, [encodeMessage({ kind: 'init', id: 1, protocolVersion: 1, keepaliveTime: 30, downstreamOnDemand: false, loopDetection: false, pathVectorLimit: 0, maxPduLength: 0, receiverLsrId: '1.1.1.1', receiverLabelSpace: 0, capabilities: [], unsupportedCapabilities: [] }), encodeMessage({ kind: 'keepalive', id: 2 })]));
  }
  for (let i = 0; i < 1 + Math.floor(r() * 4); i++) {
    const kind = r();
    if (kind < 0.2) pdus.push(Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))));
    else {
      const msgs = validMessages(r).map(encodeMessage);
      if (msgs.length === 0) continue;
      const pdu = encodePdu(lsrId, 0, msgs);
      pdus.push(kind < 0.8 ? mutate(pdu, r) : pdu);
    }
  }
  const stream = Buffer.concat(pdus);
  // split the stream at a random point, as TCP may
  const cut = Math.floor(r() * stream.length);
  sock.write(stream.subarray(0, cut));
  sock.write(stream.subarray(cut));
  await Promise.race([closed, new Promise((res) => setTimeout(res, 60))]);
  sock.destroy();
  await closed;
  await until(() => a.neighbors().find((n) => n.neighborId === lsrId)?.state === 'NON EXISTENT');
  const framer = new PduFramer();
  const out: LdpMessage[] = [];
  for (const p of framer.push(Buffer.concat(got))) for (const m of decodePdu(p).messages) out.push(decodeMessage(m));
  expect(framer.pending).toBe(0);
  return out;
}

describe('fuzzing the listener', () => {
  it(`survives 150 fuzzing sessions (seed ${SEED}), answers with valid Notifications, and leaves the healthy session alone`, async () => {
    const r = rng(SEED);
    const before = { aBind: a.bindings(), bBind: b.bindings() };
    let notifications = 0;
    for (let i = 0; i < 150; i++) {
      const replies = await fuzzOnce(r, 10 + (i % 40));
      notifications += replies.filter((m) => m.kind === 'notification').length;
      // whatever we answered, it was about the fuzzer's session only
      for (const m of replies) if (m.kind === 'label-mapping') expect(m.fec).toEqual([{ type: 'prefix', prefix: '198.51.100.0/24' }]);
    }
    expect(notifications).toBeGreaterThan(50);
    const aStats = a.stats();
    const counted = Object.values(aStats.notificationsSent).reduce((x, y) => x + y, 0);
    expect(counted).toBeGreaterThanOrEqual(notifications);
    // the healthy session is still up, its labels unchanged; the fuzzers' labels are gone
    expect(a.neighbors().find((n) => n.neighborId === '2.2.2.2')!.state).toBe('OPERATIONAL');
    expect(b.neighbors()[0]!.state).toBe('OPERATIONAL');
    expect(a.bindings()).toEqual(before.aBind);
    expect(b.bindings()).toEqual(before.bBind);
  });

  it('drops 3000 random and mutated Hellos without creating a neighbour from garbage', () => {
    const r = rng(SEED + 1);
    const good = hello('7.7.7.7', '10.7.7.7');
    const n0 = a.neighbors().length;
    for (let i = 0; i < 3000; i++) {
      const buf = r() < 0.5 ? Buffer.from(Array.from({ length: Math.floor(r() * 60) }, () => Math.floor(r() * 256))) : mutate(good, r);
      expect(() => a.receiveHello(buf, '10.7.7.7', 'lo')).not.toThrow();
    }
    const drops = Object.values(a.stats().helloDrops).reduce((x, y) => x + y, 0);
    expect(drops).toBeGreaterThan(1000);
    // a mutation may still be a valid Hello (from some LSR); any neighbour it made has a sane id
    for (const n of a.neighbors().slice(n0)) expect(n.neighborId).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});
