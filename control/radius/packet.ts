// The RADIUS codec: packets (RFC 2865 §3) as bytes ⇄ typed values, the authenticators of
// every packet kind the node sends or takes (Access-Request with PAP, RFC 2865; Accounting,
// RFC 2866; CoA and Disconnect, RFC 5176) and Message-Authenticator (RFC 3579 §3.2). Pure
// functions, no sockets: the clients and the CoA listener are built on it.
//
// Digests are compared with timingSafeEqual over the raw bytes. Message-Authenticator of an
// Accounting, CoA or Disconnect-Request is computed with the Request Authenticator field as 16
// zero octets, and the Request Authenticator afterwards over the packet holding it, as FreeRADIUS
// and radclient do.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const Code = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  DisconnectRequest: 40,
  DisconnectAck: 41,
  DisconnectNak: 42,
  CoaRequest: 43,
  CoaAck: 44,
  CoaNak: 45,
} as const;

export const Attr = {
  UserName: 1,
  UserPassword: 2,
  NasIpAddress: 4,
  NasPort: 5,
  ServiceType: 6,
  FramedIpAddress: 8,
  ReplyMessage: 18,
  State: 24,
  Class: 25,
  VendorSpecific: 26,
  SessionTimeout: 27,
  IdleTimeout: 28,
  CallingStationId: 31,
  NasIdentifier: 32,
  ProxyState: 33,
  AcctStatusType: 40,
  AcctDelayTime: 41,
  AcctInputOctets: 42,
  AcctOutputOctets: 43,
  AcctSessionId: 44,
  AcctSessionTime: 46,
  AcctInputPackets: 47,
  AcctOutputPackets: 48,
  AcctTerminateCause: 49,
  AcctInputGigawords: 52,
  AcctOutputGigawords: 53,
  EventTimestamp: 55,
  NasPortType: 61,
  MessageAuthenticator: 80,
  AcctInterimInterval: 85,
  NasIpv6Address: 95,
  ErrorCause: 101,
} as const;

export const AcctStatus = { Start: 1, Stop: 2, InterimUpdate: 3 } as const;

/** Acct-Terminate-Cause values (RFC 2866 §5.10) the node sends. */
export const TerminateCause = { UserRequest: 1, IdleTimeout: 4, SessionTimeout: 5, AdminReset: 6, NasRequest: 10, AdminReboot: 7 } as const;

/** Error-Cause values (RFC 5176 §3.6) the node answers with. */
export const ErrorCause = {
  UnsupportedAttribute: 401,
  MissingAttribute: 402,
  NasIdentificationMismatch: 403,
  InvalidRequest: 404,
  UnsupportedService: 405,
  InvalidAttributeValue: 407,
  AdministrativelyProhibited: 501,
  SessionContextNotFound: 503,
  SessionContextNotRemovable: 504,
  ResourcesUnavailable: 506,
} as const;

export const HEADER = 20;
export const MAX_PACKET = 4096;
const AUTH_LEN = 16;
const MA_LEN = 16;

export interface Attribute {
  type: number;
  value: Buffer;
}

export interface Packet {
  code: number;
  identifier: number;
  authenticator: Buffer;
  attributes: Attribute[];
}

export class RadiusDecodeError extends Error {
  override readonly name = 'RadiusDecodeError';
}

/** Bytes → packet. Octets past the Length field are padding (RFC 2865 §3) and ignored. */
export function decode(buf: Buffer): Packet {
  if (buf.length < HEADER) throw new RadiusDecodeError(`packet of ${buf.length} octets is shorter than the 20-octet header`);
  const length = buf.readUInt16BE(2);
  if (length < HEADER || length > MAX_PACKET) throw new RadiusDecodeError(`Length ${length} is outside 20..4096`);
  if (length > buf.length) throw new RadiusDecodeError(`Length ${length} is longer than the ${buf.length} octets received`);
  const attributes: Attribute[] = [];
  for (let o = HEADER; o < length; ) {
    if (o + 2 > length) throw new RadiusDecodeError(`attribute at ${o} has no length octet`);
    const type = buf[o]!;
    const len = buf[o + 1]!;
    if (len < 2) throw new RadiusDecodeError(`attribute ${type} at ${o} has length ${len} (at least 2)`);
    if (o + len > length) throw new RadiusDecodeError(`attribute ${type} at ${o} runs past the packet's end`);
    attributes.push({ type, value: Buffer.from(buf.subarray(o + 2, o + len)) });
    o += len;
  }
  return { code: buf[0]!, identifier: buf[1]!, authenticator: Buffer.from(buf.subarray(4, 20)), attributes };
}

