// The LDP speaker of one node: basic discovery (link Hellos on UDP 646 to 224.0.0.2 on each
// LDP interface), sessions over TCP 646 (the higher transport address connects, from its
// transport address), back-off for failed attempts, and the LIB. It is the imperative shell
// around session.ts and lib.ts: sockets and timers here, decisions there. The daemon gives it
// the FECs this node is egress for and a next-hop lookup, and listens for 'fec' events to write
// push/swap/pop entries; neighbors()/bindings()/discovery() are what `fecflow ldp ... --json`
// prints.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import type { Logger } from '../log.js';
import { ALL_ROUTERS_V4, DEFAULT_LINK_HOLD_TIME, LDP_PORT, MIN_HOLD_TIME, Status, statusName } from './constants.js';
import { LdpError } from './errors.js';
import { applyGtsm, gtsmAvailable } from './gtsm.js';
import { Backoff, type SessionState } from './fsm.js';
import { LabelAllocator } from './labels.js';
import { Lib, type BindingView, type FecChange, type LibOutput } from './lib.js';
import { decodeMessage, encodeMessage, type LdpMessage } from './messages.js';
import { FT_LEARN_FROM_NETWORK } from './init.js';
import { decodePdu, encodePdu } from './pdu.js';
import { LdpSession, type OutMessage } from './session.js';
import { ipv4ToBuffer } from './tlv.js';

export interface SpeakerOptions {
  lsrId: string;
  /** the address sessions use (TCP source and destination); a local address, not 127/8 */
  transportAddress: string;
  /** LDP-enabled interfaces (link Hellos are sent and accepted on these) */
  interfaces: string[];
  helloInterval?: number;
  holdTime?: number;
  keepaliveTime?: number;
  labelRange?: [number, number];
  egress?: string[];
  /** what we advertise for egress FECs: a real label (default; the tailend learns the FEC on pop) or implicit null (PHP) */
  egressLabel?: 'allocate' | 'implicit-null';
  resolveNextHop?: (prefix: string) => string | undefined;
  backoff?: { initialMs: number; maxMs: number };
  /** TCP and UDP port; 646 unless a test says otherwise */
  port?: number;
  /** which transport addresses a Hello may advertise (default: not 0/8, 127/8, multicast, broadcast) */
  acceptTransport?: (addr: string) => boolean;
  /** advertise and use GTSM (RFC 6720); default: when the native binding can set IP_TTL */
  gtsm?: boolean;
  /** the addresses we announce in Address messages (default: this namespace's IPv4 addresses) */
  localAddresses?: () => string[];
  /**
   * Programs the data plane for a batch of FEC changes. When given, what a batch makes us send
   * waits until it resolves: a local label is installed before it is advertised, and a label
   * learned from downstream is in use before the old one is released (make-before-break).
   * Batches run one at a time, in order.
   */
  program?: (changes: FecChange[]) => Promise<void>;
  /** a FEC's local label before a restart, taken again when free */
  preferredLabel?: (prefix: string) => number | undefined;
  /** labels still installed from before a restart: not handed to other FECs until unholdLabels() */
  heldLabels?: number[];
  /** ms a withdrawn or replaced label waits for the peers' Release before it is freed anyway */
  releaseTimeoutMs?: number;
  /**
   * Graceful restart (RFC 3478): announced in our Initialization. As a helper, a session lost
   * with a peer that announced it keeps the peer's labels (stale) for its reconnect time, and
   * after it reconnects for its recovery time, removing only those it did not map again. Our
   * recoveryMs is how long we keep forwarding state of before our own restart (0: none).
   */
  gracefulRestart?: { reconnectMs: number; recoveryMs: number };
  log?: Logger;
}

