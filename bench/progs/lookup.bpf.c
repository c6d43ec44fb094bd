// SPDX-License-Identifier: MIT
/*
 * One table lookup on the IPv4 source address, alone, for the per-packet profile: how much of a
 * path's cost is its classifier lookup, and what the same /32 entries cost in an LPM trie (what
 * sub_v4, down_v4 and isp_route_v4 are) against a hash map. Both return XDP_PASS on a hit and
 * XDP_DROP on a miss. The hash comes twice: preallocated (the kernel's default, what ilm and
 * sub_mac are) and BPF_F_NO_PREALLOC, whose elements are allocated as inserted and so sit
 * closer together when the table is far from full.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define LOOKUP_ENTRIES (1 << 20)

struct lpm_v4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LOOKUP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} lookup_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOOKUP_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} lookup_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOOKUP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} lookup_hash_np SEC(".maps");

static __always_inline struct iphdr *ipv4_of(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	return ip;
}

SEC("xdp")
int xdp_lookup_lpm(struct xdp_md *ctx)
{
	struct iphdr *ip = ipv4_of(ctx);
	struct lpm_v4_key k = { .prefixlen = 32 };

	if (!ip)
		return XDP_DROP;
	k.addr = ip->saddr;
	return bpf_map_lookup_elem(&lookup_lpm, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_lookup_hash(struct xdp_md *ctx)
{
	struct iphdr *ip = ipv4_of(ctx);
	__u32 k;

	if (!ip)
		return XDP_DROP;
	k = ip->saddr;
	return bpf_map_lookup_elem(&lookup_hash, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_lookup_hash_np(struct xdp_md *ctx)
{
	struct iphdr *ip = ipv4_of(ctx);
	__u32 k;

	if (!ip)
		return XDP_DROP;
	k = ip->saddr;
	return bpf_map_lookup_elem(&lookup_hash_np, &k) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
