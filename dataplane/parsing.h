/* SPDX-License-Identifier: MIT */
/*
 * Header parsers. Each takes a cursor, checks the bytes it reads right where it reads them,
 * advances the cursor, and returns the next protocol (network order) or -1 when the header
 * is truncated or invalid (FORWARDING.md, "Common parsing").
 */
#ifndef FECFLOW_PARSING_H
#define FECFLOW_PARSING_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "fecflow_shared.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define FF_ETH_HLEN  14
#define FF_VLAN_HLEN 4
#define FF_MPLS_HLEN 4

struct hdr_cursor {
	void *pos;
};

struct ff_vlan_hdr {
	__be16 tci;
	__be16 next_proto;
};

/* What the access and isp programs know once the L2 and IP headers are read. */
struct ff_l3 {
	struct ethhdr *eth;
	void *ip;         /* the IPv4 or IPv6 header, validated */
	__u32 len;        /* frame length as received */
	__u32 ip_off;     /* offset of the IP header = 14 + 4 x tags */
	__u16 proto;      /* ETH_P_IP or ETH_P_IPV6, host order */
	__u16 outer_vid;
	__u16 inner_vid;
	__u8 ntags;
	__u8 ttl;         /* IP TTL or hop limit */
};

static __always_inline int proto_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end,
					struct ethhdr **eth)
{
	struct ethhdr *e = nh->pos;

	if ((void *)(e + 1) > data_end)
		return -1;
	nh->pos = e + 1;
	*eth = e;
	return e->h_proto;
}

/* One 802.1Q/802.1ad tag; *vid gets the low 12 bits of the TCI. */
static __always_inline int parse_vlan(struct hdr_cursor *nh, void *data_end, __u16 *vid)
{
	struct ff_vlan_hdr *v = nh->pos;

	if ((void *)(v + 1) > data_end)
		return -1;
	nh->pos = v + 1;
	*vid = bpf_ntohs(v->tci) & 0x0fff;
	return v->next_proto;
}

/* IPv4: version 4, IHL >= 5, the whole header present, total length covering the header
 * and within the frame. avail is the number of bytes from the cursor to the frame's end. */
static __always_inline int parse_ipv4(struct hdr_cursor *nh, void *data_end, __u32 avail,
				      struct iphdr **iph)
{
	struct iphdr *ip = nh->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->version != 4 || ip->ihl < 5)
		return -1;
	hlen = ip->ihl * 4;
	if (nh->pos + hlen > data_end)
		return -1;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || tot > avail)
		return -1;
	nh->pos += hlen;
	*iph = ip;
	return ip->protocol;
}

/* IPv6: version 6 and 40 + payload length within the frame. Extension headers are not
 * followed; the next header is returned as is. */
static __always_inline int parse_ipv6(struct hdr_cursor *nh, void *data_end, __u32 avail,
				      struct ipv6hdr **ip6h)
{
	struct ipv6hdr *ip6 = nh->pos;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	if (ip6->version != 6)
		return -1;
	if (sizeof(*ip6) + (__u32)bpf_ntohs(ip6->payload_len) > avail)
		return -1;
	nh->pos = ip6 + 1;
	*ip6h = ip6;
	return ip6->nexthdr;
}

/* One label stack entry, host order in *entry. */
static __always_inline int parse_mpls(struct hdr_cursor *nh, void *data_end, __u32 *entry)
{
	__be32 *e = nh->pos;

	if ((void *)(e + 1) > data_end)
		return -1;
	nh->pos = e + 1;
	*entry = bpf_ntohl(*e);
	return 0;
}

/* Validate the IP packet at the cursor by its version nibble (the inner packet after a last
 * pop, or the packet after the L2 header). Returns ETH_P_IP / ETH_P_IPV6 (host order) and
 * fills ip and ttl, or -1. */
static __always_inline int parse_ip(struct hdr_cursor *nh, void *data_end, __u32 avail,
				    __u16 l2_proto, void **ip, __u8 *ttl)
{
	if (l2_proto == ETH_P_IP) {
		struct iphdr *ip4;

		if (parse_ipv4(nh, data_end, avail, &ip4) < 0)
			return -1;
		*ip = ip4;
		*ttl = ip4->ttl;
		return ETH_P_IP;
	}
	if (l2_proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6;

		if (parse_ipv6(nh, data_end, avail, &ip6) < 0)
			return -1;
		*ip = ip6;
		*ttl = ip6->hop_limit;
		return ETH_P_IPV6;
	}
	return -1;
}

/* The version nibble of the byte at the cursor mapped to an ethertype (host order), or -1. */
static __always_inline int peek_ip_version(struct hdr_cursor *nh, void *data_end)
{
	__u8 *b = nh->pos;

	if ((void *)(b + 1) > data_end)
		return -1;
	if ((*b >> 4) == 4)
		return ETH_P_IP;
	if ((*b >> 4) == 6)
		return ETH_P_IPV6;
	return -1;
}

enum ff_parse_result {
	FF_PARSE_OK = 0,
	FF_PARSE_PASS = 1,       /* not IP: the kernel's business */
	FF_PARSE_MALFORMED = 2,
	FF_PARSE_TOO_MANY_TAGS = 3, /* another VLAN tag after max_tags: not ours to hand to the kernel */
};

/* Ethernet, up to max_tags VLAN tags, then IPv4 or IPv6 (access: 2 tags, isp: 1). */
static __always_inline int parse_l2_ip(void *data, void *data_end, int max_tags,
				       struct ff_l3 *p)
{
	struct hdr_cursor nh = { .pos = data };
	__u16 vid = 0;
	int proto, i;

	proto = parse_ethhdr(&nh, data_end, &p->eth);
	if (proto < 0)
		return FF_PARSE_MALFORMED;

#pragma unroll
	for (i = 0; i < 2; i++) {
		if (i >= max_tags || !proto_is_vlan(proto))
			break;
		proto = parse_vlan(&nh, data_end, &vid);
		if (proto < 0)
			return FF_PARSE_MALFORMED;
		if (i == 0)
			p->outer_vid = vid;
		else
			p->inner_vid = vid;
		p->ntags = i + 1;
	}

	p->ip_off = FF_ETH_HLEN + p->ntags * FF_VLAN_HLEN;
	if (proto_is_vlan(proto))
		return FF_PARSE_TOO_MANY_TAGS;
	proto = bpf_ntohs(proto);
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		return FF_PARSE_PASS;
	proto = parse_ip(&nh, data_end, p->len - p->ip_off, proto, &p->ip, &p->ttl);
	if (proto < 0)
		return FF_PARSE_MALFORMED;
	p->proto = proto;
	return FF_PARSE_OK;
}

#endif /* FECFLOW_PARSING_H */
