// Session establishment messages (RFC 5036 3.5.3, 3.5.4; RFC 5561): Initialization with the
// Common Session Parameters and capability parameters, KeepAlive, and the Capability message.
// FRR announces Dynamic Capability Announcement, Typed Wildcard FEC and Unrecognized
// Notification; like FRR we validate the three (length 1, no duplicates) and report any other
// capability sent without the U bit as Unsupported Capability.
import { MIN_KEEPALIVE, Status, TlvType } from './constants.js';
import { LdpError } from './errors.js';
import { expectLength, ipv4ToBuffer, ipv4ToString, readTlvs, tlv, unknownTlv, type Tlv } from './tlv.js';

export interface Capability {
  /** 14-bit TLV type */
  type: number;
  /** the S bit: announced (true) or withdrawn */
  enabled: boolean;
}

const KNOWN_CAPS: number[] = [TlvType.DynamicCapabilityAnnouncement, TlvType.TypedWildcardFecCapability, TlvType.UnrecognizedNotificationCapability];

/** RFC 3478 graceful restart parameters (the FT Session TLV with only the L flag set). */
export interface FtSession {
  flags: number;
  /** how long the sender's neighbours should wait for it to reconnect after a session loss */
  reconnectMs: number;
  /** how long the sender keeps the forwarding state of before its restart (0: none kept) */
  recoveryMs: number;
}

/** the L (learn from network) flag: graceful restart rather than fault tolerance */
export const FT_LEARN_FROM_NETWORK = 0x0001;

export interface Init {
  kind: 'init';
  id: number;
  protocolVersion: number;
  keepaliveTime: number;
  /** A bit: downstream on demand when set */
  downstreamOnDemand: boolean;
  /** D bit */
  loopDetection: boolean;
  pathVectorLimit: number;
  /** 0..255 mean the default 4096 */
  maxPduLength: number;
  /** the LDP identifier of the receiver */
  receiverLsrId: string;
  receiverLabelSpace: number;
  capabilities: Capability[];
  /** capability TLVs we do not know that came without the U bit (answer: Unsupported Capability) */
  unsupportedCapabilities: number[];
  /** graceful restart (RFC 3478), when the sender supports it */
  ft?: FtSession;
}

export interface KeepAlive {
  kind: 'keepalive';
  id: number;
}

export interface CapabilityMessage {
  kind: 'capability';
  id: number;
  capabilities: Capability[];
  unsupportedCapabilities: number[];
}

function decodeCaps(tlvs: Tlv[], where: 'init' | 'capability'): { capabilities: Capability[]; unsupportedCapabilities: number[] } {
  const capabilities: Capability[] = [];
  const unsupportedCapabilities: number[] = [];
  for (const t of tlvs) {
    if (KNOWN_CAPS.includes(t.type)) {
      expectLength(t, 1, `capability 0x${t.type.toString(16)}`);
      if (capabilities.some((c) => c.type === t.type)) throw new LdpError(Status.MalformedTlvValue, `capability 0x${t.type.toString(16)} twice`);
      // RFC 5561 9: a Capability message announcing Dynamic Capability Announcement is ignored
      if (where === 'capability' && t.type === TlvType.DynamicCapabilityAnnouncement) continue;
      capabilities.push({ type: t.type, enabled: (t.value[0]! & 0x80) !== 0 });
    } else if (where === 'init' && (t.type === TlvType.AtmSessionParams || t.type === TlvType.FrSessionParams)) {
      // our one label space is platform-wide generic labels: ATM / Frame Relay parameters do not apply
      throw new LdpError(Status.MalformedTlvValue, `session parameters 0x${t.type.toString(16)} for a label space we do not have`);
    } else if (!t.u) {
      unsupportedCapabilities.push(t.type);
    }
  }
  return { capabilities, unsupportedCapabilities };
}

