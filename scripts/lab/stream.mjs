#!/usr/bin/env node
// A UDP stream with sequence numbers, for the lab's demo and end-to-end tests. Runs inside a
// namespace (nsenter --net=/run/netns/X node stream.mjs ...) and prints JSON lines on stdout.
//
//   recv --port P [--echo] [--bind ADDR,ADDR...]
//       Counts datagrams per source address and stream: received, unique, duplicates, lowest
//       and highest sequence number, the gaps between them, frames whose payload changed.
//       Prints {"ready":true} once bound, and its report when it gets SIGTERM or SIGINT.
//       --echo sends every datagram back to where it came from, from the address it was sent
//       to (one socket per --bind address; the default is the wildcard addresses).
//   send --to ADDR --port P --rate PPS (--count N | --seconds S) [--stream ID] [--size BYTES]
//        [--echo-wait MS]
//       Sends at the given rate; SIGTERM ends the stream early. Counts the echoes that come
//       back (by sequence number); after the last send it waits until every echo is back or
//       none came for --echo-wait ms (default 500).
//       Prints {"ready":true} once its socket is open, and its report at the end.
//
// Both end by themselves after --lifetime seconds (default 300), so that a test that died
// never leaves one running in a namespace.
//
// Payload: "FFLS", stream id (u32), sequence number (u32), send time (u64 ns), then filler
// bytes derived from the sequence number, so a receiver can tell a changed payload.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

const MAGIC = 0x46464c53; // "FFLS"
const HEADER = 20;
// Room for a few hundred ms of traffic: with two CPUs shared by routers, hosts and the test, an
// event loop can stall that long, and the default buffer (~270 small datagrams) would overflow.
const SOCKET_BUFFER = 4 * 1024 * 1024;

function args(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) o._.push(a);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) o[a.slice(2)] = argv[++i];
    else o[a.slice(2)] = true;
  }
  return o;
}

function fill(buf, seq) {
  for (let i = HEADER; i < buf.length; i++) buf[i] = (seq + i) & 0xff;
}

function intact(buf, seq) {
  for (let i = HEADER; i < buf.length; i++) if (buf[i] !== ((seq + i) & 0xff)) return false;
  return true;
}

