// GENERATED from dataplane/fecflow_shared.h by scripts/gen-shared.mjs — do not edit; run
// `node scripts/gen-shared.mjs` (or `make -C dataplane`) after changing the header.
// Every integer #define and enum member, by its C name; and for each enum the names of its
// members without their common prefix, lowercase ('FF_DROP_NO_FEC' → 'no_fec'), by value.

export const FF_MAX_LABELS = 3;
export const FF_MAX_ECMP = 8;
export const FF_MAX_ISPS = 4096;
export const FF_MAX_NEXTHOPS = 65536;
export const FF_MAX_NH_GROUPS = 65536;
export const FF_MAX_LABEL = 1048575;
export const FF_MAX_RESERVED_LABEL = 15;
export const FF_LABEL_IPV4_EXPLICIT_NULL = 0;
export const FF_LABEL_ROUTER_ALERT = 1;
export const FF_LABEL_IPV6_EXPLICIT_NULL = 2;
export const FF_LABEL_IMPLICIT_NULL = 3;
export const FF_SUB_MAC_ENTRIES = 1048576;
export const FF_SUB_VLAN_ENTRIES = 262144;
export const FF_SUB_V4_ENTRIES = 1048576;
export const FF_SUB_V6_ENTRIES = 1048576;
export const FF_DOWN_V4_ENTRIES = 1048576;
export const FF_DOWN_V6_ENTRIES = 1048576;
export const FF_ISP_ROUTE_ENTRIES = 262144;
export const FF_ILM_ENTRIES = 1048576;
export const FF_LOCAL_ENTRIES = 1024;
export const FF_ISP_PORT_ENTRIES = 4096;
export const FF_TX_PORT_ENTRIES = 1024;
export const FF_METER_SLOTS = 1048576;
export const FF_ISP_STATS_ENTRIES = 32768;
export const FF_SKIP_SUB_MAC = 1;
export const FF_SKIP_SUB_VLAN = 2;
export const FF_METER_SLOT_MASK = 16777215;
export const FF_METER_POLICED = 2147483648;
export const FF_ICMP_SRC_ENTRIES = 1024;
export const FF_ICMP_QUOTE = 128;
export const FF_ICMP_MAX_RATE = 1000000;
export const FF_ICMP_MAX_BURST = 1000000;
export const FF_ICMP_STATS_ENTRIES = 20;
export const FF_ICMP_SRC_HAS_V4 = 1;
export const FF_ICMP_SRC_HAS_V6 = 2;

// enum ff_ttl_mode
export const FF_TTL_UNIFORM = 0;
export const FF_TTL_PIPE = 1;
/** enum ff_ttl_mode: member name (lowercase, without 'FF_TTL_') → value */
export const FF_TTL_MODE = {
  'uniform': 0,
  'pipe': 1,
} as const;
/** enum ff_ttl_mode: the member names, indexed by value */
export const FF_TTL_MODE_NAMES = ['uniform', 'pipe'] as const;

// enum ff_unknown_policy
export const FF_UNKNOWN_DROP = 0;
export const FF_UNKNOWN_PASS = 1;
/** enum ff_unknown_policy: member name (lowercase, without 'FF_UNKNOWN_') → value */
export const FF_UNKNOWN_POLICY = {
  'drop': 0,
  'pass': 1,
} as const;
/** enum ff_unknown_policy: the member names, indexed by value */
export const FF_UNKNOWN_POLICY_NAMES = ['drop', 'pass'] as const;

// enum ff_direction
export const FF_DIR_UP = 0;
export const FF_DIR_DOWN = 1;
export const FF_DIR_MAX = 2;
/** enum ff_direction: member name (lowercase, without 'FF_DIR_') → value */
export const FF_DIRECTION = {
  'up': 0,
  'down': 1,
} as const;
/** enum ff_direction: the member names, indexed by value */
export const FF_DIRECTION_NAMES = ['up', 'down'] as const;

// enum ff_point
export const FF_POINT_IN = 0;
export const FF_POINT_OUT = 1;
export const FF_POINT_POLICED = 2;
export const FF_POINT_TRANSIT = 3;
export const FF_POINT_MAX = 4;
/** enum ff_point: member name (lowercase, without 'FF_POINT_') → value */
export const FF_POINT = {
  'in': 0,
  'out': 1,
  'policed': 2,
  'transit': 3,
} as const;
/** enum ff_point: the member names, indexed by value */
export const FF_POINT_NAMES = ['in', 'out', 'policed', 'transit'] as const;

// enum ff_drop_reason
export const FF_DROP_UNKNOWN_SUBSCRIBER = 0;
export const FF_DROP_NO_FEC = 1;
export const FF_DROP_UNKNOWN_LABEL = 2;
export const FF_DROP_TTL_EXPIRED = 3;
export const FF_DROP_MTU_EXCEEDED = 4;
export const FF_DROP_POLICED = 5;
export const FF_DROP_MALFORMED = 6;
export const FF_DROP_NO_ROUTE = 7;
export const FF_DROP_NO_NEXTHOP = 8;
export const FF_DROP_STACK_TOO_DEEP = 9;
export const FF_DROP_TX_PORT = 10;
export const FF_DROP_WRONG_PORT = 11;
export const FF_DROP_SUB_POLICED = 12;
export const FF_DROP_MAX = 13;
/** enum ff_drop_reason: member name (lowercase, without 'FF_DROP_') → value */
export const FF_DROP_REASON = {
  'unknown_subscriber': 0,
  'no_fec': 1,
  'unknown_label': 2,
  'ttl_expired': 3,
  'mtu_exceeded': 4,
  'policed': 5,
  'malformed': 6,
  'no_route': 7,
  'no_nexthop': 8,
  'stack_too_deep': 9,
  'tx_port': 10,
  'wrong_port': 11,
  'sub_policed': 12,
} as const;
/** enum ff_drop_reason: the member names, indexed by value */
export const FF_DROP_REASON_NAMES = ['unknown_subscriber', 'no_fec', 'unknown_label', 'ttl_expired', 'mtu_exceeded', 'policed', 'malformed', 'no_route', 'no_nexthop', 'stack_too_deep', 'tx_port', 'wrong_port', 'sub_policed'] as const;

