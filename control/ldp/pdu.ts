// The LDP PDU (RFC 5036 3.1, 3.5): a 10-byte header (version, PDU length, LDP identifier =
// LSR ID + label space) followed by one or more messages, each U bit | type | length | id |
// parameters. `decodePdu` checks the header and the message lengths; `PduFramer` cuts a TCP
// byte stream into PDUs whatever the segment boundaries (FRR packs several PDUs per segment).
import { LDP_MAX_PDU, LDP_VERSION, MSG_HEADER_SIZE, PDU_DEAD, PDU_HEADER_SIZE, Status, U_BIT } from './constants.js';
import { LdpError } from './errors.js';
import { ipv4ToBuffer, ipv4ToString } from './tlv.js';

/** the smallest PDU Length: the LDP identifier plus one message header */
const MIN_PDU_LENGTH = PDU_HEADER_SIZE - PDU_DEAD + MSG_HEADER_SIZE;

export interface RawMessage {
  /** the 15-bit message type */
  type: number;
  u: boolean;
  id: number;
  /** the parameters after the message id */
  body: Buffer;
}

export interface Pdu {
  lsrId: string;
  labelSpace: number;
  messages: RawMessage[];
}

/** Decodes one whole PDU; `maxPdu` is the negotiated maximum (4096 before negotiation). */
export function decodePdu(buf: Buffer, maxPdu = LDP_MAX_PDU): Pdu {
  if (buf.length < PDU_HEADER_SIZE) throw new LdpError(Status.BadPduLength, `${buf.length} bytes cannot hold a PDU header`);
  const version = buf.readUInt16BE(0);
  if (version !== LDP_VERSION) throw new LdpError(Status.BadProtocolVersion, `version ${version}`);
  const pduLength = buf.readUInt16BE(2);
  if (pduLength < MIN_PDU_LENGTH || pduLength + PDU_DEAD > maxPdu) throw new LdpError(Status.BadPduLength, `PDU length ${pduLength} outside ${MIN_PDU_LENGTH}..${maxPdu - PDU_DEAD}`);
  if (pduLength + PDU_DEAD !== buf.length) throw new LdpError(Status.BadPduLength, `PDU length ${pduLength} but ${buf.length - PDU_DEAD} bytes follow it`);
  const lsrId = ipv4ToString(buf, 4);
  const labelSpace = buf.readUInt16BE(8);
  const messages: RawMessage[] = [];
  let off = PDU_HEADER_SIZE;
  while (off < buf.length) {
    if (buf.length - off < MSG_HEADER_SIZE) throw new LdpError(Status.BadPduLength, `${buf.length - off} trailing bytes cannot hold a message`);
    const raw = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    const id = buf.readUInt32BE(off + 4);
    const type = raw & 0x7fff;
    if (len < 4 || off + 4 + len > buf.length) throw new LdpError(Status.BadMessageLength, `message 0x${type.toString(16)} length ${len} with ${buf.length - off - 4} bytes left in the PDU`, id, type);
    messages.push({ type, u: (raw & U_BIT) !== 0, id, body: buf.subarray(off + MSG_HEADER_SIZE, off + 4 + len) });
    off += 4 + len;
  }
  return { lsrId, labelSpace, messages };
}

/** One message on the wire: U | type, length, id, body. */
export function encodeMessageFrame(type: number, id: number, body: Buffer, u = false): Buffer {
  const head = Buffer.alloc(MSG_HEADER_SIZE);
  head.writeUInt16BE((type & 0x7fff) | (u ? U_BIT : 0), 0);
  head.writeUInt16BE(body.length + 4, 2);
  head.writeUInt32BE(id >>> 0, 4);
  return Buffer.concat([head, body]);
}

/** Wraps already-encoded messages in one PDU. */
export function encodePdu(lsrId: string, labelSpace: number, messages: Buffer[]): Buffer {
  const body = Buffer.concat(messages);
  const head = Buffer.alloc(PDU_HEADER_SIZE);
  head.writeUInt16BE(LDP_VERSION, 0);
  head.writeUInt16BE(body.length + PDU_HEADER_SIZE - PDU_DEAD, 2);
  ipv4ToBuffer(lsrId).copy(head, 4);
  head.writeUInt16BE(labelSpace, 8);
  if (body.length + PDU_HEADER_SIZE > 0xffff + PDU_DEAD) throw new RangeError('PDU too long');
  return Buffer.concat([head, body]);
}

/** Packs messages into as few PDUs as fit `maxPdu` bytes each. */
export function packPdus(lsrId: string, labelSpace: number, messages: Buffer[], maxPdu = LDP_MAX_PDU): Buffer[] {
  const out: Buffer[] = [];
  let batch: Buffer[] = [];
  let size = PDU_HEADER_SIZE;
  for (const m of messages) {
    if (m.length + PDU_HEADER_SIZE > maxPdu) throw new RangeError(`message of ${m.length} bytes exceeds the maximum PDU length ${maxPdu}`);
    if (size + m.length > maxPdu) {
      out.push(encodePdu(lsrId, labelSpace, batch));
      batch = [];
      size = PDU_HEADER_SIZE;
    }
    batch.push(m);
    size += m.length;
  }
  if (batch.length > 0) out.push(encodePdu(lsrId, labelSpace, batch));
  return out;
}

/**
 * Cuts a TCP stream into whole PDUs. Only the version and the length are looked at here (the
 * rest is decodePdu's job), so a lying length is caught before any buffering beyond `maxPdu`.
 */
export class PduFramer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(public maxPdu = LDP_MAX_PDU) {}

  /** Appends bytes; returns the PDUs now complete. Throws LdpError on a bad header. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const version = this.buf.readUInt16BE(0);
      if (version !== LDP_VERSION) throw new LdpError(Status.BadProtocolVersion, `version ${version}`);
      const pduLength = this.buf.readUInt16BE(2);
      if (pduLength < MIN_PDU_LENGTH || pduLength + PDU_DEAD > this.maxPdu) throw new LdpError(Status.BadPduLength, `PDU length ${pduLength} outside ${MIN_PDU_LENGTH}..${this.maxPdu - PDU_DEAD}`);
      const total = pduLength + PDU_DEAD;
      if (this.buf.length < total) break;
      out.push(Buffer.from(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }

  /** bytes held waiting for the rest of a PDU */
  get pending(): number {
    return this.buf.length;
  }
}
