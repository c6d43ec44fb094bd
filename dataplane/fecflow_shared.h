/* SPDX-License-Identifier: MIT */
/*
 * The contract between the XDP programs and user space: every map key and value, the
 * constants both sides use, the drop reasons. User-space codecs (control/tables/layout.ts)
 * are checked against the sizes and offsets the compiler records in this object's BTF, so
 * every struct here uses fixed-width types and explicit padding, never implicit holes.
 *
 * Byte order: label values, ISP indexes, ifindexes, MTUs and VLAN ids are host order.
 * Addresses (addr[]) and MACs are network order, as on the wire.
 */
#ifndef FECFLOW_SHARED_H
#define FECFLOW_SHARED_H

#include <linux/types.h>
#include <linux/bpf.h>

#define FF_MAX_LABELS      3        /* a pushed stack holds 1..3 labels */
#define FF_MAX_ECMP        8        /* members of one next-hop group */
#define FF_MAX_ISPS        4096     /* ISP indexes are 1..4095; 0 is never an ISP */
#define FF_MAX_NEXTHOPS    65536    /* next-hop ids are 1..65535 */
#define FF_MAX_NH_GROUPS   65536    /* next-hop group ids are 1..65535 */
#define FF_MAX_LABEL       1048575  /* 20 bits */
#define FF_MAX_RESERVED_LABEL 15

/* Reserved labels with a meaning in the data plane (RFC 3032). */
#define FF_LABEL_IPV4_EXPLICIT_NULL 0
#define FF_LABEL_ROUTER_ALERT       1
#define FF_LABEL_IPV6_EXPLICIT_NULL 2
#define FF_LABEL_IMPLICIT_NULL      3

/* Sizes of the tables; the control plane reads them back from the object. */
#define FF_SUB_MAC_ENTRIES   1048576
#define FF_SUB_VLAN_ENTRIES  262144
#define FF_SUB_V4_ENTRIES    1048576
#define FF_SUB_V6_ENTRIES    1048576
#define FF_DOWN_V4_ENTRIES   1048576
#define FF_DOWN_V6_ENTRIES   1048576
#define FF_ISP_ROUTE_ENTRIES 262144
#define FF_ILM_ENTRIES       1048576
#define FF_LOCAL_ENTRIES     1024
#define FF_ISP_PORT_ENTRIES  4096
#define FF_TX_PORT_ENTRIES   1024
/* Per-subscriber meter slots (counters and policer), 1..FF_METER_SLOTS-1; 0 is "no meter". */
#define FF_METER_SLOTS       1048576

enum ff_ttl_mode {
	FF_TTL_UNIFORM = 0,
	FF_TTL_PIPE = 1,
};

enum ff_unknown_policy {
	FF_UNKNOWN_DROP = 0,
	FF_UNKNOWN_PASS = 1,
};

enum ff_direction {
	FF_DIR_UP = 0,   /* end-user -> ISP */
	FF_DIR_DOWN = 1, /* ISP -> end-user */
	FF_DIR_MAX = 2,
};

/* Where an ISP counter is taken: "in" where the label stack is pushed (headend upstream,
 * tailend downstream), "out" where the last label is popped and the packet leaves the
 * backbone, "policed" where the ISP's policer dropped it, "transit" where an LSR swaps or
 * pops (PHP) a label whose ILM entry names the ISP. */
enum ff_point {
	FF_POINT_IN = 0,
	FF_POINT_OUT = 1,
	FF_POINT_POLICED = 2,
	FF_POINT_TRANSIT = 3,
	FF_POINT_MAX = 4,
};

/* isp_stats index = (isp * FF_DIR_MAX + direction) * FF_POINT_MAX + point */
#define FF_ISP_STATS_ENTRIES (FF_MAX_ISPS * FF_DIR_MAX * FF_POINT_MAX)

/* Every XDP_DROP increments exactly one of these. Their names reach TypeScript through
 * scripts/gen-shared.mjs (control/tables/shared.gen.ts). */
enum ff_drop_reason {
	FF_DROP_UNKNOWN_SUBSCRIBER = 0, /* access: no classifier matched and policy is drop */
	FF_DROP_NO_FEC = 1,             /* access: the ISP has no upstream FEC */
	FF_DROP_UNKNOWN_LABEL = 2,      /* core: top label not in the ILM, or a reserved label */
	FF_DROP_TTL_EXPIRED = 3,        /* IP or label TTL would reach 0 */
	FF_DROP_MTU_EXCEEDED = 4,       /* the frame would exceed the egress MTU */
	FF_DROP_POLICED = 5,            /* over the ISP's committed rate and burst */
	FF_DROP_MALFORMED = 6,          /* truncated or invalid header */
	FF_DROP_NO_ROUTE = 7,           /* no downstream route or subscriber for the destination */
	FF_DROP_NO_NEXTHOP = 8,         /* the FEC's next hop (group) is missing or empty */
	FF_DROP_STACK_TOO_DEEP = 9,     /* more pops than the data plane follows (3) */
	FF_DROP_TX_PORT = 10,           /* the egress port is not in tx_port */
	FF_DROP_WRONG_PORT = 11,        /* access: a known MAC or source prefix on another line than its subscriber's */
	FF_DROP_SUB_POLICED = 12,       /* over the subscriber's own rate and burst */
	FF_DROP_MAX = 13,
};

