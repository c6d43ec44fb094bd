// The lab's end hosts (end-users, ISP hosts) and its switch ports: a frame redirected into a
// veth is only received if the peer end runs an XDP program, so every such end runs this one.
// It passes every frame to the kernel and counts IPv4/IPv6 packets per source address, which
// lets a test see exactly who reached which ISP host.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct lab_src_key {
	__u8 family; /* 4 or 6 */
	__u8 pad[3];
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
};

struct lab_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct lab_src_key);
	__type(value, struct lab_counter);
} by_source SEC(".maps");

SEC("xdp")
int xdp_lab_host(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct lab_src_key key = {};
	struct lab_counter *c, init = { 1, 0 };
	void *l3 = eth + 1;
	__be16 proto;

	if (l3 > end)
		return XDP_PASS;
	proto = eth->h_proto;
	/* up to two VLAN tags (the double-tagged end-user's frames) */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct { __be16 tci; __be16 proto; } *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > end)
			return XDP_PASS;
		proto = tag->proto;
		l3 = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		key.family = 4;
		__builtin_memcpy(key.addr, &ip->saddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		key.family = 6;
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
	} else {
		return XDP_PASS;
	}
	init.bytes = end - data;
	c = bpf_map_lookup_elem(&by_source, &key);
	if (c) {
		c->packets++;
		c->bytes += end - data;
	} else if (bpf_map_update_elem(&by_source, &key, &init, BPF_NOEXIST)) {
		/* another CPU created the entry first: count into it */
		c = bpf_map_lookup_elem(&by_source, &key);
		if (c) {
			c->packets++;
			c->bytes += end - data;
		}
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
