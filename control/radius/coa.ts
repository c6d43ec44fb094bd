// The CoA / Disconnect listener (RFC 5176): one UDP socket on the node's configured address.
// A request is taken only from an address an ISP lists under `radius.coa.from`, signed with
// that ISP's secret, and only about that ISP's sessions. Before anything is changed:
//   - malformed packets, other codes, unknown sources and wrong authenticators are dropped
//     unanswered (RFC 5176 §3.5: silently discarded) and counted by reason;
//   - an Event-Timestamp outside the window is dropped and counted ('stale'); one missing is
//     answered with a NAK (Missing-Attribute), since without it a replay cannot be told;
//   - a request whose authenticator was seen within the window is a replay or a retransmission:
//     it is not executed again, the first answer is sent again and it is counted ('replay').
// A valid request is then answered with an ACK, or a NAK with an Error-Cause.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../log.js';
import { DaemonError } from '../daemon/errors.js';
import type { IspRadius } from '../config/types.js';
import { Attr, Code, ErrorCause, attr, decode, first, intOf, signedResponse, verifyRequest, type Attribute, type Packet } from './packet.js';
import type { CoaRefusal, SessionMetrics } from '../sessions/metrics.js';
import { rateOf, type SessionManager } from '../sessions/manager.js';

export interface CoaPeer {
  isp: string;
  radius: IspRadius;
}

export interface CoaListenerOptions {
  address: string;
  port: number;
  manager: SessionManager;
  /** the ISPs with a CoA source list, from the running config */
  peers(): CoaPeer[];
  node(): string;
  /** seconds an Event-Timestamp may be off */
  window(): number;
  log: Logger;
  metrics?: SessionMetrics;
  now?: () => number;
}

/** Attributes that say which session a request is about, or that any request may carry. */
const IDENTITY = new Set<number>([Attr.UserName, Attr.AcctSessionId, Attr.NasIdentifier, Attr.NasIpAddress, Attr.NasIpv6Address, Attr.CallingStationId, Attr.FramedIpAddress, Attr.NasPort, Attr.NasPortType]);
const ALWAYS = new Set<number>([Attr.EventTimestamp, Attr.MessageAuthenticator, Attr.ProxyState]);
const MAX_SEEN = 65_536;

export class CoaListener {
  private socket: Socket | undefined;
  /** request authenticator -> when it was seen and the answer sent (if any yet) */
  private readonly seen = new Map<string, { at: number; answer?: Buffer }>();
  private readonly now: () => number;

