/* SPDX-License-Identifier: MIT */
/*
 * The ECMP flow hash (FORWARDING.md, "Next hop selection and ECMP"): FNV-1a style mixing of
 * 32-bit words with an xorshift per word and a murmur3 finalizer, over the frame as received.
 * All packets of one flow give the same words, so they take the same member. The node's
 * secret key (hash_key, struct ff_hash_key) enters the initial state and the finalizer.
 */
#ifndef FECFLOW_HASH_H
#define FECFLOW_HASH_H

#include <linux/types.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "parsing.h"
#include "maps.h"

#define FF_HASH_SEED 0x811c9dc5u

static __always_inline __u32 ff_hash_word(__u32 h, __u32 w)
{
	h = (h ^ w) * 0x01000193u;
	return h ^ (h >> 15);
}

/* The node's key; zero (the unkeyed hash) if the map cannot be read. */
static __always_inline struct ff_hash_key ff_hash_key_get(void)
{
	__u32 zero = 0;
	struct ff_hash_key *k = bpf_map_lookup_elem(&hash_key, &zero);
	struct ff_hash_key out = {};

	if (k)
		out = *k;
	return out;
}

static __always_inline __u32 ff_hash_final(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* (sport << 16) | dport when l4 holds 4 bytes within both the IP length and the frame. */
static __always_inline __u32 ff_ports_word(void *l4, void *data_end, __u32 l4_len)
{
	__be16 *ports = l4;

	if (l4_len < 4 || (void *)(ports + 2) > data_end)
		return 0;
	return ((__u32)bpf_ntohs(ports[0]) << 16) | bpf_ntohs(ports[1]);
}

/* IPv4 words: saddr, daddr, protocol, ports. Needs a complete 20-byte header at ip; the
 * ports count only for TCP/UDP, unfragmented, with IHL >= 5. */
static __always_inline __u32 ff_hash_ipv4(__u32 h, struct iphdr *ip, void *data_end)
{
	__u32 hlen, tot, ports = 0;

	if ((void *)(ip + 1) > data_end)
		return h;
	h = ff_hash_word(h, bpf_ntohl(ip->saddr));
	h = ff_hash_word(h, bpf_ntohl(ip->daddr));
	h = ff_hash_word(h, ip->protocol);
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if ((ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) &&
	    !(ip->frag_off & bpf_htons(0x3fff)) && hlen >= 20 && tot >= hlen)
		ports = ff_ports_word((void *)ip + hlen, data_end, tot - hlen);
	return ff_hash_word(h, ports);
}

/* IPv6 words: source (4), destination (4), next header, ports. */
static __always_inline __u32 ff_hash_ipv6(__u32 h, struct ipv6hdr *ip6, void *data_end)
{
	__u32 ports = 0;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return h;
#pragma unroll
	for (i = 0; i < 4; i++)
		h = ff_hash_word(h, bpf_ntohl(ip6->saddr.in6_u.u6_addr32[i]));
#pragma unroll
	for (i = 0; i < 4; i++)
		h = ff_hash_word(h, bpf_ntohl(ip6->daddr.in6_u.u6_addr32[i]));
	h = ff_hash_word(h, ip6->nexthdr);
	if (ip6->nexthdr == IPPROTO_TCP || ip6->nexthdr == IPPROTO_UDP)
		ports = ff_ports_word(ip6 + 1, data_end, bpf_ntohs(ip6->payload_len));
	return ff_hash_word(h, ports);
}

/* Flow hash of a validated IP packet (access, isp). */
static __always_inline __u32 ff_flow_hash_ip(void *ip, __u16 proto, void *data_end)
{
	struct ff_hash_key key = ff_hash_key_get();
	__u32 h = FF_HASH_SEED ^ key.k0;

	if (proto == ETH_P_IP)
		h = ff_hash_ipv4(h, ip, data_end);
	else
		h = ff_hash_ipv6(h, ip, data_end);
	return ff_hash_final(h ^ key.k1);
}

/* Flow hash of a labelled frame (core): up to 3 label values from the top, stopping after
 * S = 1, then the inner IP words when the bottom was reached and its header is complete. */
static __always_inline __u32 ff_flow_hash_mpls(void *data, void *data_end)
{
	struct hdr_cursor nh = { .pos = data + FF_ETH_HLEN };
	struct ff_hash_key key = ff_hash_key_get();
	__u32 h = FF_HASH_SEED ^ key.k0, entry = 0;
	int i, bottom = 0;

#pragma unroll
	for (i = 0; i < FF_MAX_LABELS; i++) {
		if (parse_mpls(&nh, data_end, &entry) < 0)
			break;
		h = ff_hash_word(h, entry >> 12);
		if (entry & 0x100) {
			bottom = 1;
			break;
		}
	}
	if (bottom) {
		int v = peek_ip_version(&nh, data_end);

		if (v == ETH_P_IP)
			h = ff_hash_ipv4(h, nh.pos, data_end);
		else if (v == ETH_P_IPV6)
			h = ff_hash_ipv6(h, nh.pos, data_end);
	}
	return ff_hash_final(h ^ key.k1);
}

#endif /* FECFLOW_HASH_H */
