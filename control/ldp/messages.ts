// Every LDP message as one typed union, and the dispatch from a raw message (type + body) to
// its family's codec and back. An unknown message type is ignored when its U bit is set and
// answered with Unknown Message Type otherwise (RFC 5036 3.5).
import { MsgType, Status } from './constants.js';
import { LdpError } from './errors.js';
import { decodeAddress, encodeAddress, type AddressMessage } from './address.js';
import { decodeHello, encodeHello, type Hello } from './hello.js';
import { decodeCapabilityMessage, decodeInit, decodeKeepAlive, encodeCapabilityMessage, encodeInit, encodeKeepAlive, type CapabilityMessage, type Init, type KeepAlive } from './init.js';
import { LABEL_KIND_BY_TYPE, decodeLabelMessage, encodeLabelMessage, type LabelMessage } from './labelmapping.js';
import { decodeNotification, encodeNotification, type Notification } from './notification.js';
import { encodeMessageFrame, type RawMessage } from './pdu.js';

export interface IgnoredMessage {
  kind: 'ignored';
  id: number;
  msgType: number;
}

export type LdpMessage = Hello | Init | KeepAlive | CapabilityMessage | Notification | AddressMessage | LabelMessage | IgnoredMessage;

/** Decodes one message; throws LdpError (already tagged with the message's id and type). */
export function decodeMessage(raw: RawMessage): LdpMessage {
  try {
    switch (raw.type) {
      case MsgType.Hello:
        return decodeHello(raw.id, raw.body);
      case MsgType.Initialization:
        return decodeInit(raw.id, raw.body);
      case MsgType.KeepAlive:
        return decodeKeepAlive(raw.id, raw.body);
      case MsgType.Capability:
        return decodeCapabilityMessage(raw.id, raw.body);
      case MsgType.Notification:
        return decodeNotification(raw.id, raw.body);
      case MsgType.Address:
      case MsgType.AddressWithdraw:
        return decodeAddress(raw.id, raw.type, raw.body);
      default:
        if (LABEL_KIND_BY_TYPE[raw.type]) return decodeLabelMessage(raw.id, raw.type, raw.body);
        if (raw.u) return { kind: 'ignored', id: raw.id, msgType: raw.type };
        throw new LdpError(Status.UnknownMessageType, `message type 0x${raw.type.toString(16)}`);
    }
  } catch (e) {
    if (e instanceof LdpError) throw e.about(raw.id, raw.type);
    throw e;
  }
}

const TYPE_BY_KIND: Record<Exclude<LdpMessage['kind'], 'ignored'>, number> = {
  hello: MsgType.Hello,
  init: MsgType.Initialization,
  keepalive: MsgType.KeepAlive,
  capability: MsgType.Capability,
  notification: MsgType.Notification,
  address: MsgType.Address,
  'address-withdraw': MsgType.AddressWithdraw,
  'label-mapping': MsgType.LabelMapping,
  'label-request': MsgType.LabelRequest,
  'label-withdraw': MsgType.LabelWithdraw,
  'label-release': MsgType.LabelRelease,
  'label-abort-request': MsgType.LabelAbortRequest,
};

export function messageType(m: LdpMessage): number {
  return m.kind === 'ignored' ? m.msgType : TYPE_BY_KIND[m.kind];
}

/** Serialises one message, header included. */
export function encodeMessage(m: Exclude<LdpMessage, IgnoredMessage>): Buffer {
  let body: Buffer;
  switch (m.kind) {
    case 'hello':
      body = encodeHello(m);
      break;
    case 'init':
      body = encodeInit(m);
      break;
    case 'keepalive':
      body = encodeKeepAlive();
      break;
    case 'capability':
      body = encodeCapabilityMessage(m.capabilities);
      break;
    case 'notification':
      body = encodeNotification(m);
      break;
    case 'address':
    case 'address-withdraw':
      body = encodeAddress(m);
      break;
    default:
      body = encodeLabelMessage(m);
  }
  return encodeMessageFrame(TYPE_BY_KIND[m.kind], m.id, body);
}
