// LDP codecs: every message round-trips through bytes, hand-written RFC 5036 byte layouts decode
// to the expected values, and every bad field gets the status code the RFC names.
import { describe, expect, it } from 'vitest';
import { Status, TlvType, statusName } from '../../control/ldp/constants.js';
import { LdpError } from '../../control/ldp/errors.js';
import { canonicalPrefix, decodeFecTlv } from '../../control/ldp/fec.js';
import { decodeMessage, encodeMessage, type LdpMessage } from '../../control/ldp/messages.js';
import { PduFramer, decodePdu, encodeMessageFrame, encodePdu, packPdus } from '../../control/ldp/pdu.js';
import { ipv6ToBuffer, ipv6ToString, readTlvs } from '../../control/ldp/tlv.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** one message in a PDU from 1.1.1.1:0, decoded back */
type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Encodes and decodes one message (fixtures are `as const`, so deeply readonly). */
function roundTrip(fixture: DeepReadonly<Exclude<LdpMessage, { kind: 'ignored' }>>): LdpMessage {
  const m = fixture as Exclude<LdpMessage, { kind: 'ignored' }>;
  const pdu = decodePdu(encodePdu('1.1.1.1', 0, [encodeMessage(m)]));
  expect(pdu.lsrId).toBe('1.1.1.1');
  expect(pdu.messages).toHaveLength(1);
  return decodeMessage(pdu.messages[0]!);
}

/** the status an encoded message body of `type` is rejected with */
function statusOf(type: number, body: Buffer, u = false): number {
  try {
    const pdu = decodePdu(encodePdu('1.1.1.1', 0, [encodeMessageFrame(type, 7, body, u)]));
    decodeMessage(pdu.messages[0]!);
  } catch (e) {
    if (e instanceof LdpError) {
      expect(e.msgId).toBe(7);
      expect(e.msgType).toBe(type);
      return e.status;
    }
    throw e;
  }
  throw new Error('decoded without error');
}

function pduStatus(buf: Buffer): number {
  try {
    decodePdu(buf);
  } catch (e) {
    if (e instanceof LdpError) return e.status;
    throw e;
  }
  throw new Error('decoded without error');
}

const tlvHex = (type: number, value: string): string => {
  const v = hex(value);
  return type.toString(16).padStart(4, '0') + v.length.toString(16).padStart(4, '0') + v.toString('hex');
};

describe('PDU header', () => {
  it('decodes the Hello FRR sends: version 1, PDU length 38, LSR 1.1.1.1:0, hold 15, GTSM, transport 10.0.0.1', () => {
    const bytes = hex('0001 0026 01010101 0000  0100 001c 00000001  0400 0004 000f 2000  0401 0004 0a000001  0402 0004 00000005');
    const pdu = decodePdu(bytes);
    expect(pdu).toMatchObject({ lsrId: '1.1.1.1', labelSpace: 0 });
    expect(decodeMessage(pdu.messages[0]!)).toEqual({ kind: 'hello', id: 1, holdTime: 15, targeted: false, requestTargeted: false, gtsm: true, transportAddress: '10.0.0.1', configSeq: 5 });
    // and our encoder produces the very same bytes
    const again = encodePdu('1.1.1.1', 0, [encodeMessage({ kind: 'hello', id: 1, holdTime: 15, targeted: false, requestTargeted: false, gtsm: true, transportAddress: '10.0.0.1', configSeq: 5 })]);
    expect(again.toString('hex')).toBe(bytes.toString('hex'));
  });

  it('rejects a wrong version with Bad Protocol Version', () => {
    expect(pduStatus(hex('0002 000e 01010101 0000 0201 0004 00000001'))).toBe(Status.BadProtocolVersion);
  });

  it('rejects a PDU length that lies (too long, too short, below the minimum) with Bad PDU Length', () => {
    expect(pduStatus(hex('0001 000f 01010101 0000 0201 0004 00000001'))).toBe(Status.BadPduLength);
    expect(pduStatus(hex('0001 000d 01010101 0000 0201 0004 00000001'))).toBe(Status.BadPduLength);
    expect(pduStatus(hex('0001 0006 01010101 0000'))).toBe(Status.BadPduLength);
    expect(pduStatus(hex('0001 0000'))).toBe(Status.BadPduLength);
    // above the 4096-byte maximum before negotiation
    const big = Buffer.alloc(4100);
    big.writeUInt16BE(1, 0);
    big.writeUInt16BE(4096, 2);
    expect(pduStatus(big)).toBe(Status.BadPduLength);
  });

  it('rejects trailing bytes that cannot hold a message with Bad PDU Length', () => {
    expect(pduStatus(hex('0001 0011 01010101 0000 0201 0004 00000001 000000'))).toBe(Status.BadPduLength);
  });

  it('rejects a message length that runs past the PDU (or is below 4) with Bad Message Length', () => {
    expect(pduStatus(hex('0001 000e 01010101 0000 0201 0008 00000001'))).toBe(Status.BadMessageLength);
    expect(pduStatus(hex('0001 000e 01010101 0000 0201 0002 00000001'))).toBe(Status.BadMessageLength);
  });

  it('carries several messages in one PDU, in order', () => {
    const msgs = [encodeMessage({ kind: 'keepalive', id: 1 }), encodeMessage({ kind: 'address', id: 2, family: 'ipv4', addresses: ['10.0.0.1'] }), encodeMessage({ kind: 'keepalive', id: 3 })];
    const pdu = decodePdu(encodePdu('2.2.2.2', 0, msgs));
    expect(pdu.messages.map((m) => [m.type, m.id])).toEqual([
      [0x0201, 1],
      [0x0300, 2],
      [0x0201, 3],
    ]);
  });

  it('packs messages into PDUs no longer than the maximum', () => {
    const msgs = Array.from({ length: 300 }, (_, i) => encodeMessage({ kind: 'label-mapping', id: i + 1, fec: [{ type: 'prefix', prefix: `10.${i >> 8}.${i & 255}.0/24` }], label: 16 + i }));
    const pdus = packPdus('2.2.2.2', 0, msgs, 4096);
    expect(pdus.length).toBeGreaterThan(1);
    for (const p of pdus) expect(p.length).toBeLessThanOrEqual(4096);
    expect(pdus.flatMap((p) => decodePdu(p).messages.map((m) => m.id))).toEqual(msgs.map((_, i) => i + 1));
  });
});

