// Address and Address Withdraw messages (RFC 5036 3.5.5, 3.5.6): the interface addresses an
// LSR owns, so a peer can map a route's next hop to the LDP session it learned a label on.
import { AddressFamily, MsgType, Status, TlvType } from './constants.js';
import { LdpError } from './errors.js';
import { ipv4ToBuffer, ipv4ToString, ipv6ToBuffer, ipv6ToString, readTlvs, tlv, unknownTlv } from './tlv.js';

export interface AddressMessage {
  kind: 'address' | 'address-withdraw';
  id: number;
  family: 'ipv4' | 'ipv6';
  addresses: string[];
}

export function decodeAddress(id: number, msgType: number, body: Buffer): AddressMessage {
  const kind = msgType === MsgType.Address ? 'address' : 'address-withdraw';
  const tlvs = readTlvs(body);
  const first = tlvs[0];
  if (!first || first.type !== TlvType.AddressList) throw new LdpError(Status.MissingMessageParameters, `${kind} without an Address List`);
  for (const t of tlvs.slice(1)) unknownTlv(t, kind);
  const v = first.value;
  if (v.length < 2) throw new LdpError(Status.BadTlvLength, `Address List of ${v.length} bytes`);
  const af = v.readUInt16BE(0);
  if (af !== AddressFamily.Ipv4 && af !== AddressFamily.Ipv6) throw new LdpError(Status.UnsupportedAddressFamily, `Address List family ${af}`);
  const size = af === AddressFamily.Ipv4 ? 4 : 16;
  if ((v.length - 2) % size !== 0) throw new LdpError(Status.BadTlvLength, `Address List of ${v.length - 2} bytes is not a whole number of ${size}-byte addresses`);
  const addresses: string[] = [];
  for (let off = 2; off < v.length; off += size) addresses.push(size === 4 ? ipv4ToString(v, off) : ipv6ToString(v, off));
  return { kind, id, family: af === AddressFamily.Ipv4 ? 'ipv4' : 'ipv6', addresses };
}

export function encodeAddress(m: Omit<AddressMessage, 'kind' | 'id'>): Buffer {
  const fam = Buffer.alloc(2);
  fam.writeUInt16BE(m.family === 'ipv4' ? AddressFamily.Ipv4 : AddressFamily.Ipv6);
  const addrs = m.addresses.map((a) => (m.family === 'ipv4' ? ipv4ToBuffer(a) : ipv6ToBuffer(a)));
  return tlv(TlvType.AddressList, Buffer.concat([fam, ...addrs]));
}
