// The RADIUS codec without sockets: byte layout, every decode error, the authenticators of
// each packet kind and Message-Authenticator, PAP hiding, vendor attributes, and random bytes
// that must only ever give a RadiusDecodeError.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Attr,
  Code,
  RadiusDecodeError,
  accessRequest,
  attr,
  decode,
  encode,
  find,
  hidePassword,
  signedRequest,
  signedResponse,
  vendorAttributes,
  verifyRequest,
  verifyResponse,
  vsa,
} from '../../control/radius/packet.js';

const SECRET = 'xyzzy5461';

describe('packet layout', () => {
  it('encodes code, identifier, length, authenticator and attributes, and decodes them back', () => {
    const auth = Buffer.alloc(16, 0xab);
    const bytes = encode({ code: Code.AccountingRequest, identifier: 42, authenticator: auth, attributes: [attr(Attr.UserName, 'alice'), attr(Attr.AcctStatusType, 1)] });
    expect(bytes.toString('hex')).toBe('042a0021' + 'ab'.repeat(16) + '0107616c696365' + '280600000001');
    const p = decode(bytes);
    expect(p).toEqual({ code: 4, identifier: 42, authenticator: auth, attributes: [{ type: 1, value: Buffer.from('alice') }, { type: 40, value: Buffer.from('00000001', 'hex') }] });
  });

  it('ignores octets past the Length field (padding, RFC 2865 §3)', () => {
    const bytes = Buffer.concat([encode({ code: 40, identifier: 1, authenticator: Buffer.alloc(16), attributes: [attr(Attr.UserName, 'a')] }), Buffer.from('ffff', 'hex')]);
    expect(decode(bytes).attributes).toEqual([{ type: 1, value: Buffer.from('a') }]);
  });

  it.each([
    ['shorter than a header', Buffer.alloc(19), /shorter than the 20-octet header/],
    ['Length below 20', Buffer.from('2b010013' + '00'.repeat(16), 'hex'), /outside 20..4096/],
    ['Length over 4096', Buffer.concat([Buffer.from('2b011001', 'hex'), Buffer.alloc(4100)]), /outside 20..4096/],
    ['Length past the datagram', Buffer.from('2b010030' + '00'.repeat(16), 'hex'), /longer than the 20 octets received/],
    ['an attribute without its length octet', Buffer.from('2b010015' + '00'.repeat(16) + '01', 'hex'), /no length octet/],
    ['an attribute of length 1', Buffer.from('2b010016' + '00'.repeat(16) + '0101', 'hex'), /length 1/],
    ['an attribute past the end', Buffer.from('2b010017' + '00'.repeat(16) + '2c05ff', 'hex'), /runs past the packet's end/],
  ])('refuses %s', (_what, bytes, message) => {
    expect(() => decode(bytes)).toThrow(RadiusDecodeError);
    expect(() => decode(bytes)).toThrow(message);
  });

  it('gives only RadiusDecodeError or a packet for random and mutated bytes', () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const good = signedRequest(Code.CoaRequest, 3, [attr(Attr.AcctSessionId, 'ABC'), vsa(14122, 8, Buffer.from('000f4240', 'hex'))], SECRET);
    for (let i = 0; i < 5000; i++) {
      const b = i % 2 ? Buffer.from(Array.from({ length: rnd() % 64 }, rnd)) : Buffer.from(good);
      if (i % 2 === 0) for (let j = 0; j < 3; j++) b[rnd() % b.length] = rnd();
      try {
        const p = decode(b);
        expect(p.attributes.every((a) => a.value.length <= 253)).toBe(true);
        verifyRequest(b, SECRET); // never throws on what decode accepted
      } catch (err) {
        expect(err).toBeInstanceOf(RadiusDecodeError);
      }
    }
  });
});

