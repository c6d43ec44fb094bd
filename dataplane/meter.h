/* SPDX-License-Identifier: MIT */
/*
 * Per-subscriber metering: packets and bytes by direction and traffic type, counted in
 * sub_stats at the slot the packet's classifier entry or downstream route carries. sub_stats is
 * shared by all CPUs, so counts are atomic adds.
 */
#ifndef FECFLOW_METER_H
#define FECFLOW_METER_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "maps.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

/* The traffic type of a validated IP packet and its length by its header (IPv4 total length,
 * IPv6 40 + payload length): what the meter counts. FF_TT_MAX if the header cannot be read. */
static __always_inline __u32 ff_traffic_type(void *ip, __u16 proto, void *data_end, __u32 *bytes)
{
	__u8 l4;
	__u32 base;

	if (proto == ETH_P_IP) {
		struct iphdr *ip4 = ip;

		if ((void *)(ip4 + 1) > data_end)
			return FF_TT_MAX;
		*bytes = bpf_ntohs(ip4->tot_len);
		l4 = ip4->protocol;
		base = FF_TT_IPV4_TCP;
		if (l4 == IPPROTO_ICMP)
			return base + 2;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = ip;

		if ((void *)(ip6 + 1) > data_end)
			return FF_TT_MAX;
		*bytes = sizeof(*ip6) + (__u32)bpf_ntohs(ip6->payload_len);
		l4 = ip6->nexthdr;
		base = FF_TT_IPV6_TCP;
		if (l4 == IPPROTO_ICMPV6)
			return base + 2;
	} else {
		return FF_TT_MAX;
	}
	if (l4 == IPPROTO_TCP)
		return base;
	if (l4 == IPPROTO_UDP)
		return base + 1;
	return base + 3;
}

/* Counts one forwarded IP packet for the subscriber whose meter word this is (0: none). */
static __always_inline void ff_meter(__u32 meter, __u32 dir, void *ip, __u16 proto, void *data_end)
{
	__u32 slot = meter & FF_METER_SLOT_MASK, idx, type, bytes = 0;
	struct ff_sub_counters *c;

	if (!slot)
		return;
	type = ff_traffic_type(ip, proto, data_end, &bytes);
	if (type >= FF_TT_MAX)
		return;
	idx = slot * FF_DIR_MAX + dir;
	c = bpf_map_lookup_elem(&sub_stats, &idx);
	if (!c)
		return;
	__sync_fetch_and_add(&c->type[type].packets, 1);
	__sync_fetch_and_add(&c->type[type].bytes, bytes);
}

#endif /* FECFLOW_METER_H */
