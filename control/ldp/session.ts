// One LDP session with one peer over a byte transport (a TCP socket in the speaker, a buffer in
// tests). It frames and decodes PDUs, checks the LDP identifier, runs the state machine of
// fsm.ts, negotiates the session parameters, keeps the KeepAlive and hold timers, answers bad
// input with the RFC's Notification and hands Address and Label messages of an OPERATIONAL
// session to its owner. A peer's bad PDU ends this session only.
import { LDP_MAX_PDU, MIN_KEEPALIVE, Status, statusName } from './constants.js';
import { LdpError } from './errors.js';
import { transition, type SessionEvent, type SessionState } from './fsm.js';
import { FT_LEARN_FROM_NETWORK, type Capability, type FtSession, type Init } from './init.js';
import { decodeMessage, encodeMessage, messageType, type LdpMessage } from './messages.js';
import { PduFramer, decodePdu, packPdus } from './pdu.js';

export interface Transport {
  write(bytes: Buffer): void;
  /** flush what was written, then close */
  end(): void;
}

export type OutMessage = Exclude<LdpMessage, { kind: 'ignored' | 'hello' }> extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

export interface SessionStats {
  sent: Record<string, number>;
  received: Record<string, number>;
  /** Notifications we sent because of what the peer sent, by status name */
  errors: Record<string, number>;
  /** Notifications the peer sent us, by status name */
  notificationsReceived: Record<string, number>;
}

export interface SessionOptions {
  localLsrId: string;
  peerLsrId: string;
  role: 'active' | 'passive';
  transport: Transport;
  /** our proposed KeepAlive time in seconds (RFC default 180) */
  keepaliveTime?: number;
  /** seconds to reach OPERATIONAL before giving up (FRR uses 15) */
  initTimeout?: number;
  /** capabilities we announce in our Initialization (none by default) */
  capabilities?: Capability[];
  /** graceful restart parameters we announce (RFC 3478), if any */
  ft?: FtSession;
  /** an Address or Label message (or Capability) of an OPERATIONAL session; may throw LdpError */
  onMessage?: (m: LdpMessage) => void;
  onStateChange?: (from: SessionState, to: SessionState, why: string) => void;
  /** the session is OPERATIONAL: the owner sends its addresses and label mappings */
  onUp?: () => void;
  /** the session ended; `error` is the status we sent or received, if any */
  onDown?: (why: string, status?: number) => void;
}

export class LdpSession {
  state: SessionState = 'NON EXISTENT';
  readonly stats: SessionStats = { sent: {}, received: {}, errors: {}, notificationsReceived: {} };
  /** negotiated values, valid from OPENREC on */
  keepaliveTime: number;
  maxPdu = LDP_MAX_PDU;
  peerCapabilities = new Map<number, boolean>();
  /** the peer's graceful restart parameters, from its Initialization */
  peerFt?: FtSession;
  upSince?: number;
  lastError?: string;

  private readonly framer = new PduFramer();
  private nextMsgId = 1;
  private kaSendTimer?: ReturnType<typeof setInterval>;
  private holdTimer?: ReturnType<typeof setTimeout>;
  private initTimer?: ReturnType<typeof setTimeout>;
  private pendingError?: LdpError;
  /** encoded messages held back while a received chunk is being processed */
  private held?: Buffer[];
  private closed = false;

  constructor(private readonly o: SessionOptions) {
    this.keepaliveTime = o.keepaliveTime ?? 180;
    if (this.keepaliveTime < MIN_KEEPALIVE) throw new RangeError(`keepalive time ${this.keepaliveTime} below ${MIN_KEEPALIVE}`);
  }

  get peerLsrId(): string {
    return this.o.peerLsrId;
  }

  get role(): 'active' | 'passive' {
    return this.o.role;
  }

  /** the transport is connected: the active side sends its Initialization */
  start(): void {
    this.initTimer = setTimeout(() => this.fire('init-timeout', 'session not operational in time'), (this.o.initTimeout ?? 15) * 1000);
    this.fire(this.o.role === 'active' ? 'connect-active' : 'connect-passive', 'transport connected');
  }