export interface NeighborView {
  neighborId: string;
  transportAddress: string;
  state: SessionState;
  role: 'active' | 'passive';
  upSince: string | null;
  keepaliveTime: number | null;
  maxPduLength: number | null;
  addresses: string[];
  capabilities: string[];
  messagesSent: Record<string, number>;
  messagesReceived: Record<string, number>;
  notificationsSent: Record<string, number>;
  notificationsReceived: Record<string, number>;
  sessionAttempts: number;
  lastError: string | null;
  nextAttemptInMs: number | null;
}

export interface DiscoveryView {
  lsrId: string;
  transportAddress: string;
  interfaces: { name: string; address: string | null; helloInterval: number; holdTime: number }[];
  adjacencies: { neighborId: string; interface: string; source: string; transportAddress: string; holdTime: number; expiresInMs: number }[];
}

export interface SpeakerStats {
  sessionsUp: number;
  messagesSent: Record<string, number>;
  messagesReceived: Record<string, number>;
  notificationsSent: Record<string, number>;
  notificationsReceived: Record<string, number>;
  labelChanges: number;
  /** Hellos dropped (malformed, bad transport address, unknown interface), by reason */
  helloDrops: Record<string, number>;
  /** TCP connections refused before a session (no Hello, wrong role, duplicate) */
  connectionsRefused: number;
}

interface Adjacency {
  iface: string;
  source: string;
  holdTime: number;
  expires: number;
  timer: ReturnType<typeof setTimeout>;
}

interface Neighbor {
  lsrId: string;
  transportAddress: string;
  adjacencies: Map<string, Adjacency>;
  session?: LdpSession;
  socket?: net.Socket;
  role: 'active' | 'passive';
  /** the neighbour set the G bit in its last Hello */
  gtsm: boolean;
  backoff: Backoff;
  retryTimer?: ReturnType<typeof setTimeout>;
  retryAt?: number;
  attempts: number;
  lastError?: string;
  /** counters of ended sessions, so the views keep totals */
  past: { sent: Record<string, number>; received: Record<string, number>; errors: Record<string, number>; notes: Record<string, number> };
}

/** accepted connections waiting for their Hello, at most */
const MAX_PENDING = 64;
/** How long a connection may wait for its peer's first Hello (the default link hold time). */
const PENDING_HELLO_WAIT_MS = 15_000;

const u32 = (a: string): number => ipv4ToBuffer(a).readUInt32BE(0);

