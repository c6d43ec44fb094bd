// Label Mapping, Label Request, Label Withdraw, Label Release and Label Abort Request
// (RFC 5036 3.5.7-3.5.11): a FEC TLV, the Generic Label TLV where the message carries one, and
// the optional Label Request Message ID, Hop Count and Path Vector TLVs.
import { MsgType, Status, TlvType } from './constants.js';
import { LdpError } from './errors.js';
import { decodeFecTlv, decodeGenericLabel, encodeFecTlv, encodeGenericLabel, type FecElement } from './fec.js';
import { readTlvs, tlv, u32, unknownTlv } from './tlv.js';

export type LabelMessageKind = 'label-mapping' | 'label-request' | 'label-withdraw' | 'label-release' | 'label-abort-request';

export const LABEL_KIND_BY_TYPE: Record<number, LabelMessageKind> = {
  [MsgType.LabelMapping]: 'label-mapping',
  [MsgType.LabelRequest]: 'label-request',
  [MsgType.LabelWithdraw]: 'label-withdraw',
  [MsgType.LabelRelease]: 'label-release',
  [MsgType.LabelAbortRequest]: 'label-abort-request',
};

export interface LabelMessage {
  kind: LabelMessageKind;
  id: number;
  fec: FecElement[];
  label?: number;
  requestId?: number;
  hopCount?: number;
  pathVector?: string[];
}

export function decodeLabelMessage(id: number, msgType: number, body: Buffer): LabelMessage {
  const kind = LABEL_KIND_BY_TYPE[msgType];
  if (!kind) throw new Error(`not a label message type: 0x${msgType.toString(16)}`);
  const tlvs = readTlvs(body);
  const first = tlvs[0];
  if (!first || first.type !== TlvType.Fec) throw new LdpError(Status.MissingMessageParameters, `${kind} without a FEC TLV`);
  const m: LabelMessage = { kind, id, fec: decodeFecTlv(first) };
  let rest = tlvs.slice(1);
  if (kind === 'label-mapping') {
    const lt = rest[0];
    if (!lt || lt.type !== TlvType.GenericLabel) {
      if (lt && (lt.type === TlvType.AtmLabel || lt.type === TlvType.FrLabel)) throw new LdpError(Status.MalformedTlvValue, 'an ATM or Frame Relay label in a generic label space');
      throw new LdpError(Status.MissingMessageParameters, 'Label Mapping without a Label TLV');
    }
    m.label = decodeGenericLabel(lt);
    rest = rest.slice(1);
    // RFC 5036 3.4.1: the wildcard FEC is for Withdraw and Release only
    if (m.fec.some((e) => e.type !== 'prefix')) throw new LdpError(Status.MalformedTlvValue, 'wildcard FEC in a Label Mapping');
  }
  if (kind === 'label-request' && m.fec.some((e) => e.type === 'wildcard')) throw new LdpError(Status.MalformedTlvValue, 'wildcard FEC in a Label Request');
  for (const t of rest) {
    switch (t.type) {
      case TlvType.GenericLabel:
        if (kind !== 'label-withdraw' && kind !== 'label-release') unknownTlv({ ...t, u: false }, kind);
        if (m.label !== undefined) throw new LdpError(Status.MalformedTlvValue, 'two Label TLVs');
        m.label = decodeGenericLabel(t);
        break;
      case TlvType.AtmLabel:
      case TlvType.FrLabel:
        throw new LdpError(Status.MalformedTlvValue, 'an ATM or Frame Relay label in a generic label space');
      case TlvType.LabelRequestMessageId:
        if (t.value.length !== 4) throw new LdpError(Status.BadTlvLength, `Label Request Message ID of length ${t.value.length}`);
        m.requestId = t.value.readUInt32BE(0);
        break;
      case TlvType.HopCount:
        if (t.value.length !== 1) throw new LdpError(Status.BadTlvLength, `Hop Count of length ${t.value.length}`);
        m.hopCount = t.value[0]!;
        break;
      case TlvType.PathVector: {
        if (t.value.length === 0 || t.value.length % 4 !== 0) throw new LdpError(Status.BadTlvLength, `Path Vector of length ${t.value.length}`);
        const ids: string[] = [];
        for (let o = 0; o < t.value.length; o += 4) ids.push(`${t.value[o]}.${t.value[o + 1]}.${t.value[o + 2]}.${t.value[o + 3]}`);
        m.pathVector = ids;
        break;
      }
      default:
        unknownTlv(t, kind);
    }
  }
  if (kind === 'label-abort-request' && m.requestId === undefined) throw new LdpError(Status.MissingMessageParameters, 'Label Abort Request without a Label Request Message ID');
  return m;
}

export function encodeLabelMessage(m: Omit<LabelMessage, 'id'>): Buffer {
  const parts = [encodeFecTlv(m.fec)];
  if (m.label !== undefined) parts.push(encodeGenericLabel(m.label));
  if (m.requestId !== undefined) parts.push(tlv(TlvType.LabelRequestMessageId, u32(m.requestId)));
  if (m.hopCount !== undefined) parts.push(tlv(TlvType.HopCount, Buffer.from([m.hopCount])));
  if (m.pathVector !== undefined) parts.push(tlv(TlvType.PathVector, Buffer.concat(m.pathVector.map((id) => Buffer.from(id.split('.').map(Number))))));
  return Buffer.concat(parts);
}
