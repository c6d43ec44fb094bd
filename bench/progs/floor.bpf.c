// SPDX-License-Identifier: MIT
/*
 * The two floors every fecflow figure is compared with, measured the same way in the same run:
 *
 *   xdp_floor_pass  returns XDP_PASS and touches nothing: the cost of running any XDP program
 *                   (and, under BPF_PROG_TEST_RUN, of the kernel's timing around it).
 *   xdp_floor_fwd   the least a forwarder can do: read one next hop from an array, rewrite both
 *                   MAC addresses, redirect through a devmap. Nothing is parsed beyond Ethernet.
 *
 * xdp_floor_fwd is also the "plain XDP forwarder" of the end-to-end chain, one object per router.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct floor_nh {
	__u32 ifindex;
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct floor_nh);
} floor_nh SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} floor_port SEC(".maps");

SEC("xdp")
int xdp_floor_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_floor_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct floor_nh *nh;
	__u32 zero = 0;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	nh = bpf_map_lookup_elem(&floor_nh, &zero);
	if (!nh)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	return bpf_redirect_map(&floor_port, nh->ifindex, XDP_DROP);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