/* The six prefix tables. Each is split in two maps: <table>_exact, a hash holding the
 * prefixes of the table's longest prefix length (ff_settings.exact_len), and <table>, the LPM
 * trie holding the shorter ones. No prefix of the trie is longer than those of the hash, so a
 * hit in the hash is the longest match; only a miss goes on to the trie. The hash keys are the
 * LPM key structs with the address masked to prefixlen. */
enum ff_prefix_table {
	FF_PT_SUB_V4 = 0,
	FF_PT_SUB_V6 = 1,
	FF_PT_DOWN_V4 = 2,
	FF_PT_DOWN_V6 = 3,
	FF_PT_ISP_ROUTE_V4 = 4,
	FF_PT_ISP_ROUTE_V6 = 5,
	FF_PT_MAX = 6,
};

/* Bits of ff_settings.skip: maps the control plane left empty, whose lookup the programs
 * leave out. Zero (look everything up) is always correct, only slower. */
#define FF_SKIP_SUB_MAC  (1u << 0)
#define FF_SKIP_SUB_VLAN (1u << 1)
#define FF_SKIP_TRIE(t)  (1u << (2 + (t))) /* the LPM trie of prefix table t */

/* settings[0] */
struct ff_settings {
	__u8 ttl_mode;       /* enum ff_ttl_mode */
	__u8 unknown_policy; /* enum ff_unknown_policy */
	__u8 skip;           /* FF_SKIP_* */
	__u8 pad[5];
	/* by enum ff_prefix_table: the prefix length (of the address, without the ISP scope) that
	 * every entry of <table>_exact has; 0: <table>_exact is empty and not looked up */
	__u8 exact_len[FF_PT_MAX];
	__u8 pad2[2];
};

/* sub_mac: exact source MAC -> ISP */
struct ff_mac_key {
	__u8 mac[6];
	__u8 pad[2];
};

/* sub_vlan: (ingress port, outer VLAN id, inner VLAN id or 0) -> ISP */
struct ff_vlan_key {
	__u32 ifindex;
	__u16 outer_vid;
	__u16 inner_vid;
};

/* sub_v4 / sub_v6: LPM on the source address -> ISP (and the keys of sub_v4_exact /
 * sub_v6_exact, see enum ff_prefix_table) */
struct ff_lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct ff_lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* down_v4 / down_v6 / isp_route_v4 / isp_route_v6: LPM scoped by ISP. The ISP index is part
 * of the matched data and always matched in full: prefixlen = 32 + prefix length. Also the
 * keys of their _exact hashes. */
struct ff_scoped_v4_key {
	__u32 prefixlen;
	__u32 isp;
	__u8 addr[4];
};

struct ff_scoped_v6_key {
	__u32 prefixlen;
	__u32 isp;
	__u8 addr[16];
};

/* The value of isp_port: which ISP an ISP-facing port (or VLAN) belongs to. */
struct ff_sub_class {
	__u32 isp;
};

/* What a packet is metered as: the index of a subscriber's counter within its direction.
 * The order is the control plane's TRAFFIC_TYPES. The L4 protocol is the IPv4 protocol field
 * or the IPv6 fixed header's next header (extension headers are not followed). */
enum ff_traffic_type {
	FF_TT_IPV4_TCP = 0,
	FF_TT_IPV4_UDP = 1,
	FF_TT_IPV4_ICMP = 2,
	FF_TT_IPV4_OTHER = 3,
	FF_TT_IPV6_TCP = 4,
	FF_TT_IPV6_UDP = 5,
	FF_TT_IPV6_ICMP = 6,
	FF_TT_IPV6_OTHER = 7,
	FF_TT_OTHER = 8, /* not IP (never forwarded by these programs; kept for the contract) */
	FF_TT_MAX = 9,
};

/* The meter word of a classifier entry and of a downstream route: the subscriber's meter slot
 * in the low bits (0: not metered) and whether it has a policer in that entry's direction
 * (sub_policer[slot * FF_DIR_MAX + direction]). The slot rides in the entry the packet has
 * already looked up, so metering costs no lookup in a million-entry table of its own. */