  /** bytes from the peer */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    // what we answer to this chunk (Releases, Notifications...) leaves packed, as FRR packs it
    this.held = [];
    try {
      let pdus: Buffer[];
      try {
        pdus = this.framer.push(chunk);
      } catch (e) {
        this.fail(e);
        return;
      }
      for (const p of pdus) {
        if (this.closed) return;
        this.receivePdu(p);
      }
    } finally {
      const held = this.held;
      this.held = undefined;
      if (held && held.length > 0 && !this.closed) this.sendPdus(held);
    }
  }

  /** the transport closed under us */
  transportClosed(): void {
    if (!this.closed) this.fire('transport-closed', 'transport closed by peer');
  }

  /** ends the session with a Notification (Shutdown unless told otherwise, e.g. Hold Timer Expired) */
  shutdown(why = 'shutdown', status: number = Status.Shutdown): void {
    if (this.closed) return;
    this.pendingError = new LdpError(status, why);
    this.fire('shutdown', why);
  }

  /** sends Address and Label messages; only in OPERATIONAL */
  send(messages: OutMessage[]): void {
    if (this.state !== 'OPERATIONAL' || messages.length === 0) return;
    this.write(messages);
  }

  private receivePdu(buf: Buffer): void {
    let pdu;
    try {
      pdu = decodePdu(buf, this.state === 'OPERATIONAL' ? this.maxPdu : LDP_MAX_PDU);
      // we have one label space (platform-wide, 0); the PDU must come from the peer's identifier
      if (pdu.lsrId !== this.o.peerLsrId || pdu.labelSpace !== 0) throw new LdpError(Status.BadLdpIdentifier, `PDU from ${pdu.lsrId}:${pdu.labelSpace}, expected ${this.o.peerLsrId}:0`);
    } catch (e) {
      this.fail(e);
      return;
    }
    // RFC 5036 2.5.5: any PDU restarts the KeepAlive timer
    this.armHold();
    for (const raw of pdu.messages) {
      if (this.closed) return;
      let m: LdpMessage;
      try {
        m = decodeMessage(raw);
      } catch (e) {
        if (e instanceof LdpError && !e.fatal) {
          this.advisory(e);
          continue;
        }
        this.fail(e);
        return;
      }
      this.count(this.stats.received, m.kind === 'ignored' ? `0x${m.msgType.toString(16)}` : m.kind);
      try {
        this.dispatch(m);
      } catch (e) {
        if (e instanceof LdpError && !e.fatal) {
          this.advisory(e.about(raw.id, raw.type));
          continue;
        }
        this.fail(e instanceof LdpError ? e.about(raw.id, raw.type) : e);
        return;
      }
    }
  }

  private dispatch(m: LdpMessage): void {
    switch (m.kind) {
      case 'init':
        this.acceptInit(m);
        this.fire('init-received', 'Initialization received');
        return;
      case 'keepalive':
        this.fire('keepalive-received', 'KeepAlive received');
        return;
      case 'notification': {
        const name = statusName(m.status);
        this.count(this.stats.notificationsReceived, name);
        if ((m.status & 0x80000000) !== 0) {
          this.lastError = `peer sent ${name}`;
          this.fire('fatal-notification-received', `peer sent fatal ${name}`, m.status);
        }
        return;
      }
      case 'ignored':
        return;
      case 'hello':
        // Hellos belong on UDP; one on the session is not a session message
        throw new LdpError(Status.UnknownMessageType, 'Hello on a session');
      default:
        if (this.state !== 'OPERATIONAL') {
          // FRR and the RFC: only Initialization, KeepAlive and Notification before OPERATIONAL
          this.pendingError = new LdpError(Status.Shutdown, `${m.kind} before OPERATIONAL`, m.id, messageType(m));
        } else if (m.kind === 'capability') {
          for (const c of m.capabilities) this.peerCapabilities.set(c.type, c.enabled);
          for (const t of m.unsupportedCapabilities) this.advisory(new LdpError(Status.UnsupportedCapability, `capability 0x${t.toString(16)}`, m.id, messageType(m)));
        }
        this.fire('message-received', m.kind, undefined, m);
    }
  }

  private acceptInit(m: Init): void {
    // RFC 5036 3.5.3: the receiver LDP identifier names us; a mismatch means no matching Hello
    if (m.receiverLsrId !== this.o.localLsrId || m.receiverLabelSpace !== 0) {
      throw new LdpError(Status.SessionRejectedNoHello, `Initialization addressed to ${m.receiverLsrId}:${m.receiverLabelSpace}`);
    }
    this.keepaliveTime = Math.min(this.keepaliveTime, m.keepaliveTime);
    const peerMax = m.maxPduLength <= 255 ? LDP_MAX_PDU : m.maxPduLength;
    this.maxPdu = Math.min(LDP_MAX_PDU, peerMax);
    this.framer.maxPdu = this.maxPdu;
    for (const c of m.capabilities) this.peerCapabilities.set(c.type, c.enabled);
    for (const t of m.unsupportedCapabilities) this.advisory(new LdpError(Status.UnsupportedCapability, `capability 0x${t.toString(16)}`, m.id, 0x0200));
    if (m.ft && (m.ft.flags & FT_LEARN_FROM_NETWORK) !== 0) this.peerFt = m.ft;
  }

  /** runs one state machine step and its action */
  private fire(event: SessionEvent, why: string, peerStatus?: number, m?: LdpMessage): void {
    if (this.closed) return;
    const from = this.state;
    const t = transition(from, event);
    this.state = t.next;
    if (from !== t.next) this.o.onStateChange?.(from, t.next, why);
    switch (t.action) {
      case 'none':
        break;
      case 'send-init':
        this.write([this.initMessage()]);
        break;
      case 'send-init-and-keepalive':
        this.write([this.initMessage(), { kind: 'keepalive' }]);
        this.startKeepalives();
        break;
      case 'send-keepalive':
        this.write([{ kind: 'keepalive' }]);
        this.startKeepalives();
        break;
      case 'session-up':
        clearTimeout(this.initTimer);
        this.upSince = Date.now();
        this.o.onUp?.();
        break;
      case 'process-message':
        if (m) this.o.onMessage?.(m);
        break;
      case 'notify-and-close': {
        const err = this.pendingError ?? this.errorFor(event, why);
        this.pendingError = undefined;
        this.count(this.stats.errors, statusName(err.status));
        this.lastError = err.message;
        this.write([{ kind: 'notification', status: err.status, msgId: err.msgId, msgType: err.msgType }]);
        this.finish(why, err.status);
        break;
      }
      case 'close':
        this.finish(why, peerStatus);
        break;
    }
  }

  private errorFor(event: SessionEvent, why: string): LdpError {
    switch (event) {
      case 'keepalive-timeout':
        return new LdpError(Status.KeepAliveTimerExpired, why);
      default:
        return new LdpError(Status.Shutdown, why);
    }
  }

  private initMessage(): OutMessage {
    return {
      kind: 'init',
      protocolVersion: 1,
      unsupportedCapabilities: [],
      keepaliveTime: this.keepaliveTime,
      downstreamOnDemand: false,
      loopDetection: false,
      pathVectorLimit: 0,
      maxPduLength: LDP_MAX_PDU,
      receiverLsrId: this.o.peerLsrId,
      receiverLabelSpace: 0,
      capabilities: this.o.capabilities ?? [],
      ...(this.o.ft ? { ft: this.o.ft } : {}),
    };
  }

  /** a fatal error: Notification with its status, close */
  private fail(e: unknown): void {
    const err = e instanceof LdpError ? e : new LdpError(Status.InternalError, String(e));
    if (!err.fatal) {
      this.advisory(err);
      return;
    }
    this.pendingError = err;
    this.fire('protocol-error', err.message);
  }

  /** an advisory Notification: the message is ignored, the session goes on */
  private advisory(err: LdpError): void {
    this.count(this.stats.errors, statusName(err.status));
    this.write([{ kind: 'notification', status: err.status, msgId: err.msgId, msgType: err.msgType }]);
  }

  private write(messages: OutMessage[]): void {
    if (this.closed) return;
    const bufs = messages.map((m) => {
      this.count(this.stats.sent, m.kind);
      return encodeMessage({ ...m, id: this.nextMsgId++ } as Exclude<LdpMessage, { kind: 'ignored' }>);
    });
    if (this.held) this.held.push(...bufs);
    else this.sendPdus(bufs);
    // RFC 5036 2.5.5: any PDU sent counts as a keepalive; restart the send interval
    if (this.kaSendTimer) this.restartKeepaliveInterval();
  }

  private sendPdus(bufs: Buffer[]): void {
    for (const pdu of packPdus(this.o.localLsrId, 0, bufs, this.maxPdu)) this.o.transport.write(pdu);
  }

  private startKeepalives(): void {
    this.restartKeepaliveInterval();
    this.armHold();
  }

  private restartKeepaliveInterval(): void {
    clearInterval(this.kaSendTimer);
    // three KeepAlives per negotiated interval, as FRR does (KEEPALIVE_PER_PERIOD)
    const every = Math.max(1, Math.floor(this.keepaliveTime / 3)) * 1000;
    this.kaSendTimer = setInterval(() => this.write([{ kind: 'keepalive' }]), every);
  }

  private armHold(): void {
    if (this.state !== 'OPENREC' && this.state !== 'OPERATIONAL' && !this.kaSendTimer) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.fire('keepalive-timeout', `no PDU for ${this.keepaliveTime} s`), this.keepaliveTime * 1000);
  }

  private finish(why: string, status?: number): void {
    if (this.held && this.held.length > 0) this.sendPdus(this.held);
    this.held = undefined;
    this.closed = true;
    clearInterval(this.kaSendTimer);
    clearTimeout(this.holdTimer);
    clearTimeout(this.initTimer);
    this.o.transport.end();
    this.o.onDown?.(why, status);
  }

  private count(table: Record<string, number>, key: string): void {
    table[key] = (table[key] ?? 0) + 1;
  }
}