// enum ff_prefix_table
export const FF_PT_SUB_V4 = 0;
export const FF_PT_SUB_V6 = 1;
export const FF_PT_DOWN_V4 = 2;
export const FF_PT_DOWN_V6 = 3;
export const FF_PT_ISP_ROUTE_V4 = 4;
export const FF_PT_ISP_ROUTE_V6 = 5;
export const FF_PT_MAX = 6;
/** enum ff_prefix_table: member name (lowercase, without 'FF_PT_') → value */
export const FF_PREFIX_TABLE = {
  'sub_v4': 0,
  'sub_v6': 1,
  'down_v4': 2,
  'down_v6': 3,
  'isp_route_v4': 4,
  'isp_route_v6': 5,
} as const;
/** enum ff_prefix_table: the member names, indexed by value */
export const FF_PREFIX_TABLE_NAMES = ['sub_v4', 'sub_v6', 'down_v4', 'down_v6', 'isp_route_v4', 'isp_route_v6'] as const;

// enum ff_traffic_type
export const FF_TT_IPV4_TCP = 0;
export const FF_TT_IPV4_UDP = 1;
export const FF_TT_IPV4_ICMP = 2;
export const FF_TT_IPV4_OTHER = 3;
export const FF_TT_IPV6_TCP = 4;
export const FF_TT_IPV6_UDP = 5;
export const FF_TT_IPV6_ICMP = 6;
export const FF_TT_IPV6_OTHER = 7;
export const FF_TT_OTHER = 8;
export const FF_TT_MAX = 9;
/** enum ff_traffic_type: member name (lowercase, without 'FF_TT_') → value */
export const FF_TRAFFIC_TYPE = {
  'ipv4_tcp': 0,
  'ipv4_udp': 1,
  'ipv4_icmp': 2,
  'ipv4_other': 3,
  'ipv6_tcp': 4,
  'ipv6_udp': 5,
  'ipv6_icmp': 6,
  'ipv6_other': 7,
  'other': 8,
} as const;
/** enum ff_traffic_type: the member names, indexed by value */
export const FF_TRAFFIC_TYPE_NAMES = ['ipv4_tcp', 'ipv4_udp', 'ipv4_icmp', 'ipv4_other', 'ipv6_tcp', 'ipv6_udp', 'ipv6_icmp', 'ipv6_other', 'other'] as const;

// enum ff_ilm_action
export const FF_ILM_SWAP = 1;
export const FF_ILM_POP_FORWARD = 2;
export const FF_ILM_POP_CONTINUE = 3;
export const FF_ILM_POP_TO_ISP = 4;
export const FF_ILM_POP_TO_SUB = 5;
/** enum ff_ilm_action: member name (lowercase, without 'FF_ILM_') → value */
export const FF_ILM_ACTION = {
  'swap': 1,
  'pop_forward': 2,
  'pop_continue': 3,
  'pop_to_isp': 4,
  'pop_to_sub': 5,
} as const;

// enum ff_icmp_kind
export const FF_ICMP_TIME_EXCEEDED_V4 = 0;
export const FF_ICMP_FRAG_NEEDED = 1;
export const FF_ICMP_TIME_EXCEEDED_V6 = 2;
export const FF_ICMP_PACKET_TOO_BIG = 3;
export const FF_ICMP_KIND_MAX = 4;
/** enum ff_icmp_kind: member name (lowercase, without 'FF_ICMP_') → value */
export const FF_ICMP_KIND = {
  'time_exceeded_v4': 0,
  'frag_needed': 1,
  'time_exceeded_v6': 2,
  'packet_too_big': 3,
} as const;
/** enum ff_icmp_kind: the member names, indexed by value */
export const FF_ICMP_KIND_NAMES = ['time_exceeded_v4', 'frag_needed', 'time_exceeded_v6', 'packet_too_big'] as const;

// enum ff_icmp_outcome
export const FF_ICMP_SENT = 0;
export const FF_ICMP_RATE_LIMITED = 1;
export const FF_ICMP_NO_SOURCE = 2;
export const FF_ICMP_SUPPRESSED = 3;
export const FF_ICMP_UNROUTABLE = 4;
export const FF_ICMP_OUTCOME_MAX = 5;
/** enum ff_icmp_outcome: member name (lowercase, without 'FF_ICMP_') → value */
export const FF_ICMP_OUTCOME = {
  'sent': 0,
  'rate_limited': 1,
  'no_source': 2,
  'suppressed': 3,
  'unroutable': 4,
} as const;
/** enum ff_icmp_outcome: the member names, indexed by value */
export const FF_ICMP_OUTCOME_NAMES = ['sent', 'rate_limited', 'no_source', 'suppressed', 'unroutable'] as const;