#define FF_METER_SLOT_MASK 0x00ffffff
#define FF_METER_POLICED   0x80000000

/* The value of every subscriber classifier (sub_mac, sub_vlan, sub_v4*, sub_v6*): the ISP, and
 * the access line the subscriber is provisioned on: the port and its tags (0 for none). A
 * match counts only on that line; the same MAC or source address elsewhere, which anyone can
 * set, is dropped (FF_DROP_WRONG_PORT) instead of moving traffic into another line's ISP.
 * meter: the subscriber's meter word for upstream (FF_METER_*). */
struct ff_sub_match {
	__u32 isp;
	__u32 ifindex;
	__u16 outer_vid; /* 0: untagged line */
	__u16 inner_vid; /* 0: one tag or none */
	__u32 meter;
};

/* A label stack to push and where to send the result. label[0] is the top (outermost)
 * label, label[nlabels - 1] the bottom one, which gets S=1 when nothing is below it.
 * fec_up is indexed by ISP; isp_route_* values are the same struct. nlabels == 0 means
 * "no FEC". */
struct ff_fec {
	__u32 label[FF_MAX_LABELS];
	__u8 nlabels;
	__u8 tc;     /* traffic class of the pushed labels */
	__u8 pad[2];
	__u32 nh_group;
};

/* nh_group: an ECMP group of 1..8 next hops; count == 0 means empty. */
struct ff_nh_group {
	__u32 count;
	__u32 nexthop[FF_MAX_ECMP];
};

/* nexthop: one adjacency. ifindex == 0 means empty. vid != 0 adds an 802.1Q tag on egress
 * (an ISP link that is a VLAN of a shared port). */
struct ff_nexthop {
	__u32 ifindex;
	__u16 mtu;
	__u16 vid;
	__u8 dmac[6];
	__u8 smac[6];
};

enum ff_ilm_action {
	FF_ILM_SWAP = 1,         /* replace the top label by label[nlabels-1], push label[0..nlabels-2] above it */
	FF_ILM_POP_FORWARD = 2,  /* PHP: pop the top label, send what is left to nh_group */
	FF_ILM_POP_CONTINUE = 3, /* pop and look up the label below in the ILM */
	FF_ILM_POP_TO_ISP = 4,   /* tailend upstream: pop the bottom label, deliver IP to nh_group */
	FF_ILM_POP_TO_SUB = 5,   /* headend downstream: pop the bottom label, deliver IP to the subscriber (down_v4/v6 scoped by isp) */
};

/* ilm: incoming label -> action */
struct ff_ilm {
	__u8 action;  /* enum ff_ilm_action */
	__u8 nlabels; /* SWAP: 1..3 outgoing labels */
	__u8 tc;      /* unused by pop actions */
	__u8 dir;     /* SWAP, POP_FORWARD with isp != 0: enum ff_direction of the transit counter */
	__u32 label[FF_MAX_LABELS];
	__u32 nh_group; /* SWAP, POP_FORWARD, POP_TO_ISP */
	__u32 isp;      /* POP_TO_ISP, POP_TO_SUB: for counters and the scoped lookup; SWAP,
			 * POP_FORWARD: the ISP whose FEC the label is (counted at "transit"),
			 * 0 for none */
};

/* down_v4 / down_v6 value: how to reach one subscriber address downstream. */
struct ff_sub_route {
	__u32 ifindex;
	__u16 mtu;
	__u16 outer_tpid; /* 0x8100 or 0x88a8 when outer_vid != 0 */
	__u16 outer_vid;  /* 0: untagged */
	__u16 inner_vid;  /* 0: single tag or untagged; always TPID 0x8100 */
	__u8 dmac[6];
	__u8 smac[6];
	__u32 meter; /* the subscriber's meter word for downstream (FF_METER_*) */
};

/* isp_port: (ISP-facing port, VLAN id or 0) -> ISP */
struct ff_isp_port_key {
	__u32 ifindex;
	__u16 vid;
	__u8 pad[2];
};

