/* SPDX-License-Identifier: MIT */
/*
 * Label stack entries (RFC 3032) and the header rewrites that push, swap and pop them.
 * A rewrite never moves the payload: everything in front of a "keep" offset of the frame as
 * received is replaced by a freshly written header of the new length, using
 * bpf_xdp_adjust_head to grow or shrink the headroom.
 */
#ifndef FECFLOW_LABELS_H
#define FECFLOW_LABELS_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parsing.h"

#ifndef ETH_P_MPLS_UC
#define ETH_P_MPLS_UC 0x8847
#endif

#define FF_MPLS_S_BIT 0x100

static __always_inline __u32 mpls_label(__u32 entry)
{
	return entry >> 12;
}

static __always_inline int mpls_bos(__u32 entry)
{
	return !!(entry & FF_MPLS_S_BIT);
}

static __always_inline __u8 mpls_ttl(__u32 entry)
{
	return entry & 0xff;
}

/* label (20) | TC (3) | S (1) | TTL (8), network order */
static __always_inline __be32 mpls_entry(__u32 label, __u8 tc, int bos, __u8 ttl)
{
	return bpf_htonl((label & FF_MAX_LABEL) << 12 | (__u32)(tc & 7) << 9 |
			 (bos ? FF_MPLS_S_BIT : 0) | ttl);
}

/* What goes in front of the kept part of the frame. */
struct ff_l2_out {
	const __u8 *dmac;
	const __u8 *smac;
	__u16 outer_tpid; /* host order; used when outer_vid != 0 */
	__u16 outer_vid;  /* 0: untagged */
	__u16 inner_vid;  /* 0: none; TPID 0x8100 */
	__u16 ethertype;  /* host order */
};

static __always_inline __u32 l2_out_len(const struct ff_l2_out *o)
{
	__u32 n = FF_ETH_HLEN;

	if (o->outer_vid) {
		n += FF_VLAN_HLEN;
		if (o->inner_vid)
			n += FF_VLAN_HLEN;
	}
	return n;
}

/* Grow or shrink the head so that the kept bytes (from keep_off of the frame as received)
 * are preceded by exactly hdr_len bytes. Packet pointers are invalid afterwards. */
static __always_inline int ff_resize_head(struct xdp_md *ctx, __u32 keep_off, __u32 hdr_len)
{
	return bpf_xdp_adjust_head(ctx, (int)keep_off - (int)hdr_len);
}

/* Write MACs, tags and ethertype at the start of the frame; returns the cursor after them
 * or NULL if the frame is too short. */
static __always_inline void *ff_write_l2(void *data, void *data_end, const struct ff_l2_out *o)
{
	struct ethhdr *eth = data;
	struct ff_vlan_hdr *tag;
	__be16 *type;

	if ((void *)(eth + 1) > data_end)
		return NULL;
	__builtin_memcpy(eth->h_dest, o->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, o->smac, ETH_ALEN);
	type = (void *)eth + 2 * ETH_ALEN;
	if (o->outer_vid) {
		tag = (void *)(type + 1);
		if ((void *)(tag + 1) > data_end)
			return NULL;
		*type = bpf_htons(o->outer_tpid);
		tag->tci = bpf_htons(o->outer_vid & 0x0fff);
		type = &tag->next_proto;
		if (o->inner_vid) {
			tag = (void *)(type + 1);
			if ((void *)(tag + 1) > data_end)
				return NULL;
			*type = bpf_htons(ETH_P_8021Q);
			tag->tci = bpf_htons(o->inner_vid & 0x0fff);
			type = &tag->next_proto;
		}
	}
	*type = bpf_htons(o->ethertype);
	return type + 1;
}

/* Write n (1..3) label stack entries at p: labels[0] on top, S only on the last one and only
 * if bos, the same TC and TTL on all. Returns the cursor after them or NULL. */
static __always_inline void *ff_write_labels(void *p, void *data_end, const __u32 *labels,
					     __u32 n, __u8 tc, int bos, __u8 ttl)
{
	__be32 *e = p;

	if (n > FF_MAX_LABELS)
		return NULL;
	if ((void *)(e + 1) > data_end)
		return NULL;
	e[0] = mpls_entry(labels[0], tc, bos && n == 1, ttl);
	if (n > 1) {
		if ((void *)(e + 2) > data_end)
			return NULL;
		e[1] = mpls_entry(labels[1], tc, bos && n == 2, ttl);
	}
	if (n > 2) {
		if ((void *)(e + 3) > data_end)
			return NULL;
		e[2] = mpls_entry(labels[2], tc, bos, ttl);
	}
	return e + n;
}

#endif /* FECFLOW_LABELS_H */