/** Packet → bytes, with the authenticator as given. */
export function encode(p: Packet): Buffer {
  let length = HEADER;
  for (const a of p.attributes) {
    if (a.value.length > 253) throw new RangeError(`attribute ${a.type} value of ${a.value.length} octets is over 253`);
    length += 2 + a.value.length;
  }
  if (length > MAX_PACKET) throw new RangeError(`packet of ${length} octets is over 4096`);
  const out = Buffer.alloc(length);
  out[0] = p.code;
  out[1] = p.identifier;
  out.writeUInt16BE(length, 2);
  p.authenticator.copy(out, 4, 0, AUTH_LEN);
  let o = HEADER;
  for (const a of p.attributes) {
    out[o] = a.type;
    out[o + 1] = 2 + a.value.length;
    a.value.copy(out, o + 2);
    o += 2 + a.value.length;
  }
  return out;
}

// ---- attribute values ----------------------------------------------------------------------

export const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
export const text = (s: string): Buffer => Buffer.from(s, 'utf8');
export function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

export function attr(type: number, value: Buffer | string | number): Attribute {
  return { type, value: typeof value === 'number' ? int32(value) : typeof value === 'string' ? text(value) : value };
}

/** A Vendor-Specific attribute (RFC 2865 §5.26) holding one vendor attribute. */
export function vsa(vendor: number, type: number, value: Buffer): Attribute {
  const v = Buffer.alloc(6 + value.length);
  v.writeUInt32BE(vendor, 0);
  v[4] = type;
  v[5] = 2 + value.length;
  value.copy(v, 6);
  return { type: Attr.VendorSpecific, value: v };
}

export function first(p: Packet, type: number): Buffer | undefined {
  return p.attributes.find((a) => a.type === type)?.value;
}

export function intOf(v: Buffer | undefined): number | undefined {
  return v !== undefined && v.length === 4 ? v.readUInt32BE(0) : undefined;
}

/** The vendor attributes inside a Vendor-Specific value of the usual format (type, length,
 * value), or undefined when it is not in that format. */
export function vendorAttributes(v: Buffer): { vendor: number; attributes: Attribute[] } | undefined {
  if (v.length < 6) return undefined;
  const vendor = v.readUInt32BE(0);
  const attributes: Attribute[] = [];
  for (let o = 4; o < v.length; ) {
    if (o + 2 > v.length) return undefined;
    const len = v[o + 1]!;
    if (len < 2 || o + len > v.length) return undefined;
    attributes.push({ type: v[o]!, value: Buffer.from(v.subarray(o + 2, o + len)) });
    o += len;
  }
  return { vendor, attributes };
}

/** The value of a standard attribute, or of a vendor's attribute inside Vendor-Specific. */
export function find(p: Packet, ref: { type: number; vendor?: number }): Buffer | undefined {
  if (ref.vendor === undefined) return first(p, ref.type);
  for (const a of p.attributes) {
    if (a.type !== Attr.VendorSpecific) continue;
    const v = vendorAttributes(a.value);
    if (v?.vendor !== ref.vendor) continue;
    const hit = v.attributes.find((x) => x.type === ref.type);
    if (hit) return hit.value;
  }
  return undefined;
}

// ---- digests -------------------------------------------------------------------------------

