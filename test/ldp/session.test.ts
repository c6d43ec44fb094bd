// The session state machine and the session over an in-memory transport: both roles reach
// OPERATIONAL, parameters are negotiated, timers fire, and every kind of bad input from the peer
// gets its Notification and ends (or, if advisory, does not end) that session only.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Status, TlvType } from '../../control/ldp/constants.js';
import { Backoff, TRANSITIONS, transition } from '../../control/ldp/fsm.js';
import { decodeMessage, encodeMessage, type LdpMessage } from '../../control/ldp/messages.js';
import { PduFramer, decodePdu, encodeMessageFrame, encodePdu } from '../../control/ldp/pdu.js';
import { LdpSession, type SessionOptions } from '../../control/ldp/session.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('state machine table', () => {
  it('walks the active role: NON EXISTENT -> OPENSENT -> OPENREC -> OPERATIONAL', () => {
    expect(transition('NON EXISTENT', 'connect-active')).toEqual({ action: 'send-init', next: 'OPENSENT' });
    expect(transition('OPENSENT', 'init-received')).toEqual({ action: 'send-keepalive', next: 'OPENREC' });
    expect(transition('OPENREC', 'keepalive-received')).toEqual({ action: 'session-up', next: 'OPERATIONAL' });
  });

  it('walks the passive role: NON EXISTENT -> INITIALIZED -> OPENREC', () => {
    expect(transition('NON EXISTENT', 'connect-passive')).toEqual({ action: 'none', next: 'INITIALIZED' });
    expect(transition('INITIALIZED', 'init-received')).toEqual({ action: 'send-init-and-keepalive', next: 'OPENREC' });
  });

  it('refuses messages the state does not allow with a Notification and NON EXISTENT', () => {
    for (const s of ['INITIALIZED', 'OPENSENT', 'OPENREC'] as const) expect(transition(s, 'message-received')).toEqual({ action: 'notify-and-close', next: 'NON EXISTENT' });
    expect(transition('INITIALIZED', 'keepalive-received')).toEqual({ action: 'notify-and-close', next: 'NON EXISTENT' });
    expect(transition('OPERATIONAL', 'init-received')).toEqual({ action: 'notify-and-close', next: 'NON EXISTENT' });
  });

  it('ends every live state on errors, timeouts and closes; NON EXISTENT ignores them', () => {
    for (const s of ['INITIALIZED', 'OPENSENT', 'OPENREC', 'OPERATIONAL'] as const) {
      expect(transition(s, 'keepalive-timeout')).toEqual({ action: 'notify-and-close', next: 'NON EXISTENT' });
      expect(transition(s, 'transport-closed')).toEqual({ action: 'close', next: 'NON EXISTENT' });
      expect(transition(s, 'fatal-notification-received')).toEqual({ action: 'close', next: 'NON EXISTENT' });
    }
    expect(transition('NON EXISTENT', 'message-received')).toEqual({ action: 'none', next: 'NON EXISTENT' });
    expect(TRANSITIONS.size).toBe(7 + 4 * 6);
  });

  it('backs off 15, 30, 60, 120, 120 s and resets', () => {
    const b = new Backoff();
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([15_000, 30_000, 60_000, 120_000, 120_000]);
    b.reset();
    expect(b.next()).toBe(15_000);
  });
});

/** a session whose peer is this test: `sent` holds decoded messages it wrote */
function scripted(over: Partial<SessionOptions> = {}) {
  const sent: LdpMessage[] = [];
  const framer = new PduFramer();
  const log: string[] = [];
  let ended = false;
  const s = new LdpSession({
    localLsrId: '10.0.0.1',
    peerLsrId: '10.0.0.2',
    role: 'passive',
    keepaliveTime: 30,
    transport: {
      write: (b) => {
        for (const p of framer.push(b)) for (const m of decodePdu(p).messages) sent.push(decodeMessage(m));
      },
      end: () => void (ended = true),
    },
    onStateChange: (a, b) => log.push(`${a}->${b}`),
    ...over,
  });
  const peer = (msgs: Exclude<LdpMessage, { kind: 'ignored' }>[], from = '10.0.0.2') => s.receive(encodePdu(from, 0, msgs.map(encodeMessage)));
  const init = (over2: Partial<Extract<LdpMessage, { kind: 'init' }>> = {}): Extract<LdpMessage, { kind: 'init' }> => ({ kind: 'init', id: 1, protocolVersion: 1, keepaliveTime: 180, downstreamOnDemand: false, loopDetection: false, pathVectorLimit: 0, maxPduLength: 0, receiverLsrId: '10.0.0.1', receiverLabelSpace: 0, capabilities: [], unsupportedCapabilities: [], ...over2 });
  /** to OPERATIONAL: the peer's Initialization and KeepAlive */
  const up = () => {
    s.start();
    peer([init()]);
    peer([{ kind: 'keepalive', id: 2 }]);
  };
  return { s, sent, log, peer, init, up, ended: () => ended };
}

const notes = (sent: LdpMessage[]) => sent.filter((m) => m.kind === 'notification').map((m) => (m as { status: number }).status);