describe('stream framer', () => {
  const a = encodePdu('1.1.1.1', 0, [encodeMessage({ kind: 'keepalive', id: 1 }), encodeMessage({ kind: 'keepalive', id: 2 })]);
  const b = encodePdu('1.1.1.1', 0, [encodeMessage({ kind: 'address', id: 3, family: 'ipv4', addresses: ['10.0.0.1', '10.0.1.1'] })]);

  it('returns several PDUs from one segment', () => {
    const f = new PduFramer();
    const out = f.push(Buffer.concat([a, b]));
    expect(out.map((p) => p.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
    expect(f.pending).toBe(0);
  });

  it('reassembles PDUs split at every byte boundary', () => {
    const all = Buffer.concat([a, b, a]);
    for (let cut = 1; cut < all.length; cut++) {
      const f = new PduFramer();
      const out = [...f.push(all.subarray(0, cut)), ...f.push(all.subarray(cut))];
      expect(Buffer.concat(out).toString('hex')).toBe(all.toString('hex'));
      expect(out).toHaveLength(3);
    }
  });

  it('reassembles PDUs fed one byte at a time', () => {
    const f = new PduFramer();
    const out: Buffer[] = [];
    for (const byte of Buffer.concat([b, a])) out.push(...f.push(Buffer.from([byte])));
    expect(out.map((p) => p.length)).toEqual([b.length, a.length]);
  });

  it('refuses a lying length before buffering it', () => {
    const f = new PduFramer();
    expect(() => f.push(hex('0001 ffff'))).toThrow(expect.objectContaining({ status: Status.BadPduLength }));
    expect(() => new PduFramer().push(hex('0009 0010'))).toThrow(expect.objectContaining({ status: Status.BadProtocolVersion }));
  });
});

describe('round trips', () => {
  it('Hello with IPv6 transport address and dual-stack TLV', () => {
    const m = { kind: 'hello', id: 9, holdTime: 0xffff, targeted: true, requestTargeted: true, gtsm: false, transportAddressV6: '2001:db8::1', configSeq: 0xfffffffe, dualStack: 0x40000000 } as const;
    expect(roundTrip(m)).toEqual(m);
  });

  it('Initialization with session parameters and the three capabilities FRR sends', () => {
    const m = {
      kind: 'init',
      id: 2,
      protocolVersion: 1,
      keepaliveTime: 180,
      downstreamOnDemand: false,
      loopDetection: true,
      pathVectorLimit: 0,
      maxPduLength: 0,
      receiverLsrId: '10.0.0.2',
      receiverLabelSpace: 0,
      capabilities: [
        { type: TlvType.DynamicCapabilityAnnouncement, enabled: true },
        { type: TlvType.TypedWildcardFecCapability, enabled: true },
        { type: TlvType.UnrecognizedNotificationCapability, enabled: true },
      ],
      unsupportedCapabilities: [],
    } as const;
    expect(roundTrip(m)).toEqual(m);
  });

  it('Initialization with the FT Session TLV of graceful restart (RFC 3478): L flag, reconnect and recovery times', () => {
    const m = {
      kind: 'init',
      id: 3,
      protocolVersion: 1,
      keepaliveTime: 60,
      downstreamOnDemand: false,
      loopDetection: false,
      pathVectorLimit: 0,
      maxPduLength: 4096,
      receiverLsrId: '10.0.0.2',
      receiverLabelSpace: 0,
      capabilities: [],
      unsupportedCapabilities: [],
      ft: { flags: 0x0001, reconnectMs: 120_000, recoveryMs: 0xfffffffe },
    } as const;
    expect(roundTrip(m)).toEqual(m);
    // on the wire: U bit set (a peer without graceful restart ignores it), length 12
    const body = hex(tlvHex(0x0500, '0001 003c 00 00 1000 0a000002 0000') + tlvHex(0x8503, '0001 0000 0001d4c0 00000000'));
    expect(decodeMessage({ type: 0x0200, u: false, id: 4, body })).toMatchObject({ kind: 'init', ft: { flags: 1, reconnectMs: 120_000, recoveryMs: 0 }, unsupportedCapabilities: [] });
  });

  it('decodes FRR-style Initialization bytes: keepalive 180, receiver 2.2.2.2:0, capabilities with U set', () => {
    const body = hex(tlvHex(0x0500, '0001 00b4 00 00 0000 02020202 0000') + tlvHex(0x8506, '80') + tlvHex(0x850b, '80') + tlvHex(0x8603, '80'));
    const m = decodeMessage({ type: 0x0200, u: false, id: 5, body });
    expect(m).toMatchObject({ kind: 'init', keepaliveTime: 180, receiverLsrId: '2.2.2.2', maxPduLength: 0, capabilities: [{ type: 0x0506, enabled: true }, { type: 0x050b, enabled: true }, { type: 0x0603, enabled: true }] });
  });

  it('KeepAlive', () => {
    expect(roundTrip({ kind: 'keepalive', id: 44 })).toEqual({ kind: 'keepalive', id: 44 });
  });

  it('Capability message withdrawing Typed Wildcard FEC', () => {
    const m = { kind: 'capability', id: 3, capabilities: [{ type: TlvType.TypedWildcardFecCapability, enabled: false }], unsupportedCapabilities: [] } as const;
    expect(roundTrip(m)).toEqual(m);
  });

  it('Notification with status, extended status, returned PDU and message', () => {
    const m = { kind: 'notification', id: 4, status: Status.BadTlvLength, msgId: 17, msgType: 0x0400, extendedStatus: 99, returnedPdu: hex('0001000e'), returnedMessage: hex('0400') } as const;
    expect(roundTrip(m)).toEqual(m);
    // Status TLV bytes: type 0x0300, length 10, code with E set, message id, message type
    expect(encodeMessage({ kind: 'notification', id: 1, status: Status.Shutdown, msgId: 0, msgType: 0 }).subarray(8, 22).toString('hex')).toBe('0300000a8000000a000000000000');
  });

  it('End-of-LIB Notification with a Typed Wildcard FEC (RFC 5919)', () => {
    const m = { kind: 'notification', id: 4, status: Status.EndOfLib, msgId: 0, msgType: 0, fec: [{ type: 'typed-wildcard', fecType: 2, family: 'ipv4' }] } as const;
    expect(roundTrip(m)).toEqual(m);
  });

  it('Address and Address Withdraw, IPv4 and IPv6', () => {
    const a = { kind: 'address', id: 5, family: 'ipv4', addresses: ['10.0.0.1', '192.0.2.255'] } as const;
    const w = { kind: 'address-withdraw', id: 6, family: 'ipv6', addresses: ['2001:db8::1', 'fe80::1:2'] } as const;
    expect(roundTrip(a)).toEqual(a);
    expect(roundTrip(w)).toEqual(w);
  });

  it('Label Mapping with IPv4 and IPv6 prefixes, label, request id, hop count and path vector', () => {
    const m = { kind: 'label-mapping', id: 10, fec: [{ type: 'prefix', prefix: '10.1.0.0/16' }, { type: 'prefix', prefix: '2001:db8:64::/48' }], label: 1048575, requestId: 3, hopCount: 2, pathVector: ['1.1.1.1', '2.2.2.2'] } as const;
    expect(roundTrip(m)).toEqual(m);
  });

  it('Label Mapping bytes: prefix 10.1.0.0/16 is 2 prefix bytes, label 16, message length 4 + 10 + 8', () => {
    const b = encodeMessage({ kind: 'label-mapping', id: 1, fec: [{ type: 'prefix', prefix: '10.1.0.0/16' }], label: 16 });
    expect(b.toString('hex')).toBe('0400' + '0016' + '00000001' + '0100' + '0006' + '02000110' + '0a01' + '0200' + '0004' + '00000010');
  });

  it('Label Withdraw with a wildcard FEC, Label Release with a label, Label Request, Label Abort', () => {
    const w = { kind: 'label-withdraw', id: 11, fec: [{ type: 'wildcard' }] } as const;
    const r = { kind: 'label-release', id: 12, fec: [{ type: 'prefix', prefix: '0.0.0.0/0' }], label: 3 } as const;
    const q = { kind: 'label-request', id: 13, fec: [{ type: 'prefix', prefix: '198.51.100.7/32' }], hopCount: 1 } as const;
    const ab = { kind: 'label-abort-request', id: 14, fec: [{ type: 'prefix', prefix: '198.51.100.7/32' }], requestId: 13 } as const;
    for (const m of [w, r, q, ab]) expect(roundTrip(m)).toEqual(m);
  });

  it('clears host bits of a received prefix', () => {
    expect(decodeFecTlv(readTlvs(hex('0100 0007 02 0001 18 0a0102'))[0]!)).toEqual([{ type: 'prefix', prefix: '10.1.2.0/24' }]);
    expect(decodeFecTlv(readTlvs(hex('0100 0006 02 0001 0f 0aff'))[0]!)).toEqual([{ type: 'prefix', prefix: '10.254.0.0/15' }]);
    expect(canonicalPrefix('2001:db8::ff/64')).toBe('2001:db8::/64');
  });

  it('formats IPv6 addresses as RFC 5952 text', () => {
    expect(ipv6ToString(ipv6ToBuffer('2001:0db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(ipv6ToString(ipv6ToBuffer('::'))).toBe('::');
    expect(ipv6ToString(ipv6ToBuffer('fe80::'))).toBe('fe80::');
    expect(() => ipv6ToBuffer('1::2::3')).toThrow(RangeError);
  });
});

describe('errors name the RFC status', () => {
  const prefixFec = tlvHex(0x0100, '02 0001 08 0a');
  const label16 = tlvHex(0x0200, '00000010');

  it('unknown message type: ignored with the U bit, Unknown Message Type without it (advisory)', () => {
    expect(decodeMessage({ type: 0x3e00, u: true, id: 1, body: Buffer.alloc(0) })).toEqual({ kind: 'ignored', id: 1, msgType: 0x3e00 });
    const s = statusOf(0x3e00, Buffer.alloc(0));
    expect(s).toBe(Status.UnknownMessageType);
    expect(new LdpError(s, '').fatal).toBe(false);
  });

  it('unknown TLV: ignored with the U bit, Unknown TLV without it', () => {
    expect(decodeMessage({ type: 0x0201, u: false, id: 1, body: hex(tlvHex(0xbf00, 'aa')) })).toEqual({ kind: 'keepalive', id: 1 });
    expect(statusOf(0x0201, hex(tlvHex(0x3f00, 'aa')))).toBe(Status.UnknownTlv);
    expect(statusOf(0x0400, hex(prefixFec + label16 + tlvHex(0x3f01, '')))).toBe(Status.UnknownTlv);
  });

  it('Bad TLV Length for a TLV that runs past its message and for fixed-size TLVs of the wrong size', () => {
    expect(statusOf(0x0201, hex('0400 0010 0000'))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0201, hex('04'))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0100, hex(tlvHex(0x0400, '000f')))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0100, hex(tlvHex(0x0400, '000f0000') + tlvHex(0x0401, '0a0000')))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0200, hex(tlvHex(0x0500, '0001 00b4 0000 0000 02020202')))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0001, hex(tlvHex(0x0300, '8000000a0000')))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0300, hex(tlvHex(0x0101, '0001 0a0000')))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0400, hex(prefixFec + tlvHex(0x0200, '000010')))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0400, hex(tlvHex(0x0100, '02 0001 18 0a01') + label16))).toBe(Status.BadTlvLength);
    expect(statusOf(0x0200, hex(tlvHex(0x0500, '0001 00b4 0000 0000 02020202 0000') + tlvHex(0x8506, '8000')))).toBe(Status.BadTlvLength);
  });

  it('Missing Message Parameters when a mandatory TLV is absent', () => {
    expect(statusOf(0x0100, Buffer.alloc(0))).toBe(Status.MissingMessageParameters);
    expect(statusOf(0x0200, hex(tlvHex(0x8506, '80')))).toBe(Status.MissingMessageParameters);
    expect(statusOf(0x0001, Buffer.alloc(0))).toBe(Status.MissingMessageParameters);
    expect(statusOf(0x0300, Buffer.alloc(0))).toBe(Status.MissingMessageParameters);
    expect(statusOf(0x0400, hex(prefixFec))).toBe(Status.MissingMessageParameters);
    expect(statusOf(0x0402, hex(label16))).toBe(Status.MissingMessageParameters);
  });

  it('Malformed TLV Value for labels out of range or reserved, wildcards where not allowed, a FEC twice', () => {
    expect(statusOf(0x0400, hex(prefixFec + tlvHex(0x0200, '00100000')))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0400, hex(prefixFec + tlvHex(0x0200, '00000001')))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0400, hex(prefixFec + tlvHex(0x0200, '0000000f')))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0400, hex(tlvHex(0x0100, '01') + label16))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0402, hex(tlvHex(0x0100, '01 02 0001 08 0a')))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0400, hex(tlvHex(0x0100, '02 0001 08 0a 02 0001 08 0a') + label16))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0400, hex(tlvHex(0x0100, '02 0001 21 0a000000 00') + label16))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0400, hex(prefixFec + tlvHex(0x0201, '00000010')))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0200, hex(tlvHex(0x0500, '0001 00b4 0000 0000 02020202 0000') + tlvHex(0x8506, '80') + tlvHex(0x8506, '80')))).toBe(Status.MalformedTlvValue);
    expect(statusOf(0x0200, hex(tlvHex(0x0500, '0001 00b4 0000 0000 02020202 0000') + tlvHex(0x0501, '00000000')))).toBe(Status.MalformedTlvValue);
  });

  it('Unsupported Address Family for an Address List or Prefix FEC of family 3', () => {
    expect(statusOf(0x0300, hex(tlvHex(0x0101, '0003 0a000001')))).toBe(Status.UnsupportedAddressFamily);
    expect(statusOf(0x0400, hex(tlvHex(0x0100, '02 0003 08 0a') + label16))).toBe(Status.UnsupportedAddressFamily);
  });

  it('Unknown FEC for a FEC element type we do not support (PWid)', () => {
    expect(statusOf(0x0400, hex(tlvHex(0x0100, '80 00 0000') + label16))).toBe(Status.UnknownFec);
  });

  it('Bad Protocol Version and Bad KeepAlive Time in the session parameters', () => {
    expect(statusOf(0x0200, hex(tlvHex(0x0500, '0002 00b4 0000 0000 02020202 0000')))).toBe(Status.BadProtocolVersion);
    expect(statusOf(0x0200, hex(tlvHex(0x0500, '0001 0002 0000 0000 02020202 0000')))).toBe(Status.SessionRejectedBadKeepAliveTime);
  });

  it('a FT Session TLV of the wrong length is a Bad TLV Length, one sent twice a Malformed TLV Value', () => {
    const csp = tlvHex(0x0500, '0001 00b4 0000 0000 02020202 0000');
    expect(statusOf(0x0200, hex(csp + tlvHex(0x8503, '0001 0000 00000000')))).toBe(Status.BadTlvLength);
    const ft = tlvHex(0x8503, '0001 0000 00000001 00000001');
    expect(statusOf(0x0200, hex(csp + ft + ft))).toBe(Status.MalformedTlvValue);
  });

  it('reports an unknown capability sent without U as unsupported, and ignores one with U', () => {
    const m = decodeMessage({ type: 0x0200, u: false, id: 1, body: hex(tlvHex(0x0500, '0001 00b4 0000 0000 02020202 0000') + tlvHex(0x0777, '80') + tlvHex(0x8778, '80')) });
    expect(m).toMatchObject({ kind: 'init', capabilities: [], unsupportedCapabilities: [0x0777] });
  });

  it('fatal codes carry the E bit, advisory ones do not, and each has a name', () => {
    expect(new LdpError(Status.BadLdpIdentifier, 'x').fatal).toBe(true);
    expect(new LdpError(Status.UnknownFec, 'x').fatal).toBe(false);
    expect(statusName(Status.MalformedTlvValue)).toBe('MalformedTlvValue');
    expect(statusName(Status.MalformedTlvValue & 0x3fffffff)).toBe('MalformedTlvValue');
  });
});
