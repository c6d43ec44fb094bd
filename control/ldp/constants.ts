// LDP numbers from RFC 5036 (and RFC 5561 capabilities, RFC 5918/5919 as FRR announces them,
// RFC 6720 GTSM): message types, TLV types, status codes and the protocol's fixed values.
// Names follow the RFC's so a reader can look each one up.

export const LDP_PORT = 646;
export const LDP_VERSION = 1;
/** RFC 5036 3.5.3: the maximum PDU length before (and by default after) negotiation */
export const LDP_MAX_PDU = 4096;
export const ALL_ROUTERS_V4 = '224.0.0.2';
export const PDU_HEADER_SIZE = 10;
/** Version and PDU Length are not counted in PDU Length */
export const PDU_DEAD = 4;
export const MSG_HEADER_SIZE = 8;
export const TLV_HEADER_SIZE = 4;

export const U_BIT = 0x8000;
export const F_BIT = 0x4000;

export const MsgType = {
  Notification: 0x0001,
  Hello: 0x0100,
  Initialization: 0x0200,
  KeepAlive: 0x0201,
  Capability: 0x0202,
  Address: 0x0300,
  AddressWithdraw: 0x0301,
  LabelMapping: 0x0400,
  LabelRequest: 0x0401,
  LabelWithdraw: 0x0402,
  LabelRelease: 0x0403,
  LabelAbortRequest: 0x0404,
} as const;

export const MSG_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k]));

export const TlvType = {
  Fec: 0x0100,
  AddressList: 0x0101,
  HopCount: 0x0103,
  PathVector: 0x0104,
  GenericLabel: 0x0200,
  AtmLabel: 0x0201,
  FrLabel: 0x0202,
  Status: 0x0300,
  ExtendedStatus: 0x0301,
  ReturnedPdu: 0x0302,
  ReturnedMessage: 0x0303,
  CommonHelloParams: 0x0400,
  Ipv4TransportAddress: 0x0401,
  ConfigSequenceNumber: 0x0402,
  Ipv6TransportAddress: 0x0403,
  CommonSessionParams: 0x0500,
  AtmSessionParams: 0x0501,
  FrSessionParams: 0x0502,
  /** RFC 3479 / RFC 3478 graceful restart: FT Session TLV in Initialization (sent with the U bit) */
  FtSession: 0x0503,
  LabelRequestMessageId: 0x0600,
  /** RFC 5561 capability parameters (sent with the U bit set) */
  DynamicCapabilityAnnouncement: 0x0506,
  TypedWildcardFecCapability: 0x050b,
  UnrecognizedNotificationCapability: 0x0603,
  /** RFC 7552 dual-stack capability, a Hello TLV FRR sends with U set */
  DualStack: 0x0701,
} as const;

/** FEC element types (RFC 5036 3.4.1, RFC 5918 typed wildcard) */
export const FecType = { Wildcard: 0x01, Prefix: 0x02, TypedWildcard: 0x05 } as const;

/** Address family numbers (IANA), used in FEC and Address List TLVs */
export const AddressFamily = { Ipv4: 1, Ipv6: 2 } as const;

/** Common Hello Parameters flags (RFC 5036 3.5.2, RFC 6720 for G) */
export const HelloFlag = { Targeted: 0x8000, RequestTargeted: 0x4000, Gtsm: 0x2000 } as const;

/**
 * Status codes (RFC 5036 3.9, RFC 5561, RFC 5919) with the E bit as the RFC assigns it: a code
 * with E set is fatal and closes the session.
 */
export const Status = {
  Success: 0x00000000,
  BadLdpIdentifier: 0x80000001,
  BadProtocolVersion: 0x80000002,
  BadPduLength: 0x80000003,
  UnknownMessageType: 0x00000004,
  BadMessageLength: 0x80000005,
  UnknownTlv: 0x00000006,
  BadTlvLength: 0x80000007,
  MalformedTlvValue: 0x80000008,
  HoldTimerExpired: 0x80000009,
  Shutdown: 0x8000000a,
  LoopDetected: 0x0000000b,
  UnknownFec: 0x0000000c,
  NoRoute: 0x0000000d,
  NoLabelResources: 0x0000000e,
  LabelResourcesAvailable: 0x0000000f,
  SessionRejectedNoHello: 0x80000010,
  SessionRejectedAdvertisementMode: 0x80000011,
  SessionRejectedMaxPduLength: 0x80000012,
  SessionRejectedLabelRange: 0x80000013,
  KeepAliveTimerExpired: 0x80000014,
  LabelRequestAborted: 0x00000015,
  MissingMessageParameters: 0x00000016,
  UnsupportedAddressFamily: 0x00000017,
  SessionRejectedBadKeepAliveTime: 0x80000018,
  InternalError: 0x80000019,
  UnsupportedCapability: 0x0000002e,
  EndOfLib: 0x0000002f,
} as const;

export const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v & 0x3fffffff, k]));

export const STATUS_E_BIT = 0x80000000;
export const STATUS_F_BIT = 0x40000000;

export function statusName(code: number): string {
  return STATUS_NAMES[code & 0x3fffffff] ?? `status 0x${(code >>> 0).toString(16)}`;
}

/** RFC 3032: the largest label; 0..15 are reserved, of which 0, 2 and 3 may be advertised */
export const MAX_LABEL = 0xfffff;
export const IMPLICIT_NULL = 3;
export const IPV4_EXPLICIT_NULL = 0;
export const IPV6_EXPLICIT_NULL = 2;

export const DEFAULT_LINK_HOLD_TIME = 15;
export const MIN_HOLD_TIME = 3;
export const DEFAULT_KEEPALIVE = 180;
export const MIN_KEEPALIVE = 3;