describe('authenticators', () => {
  const md5 = (...b: Buffer[]) => b.reduce((h, x) => h.update(x), createHash('md5')).digest();

  it('signs an Accounting-Request as RFC 2866 §3 says, and verifies it', () => {
    const bytes = signedRequest(Code.AccountingRequest, 9, [attr(Attr.AcctStatusType, 1)], SECRET);
    const zeroed = Buffer.from(bytes);
    zeroed.fill(0, 4, 20);
    expect(bytes.subarray(4, 20)).toEqual(md5(zeroed, Buffer.from(SECRET)));
    expect(verifyRequest(bytes, SECRET)).toEqual({ ok: true });
    expect(verifyRequest(bytes, 'other')).toEqual({ ok: false, reason: 'bad_authenticator' });
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 1;
    expect(verifyRequest(flipped, SECRET)).toEqual({ ok: false, reason: 'bad_authenticator' });
  });

  it('computes a request\'s Message-Authenticator over a zero authenticator, then the Request Authenticator over it', () => {
    const bytes = signedRequest(Code.DisconnectRequest, 5, [attr(Attr.UserName, 'bob')], SECRET, true);
    const p = decode(bytes);
    expect(p.attributes[0]!.type).toBe(Attr.MessageAuthenticator);
    const copy = Buffer.from(bytes);
    copy.fill(0, 4, 20);
    copy.fill(0, 22, 38);
    expect(p.attributes[0]!.value).toEqual(createHmac('md5', SECRET).update(copy).digest());
    expect(verifyRequest(bytes, SECRET)).toEqual({ ok: true });
    // a wrong Message-Authenticator under a right Request Authenticator is still refused
    const bad = Buffer.from(bytes);
    bad[30]! ^= 0xff;
    bad.fill(0, 4, 20);
    md5(bad, Buffer.from(SECRET)).copy(bad, 4);
    expect(verifyRequest(bad, SECRET)).toEqual({ ok: false, reason: 'bad_message_authenticator' });
  });

  it('builds an Access-Request with Message-Authenticator first and the password hidden', () => {
    const { bytes, authenticator } = accessRequest(1, [attr(Attr.UserName, 'alice')], SECRET, 'alice-pw');
    const p = decode(bytes);
    expect(p.authenticator).toEqual(authenticator);
    expect(p.attributes.map((a) => a.type)).toEqual([Attr.MessageAuthenticator, Attr.UserName, Attr.UserPassword]);
    const copy = Buffer.from(bytes);
    copy.fill(0, 22, 38);
    expect(p.attributes[0]!.value).toEqual(createHmac('md5', SECRET).update(copy).digest());
    const hidden = p.attributes[2]!.value;
    expect(hidden.length).toBe(16);
    const clear = Buffer.alloc(16);
    const b = md5(Buffer.from(SECRET), authenticator);
    for (let i = 0; i < 16; i++) clear[i] = hidden[i]! ^ b[i]!;
    expect(clear.toString('utf8').replace(/\0+$/, '')).toBe('alice-pw');
  });

  it('chains PAP blocks for passwords over 16 octets and refuses over 128', () => {
    const ra = Buffer.alloc(16, 7);
    const pw = 'a'.repeat(20);
    const h = hidePassword(pw, SECRET, ra);
    expect(h.length).toBe(32);
    const b2 = md5(Buffer.from(SECRET), h.subarray(0, 16));
    expect(h[16]! ^ b2[0]!).toBe('a'.charCodeAt(0));
    expect(() => hidePassword('x'.repeat(129), SECRET, ra)).toThrow(RangeError);
  });

  it('verifies a response against the request\'s authenticator, with and without Message-Authenticator', () => {
    const reqAuth = Buffer.alloc(16, 0x11);
    for (const withMa of [false, true]) {
      const r = signedResponse(Code.CoaAck, 8, [attr(Attr.ErrorCause, 401)], reqAuth, SECRET, withMa);
      expect(verifyResponse(r, reqAuth, SECRET)).toEqual({ ok: true });
      expect(verifyResponse(r, Buffer.alloc(16, 0x12), SECRET).ok).toBe(false);
      expect(verifyResponse(r, reqAuth, 'nope').ok).toBe(false);
    }
  });
});

describe('vendor attributes', () => {
  it('finds a vendor\'s attribute inside Vendor-Specific and refuses a malformed one', () => {
    const p = decode(encode({ code: 2, identifier: 1, authenticator: Buffer.alloc(16), attributes: [vsa(9, 1, Buffer.from('x')), vsa(14122, 7, Buffer.from('001e8480', 'hex'))] }));
    expect(find(p, { vendor: 14122, type: 7 })).toEqual(Buffer.from('001e8480', 'hex'));
    expect(find(p, { vendor: 14122, type: 8 })).toBeUndefined();
    expect(vendorAttributes(Buffer.from('0000372a07ff00', 'hex'))).toBeUndefined();
    expect(vendorAttributes(Buffer.from('0000', 'hex'))).toBeUndefined();
  });
});
