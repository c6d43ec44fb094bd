// The node's RADIUS client transport: one UDP socket per address family, an Identifier space
// per server (256 requests in flight each; more wait their turn), retransmission of the same
// bytes after a timeout (so the server's duplicate detection sees a retransmission, RFC 5080
// §2.2.1), and answers matched by server, Identifier and a valid Response Authenticator. A
// response that fails its check is counted and ignored; the request keeps waiting.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { decode, verifyResponse, type Packet } from './packet.js';

export interface RadiusServer {
  address: string;
  port: number;
  secret: string;
  /** ms to wait before retransmitting */
  timeout: number;
  /** retransmissions after the first send */
  retries: number;
}

/** The bytes to send for Identifier `id`, and the authenticator its response is checked with. */
export type Build = (id: number) => { bytes: Buffer; authenticator: Buffer };

interface Pending {
  server: RadiusServer;
  authenticator: Buffer;
  resolve(p: { packet: Packet; bytes: Buffer } | undefined): void;
  timer: NodeJS.Timeout;
}

class IdSpace {
  readonly pending = new Map<number, Pending>();
  private next = Math.floor(Math.random() * 256);
  readonly waiting: Array<() => void> = [];

  take(): number | undefined {
    if (this.pending.size >= 256) return undefined;
    while (this.pending.has(this.next)) this.next = (this.next + 1) & 0xff;
    const id = this.next;
    this.next = (this.next + 1) & 0xff;
    return id;
  }
}

export interface ClientCounters {
  /** responses that did not match a request or failed their authenticator check */
  badResponse(reason: string): void;
}

export class RadiusClient {
  private sockets = new Map<'udp4' | 'udp6', Socket>();
  private spaces = new Map<string, IdSpace>();
  private closed = false;

  constructor(private readonly counters: ClientCounters = { badResponse() {} }) {}

  /** Sends a request and resolves with the verified response, or undefined when none came in
   * time after every retransmission. */
  async request(server: RadiusServer, build: Build): Promise<{ packet: Packet; bytes: Buffer } | undefined> {
    if (this.closed) throw new Error('the RADIUS client is closed');
    const key = `${server.address}|${server.port}`;
    const space = this.spaces.get(key) ?? this.spaces.set(key, new IdSpace()).get(key)!;
    let id = space.take();
    while (id === undefined) {
      await new Promise<void>((r) => space.waiting.push(r));
      if (this.closed) return undefined;
      id = space.take();
    }
    const { bytes, authenticator } = build(id);
    const socket = await this.socket(isIPv6(server.address) ? 'udp6' : 'udp4');
    const ident = id;
    return new Promise((resolve) => {
      let sent = 0;
      const send = (): void => {
        sent++;
        socket.send(bytes, server.port, server.address, () => undefined);
      };
      const onTimeout = (): void => {
        if (sent <= server.retries) {
          send();
          p.timer = setTimeout(onTimeout, server.timeout);
          return;
        }
        finish(undefined);
      };
      const finish = (r: { packet: Packet; bytes: Buffer } | undefined): void => {
        clearTimeout(p.timer);
        space.pending.delete(ident);
        space.waiting.shift()?.();
        resolve(r);
      };
      const p: Pending = { server, authenticator, resolve: finish, timer: setTimeout(onTimeout, server.timeout) };
      space.pending.set(ident, p);
      send();
    });
  }

  private async socket(family: 'udp4' | 'udp6'): Promise<Socket> {
    const have = this.sockets.get(family);
    if (have) return have;
    const s = createSocket({ type: family });
    this.sockets.set(family, s);
    s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.bind(0, family === 'udp4' ? '0.0.0.0' : '::', () => r()));
    return s;
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    const space = this.spaces.get(`${address}|${port}`);
    if (!space || msg.length < 20) return this.counters.badResponse('unexpected');
    const p = space.pending.get(msg[1]!);
    if (!p) return this.counters.badResponse('unexpected');
    let packet: Packet;
    try {
      packet = decode(msg);
    } catch {
      return this.counters.badResponse('malformed');
    }
    const v = verifyResponse(msg, p.authenticator, p.server.secret);
    if (!v.ok) return this.counters.badResponse(v.reason);
    p.resolve({ packet, bytes: msg.subarray(0, msg.readUInt16BE(2)) });
  }

  close(): void {
    this.closed = true;
    for (const space of this.spaces.values()) {
      for (const p of space.pending.values()) p.resolve(undefined);
      for (const w of space.waiting.splice(0)) w();
    }
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