  constructor(private readonly o: CoaListenerOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Binds; resolves with the port (useful when 0 was asked). */
  async listen(): Promise<number> {
    const s = createSocket({ type: isIPv6(this.o.address) ? 'udp6' : 'udp4' });
    s.on('message', (msg, rinfo) => void this.handle(msg, rinfo.address, rinfo.port).catch((err) => this.o.log.error({ err: String(err) }, 'CoA request failed')));
    s.on('error', (err) => this.o.log.error({ err: String(err) }, 'CoA socket error'));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.o.port, this.o.address, () => {
        s.off('error', reject);
        resolve();
      });
    });
    this.socket = s;
    return s.address().port;
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private refuse(reason: CoaRefusal, from: string, detail?: string): void {
    this.o.metrics?.coaRefused.inc({ reason });
    this.o.log.warn({ from, reason, detail }, 'CoA/Disconnect-Request refused');
  }

  private async handle(msg: Buffer, from: string, port: number): Promise<void> {
    let p: Packet;
    try {
      p = decode(msg);
    } catch (err) {
      return this.refuse('malformed', from, (err as Error).message);
    }
    if (p.code !== Code.DisconnectRequest && p.code !== Code.CoaRequest) return this.refuse('unsupported_code', from, `code ${p.code}`);
    const address = from.startsWith('::ffff:') ? from.slice(7) : from;
    const candidates = this.o.peers().filter((x) => x.radius.coa.from.includes(address));
    if (!candidates.length) return this.refuse('unknown_client', from);
    // ISPs may share an address (one AAA platform): the secret tells them apart
    let peer: CoaPeer | undefined;
    let failure: 'bad_authenticator' | 'bad_message_authenticator' = 'bad_authenticator';
    for (const c of candidates) {
      const v = verifyRequest(msg, c.radius.coa.secret);
      if (v.ok) {
        peer = c;
        break;
      }
      failure = v.reason;
    }
    if (!peer) return this.refuse(failure, from);

    const now = this.now();
    const windowMs = this.o.window() * 1000;
    const ts = intOf(first(p, Attr.EventTimestamp));
    if (ts !== undefined && Math.abs(now - ts * 1000) > windowMs) return this.refuse('stale', from, `Event-Timestamp ${ts} is outside ±${this.o.window()} s`);
    this.forget(now - windowMs);
    const key = p.authenticator.toString('hex');
    const prior = this.seen.get(key);
    if (prior) {
      this.refuse('replay', from);
      if (prior.answer) this.socket?.send(prior.answer, port, from);
      return;
    }
    const entry: { at: number; answer?: Buffer } = { at: now };
    this.seen.set(key, entry);

    const kind = p.code === Code.DisconnectRequest ? 'disconnect' : 'coa';
    const cause = ts === undefined ? ErrorCause.MissingAttribute : await this.execute(p, peer, address);
    const ok = cause === undefined;
    const code = kind === 'disconnect' ? (ok ? Code.DisconnectAck : Code.DisconnectNak) : ok ? Code.CoaAck : Code.CoaNak;
    const attrs: Attribute[] = [];
    if (!ok) attrs.push(attr(Attr.ErrorCause, cause));
    for (const a of p.attributes) if (a.type === Attr.ProxyState) attrs.push(a);
    const withMa = p.attributes.some((a) => a.type === Attr.MessageAuthenticator);
    const answer = signedResponse(code, p.identifier, attrs, p.authenticator, peer.radius.coa.secret, withMa);
    entry.answer = answer;
    this.o.metrics?.coa.inc({ isp: peer.isp, kind, result: ok ? 'ack' : 'nak' });
    this.o.log.info({ isp: peer.isp, from, kind, result: ok ? 'ack' : 'nak', errorCause: cause }, 'CoA/Disconnect-Request answered');
    this.socket?.send(answer, port, from);
  }

  /** Carries a request out; the Error-Cause when it cannot be. */
  private async execute(p: Packet, peer: CoaPeer, from: string): Promise<number | undefined> {
    const disconnect = p.code === Code.DisconnectRequest;
    for (const a of p.attributes) {
      if (IDENTITY.has(a.type) || ALWAYS.has(a.type)) continue;
      if (disconnect && a.type === Attr.AcctTerminateCause) continue;
      if (!disconnect && isRateAttribute(a, peer.radius)) continue;
      return ErrorCause.UnsupportedAttribute;
    }
    const nasId = first(p, Attr.NasIdentifier);
    if (nasId && nasId.toString('utf8') !== this.o.node()) return ErrorCause.NasIdentificationMismatch;
    const store = this.o.manager.store;
    let id: string | undefined;
    const sid = first(p, Attr.AcctSessionId)?.toString('utf8');
    const user = first(p, Attr.UserName)?.toString('utf8');
    if (sid !== undefined) {
      const s = store.get(sid);
      // another ISP's session is not found, not forbidden: nothing of it is revealed
      if (s?.state === 'open' && s.isp === peer.isp && (user === undefined || user === s.username)) id = s.id;
    } else if (user !== undefined) {
      const found = store.openByUsername(peer.isp, user);
      if (found.length > 1) return 508; // Multiple Session Selection Unsupported
      id = found[0]?.id;
    } else return ErrorCause.MissingAttribute;
    if (id === undefined) return ErrorCause.SessionContextNotFound;
    const actor = { name: `radius:${peer.isp}`, role: 'isp', source: from };
    try {
      if (disconnect) await this.o.manager.close(actor, id, 'disconnect');
      else {
        const rate = rateOf(p, peer.radius);
        if (!rate) return ErrorCause.MissingAttribute;
        await this.o.manager.changeRate(actor, id, rate);
      }
    } catch (err) {
      this.o.log.warn({ isp: peer.isp, session: id, err: String((err as Error).message ?? err) }, 'CoA/Disconnect could not be carried out');
      if (err instanceof DaemonError && err.kind === 'not_found') return ErrorCause.SessionContextNotFound;
      if (err instanceof DaemonError && err.kind === 'invalid') return ErrorCause.InvalidAttributeValue;
      return disconnect ? ErrorCause.SessionContextNotRemovable : ErrorCause.ResourcesUnavailable;
    }
    return undefined;
  }

  private forget(before: number): void {
    for (const [k, v] of this.seen) {
      if (v.at >= before && this.seen.size <= MAX_SEEN) break;
      this.seen.delete(k);
    }
  }
}

function isRateAttribute(a: Attribute, r: IspRadius): boolean {
  for (const ref of [r.rate.up, r.rate.down]) {
    if (!ref) continue;
    if (ref.vendor === undefined ? a.type === ref.type : a.type === Attr.VendorSpecific && a.value.length >= 4 && a.value.readUInt32BE(0) === ref.vendor) return true;
  }
  return false;
}

/** The listener a running config asks for (`sessions.coa`), listening; undefined when it asks
 * for none. Peers, the node name and the window are read from the running config per request,
 * so a reload changes them (the address and port take a restart). */
export async function startCoaListener(
  running: () => { node: string; isps: Array<{ name: string; radius?: IspRadius }>; sessions?: { coa?: { address: string; port: number }; eventWindow: number } } | undefined,
  manager: SessionManager,
  log: Logger,
  metrics?: SessionMetrics,
): Promise<{ listener: CoaListener; address: string; port: number } | undefined> {
  const at = running()?.sessions?.coa;
  if (!at) return undefined;
  const listener = new CoaListener({
    address: at.address,
    port: at.port,
    manager,
    peers: () => (running()?.isps ?? []).flatMap((i) => (i.radius?.coa.from.length ? [{ isp: i.name, radius: i.radius }] : [])),
    node: () => running()?.node ?? '',
    window: () => running()?.sessions?.eventWindow ?? 300,
    log,
    metrics,
  });
  const port = await listener.listen();
  return { listener, address: at.address, port };
}