function out(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** Seen sequence numbers of one stream, in a growable bitmap. */
class Tally {
  constructor() {
    this.bits = new Uint8Array(1024);
    this.received = 0;
    this.unique = 0;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.corrupt = 0;
    this.bytes = 0;
    this.min = Infinity;
    this.max = -1;
    this.last = -1;
    this.firstAt = 0;
    this.lastAt = 0;
  }
  add(seq, len, ok) {
    const now = Date.now();
    if (!this.received) this.firstAt = now;
    this.lastAt = now;
    this.received++;
    this.bytes += len;
    if (!ok) this.corrupt++;
    while (seq >> 3 >= this.bits.length) {
      const b = new Uint8Array(this.bits.length * 2);
      b.set(this.bits);
      this.bits = b;
    }
    const bit = 1 << (seq & 7);
    if (this.bits[seq >> 3] & bit) {
      this.duplicates++;
      return;
    }
    this.bits[seq >> 3] |= bit;
    this.unique++;
    if (seq < this.last) this.outOfOrder++;
    this.last = seq;
    if (seq < this.min) this.min = seq;
    if (seq > this.max) this.max = seq;
  }
  has(seq) {
    return seq >> 3 < this.bits.length && (this.bits[seq >> 3] & (1 << (seq & 7))) !== 0;
  }
  /** Missing sequence numbers in [from, to], as ranges (at most `limit` of them listed). */
  gaps(from, to, limit = 20) {
    const ranges = [];
    let missing = 0;
    let start = -1;
    for (let s = from; s <= to + 1; s++) {
      const gap = s <= to && !this.has(s);
      if (gap) {
        missing++;
        if (start < 0) start = s;
      } else if (start >= 0) {
        if (ranges.length < limit) ranges.push([start, s - 1]);
        start = -1;
      }
    }
    return { missing, ranges };
  }
  report() {
    const g = this.received ? this.gaps(this.min, this.max) : { missing: 0, ranges: [] };
    return {
      received: this.received,
      unique: this.unique,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      corrupt: this.corrupt,
      bytes: this.bytes,
      minSeq: this.received ? this.min : null,
      maxSeq: this.received ? this.max : null,
      missingInside: g.missing,
      gaps: g.ranges,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
    };
  }
}

function recv(o) {
  const port = Number(o.port);
  const echo = o.echo === true;
  const tallies = new Map(); // "addr|stream" -> Tally
  let other = 0;
  const sockets = [];
  // One socket per address, so that an echo leaves from the address it was sent to.
  const addresses = typeof o.bind === 'string' ? o.bind.split(',') : ['0.0.0.0', '::'];
  let bound = 0;
  for (const address of addresses) {
    const type = isIPv6(address) ? 'udp6' : 'udp4';
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
    s.on('message', (msg, rinfo) => {
      if (msg.length < HEADER || msg.readUInt32BE(0) !== MAGIC) {
        other++;
        return;
      }
      const stream = msg.readUInt32BE(4);
      const seq = msg.readUInt32BE(8);
      const key = `${rinfo.address}|${stream}`;
      let t = tallies.get(key);
      if (!t) tallies.set(key, (t = new Tally()));
      t.add(seq, msg.length, intact(msg, seq));
      if (echo) s.send(msg, rinfo.port, rinfo.address);
    });
    s.on('error', (e) => {
      process.stderr.write(`recv ${address}: ${e.message}\n`);
      process.exit(1);
    });
    s.bind(port, address, () => {
      if (++bound === addresses.length) out({ ready: true, port, addresses });
    });
    sockets.push(s);
  }
  const finish = () => {
    const sources = {};
    for (const [key, t] of tallies) {
      const [addr, stream] = key.split('|');
      (sources[addr] ??= {})[stream] = t.report();
    }
    out({ port, sources, other });
    for (const s of sockets) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
}

function send(o) {
  const to = o.to;
  const port = Number(o.port);
  const rate = Number(o.rate ?? 1000);
  const stream = Number(o.stream ?? 1) >>> 0;
  const size = Math.max(HEADER, Number(o.size ?? 64));
  const count = o.count !== undefined ? Number(o.count) : Math.round(Number(o.seconds ?? 3) * rate);
  const echoWait = Number(o['echo-wait'] ?? 500);
  const s = dgram.createSocket({ type: isIPv6(to) ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
  const echoes = new Tally();
  let sent = 0;
  let errors = 0;
  let stop = false;
  let startedAt = 0;
  let endedAt = 0;
  s.on('message', (msg) => {
    if (msg.length >= HEADER && msg.readUInt32BE(0) === MAGIC && msg.readUInt32BE(4) === stream) {
      const seq = msg.readUInt32BE(8);
      echoes.add(seq, msg.length, intact(msg, seq));
      lastEcho = Date.now();
    }
  });
  // A second signal (the lifetime, or an impatient caller) ends without waiting for echoes.
  const onSignal = () => {
    if (stop) done();
    stop = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const one = () => {
    const b = Buffer.alloc(size);
    b.writeUInt32BE(MAGIC, 0);
    b.writeUInt32BE(stream, 4);
    b.writeUInt32BE(sent, 8);
    b.writeBigUInt64BE(process.hrtime.bigint(), 12);
    fill(b, sent);
    sent++;
    s.send(b, port, to, (e) => {
      if (e) errors++;
    });
  };
  const tick = () => {
    const due = Math.min(count, Math.floor(((Date.now() - startedAt) * rate) / 1000) + 1);
    while (!stop && sent < due) one();
    if (!stop && sent < count) setTimeout(tick, 1);
    else {
      endedAt = Date.now();
      drain();
    }
  };
  // Echoes may lag behind on a busy machine: wait until all are back, or none came for echoWait.
  let lastEcho = 0;
  const drain = () => {
    if (echoes.unique >= sent || Date.now() - Math.max(lastEcho, endedAt) >= echoWait) done();
    else setTimeout(drain, 10);
  };
  const done = () => {
    const elapsed = (endedAt || Date.now()) - startedAt;
    const g = sent ? echoes.gaps(0, sent - 1) : { missing: 0, ranges: [] };
    out({
      to,
      port,
      stream,
      sent,
      errors,
      seconds: elapsed / 1000,
      echoed: echoes.unique,
      echoDuplicates: echoes.duplicates,
      echoCorrupt: echoes.corrupt,
      echoMissing: g.missing,
      echoGaps: g.ranges,
    });
    s.close();
    process.exit(0);
  };
  s.bind(0, () => {
    out({ ready: true });
    startedAt = Date.now();
    tick();
  });
}

const o = args(process.argv.slice(2));
setTimeout(() => process.kill(process.pid, 'SIGTERM'), Number(o.lifetime ?? 300) * 1000).unref();
if (o._[0] === 'recv') recv(o);
else if (o._[0] === 'send') send(o);
else {
  process.stderr.write('usage: stream.mjs recv --port P [--echo] | send --to ADDR --port P --rate PPS --count N\n');
  process.exit(2);
}