describe('session', () => {
  it('two sessions (active and passive) reach OPERATIONAL and exchange Label Mappings', async () => {
    const got: LdpMessage[] = [];
    let a!: LdpSession;
    let b!: LdpSession;
    const pipe = (to: () => LdpSession) => ({ write: (x: Buffer) => queueMicrotask(() => to().receive(x)), end: () => queueMicrotask(() => to().transportClosed()) });
    a = new LdpSession({ localLsrId: '10.0.0.2', peerLsrId: '10.0.0.1', role: 'active', transport: pipe(() => b), keepaliveTime: 60, onUp: () => a.send([{ kind: 'label-mapping', fec: [{ type: 'prefix', prefix: '198.51.100.0/24' }], label: 100 }]) });
    b = new LdpSession({ localLsrId: '10.0.0.1', peerLsrId: '10.0.0.2', role: 'passive', transport: pipe(() => a), keepaliveTime: 180, onMessage: (m) => got.push(m) });
    b.start();
    a.start();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(a.state).toBe('OPERATIONAL');
    expect(b.state).toBe('OPERATIONAL');
    expect(a.keepaliveTime).toBe(60);
    expect(b.keepaliveTime).toBe(60);
    expect(got).toEqual([{ kind: 'label-mapping', id: expect.any(Number), fec: [{ type: 'prefix', prefix: '198.51.100.0/24' }], label: 100 }]);
    expect(a.stats.sent).toMatchObject({ init: 1, keepalive: 1, 'label-mapping': 1 });
    a.shutdown();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(b.state).toBe('NON EXISTENT');
    expect(b.stats.notificationsReceived).toEqual({ Shutdown: 1 });
  });

  it('passive: answers Initialization with Initialization + KeepAlive naming the peer as receiver', () => {
    const t = scripted();
    t.s.start();
    t.peer([t.init({ capabilities: [{ type: TlvType.DynamicCapabilityAnnouncement, enabled: true }] })]);
    expect(t.s.state).toBe('OPENREC');
    expect(t.sent.map((m) => m.kind)).toEqual(['init', 'keepalive']);
    expect(t.sent[0]).toMatchObject({ receiverLsrId: '10.0.0.2', keepaliveTime: 30, maxPduLength: 4096 });
    t.peer([{ kind: 'keepalive', id: 2 }]);
    expect(t.s.state).toBe('OPERATIONAL');
    expect(t.s.peerCapabilities.get(TlvType.DynamicCapabilityAnnouncement)).toBe(true);
    expect(t.log).toEqual(['NON EXISTENT->INITIALIZED', 'INITIALIZED->OPENREC', 'OPENREC->OPERATIONAL']);
    t.s.shutdown();
  });

  it('tears down with Shutdown when a Label Mapping arrives before OPERATIONAL (as FRR does)', () => {
    const t = scripted();
    t.s.start();
    t.peer([{ kind: 'label-mapping', id: 9, fec: [{ type: 'prefix', prefix: '10.0.0.0/8' }], label: 20 }]);
    expect(t.s.state).toBe('NON EXISTENT');
    expect(t.sent).toEqual([{ kind: 'notification', id: 1, status: Status.Shutdown, msgId: 9, msgType: 0x0400 }]);
    expect(t.ended()).toBe(true);
  });

  it('Bad LDP Identifier for a PDU from another LSR ID or label space', () => {
    const t = scripted();
    t.s.start();
    t.peer([t.init()], '10.9.9.9');
    expect(notes(t.sent)).toEqual([Status.BadLdpIdentifier]);
    expect(t.s.state).toBe('NON EXISTENT');
    const u = scripted();
    u.s.start();
    u.s.receive(encodePdu('10.0.0.2', 1, [encodeMessage(u.init())]));
    expect(notes(u.sent)).toEqual([Status.BadLdpIdentifier]);
  });

  it('Session Rejected/No Hello for an Initialization addressed to another LSR', () => {
    const t = scripted();
    t.s.start();
    t.peer([t.init({ receiverLsrId: '10.0.0.77' })]);
    expect(notes(t.sent)).toEqual([Status.SessionRejectedNoHello]);
    expect(t.s.stats.errors).toEqual({ SessionRejectedNoHello: 1 });
  });

  it('advisory errors (Unknown Message Type, Unsupported Address Family, Unsupported Capability) keep the session', () => {
    const t = scripted();
    t.up();
    const got: LdpMessage[] = [];
    // swap in a message sink now that we are up
    (t.s as unknown as { o: SessionOptions }).o.onMessage = (m) => got.push(m);
    const bad = Buffer.from('01010006000300000001', 'hex');
    t.s.receive(encodePdu('10.0.0.2', 0, [encodeMessageFrame(0x3f00, 5, Buffer.alloc(0)), encodeMessageFrame(0x0300, 6, bad), encodeMessageFrame(0x0202, 7, Buffer.from('0777000180', 'hex')), encodeMessage({ kind: 'address', id: 8, family: 'ipv4', addresses: ['10.0.0.2'] })]));
    expect(t.s.state).toBe('OPERATIONAL');
    expect(notes(t.sent)).toEqual([Status.UnknownMessageType, Status.UnsupportedAddressFamily, Status.UnsupportedCapability]);
    expect(t.sent.at(-1)).toMatchObject({ msgId: 7, msgType: 0x0202 });
    expect(got.map((m) => m.kind)).toEqual(['capability', 'address']);
    t.s.shutdown();
  });

  it('answers to one received chunk leave in one PDU and one write', () => {
    let writes = 0;
    const t = scripted();
    const o = (t.s as unknown as { o: SessionOptions }).o;
    const write = o.transport.write;
    o.transport = { ...o.transport, write: (b) => (writes++, write(b)) };
    t.up();
    o.onMessage = (m) => t.s.send([{ kind: 'label-release', fec: (m as unknown as { fec: never }).fec, label: 16 }]);
    writes = 0;
    const before = t.sent.length;
    t.peer([1, 2, 3].map((i) => ({ kind: 'label-withdraw' as const, id: 10 + i, fec: [{ type: 'prefix' as const, prefix: `10.${i}.0.0/16` }] })));
    expect(writes).toBe(1);
    expect(t.sent.slice(before).map((m) => m.kind)).toEqual(['label-release', 'label-release', 'label-release']);
    t.s.shutdown();
  });

  it('a fatal error in the middle of a PDU stops processing the rest of it', () => {
    const t = scripted();
    t.up();
    const got: LdpMessage[] = [];
    (t.s as unknown as { o: SessionOptions }).o.onMessage = (m) => got.push(m);
    const badLabel = Buffer.from('0100000502000108' + '0a' + '020000040000000f', 'hex');
    t.s.receive(encodePdu('10.0.0.2', 0, [encodeMessageFrame(0x0400, 11, badLabel), encodeMessage({ kind: 'address', id: 12, family: 'ipv4', addresses: ['10.0.0.2'] })]));
    expect(notes(t.sent)).toEqual([Status.MalformedTlvValue]);
    expect(t.sent.at(-1)).toMatchObject({ msgId: 11, msgType: 0x0400 });
    expect(got).toEqual([]);
    expect(t.s.state).toBe('NON EXISTENT');
  });

  it('the owner rejecting a message with a fatal LdpError closes the session with that status', () => {
    const t = scripted();
    t.up();
    (t.s as unknown as { o: SessionOptions }).o.onMessage = () => {
      throw new (class extends Error {})('boom');
    };
    t.peer([{ kind: 'address', id: 3, family: 'ipv4', addresses: ['10.0.0.2'] }]);
    expect(notes(t.sent)).toEqual([Status.InternalError]);
    expect(t.s.state).toBe('NON EXISTENT');
  });

  it('a second Initialization in OPERATIONAL is refused with Shutdown', () => {
    const t = scripted();
    t.up();
    t.peer([t.init()]);
    expect(notes(t.sent)).toEqual([Status.Shutdown]);
  });

  it('negotiates the smaller keepalive and sends three KeepAlives per interval; hold timer expiry sends KeepAlive Timer Expired', () => {
    vi.useFakeTimers();
    const t = scripted({ keepaliveTime: 180 });
    t.s.start();
    t.peer([t.init({ keepaliveTime: 9 })]);
    t.peer([{ kind: 'keepalive', id: 2 }]);
    expect(t.s.keepaliveTime).toBe(9);
    const before = t.sent.filter((m) => m.kind === 'keepalive').length;
    vi.advanceTimersByTime(8_000);
    expect(t.sent.filter((m) => m.kind === 'keepalive').length - before).toBe(2);
    t.peer([{ kind: 'keepalive', id: 3 }]);
    vi.advanceTimersByTime(8_999);
    expect(t.s.state).toBe('OPERATIONAL');
    vi.advanceTimersByTime(2);
    expect(t.s.state).toBe('NON EXISTENT');
    expect(notes(t.sent)).toEqual([Status.KeepAliveTimerExpired]);
  });

  it('gives up with Shutdown when not OPERATIONAL within the init timeout', () => {
    vi.useFakeTimers();
    const t = scripted({ initTimeout: 15 });
    t.s.start();
    vi.advanceTimersByTime(15_001);
    expect(t.s.state).toBe('NON EXISTENT');
    expect(notes(t.sent)).toEqual([Status.Shutdown]);
  });

  it('a fatal Notification from the peer closes without answering', () => {
    const t = scripted();
    let down: number | undefined;
    (t.s as unknown as { o: SessionOptions }).o.onDown = (_w, st) => void (down = st);
    t.s.start();
    t.peer([{ kind: 'notification', id: 1, status: Status.SessionRejectedNoHello, msgId: 0, msgType: 0 }]);
    expect(t.s.state).toBe('NON EXISTENT');
    expect(t.sent).toEqual([]);
    expect(down).toBe(Status.SessionRejectedNoHello);
  });

  it('a lying PDU length on the stream is Bad PDU Length', () => {
    const t = scripted();
    t.s.start();
    t.s.receive(Buffer.from('0001f00001010101', 'hex'));
    expect(notes(t.sent)).toEqual([Status.BadPduLength]);
  });
});
