/* SPDX-License-Identifier: MIT */
/*
 * Every map of the fecflow object. Names are part of the contract: the control plane opens
 * them by name (control/tables/layout.ts). Keys and values are the structs of
 * fecflow_shared.h; BTF-style definitions keep their types in the object for the codec checks.
 *
 * Hash and LPM maps are BPF_F_NO_PREALLOC: entries are allocated when the control plane
 * inserts them. Preallocating the 1M-entry hashes cost ~100 MB of kernel memory per map and
 * about two seconds per load; lookups, the only thing the programs do on them, cost the same.
 */
#ifndef FECFLOW_MAPS_H
#define FECFLOW_MAPS_H

#include <bpf/bpf_helpers.h>
#include "fecflow_shared.h"

/* --- configuration, written by the control plane ------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ff_settings);
} settings SEC(".maps");

/* Subscriber classifiers, in order of precedence. Each prefix table is an exact-match hash of
 * its longest prefixes in front of an LPM trie of the others (enum ff_prefix_table). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_SUB_MAC_ENTRIES);
	__type(key, struct ff_mac_key);
	__type(value, struct ff_sub_match);
} sub_mac SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_SUB_VLAN_ENTRIES);
	__type(key, struct ff_vlan_key);
	__type(value, struct ff_sub_match);
} sub_vlan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_SUB_V4_ENTRIES);
	__type(key, struct ff_lpm_v4_key);
	__type(value, struct ff_sub_match);
} sub_v4_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FF_SUB_V4_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ff_lpm_v4_key);
	__type(value, struct ff_sub_match);
} sub_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_SUB_V6_ENTRIES);
	__type(key, struct ff_lpm_v6_key);
	__type(value, struct ff_sub_match);
} sub_v6_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FF_SUB_V6_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ff_lpm_v6_key);
	__type(value, struct ff_sub_match);
} sub_v6 SEC(".maps");

/* Upstream FEC of each ISP, indexed by ISP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FF_MAX_ISPS);
	__type(key, __u32);
	__type(value, struct ff_fec);
} fec_up SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FF_MAX_NH_GROUPS);
	__type(key, __u32);
	__type(value, struct ff_nh_group);
} nh_group SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FF_MAX_NEXTHOPS);
	__type(key, __u32);
	__type(value, struct ff_nexthop);
} nexthop SEC(".maps");

/* Egress ports the programs may redirect to: ifindex -> ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, FF_TX_PORT_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

/* Incoming label map (RFC 3031 ILM). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_ILM_ENTRIES);
	__type(key, __u32);
	__type(value, struct ff_ilm);
} ilm SEC(".maps");

/* Downstream delivery to subscribers, scoped by ISP. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_DOWN_V4_ENTRIES);
	__type(key, struct ff_scoped_v4_key);
	__type(value, struct ff_sub_route);
} down_v4_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FF_DOWN_V4_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ff_scoped_v4_key);
	__type(value, struct ff_sub_route);
} down_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_DOWN_V6_ENTRIES);
	__type(key, struct ff_scoped_v6_key);
	__type(value, struct ff_sub_route);
} down_v6_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FF_DOWN_V6_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ff_scoped_v6_key);
	__type(value, struct ff_sub_route);
} down_v6 SEC(".maps");

/* Tailend downstream: an ISP's destination prefixes -> the FEC back to the headend. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_ISP_ROUTE_ENTRIES);
	__type(key, struct ff_scoped_v4_key);
	__type(value, struct ff_fec);
} isp_route_v4_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FF_ISP_ROUTE_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ff_scoped_v4_key);
	__type(value, struct ff_fec);
} isp_route_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_ISP_ROUTE_ENTRIES);
	__type(key, struct ff_scoped_v6_key);
	__type(value, struct ff_fec);
} isp_route_v6_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FF_ISP_ROUTE_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ff_scoped_v6_key);
	__type(value, struct ff_fec);
} isp_route_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_ISP_PORT_ENTRIES);
	__type(key, struct ff_isp_port_key);
	__type(value, struct ff_sub_class);
} isp_port SEC(".maps");

/* The router's own addresses; the value is unused (1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_LOCAL_ENTRIES);
	__type(key, struct ff_local_key);
	__type(value, __u32);
} local SEC(".maps");

/* Token buckets, indexed by isp * FF_DIR_MAX + direction. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FF_MAX_ISPS * FF_DIR_MAX);
	__type(key, __u32);
	__type(value, struct ff_policer);
} policer SEC(".maps");

/* Per-subscriber token buckets, keyed by slot * FF_DIR_MAX + direction; looked up only when
 * the entry's meter word has FF_METER_POLICED. Same struct and rules as policer. A hash, not
 * an array: only subscribers with a rate have a bucket, and the reconciler reads what the map
 * holds (two million empty array slots would cost it seconds at every start). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_METER_SLOTS * FF_DIR_MAX);
	__type(key, __u32);
	__type(value, struct ff_policer);
} sub_policer SEC(".maps");

/* The ECMP hash key (struct ff_hash_key); not part of the reconciled configuration. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ff_hash_key);
} hash_key SEC(".maps");

/* ICMP errors: the router's address on each port, and the node's token bucket. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_ICMP_SRC_ENTRIES);
	__type(key, struct ff_icmp_src_key);
	__type(value, struct ff_icmp_src);
} icmp_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ff_icmp_limit);
} icmp_limit SEC(".maps");

/* Per-CPU room to set a quote aside while an ICMP error is laid out around it; never written
 * by user space (zero stays zero). */
struct icmp_scratch {
	__u8 quote[FF_ICMP_QUOTE];
	__u8 zero[FF_ICMP_QUOTE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct icmp_scratch);
} icmp_scratch SEC(".maps");

/* --- counters, owned by the data plane, summed over CPUs in user space --------------- */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FF_ISP_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct ff_counter);
} isp_stats SEC(".maps");

/* One entry per incoming label, created by the control plane with the ILM entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FF_ILM_ENTRIES);
	__type(key, __u32);
	__type(value, struct ff_counter);
} label_stats SEC(".maps");

/* Per-subscriber counters by direction and traffic type (struct ff_sub_counters). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FF_METER_SLOTS * FF_DIR_MAX);
	__type(key, __u32);
	__type(value, struct ff_sub_counters);
} sub_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FF_DROP_MAX);
	__type(key, __u32);
	__type(value, struct ff_counter);
} drop_stats SEC(".maps");

/* By kind * FF_ICMP_OUTCOME_MAX + outcome; bytes are those of the frame that caused it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FF_ICMP_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct ff_counter);
} icmp_stats SEC(".maps");

#endif /* FECFLOW_MAPS_H */