export function defaultAcceptTransport(addr: string): boolean {
  let n: number;
  try {
    n = u32(addr);
  } catch {
    return false;
  }
  const first = n >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

export class LdpSpeaker extends EventEmitter {
  private readonly lib: Lib;
  private readonly nbrs = new Map<string, Neighbor>();
  private readonly pending = new Map<net.Socket, ReturnType<typeof setTimeout>>();
  /** interface -> the address it joined 224.0.0.2 with */
  private readonly joined = new Map<string, string>();
  private udp?: dgram.Socket;
  private server?: net.Server;
  private helloTimer?: ReturnType<typeof setInterval>;
  private readonly port: number;
  private readonly holdTime: number;
  private readonly helloInterval: number;
  private readonly acceptTransport: (a: string) => boolean;
  private readonly counters = { helloDrops: {} as Record<string, number>, connectionsRefused: 0 };
  /** message counts of neighbours that are gone, so the totals only ever grow */
  private readonly retired = { sent: {} as Record<string, number>, received: {} as Record<string, number>, errors: {} as Record<string, number>, notes: {} as Record<string, number> };
  private stopped = false;
  private gtsm: boolean;
  private readonly allocator: LabelAllocator;
  /** the data-plane batches, one at a time */
  private programQueue: Promise<void> = Promise.resolve();
  /** retiring labels as the last batch saw them, to notice a Release */
  private retiringSeen = '';
  private expiryTimer?: ReturnType<typeof setInterval>;
  /** graceful restart: the purge of a peer's stale labels, by LSR-ID */
  private readonly staleTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly o: SpeakerOptions) {
    super();
    if (!defaultAcceptTransport(o.transportAddress) && !o.acceptTransport?.(o.transportAddress)) throw new RangeError(`transport address ${o.transportAddress} is not usable (127/8, 0/8 and multicast are not)`);
    ipv4ToBuffer(o.lsrId);
    this.port = o.port ?? LDP_PORT;
    this.holdTime = o.holdTime ?? DEFAULT_LINK_HOLD_TIME;
    this.helloInterval = o.helloInterval ?? 5;
    this.acceptTransport = o.acceptTransport ?? defaultAcceptTransport;
    this.gtsm = o.gtsm ?? gtsmAvailable();
    const [min, max] = o.labelRange ?? [16, 0xfffff];
    this.allocator = new LabelAllocator(min, max);
    if (o.heldLabels) this.allocator.hold(o.heldLabels);
    this.lib = new Lib({ allocator: this.allocator, resolveNextHop: o.resolveNextHop, egressLabel: o.egressLabel, preferredLabel: o.preferredLabel });
  }

  async start(): Promise<void> {
    this.server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen({ host: this.o.transportAddress, port: this.port }, () => resolve());
    });
    if (this.gtsm) {
      try {
        // before any SYN arrives: our SYN-ACKs and every accepted socket then carry TTL 255
        applyGtsm(this.server, false);
      } catch (e) {
        this.gtsm = false;
        this.o.log?.warn({ err: (e as Error).message }, 'ldp: cannot set TTL 255, not advertising GTSM');
      }
    }
    if (this.o.interfaces.length > 0) {
      const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      this.udp = udp;
      udp.on('message', (buf, rinfo) => this.receiveHello(buf, rinfo.address, this.interfaceOf(rinfo.address)));
      udp.on('error', (e) => this.o.log?.warn({ err: e.message }, 'ldp discovery socket error'));
      await new Promise<void>((resolve) => udp.bind(this.port, resolve));
      udp.setMulticastLoopback(false);
      // RFC 5036 2.4.1: link Hellos stay on the link
      udp.setMulticastTTL(1);
      for (const name of this.o.interfaces) {
        if (!this.interfaceAddress(name)) this.o.log?.warn({ interface: name }, 'ldp interface has no IPv4 address yet: it joins discovery once it has one');
      }
      this.sendHellos();
      this.helloTimer = setInterval(() => this.sendHellos(), this.helloInterval * 1000);
    }
    if (this.o.egress) this.execute(this.lib.setEgress(this.o.egress));
    if (this.o.releaseTimeoutMs !== undefined) {
      const maxAge = this.o.releaseTimeoutMs;
      this.expiryTimer = setInterval(() => {
        const fecs = this.lib.expireRetiring(maxAge);
        if (fecs.length) {
          this.o.log?.warn({ fecs }, 'ldp: withdrawn labels not released by every peer in time; freed');
          this.execute({ send: [], changes: [] });
        }
      }, Math.min(1000, maxAge));
      this.expiryTimer.unref?.();
    }
  }

  /** Resolves when every data-plane batch queued so far has run. */
  settled(): Promise<void> {
    return this.programQueue;
  }

  /** A new local label for a FEC, make-before-break (see Lib.relabel); throws RangeError. */
  relabel(prefix: string): number {
    this.execute(this.lib.relabel(prefix));
    return this.lib.bindings().find((b) => b.prefix === prefix)!.localLabel!;
  }

  /** Local labels withdrawn or replaced and still waiting for Releases: label -> FEC. */
  retiring(): Map<number, string> {
    return this.lib.retiring();
  }

  /** The labels of before a restart may be handed to any FEC again. */
  unholdLabels(): void {
    this.allocator.unhold();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.helloTimer);
    clearInterval(this.expiryTimer);
    for (const t of this.staleTimers.values()) clearTimeout(t);
    for (const n of this.nbrs.values()) {
      clearTimeout(n.retryTimer);
      for (const a of n.adjacencies.values()) clearTimeout(a.timer);
      n.session?.shutdown('speaker stopping');
      n.socket?.destroy();
    }
    for (const [s, t] of this.pending) {
      clearTimeout(t);
      s.destroy();
    }
    this.pending.clear();
    this.udp?.close();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Sets the FECs this node is egress for; peers get mappings or withdraws. */
  setEgress(prefixes: string[]): void {
    this.execute(this.lib.setEgress(prefixes));
  }

  /** The routing view changed: FECs are re-resolved to their downstream neighbour. */
  routesChanged(): void {
    this.execute(this.lib.recomputeAll());
  }

  /** One received discovery datagram (the UDP socket's handler; public for tests). */
  receiveHello(buf: Buffer, source: string, iface: string | undefined): void {
    const drop = (why: string): void => {
      this.counters.helloDrops[why] = (this.counters.helloDrops[why] ?? 0) + 1;
    };
    if (iface === undefined) return drop('not on an LDP interface');
    let lsrId: string;
    let m: LdpMessage;
    try {
      const pdu = decodePdu(buf);
      if (pdu.labelSpace !== 0) throw new LdpError(Status.BadLdpIdentifier, 'label space');
      lsrId = pdu.lsrId;
      // like FRR, only the first message of a discovery datagram counts
      m = decodeMessage(pdu.messages[0]!);
    } catch (e) {
      return drop(e instanceof LdpError ? statusName(e.status) : 'malformed');
    }
    if (m.kind !== 'hello') return drop('not a Hello');
    if (m.targeted) return drop('targeted Hello (not supported)');
    if (lsrId === this.o.lsrId) return drop('our own Hello');
    if (m.holdTime !== 0 && m.holdTime < MIN_HOLD_TIME) return drop('hold time below 3 s');
    const transport = m.transportAddress ?? source;
    if (!this.acceptTransport(transport)) return drop('bad transport address');
    let n = this.nbrs.get(lsrId);
    if (n && n.transportAddress !== transport) return drop('transport address changed');
    if (!n) {
      if ([...this.nbrs.values()].some((x) => x.transportAddress === transport)) return drop('transport address used by another LSR');
      n = { lsrId, transportAddress: transport, adjacencies: new Map(), role: u32(this.o.transportAddress) > u32(transport) ? 'active' : 'passive', gtsm: m.gtsm, backoff: new Backoff(this.o.backoff?.initialMs, this.o.backoff?.maxMs), attempts: 0, past: { sent: {}, received: {}, errors: {}, notes: {} } };
      this.nbrs.set(lsrId, n);
      this.o.log?.info({ neighbor: lsrId, transport, role: n.role, interface: iface }, 'ldp neighbor discovered');
    }
    n.gtsm = m.gtsm;
    const hold = Math.min(this.holdTime, m.holdTime === 0 ? DEFAULT_LINK_HOLD_TIME : m.holdTime);
    const key = `${iface}|${source}`;
    const old = n.adjacencies.get(key);
    if (old) clearTimeout(old.timer);
    const nb = n;
    n.adjacencies.set(key, { iface, source, holdTime: hold, expires: Date.now() + hold * 1000, timer: setTimeout(() => this.expireAdjacency(nb, key), hold * 1000) });
    this.maybeConnect(n);
    this.adoptPending(n);
  }

  neighbors(): NeighborView[] {
    return [...this.nbrs.values()]
      .sort((a, b) => a.lsrId.localeCompare(b.lsrId))
      .map((n) => {
        const s = n.session;
        const st = s?.stats;
        return {
          neighborId: n.lsrId,
          transportAddress: n.transportAddress,
          state: s?.state ?? 'NON EXISTENT',
          role: n.role,
          upSince: s?.upSince ? new Date(s.upSince).toISOString() : null,
          keepaliveTime: s && s.state !== 'NON EXISTENT' ? s.keepaliveTime : null,
          maxPduLength: s && s.state !== 'NON EXISTENT' ? s.maxPdu : null,
          addresses: this.lib.peerAddresses(n.lsrId).sort(),
          capabilities: s ? [...s.peerCapabilities].filter(([, on]) => on).map(([t]) => `0x${t.toString(16).padStart(4, '0')}`) : [],
          messagesSent: sum(n.past.sent, st?.sent),
          messagesReceived: sum(n.past.received, st?.received),
          notificationsSent: sum(n.past.errors, st?.errors),
          notificationsReceived: sum(n.past.notes, st?.notificationsReceived),
          sessionAttempts: n.attempts,
          lastError: s?.lastError ?? n.lastError ?? null,
          nextAttemptInMs: n.retryAt ? Math.max(0, n.retryAt - Date.now()) : null,
        };
      });
  }

  bindings(): BindingView[] {
    return this.lib.bindings();
  }

  discovery(): DiscoveryView {
    const now = Date.now();
    return {
      lsrId: this.o.lsrId,
      transportAddress: this.o.transportAddress,
      interfaces: this.o.interfaces.map((name) => ({ name, address: this.interfaceAddress(name)?.address ?? null, helloInterval: this.helloInterval, holdTime: this.holdTime })),
      adjacencies: [...this.nbrs.values()].flatMap((n) => [...n.adjacencies.values()].map((a) => ({ neighborId: n.lsrId, interface: a.iface, source: a.source, transportAddress: n.transportAddress, holdTime: a.holdTime, expiresInMs: Math.max(0, a.expires - now) }))),
    };
  }

  /** Counters that only grow (neighbours that went away keep counting), for metrics. */
  stats(): SpeakerStats {
    const views = this.neighbors();
    return {
      sessionsUp: views.filter((v) => v.state === 'OPERATIONAL').length,
      messagesSent: views.reduce((acc, v) => sum(acc, v.messagesSent), this.retired.sent),
      messagesReceived: views.reduce((acc, v) => sum(acc, v.messagesReceived), this.retired.received),
      notificationsSent: views.reduce((acc, v) => sum(acc, v.notificationsSent), this.retired.errors),
      notificationsReceived: views.reduce((acc, v) => sum(acc, v.notificationsReceived), this.retired.notes),
      labelChanges: this.lib.labelChanges,
      helloDrops: { ...this.counters.helloDrops },
      connectionsRefused: this.counters.connectionsRefused,
    };
  }

  // ---- discovery ----

  private sendHellos(): void {
    const udp = this.udp;
    if (!udp) return;
    const pdu = encodePdu(this.o.lsrId, 0, [encodeMessage({ kind: 'hello', id: 0, holdTime: this.holdTime, targeted: false, requestTargeted: false, gtsm: this.gtsm, transportAddress: this.o.transportAddress })]);
    // One socket serves every interface: the outgoing interface is a socket option, and a send
    // only takes it when the datagram reaches the kernel (after the callback of the previous
    // one), so the interfaces are done one after the other, never all with the last one's.
    const names = [...this.o.interfaces];
    const next = (): void => {
      const name = names.shift();
      if (name === undefined || this.stopped) return;
      const addr = this.interfaceAddress(name);
      if (!addr) return next();
      this.joinGroup(name, addr.address);
      try {
        udp.setMulticastInterface(addr.address);
        udp.send(pdu, this.port, ALL_ROUTERS_V4, (err) => {
          if (err) this.o.log?.warn({ interface: name, err: err.message }, 'ldp hello not sent');
          next();
        });
      } catch (e) {
        this.o.log?.warn({ interface: name, err: (e as Error).message }, 'ldp hello not sent');
        next();
      }
    };
    next();
  }

  /**
   * Joins 224.0.0.2 on an interface once it has an address, and again when the address
   * changes: an interface that comes up (or gets its address) after the speaker started would
   * otherwise never hear its neighbours' Hellos. Checked on every Hello tick.
   */
  private joinGroup(name: string, address: string): void {
    if (!this.udp || this.joined.get(name) === address) return;
    const old = this.joined.get(name);
    try {
      if (old !== undefined) this.udp.dropMembership(ALL_ROUTERS_V4, old);
    } catch {
      /* the old address is gone with its membership */
    }
    try {
      this.udp.addMembership(ALL_ROUTERS_V4, address);
      this.joined.set(name, address);
    } catch (e) {
      this.o.log?.warn({ interface: name, err: (e as Error).message }, 'ldp: cannot join 224.0.0.2; retried at the next Hello');
    }
  }

  private interfaceAddress(name: string): os.NetworkInterfaceInfo | undefined {
    return os.networkInterfaces()[name]?.find((a) => a.family === 'IPv4');
  }

  /** the LDP interface whose subnet holds `source` */
  private interfaceOf(source: string): string | undefined {
    for (const name of this.o.interfaces) {
      const a = this.interfaceAddress(name);
      if (!a) continue;
      const mask = u32(a.netmask);
      if (((u32(a.address) & mask) >>> 0) === ((u32(source) & mask) >>> 0)) return name;
    }
    return undefined;
  }

  private expireAdjacency(n: Neighbor, key: string): void {
    n.adjacencies.delete(key);
    if (n.adjacencies.size > 0) return;
    this.o.log?.info({ neighbor: n.lsrId }, 'ldp last adjacency expired');
    clearTimeout(n.retryTimer);
    // RFC 5036 2.5.6: the last adjacency gone ends the session
    n.session?.shutdown('hello adjacency expired', Status.HoldTimerExpired);
    n.socket?.destroy();
    const v = this.neighbors().find((x) => x.neighborId === n.lsrId);
    if (v) {
      this.retired.sent = sum(this.retired.sent, v.messagesSent);
      this.retired.received = sum(this.retired.received, v.messagesReceived);
      this.retired.errors = sum(this.retired.errors, v.notificationsSent);
      this.retired.notes = sum(this.retired.notes, v.notificationsReceived);
    }
    this.nbrs.delete(n.lsrId);
  }

  private scheduleStalePurge(lsrId: string, ms: number): void {
    clearTimeout(this.staleTimers.get(lsrId));
    const purge = (): void => {
      this.staleTimers.delete(lsrId);
      if (this.stopped || !this.lib.isStale(lsrId)) return;
      this.o.log?.info({ neighbor: lsrId }, 'ldp: graceful restart over; removing the neighbour\'s labels it did not map again');
      this.execute(this.lib.purgeStale(lsrId));
    };
    if (ms <= 0) return purge();
    const t = setTimeout(purge, ms);
    t.unref?.();
    this.staleTimers.set(lsrId, t);
  }

  // ---- sessions ----

  private maybeConnect(n: Neighbor): void {
    if (this.stopped || n.role !== 'active' || n.session || n.socket || n.retryTimer) return;
    n.attempts++;
    const sock = net.connect({ host: n.transportAddress, port: this.port, localAddress: this.o.transportAddress });
    n.socket = sock;
    sock.once('connect', () => this.attach(n, sock));
    sock.on('error', (e) => {
      n.lastError = e.message;
      if (!n.session) this.retryLater(n);
    });
  }

  private retryLater(n: Neighbor): void {
    n.socket?.destroy();
    n.socket = undefined;
    n.session = undefined;
    if (this.stopped || n.role !== 'active' || !this.nbrs.has(n.lsrId) || n.retryTimer) return;
    const delay = n.backoff.next();
    n.retryAt = Date.now() + delay;
    n.retryTimer = setTimeout(() => {
      n.retryTimer = undefined;
      n.retryAt = undefined;
      this.maybeConnect(n);
    }, delay);
  }

  private accept(sock: net.Socket): void {
    const remote = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    const n = [...this.nbrs.values()].find((x) => x.transportAddress === remote);
    if (!n) {
      // connections nobody announced by a Hello are bounded, so they cannot pile up
      if (this.pending.size >= MAX_PENDING) {
        this.counters.connectionsRefused++;
        sock.destroy();
        return;
      }
      // The peer's Hello may be behind its SYN by up to its Hello interval (5 s on FRR), plus
      // whatever a busy host adds: wait one default link hold time (15 s) for it, so the first
      // attempt succeeds instead of sending the peer into its session back-off.
      this.pending.set(
        sock,
        setTimeout(() => {
          this.pending.delete(sock);
          this.counters.connectionsRefused++;
          sock.destroy();
        }, PENDING_HELLO_WAIT_MS),
      );
      sock.on('error', () => undefined);
      return;
    }
    this.acceptFor(n, sock);
  }

  private adoptPending(n: Neighbor): void {
    for (const [sock, t] of this.pending) {
      if ((sock.remoteAddress ?? '').replace(/^::ffff:/, '') !== n.transportAddress) continue;
      clearTimeout(t);
      this.pending.delete(sock);
      this.acceptFor(n, sock);
    }
  }

  private acceptFor(n: Neighbor, sock: net.Socket): void {
    // the higher address connects; a connection from the lower one, or a second one, is refused
    if (n.role === 'active' || n.session || n.socket) {
      this.counters.connectionsRefused++;
      sock.destroy();
      return;
    }
    n.attempts++;
    n.socket = sock;
    this.attach(n, sock);
  }

  private attach(n: Neighbor, sock: net.Socket): void {
    sock.setNoDelay(true);
    if (this.gtsm) {
      try {
        // RFC 6720: TTL 255 on what we send; a minimum of 255 on what we accept when both negotiated it
        applyGtsm(sock, n.gtsm);
      } catch (e) {
        this.o.log?.warn({ neighbor: n.lsrId, err: (e as Error).message }, 'ldp: cannot apply GTSM to the session socket');
      }
    }
    let wasUp = false;
    const session = new LdpSession({
      localLsrId: this.o.lsrId,
      peerLsrId: n.lsrId,
      role: n.role,
      keepaliveTime: this.o.keepaliveTime,
      ...(this.o.gracefulRestart ? { ft: { flags: FT_LEARN_FROM_NETWORK, ...this.o.gracefulRestart } } : {}),
      transport: { write: (b) => void sock.write(b), end: () => void sock.end() },
      onStateChange: (from, to, why) => {
        this.o.log?.info({ neighbor: n.lsrId, from, to, why }, 'ldp session state');
        this.emit('session', { neighborId: n.lsrId, from, to, why });
      },
      onUp: () => {
        wasUp = true;
        n.backoff.reset();
        n.lastError = undefined;
        const addrs = this.localAddresses();
        if (addrs.length > 0) session.send([{ kind: 'address', family: 'ipv4', addresses: addrs }]);
        const wasStale = this.lib.isStale(n.lsrId);
        this.execute(this.lib.peerUp(n.lsrId));
        if (wasStale) {
          // RFC 3478: the restarted peer says how long it keeps its old forwarding state; 0 means
          // none, so its old labels go now
          const recovery = session.peerFt?.recoveryMs ?? 0;
          this.o.log?.info({ neighbor: n.lsrId, recoveryMs: recovery }, 'ldp: neighbour back after a graceful restart');
          this.scheduleStalePurge(n.lsrId, recovery);
        }
      },
      onMessage: (m) => this.onMessage(n, m),
      onDown: (why, status) => {
        const st = session.stats;
        n.past = { sent: sum(n.past.sent, st.sent), received: sum(n.past.received, st.received), errors: sum(n.past.errors, st.errors), notes: sum(n.past.notes, st.notificationsReceived) };
        n.lastError = status !== undefined ? `${why} (${statusName(status)})` : why;
        this.o.log?.info({ neighbor: n.lsrId, why, status: status !== undefined ? statusName(status) : undefined }, 'ldp session down');
        if (wasUp) {
          const ft = this.o.gracefulRestart ? session.peerFt : undefined;
          this.execute(this.lib.peerDown(n.lsrId, ft !== undefined));
          // helper: the peer's labels stay for its reconnect time (at most 5 minutes)
          if (ft) {
            this.o.log?.info({ neighbor: n.lsrId, reconnectMs: ft.reconnectMs }, 'ldp: keeping the neighbour\'s labels while it restarts');
            this.scheduleStalePurge(n.lsrId, Math.min(ft.reconnectMs, 300_000));
          }
          n.backoff.reset();
        }
        if (n.session === session) n.session = undefined;
        if (n.socket === sock) n.socket = undefined;
        sock.destroySoon?.();
        setTimeout(() => sock.destroy(), 1000).unref();
        if (n.role === 'active') this.retryLater(n);
      },
    });
    n.session = session;
    sock.on('data', (d) => session.receive(d));
    sock.on('close', () => session.transportClosed());
    sock.on('error', (e) => {
      n.lastError = e.message;
    });
    session.start();
  }

  private onMessage(n: Neighbor, m: LdpMessage): void {
    switch (m.kind) {
      case 'address':
      case 'address-withdraw':
        if (m.family === 'ipv4') this.execute(this.lib.addresses(n.lsrId, m.addresses, m.kind === 'address-withdraw'));
        return;
      case 'label-mapping':
        this.execute(this.lib.mapping(n.lsrId, m.fec, m.label!));
        return;
      case 'label-withdraw':
        this.execute(this.lib.withdraw(n.lsrId, m.fec, m.label));
        return;
      case 'label-release':
        this.execute(this.lib.release(n.lsrId, m.fec, m.label));
        return;
      case 'label-request':
        this.execute(this.lib.request(n.lsrId, m.fec, m.id));
        return;
      default:
        // Capability, Label Abort Request: nothing to do in downstream unsolicited mode
        return;
    }
  }

  private execute(out: LibOutput): void {
    const byPeer = new Map<string, { session: LdpSession | undefined; msgs: OutMessage[] }>();
    for (const { peer, msg } of out.send) {
      const entry = byPeer.get(peer) ?? { session: this.nbrs.get(peer)?.session, msgs: [] };
      entry.msgs.push(msg);
      byPeer.set(peer, entry);
    }
    // only to the session the messages were meant for, not to a later one with the same peer
    const send = (): void => {
      for (const [peer, { session, msgs }] of byPeer) if (session && this.nbrs.get(peer)?.session === session) session.send(msgs);
    };
    for (const c of out.changes) this.emit('fec', c satisfies FecChange);
    const retiring = [...this.lib.retiring().keys()].sort((a, b) => a - b).join(',');
    const released = retiring !== this.retiringSeen;
    this.retiringSeen = retiring;
    const program = this.o.program;
    if (!program || (out.changes.length === 0 && !released)) {
      // nothing for the data plane; still behind earlier batches, so the order on the wire holds
      if (!program) send();
      else this.programQueue = this.programQueue.then(send);
      return;
    }
    const changes = out.changes;
    this.programQueue = this.programQueue.then(async () => {
      try {
        await program(changes);
      } catch (e) {
        this.o.log?.error({ err: (e as Error).message, fecs: changes.map((c) => c.prefix) }, 'ldp: programming the data plane failed; advertising anyway');
      }
      send();
    });
  }

  private localAddresses(): string[] {
    if (this.o.localAddresses) return this.o.localAddresses();
    const out = new Set<string>([this.o.transportAddress]);
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && defaultAcceptTransport(a.address)) out.add(a.address);
    return [...out];
  }
}

function sum(a: Record<string, number>, b: Record<string, number> | undefined): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}
