// The Notification message (RFC 5036 3.5.1): a Status TLV (status code with its E and F bits,
// and the id and type of the message it is about), optionally Extended Status, Returned PDU,
// Returned Message, and (RFC 5919 End-of-LIB) a FEC TLV.
import { STATUS_E_BIT, STATUS_F_BIT, Status, TlvType } from './constants.js';
import { LdpError } from './errors.js';
import { decodeFecTlv, encodeFecTlv, type FecElement } from './fec.js';
import { readTlvs, tlv, u32, unknownTlv } from './tlv.js';

export interface Notification {
  kind: 'notification';
  id: number;
  /** the 32-bit status code including E and F */
  status: number;
  /** id and type of the message this is about (0 when about a PDU or the session) */
  msgId: number;
  msgType: number;
  extendedStatus?: number;
  returnedPdu?: Buffer;
  returnedMessage?: Buffer;
  fec?: FecElement[];
}

export function isFatal(status: number): boolean {
  return (status & STATUS_E_BIT) !== 0;
}

export function decodeNotification(id: number, body: Buffer): Notification {
  const tlvs = readTlvs(body);
  const first = tlvs[0];
  if (!first || first.type !== TlvType.Status) throw new LdpError(Status.MissingMessageParameters, 'Notification without a Status TLV');
  if (first.value.length !== 10) throw new LdpError(Status.BadTlvLength, `Status TLV of length ${first.value.length}, want 10`);
  const n: Notification = {
    kind: 'notification',
    id,
    status: first.value.readUInt32BE(0),
    msgId: first.value.readUInt32BE(4),
    msgType: first.value.readUInt16BE(8),
  };
  for (const t of tlvs.slice(1)) {
    switch (t.type) {
      case TlvType.ExtendedStatus:
        if (t.value.length !== 4) throw new LdpError(Status.BadTlvLength, `Extended Status of length ${t.value.length}`);
        n.extendedStatus = t.value.readUInt32BE(0);
        break;
      case TlvType.ReturnedPdu:
        n.returnedPdu = Buffer.from(t.value);
        break;
      case TlvType.ReturnedMessage:
        n.returnedMessage = Buffer.from(t.value);
        break;
      case TlvType.Fec:
        n.fec = decodeFecTlv(t);
        break;
      default:
        unknownTlv(t, 'Notification');
    }
  }
  return n;
}

export function encodeNotification(n: Omit<Notification, 'kind' | 'id'>): Buffer {
  const v = Buffer.alloc(10);
  // RFC 5036 3.5.1: a fatal error's status goes with E set; F (forward) is never set by us
  v.writeUInt32BE((n.status & ~STATUS_F_BIT) >>> 0, 0);
  v.writeUInt32BE(n.msgId >>> 0, 4);
  v.writeUInt16BE(n.msgType & 0xffff, 8);
  const parts = [tlv(TlvType.Status, v)];
  if (n.extendedStatus !== undefined) parts.push(tlv(TlvType.ExtendedStatus, u32(n.extendedStatus)));
  if (n.returnedPdu !== undefined) parts.push(tlv(TlvType.ReturnedPdu, n.returnedPdu));
  if (n.returnedMessage !== undefined) parts.push(tlv(TlvType.ReturnedMessage, n.returnedMessage));
  if (n.fec !== undefined) parts.push(encodeFecTlv(n.fec));
  return Buffer.concat(parts);
}