/* local: the router's own addresses; traffic to them goes to the kernel. */
struct ff_local_key {
	__u8 family; /* 4 or 6 */
	__u8 pad[3];
	__u8 addr[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/* policer: indexed by isp * FF_DIR_MAX + direction. rate == 0 means no limit. The
 * control plane writes rate and burst; tokens, frac and last_ns belong to the data plane and
 * are reset (tokens = burst, frac = 0) whenever rate or burst change. */
struct ff_policer {
	struct bpf_spin_lock lock;
	__u32 frac;    /* the fraction of a byte earned but not yet credited, in 1e-9 bytes */
	__u64 rate;    /* bytes per second */
	__u64 burst;   /* bytes */
	__u64 tokens;  /* whole bytes */
	__u64 last_ns;
};

/* hash_key[0]: the node's secret ECMP hash key. User space writes a random one once, when the
 * entry is still zero, and the pinned map keeps it across restarts, so flows stay on their
 * members; a key nobody can guess keeps anyone from choosing flows that all land on one
 * member. Zero (never written) is the unkeyed hash. */
struct ff_hash_key {
	__u32 k0; /* xor-ed into the initial state */
	__u32 k1; /* xor-ed in before the finalizer */
};

/* Value of every counter map (per-CPU; user space sums the CPUs). */
struct ff_counter {
	__u64 packets;
	__u64 bytes;
};

/* sub_stats: indexed by slot * FF_DIR_MAX + direction; one counter per enum ff_traffic_type.
 * Shared by all CPUs and added to atomically: a per-CPU copy of a million subscribers' counters
 * would cost (number of CPUs) x 288 MB. Bytes are the IP packet from its header on, as its
 * length field says (IPv4 total length, IPv6 40 + payload length): what RADIUS octets count,
 * without the frame's L2 header, tags, labels or padding. Owned by the data plane; user space
 * only reads it and baselines a slot before giving it to another subscriber. */
struct ff_sub_counters {
	struct ff_counter type[FF_TT_MAX];
};

/* --- ICMP errors (icmp.h) ------------------------------------------------------------ */

#define FF_ICMP_SRC_ENTRIES 1024
/* The most of the offending packet an ICMP error quotes; with an RFC 4884 extension the quote
 * is zero-padded to exactly this (RFC 4884 wants at least 128 bytes). */
#define FF_ICMP_QUOTE       128
/* Limits the configuration accepts for the per-node token bucket (messages per second, messages). */
#define FF_ICMP_MAX_RATE    1000000
#define FF_ICMP_MAX_BURST   1000000

/* What an ICMP error says; the index of icmp_stats is kind * FF_ICMP_OUTCOME_MAX + outcome. */
enum ff_icmp_kind {
	FF_ICMP_TIME_EXCEEDED_V4 = 0, /* type 11 code 0 */
	FF_ICMP_FRAG_NEEDED = 1,      /* type 3 code 4, with the next-hop MTU (RFC 1191) */
	FF_ICMP_TIME_EXCEEDED_V6 = 2, /* ICMPv6 type 3 code 0 */
	FF_ICMP_PACKET_TOO_BIG = 3,   /* ICMPv6 type 2, with the MTU */
	FF_ICMP_KIND_MAX = 4,
};

/* What became of an ICMP error the data plane owed. Errors are only ever owed for a frame that
 * was dropped (counted in drop_stats with its own reason). */
enum ff_icmp_outcome {
	FF_ICMP_SENT = 0,         /* built and sent (XDP_TX back out of the port, or redirected) */
	FF_ICMP_RATE_LIMITED = 1, /* the node's token bucket was empty */
	FF_ICMP_NO_SOURCE = 2,    /* the port has no address of the packet's family */
	FF_ICMP_SUPPRESSED = 3,   /* never answered (RFC 1812 4.3.2.7): an ICMP error, a non-first
				   * fragment, a source that is not one host */
	FF_ICMP_UNROUTABLE = 4,   /* no way back (no return FEC, no next hop, a label stack deeper
				   * than followed, no room in the frame) */
	FF_ICMP_OUTCOME_MAX = 5,
};

#define FF_ICMP_STATS_ENTRIES (FF_ICMP_KIND_MAX * FF_ICMP_OUTCOME_MAX)

/* icmp_src: (port, VLAN id or 0) -> the router's addresses to send ICMP errors from. The isp
 * program looks up its port's VLAN, the others VLAN 0. */
struct ff_icmp_src_key {
	__u32 ifindex;
	__u16 vid;
	__u8 pad[2];
};

#define FF_ICMP_SRC_HAS_V4 1
#define FF_ICMP_SRC_HAS_V6 2

struct ff_icmp_src {
	__u8 v4[4];
	__u8 v6[16];
	__u8 flags; /* FF_ICMP_SRC_HAS_* */
	__u8 pad[3];
};

/* icmp_limit[0]: the node's token bucket for ICMP errors. The control plane writes rate and
 * burst (rate == 0: send none); credit and last_ns belong to the data plane and are reset
 * (credit = burst x 1e9, last_ns = 0) whenever rate or burst change. */
struct ff_icmp_limit {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 rate;    /* messages per second, 0..FF_ICMP_MAX_RATE */
	__u64 burst;   /* messages, 1..FF_ICMP_MAX_BURST */
	__u64 credit;  /* in 1e-9 messages */
	__u64 last_ns;
};

#endif /* FECFLOW_SHARED_H */