export function decodeInit(id: number, body: Buffer): Init {
  const tlvs = readTlvs(body);
  const first = tlvs[0];
  if (!first || first.type !== TlvType.CommonSessionParams) throw new LdpError(Status.MissingMessageParameters, 'Initialization without Common Session Parameters');
  expectLength(first, 14, 'Common Session Parameters');
  const v = first.value;
  const protocolVersion = v.readUInt16BE(0);
  if (protocolVersion !== 1) throw new LdpError(Status.BadProtocolVersion, `session protocol version ${protocolVersion}`);
  const keepaliveTime = v.readUInt16BE(2);
  if (keepaliveTime < MIN_KEEPALIVE) throw new LdpError(Status.SessionRejectedBadKeepAliveTime, `keepalive time ${keepaliveTime} s below ${MIN_KEEPALIVE}`);
  return {
    kind: 'init',
    id,
    protocolVersion,
    keepaliveTime,
    downstreamOnDemand: (v[4]! & 0x80) !== 0,
    loopDetection: (v[4]! & 0x40) !== 0,
    pathVectorLimit: v[5]!,
    maxPduLength: v.readUInt16BE(6),
    receiverLsrId: ipv4ToString(v, 8),
    receiverLabelSpace: v.readUInt16BE(12),
    ...decodeCaps(tlvs.slice(1).filter((t) => t.type !== TlvType.FtSession), 'init'),
    ...decodeFt(tlvs),
  };
}

function decodeFt(tlvs: Tlv[]): { ft?: FtSession } {
  const all = tlvs.filter((t) => t.type === TlvType.FtSession);
  if (all.length === 0) return {};
  if (all.length > 1) throw new LdpError(Status.MalformedTlvValue, 'FT Session TLV twice');
  const t = all[0]!;
  expectLength(t, 12, 'FT Session');
  return { ft: { flags: t.value.readUInt16BE(0), reconnectMs: t.value.readUInt32BE(4), recoveryMs: t.value.readUInt32BE(8) } };
}

function ftTlv(ft: FtSession): Buffer {
  const v = Buffer.alloc(12);
  v.writeUInt16BE(ft.flags, 0);
  v.writeUInt32BE(ft.reconnectMs >>> 0, 4);
  v.writeUInt32BE(ft.recoveryMs >>> 0, 8);
  return tlv(TlvType.FtSession, v, { u: true });
}

function capTlv(c: Capability): Buffer {
  return tlv(c.type, Buffer.from([c.enabled ? 0x80 : 0]), { u: true });
}

export function encodeInit(m: Omit<Init, 'kind' | 'id' | 'unsupportedCapabilities' | 'protocolVersion'>): Buffer {
  const v = Buffer.alloc(14);
  v.writeUInt16BE(1, 0);
  v.writeUInt16BE(m.keepaliveTime, 2);
  v[4] = (m.downstreamOnDemand ? 0x80 : 0) | (m.loopDetection ? 0x40 : 0);
  v[5] = m.pathVectorLimit;
  v.writeUInt16BE(m.maxPduLength, 6);
  ipv4ToBuffer(m.receiverLsrId).copy(v, 8);
  v.writeUInt16BE(m.receiverLabelSpace, 12);
  return Buffer.concat([tlv(TlvType.CommonSessionParams, v), ...(m.ft ? [ftTlv(m.ft)] : []), ...m.capabilities.map(capTlv)]);
}

export function decodeKeepAlive(id: number, body: Buffer): KeepAlive {
  for (const t of readTlvs(body)) unknownTlv(t, 'KeepAlive');
  return { kind: 'keepalive', id };
}

export function encodeKeepAlive(): Buffer {
  return Buffer.alloc(0);
}

export function decodeCapabilityMessage(id: number, body: Buffer): CapabilityMessage {
  return { kind: 'capability', id, ...decodeCaps(readTlvs(body), 'capability') };
}

export function encodeCapabilityMessage(caps: Capability[]): Buffer {
  return Buffer.concat(caps.map(capTlv));
}