const md5 = (...parts: Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

const equal = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/** User-Password hidden as RFC 2865 §5.2 says (at most 128 octets). */
export function hidePassword(password: string, secret: string, requestAuth: Buffer): Buffer {
  const p = Buffer.from(password, 'utf8');
  if (p.length > 128) throw new RangeError('a PAP password takes at most 128 octets');
  const padded = Buffer.alloc(Math.max(16, Math.ceil(p.length / 16) * 16));
  p.copy(padded);
  const s = Buffer.from(secret, 'utf8');
  const out = Buffer.alloc(padded.length);
  let prev = requestAuth;
  for (let i = 0; i < padded.length; i += 16) {
    const b = md5(s, prev);
    for (let j = 0; j < 16; j++) out[i + j] = padded[i + j]! ^ b[j]!;
    prev = out.subarray(i, i + 16);
  }
  return out;
}

/** The offset of the Message-Authenticator's value in an encoded packet, if it has one. */
function maOffset(buf: Buffer): number | undefined {
  const length = buf.readUInt16BE(2);
  for (let o = HEADER; o + 2 <= length; o += buf[o + 1]!) {
    if (buf[o + 1]! < 2) return undefined;
    if (buf[o] === Attr.MessageAuthenticator) return buf[o + 1] === 2 + MA_LEN ? o + 2 : undefined;
  }
  return undefined;
}

/** HMAC-MD5 over the packet with the Message-Authenticator zeroed and `auth` in the
 * authenticator field. */
function messageAuthenticator(buf: Buffer, at: number, auth: Buffer, secret: string): Buffer {
  const copy = Buffer.from(buf);
  auth.copy(copy, 4);
  copy.fill(0, at, at + MA_LEN);
  return createHmac('md5', Buffer.from(secret, 'utf8')).update(copy).digest();
}

const ZERO_AUTH = Buffer.alloc(AUTH_LEN);

/**
 * An Access-Request: a random Request Authenticator, the password hidden (PAP), and a
 * Message-Authenticator as the first attribute (servers that require it, and the BlastRADIUS
 * mitigation, want it first).
 */
export function accessRequest(identifier: number, attributes: Attribute[], secret: string, password?: string): { bytes: Buffer; authenticator: Buffer } {
  const authenticator = randomBytes(AUTH_LEN);
  const attrs: Attribute[] = [{ type: Attr.MessageAuthenticator, value: Buffer.alloc(MA_LEN) }, ...attributes];
  if (password !== undefined) attrs.push({ type: Attr.UserPassword, value: hidePassword(password, secret, authenticator) });
  const bytes = encode({ code: Code.AccessRequest, identifier, authenticator, attributes: attrs });
  const at = maOffset(bytes)!;
  messageAuthenticator(bytes, at, authenticator, secret).copy(bytes, at);
  return { bytes, authenticator };
}

/** An Accounting, CoA or Disconnect-Request: the Request Authenticator is the MD5 of the packet
 * with a zero authenticator and the secret (RFC 2866 §3, RFC 5176 §2.3). */
export function signedRequest(code: number, identifier: number, attributes: Attribute[], secret: string, withMessageAuthenticator = false): Buffer {
  const attrs = withMessageAuthenticator ? [{ type: Attr.MessageAuthenticator, value: Buffer.alloc(MA_LEN) }, ...attributes] : attributes;
  const bytes = encode({ code, identifier, authenticator: ZERO_AUTH, attributes: attrs });
  if (withMessageAuthenticator) {
    const at = maOffset(bytes)!;
    messageAuthenticator(bytes, at, ZERO_AUTH, secret).copy(bytes, at);
  }
  md5(bytes, Buffer.from(secret, 'utf8')).copy(bytes, 4);
  return bytes;
}

export type Verdict = { ok: true } | { ok: false; reason: 'bad_authenticator' | 'bad_message_authenticator' };

/** Checks a request signed as signedRequest() signs (Accounting, CoA, Disconnect), and its
 * Message-Authenticator when it carries one. */
export function verifyRequest(buf: Buffer, secret: string): Verdict {
  const length = buf.readUInt16BE(2);
  const packet = buf.subarray(0, length);
  const copy = Buffer.from(packet);
  ZERO_AUTH.copy(copy, 4);
  if (!equal(md5(copy, Buffer.from(secret, 'utf8')), packet.subarray(4, 20))) return { ok: false, reason: 'bad_authenticator' };
  return checkMessageAuthenticator(packet, ZERO_AUTH, secret);
}

/** A packet without Message-Authenticator passes; one with it passes if it is right. */
function checkMessageAuthenticator(packet: Buffer, auth: Buffer, secret: string): Verdict {
  const at = maOffset(packet);
  if (at === undefined) return hasAttribute(packet, Attr.MessageAuthenticator) ? { ok: false, reason: 'bad_message_authenticator' } : { ok: true };
  return equal(messageAuthenticator(packet, at, auth, secret), packet.subarray(at, at + MA_LEN)) ? { ok: true } : { ok: false, reason: 'bad_message_authenticator' };
}

function hasAttribute(buf: Buffer, type: number): boolean {
  const length = buf.readUInt16BE(2);
  for (let o = HEADER; o + 2 <= length && buf[o + 1]! >= 2; o += buf[o + 1]!) if (buf[o] === type) return true;
  return false;
}

/** Checks a response (Access-Accept/Reject, Accounting-Response, CoA/Disconnect ACK/NAK) to a
 * request with `requestAuth`: its Response Authenticator, and its Message-Authenticator when it
 * carries one (FreeRADIUS 3.2 puts none in an Access-Accept). */
export function verifyResponse(buf: Buffer, requestAuth: Buffer, secret: string): Verdict {
  const length = buf.readUInt16BE(2);
  const packet = buf.subarray(0, length);
  const copy = Buffer.from(packet);
  requestAuth.copy(copy, 4);
  if (!equal(md5(copy, Buffer.from(secret, 'utf8')), packet.subarray(4, 20))) return { ok: false, reason: 'bad_authenticator' };
  return checkMessageAuthenticator(packet, requestAuth, secret);
}

/** A response to a request with `requestAuth`, with a Message-Authenticator when asked. */
export function signedResponse(code: number, identifier: number, attributes: Attribute[], requestAuth: Buffer, secret: string, withMessageAuthenticator = false): Buffer {
  const attrs = withMessageAuthenticator ? [{ type: Attr.MessageAuthenticator, value: Buffer.alloc(MA_LEN) }, ...attributes] : attributes;
  const bytes = encode({ code, identifier, authenticator: requestAuth, attributes: attrs });
  if (withMessageAuthenticator) {
    const at = maOffset(bytes)!;
    messageAuthenticator(bytes, at, requestAuth, secret).copy(bytes, at);
  }
  md5(bytes, Buffer.from(secret, 'utf8')).copy(bytes, 4);
  return bytes;
}
