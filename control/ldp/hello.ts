// The Hello message (RFC 5036 3.5.2): Common Hello Parameters (hold time, T/R flags and the
// RFC 6720 GTSM flag), then the optional IPv4/IPv6 Transport Address, Configuration Sequence
// Number and, from FRR, the RFC 7552 Dual-Stack TLV.
import { HelloFlag, Status, TlvType } from './constants.js';
import { LdpError } from './errors.js';
import { expectLength, ipv4ToBuffer, ipv4ToString, ipv6ToBuffer, ipv6ToString, readTlvs, tlv, u32, unknownTlv } from './tlv.js';

export interface Hello {
  kind: 'hello';
  id: number;
  /** seconds; 0 means the default (15 s for link Hellos), 0xffff infinite */
  holdTime: number;
  targeted: boolean;
  requestTargeted: boolean;
  /** RFC 6720: the sender supports GTSM and will use TTL 255 on the session */
  gtsm: boolean;
  transportAddress?: string;
  transportAddressV6?: string;
  configSeq?: number;
  /** RFC 7552 transport preference, raw */
  dualStack?: number;
}

export function decodeHello(id: number, body: Buffer): Hello {
  const tlvs = readTlvs(body);
  const first = tlvs[0];
  if (!first || first.type !== TlvType.CommonHelloParams) throw new LdpError(Status.MissingMessageParameters, 'Hello without Common Hello Parameters');
  expectLength(first, 4, 'Common Hello Parameters');
  const flags = first.value.readUInt16BE(2);
  const hello: Hello = {
    kind: 'hello',
    id,
    holdTime: first.value.readUInt16BE(0),
    targeted: (flags & HelloFlag.Targeted) !== 0,
    requestTargeted: (flags & HelloFlag.RequestTargeted) !== 0,
    gtsm: (flags & HelloFlag.Gtsm) !== 0,
  };
  for (const t of tlvs.slice(1)) {
    switch (t.type) {
      case TlvType.Ipv4TransportAddress:
        expectLength(t, 4, 'IPv4 Transport Address');
        // RFC 7552 6.1: only the first transport address of a family counts
        hello.transportAddress ??= ipv4ToString(t.value);
        break;
      case TlvType.Ipv6TransportAddress:
        expectLength(t, 16, 'IPv6 Transport Address');
        hello.transportAddressV6 ??= ipv6ToString(t.value);
        break;
      case TlvType.ConfigSequenceNumber:
        expectLength(t, 4, 'Configuration Sequence Number');
        hello.configSeq = t.value.readUInt32BE(0);
        break;
      case TlvType.DualStack:
        expectLength(t, 4, 'Dual-Stack capability');
        hello.dualStack = t.value.readUInt32BE(0);
        break;
      default:
        unknownTlv(t, 'Hello');
    }
  }
  return hello;
}

export function encodeHello(h: Omit<Hello, 'kind' | 'id'>): Buffer {
  const common = Buffer.alloc(4);
  common.writeUInt16BE(h.holdTime, 0);
  common.writeUInt16BE((h.targeted ? HelloFlag.Targeted : 0) | (h.requestTargeted ? HelloFlag.RequestTargeted : 0) | (h.gtsm ? HelloFlag.Gtsm : 0), 2);
  const parts = [tlv(TlvType.CommonHelloParams, common)];
  if (h.transportAddress !== undefined) parts.push(tlv(TlvType.Ipv4TransportAddress, ipv4ToBuffer(h.transportAddress)));
  if (h.transportAddressV6 !== undefined) parts.push(tlv(TlvType.Ipv6TransportAddress, ipv6ToBuffer(h.transportAddressV6)));
  if (h.configSeq !== undefined) parts.push(tlv(TlvType.ConfigSequenceNumber, u32(h.configSeq)));
  if (h.dualStack !== undefined) parts.push(tlv(TlvType.DualStack, u32(h.dualStack), { u: true }));
  return Buffer.concat(parts);
}
