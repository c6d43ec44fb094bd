/* SPDX-License-Identifier: MIT */
/*
 * ICMP errors, built in the program as a router sends them (FORWARDING.md, "ICMP errors"):
 * time exceeded, fragmentation needed and packet too big, for IPv4 and IPv6. The offending
 * frame is turned into the error in place: the head grows by the new IP and ICMP headers in
 * front of the offending IP packet, which stays where it is as the quote, and the tail is cut
 * to FF_ICMP_QUOTE bytes of it. A frame that arrived labelled gets the received label stack in
 * an RFC 4950 MPLS extension object (RFC 4884 layout: the quote zero-padded to 128 bytes and its
 * length in the ICMP header). The caller says what goes in front of the new IP header (the MACs
 * and tags of the port it came in on, or a next hop and labels) and sends the result.
 *
 * Every error is rate-limited by one token bucket per node (icmp_limit) and counted by kind and
 * outcome (icmp_stats); the offending frame is counted as a drop with its own reason by the
 * caller, whatever becomes of the error.
 */
#ifndef FECFLOW_ICMP_H
#define FECFLOW_ICMP_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"
#include "parsing.h"
#include "labels.h"
#include "counters.h"

#define FF_ICMP_NSEC 1000000000ull
#define FF_ICMP_OUT_LABELS 5 /* a swap's 3 labels and 2 entries below it */
#define FF_IPPROTO_ICMP 1
#define FF_IPPROTO_ICMPV6 58
/* the ICMP message at its largest: header, quote, extension header and object with 3 entries */
#define FF_ICMP_MAX_LEN (8 + FF_ICMP_QUOTE + 8 + 4 * FF_MAX_LABELS)
/* returned instead of an outcome when ICMP errors are switched off (rate 0): nothing counted */
#define FF_ICMP_OFF FF_ICMP_OUTCOME_MAX

/* An ICMP error to build from the frame as it is now. */
struct icmp_request {
	__u32 len;    /* the frame as received, for the counters */
	__u32 ip_off; /* the offending IP packet's offset in the frame */
	__u32 mtu;    /* FRAG_NEEDED, PACKET_TOO_BIG: the largest IP packet the next hop takes */
	struct ff_icmp_src_key src; /* whose address the error comes from: the port (and VLAN) */
	__u16 proto;  /* ETH_P_IP or ETH_P_IPV6 */
	__u16 pad0;
	__u8 kind;    /* enum ff_icmp_kind */
	__u8 nstack;  /* received label stack entries (for the extension); 0: none */
	__u8 nout;    /* label stack entries to write in front of the new IP header */
	__u8 pad;
	__be32 stack[FF_MAX_LABELS]; /* as received, top first */
	__be32 out[FF_ICMP_OUT_LABELS]; /* complete entries, top first */
	/* the L2 header in front: MACs, tags (outer_vid 0: untagged) */
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
	__u16 outer_tpid;
	__u16 outer_vid;
	__u16 inner_vid;
	__u16 pad2;
};

static __always_inline void ff_count_icmp(__u32 kind, __u32 outcome, __u64 len)
{
	__u32 idx = kind * FF_ICMP_OUTCOME_MAX + outcome;

	ff_count(bpf_map_lookup_elem(&icmp_stats, &idx), len);
}

/* Whether ICMP errors are switched on (the node's bucket has a rate). */
static __always_inline int ff_icmp_on(void)
{
	__u32 zero = 0;
	struct ff_icmp_limit *l = bpf_map_lookup_elem(&icmp_limit, &zero);

	return l && l->rate;
}

/*
 * The node's token bucket: 1 if an error may be sent, 0 if the bucket is empty, -1 if errors are
 * switched off. Credit is kept in 1e-9 messages and a gap is capped at what fills the bucket, so
 * every product stays below 2^51 within the configured limits (FF_ICMP_MAX_RATE, _BURST).
 */
static __always_inline int ff_icmp_take(void)
{
	__u32 zero = 0;
	struct ff_icmp_limit *l = bpf_map_lookup_elem(&icmp_limit, &zero);
	__u64 now, elapsed, cap, credit, rate, fill;
	int ok;

	if (!l || l->rate == 0)
		return -1;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&l->lock);
	rate = l->rate;
	if (rate > FF_ICMP_MAX_RATE)
		rate = FF_ICMP_MAX_RATE;
	cap = (l->burst > FF_ICMP_MAX_BURST ? FF_ICMP_MAX_BURST : l->burst) * FF_ICMP_NSEC;
	/* another CPU may have stamped a later clock reading than ours */
	elapsed = now > l->last_ns ? now - l->last_ns : 0;
	if (now > l->last_ns)
		l->last_ns = now;
	fill = rate ? cap / rate + 1 : 0;
	if (elapsed > fill)
		elapsed = fill;
	credit = l->credit + elapsed * rate;
	if (credit > cap)
		credit = cap;
	ok = credit >= FF_ICMP_NSEC;
	if (ok)
		credit -= FF_ICMP_NSEC;
	l->credit = credit;
	bpf_spin_unlock(&l->lock);
	return ok;
}

/* Whether an ICMP (v4) or ICMPv6 type is an error message (never answered with another). */
static __always_inline int ff_icmp_type_is_error(__u16 proto, __u8 type)
{
	if (proto == ETH_P_IPV6)
		return type < 128;
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* Whether the IP packet at ip (validated, with its header in the frame) is an ICMP error
 * message: ICMPv4 right after the IPv4 header, ICMPv6 as the IPv6 next header. */
static __always_inline int ff_is_icmp_error(void *ip, __u16 proto, void *data_end)
{
	__u8 *type;

	if (proto == ETH_P_IP) {
		struct iphdr *ip4 = ip;

		if ((void *)(ip4 + 1) > data_end || ip4->protocol != FF_IPPROTO_ICMP)
			return 0;
		if (ip4->frag_off & bpf_htons(0x1fff))
			return 0;
		type = (__u8 *)ip + ((ip4->ihl * 4) & 0x3c);
	} else {
		struct ipv6hdr *ip6 = ip;

		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != FF_IPPROTO_ICMPV6)
			return 0;
		type = (__u8 *)(ip6 + 1);
	}
	if ((void *)(type + 1) > data_end)
		return 0;
	return ff_icmp_type_is_error(proto, *type);
}

/*
 * RFC 1812 4.3.2.7 / RFC 4443 2.4(e): no error about an ICMP error, about a fragment other than
 * the first, or to a source that is not one host. Sets the offending packet's length. Returns 0
 * to answer, else the outcome.
 */
static __always_inline int ff_icmp_check(void *ip, __u16 proto, void *data_end, __u32 *ip_len)
{
	if (proto == ETH_P_IP) {
		struct iphdr *o = ip;
		__u8 a;

		if ((void *)(o + 1) > data_end)
			return FF_ICMP_UNROUTABLE;
		if (o->frag_off & bpf_htons(0x1fff))
			return FF_ICMP_SUPPRESSED;
		a = ((__u8 *)&o->saddr)[0];
		/* this network (0/8), loopback (127/8), multicast and class E (224/3) */
		if (a == 0 || a == 127 || a >= 224)
			return FF_ICMP_SUPPRESSED;
		*ip_len = bpf_ntohs(o->tot_len);
	} else {
		struct ipv6hdr *o = ip;
		__u32 *w;

		if ((void *)(o + 1) > data_end)
			return FF_ICMP_UNROUTABLE;
		w = o->saddr.in6_u.u6_addr32;
		if (o->saddr.in6_u.u6_addr8[0] == 0xff || !(w[0] | w[1] | w[2] | w[3]))
			return FF_ICMP_SUPPRESSED;
		*ip_len = sizeof(*o) + bpf_ntohs(o->payload_len);
	}
	if (ff_is_icmp_error(ip, proto, data_end))
		return FF_ICMP_SUPPRESSED;
	return 0;
}

/*
 * One's complement sum, in memory order, of the frame from off to its end (an odd last byte
 * padded with a zero); at most FF_ICMP_MAX_LEN bytes are summed. A global function: the
 * verifier walks its loop once, not once for every way of reaching the call (tags, labels,
 * family, kind).
 */
__noinline __u32 ff_icmp_sum(struct xdp_md *ctx, __u32 off)
{
	void *data, *data_end;
	__u16 *w;
	__u8 *b;
	__u32 i, sum = 0;

	if (!ctx)
		return 0;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	w = data + (off & 0x1ff);
#pragma clang loop unroll(disable)
	for (i = 0; i < FF_ICMP_MAX_LEN / 2; i++) {
		__u16 *x = w + i;

		if ((void *)(x + 1) > data_end)
			break;
		sum += *x;
	}
	b = (__u8 *)(w + (i & 0xff));
	if ((void *)(b + 1) <= data_end)
		sum += *b; /* [b, 0] read in memory order */
	return sum;
}

/* The same over a fixed number of 16-bit words the caller has checked are in the frame. */
#define FF_SUM_WORDS(start, words, sum)                                                        \
	({                                                                                     \
		__u32 __s = (sum);                                                             \
		_Pragma("unroll") for (int __i = 0; __i < (words); __i++)                     \
			__s += ((__u16 *)(start))[__i];                                         \
		__s;                                                                           \
	})

static __always_inline __u16 ff_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Turns the frame into the ICMP error r describes. A global function, so the verifier checks it
 * once rather than at every call site. Returns FF_ICMP_SENT when the frame is
 * ready to send, FF_ICMP_OFF when errors are switched off, or the outcome that stopped it
 * (counted here, as is a sent one). A failure after the frame was reshaped leaves it unusable:
 * the caller drops it either way.
 */
__noinline int ff_icmp_build(struct xdp_md *ctx, struct icmp_request *r)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_icmp_src *src;
	struct icmp_scratch *scratch;
	struct ff_l2_out o;
	__u32 zero = 0;
	__u32 ip_off, ip_len = 0, quote, body, ext, icmp_len, iph, head, have, want, kind, nstack,
	      nout, i, sum;
	int v6, outcome;
	__u8 *p, *q, *e;

	if (!ctx || !r)
		return FF_ICMP_UNROUTABLE;
	ip_off = r->ip_off & 0xff;
	kind = r->kind & 3;
	nout = r->nout;
	v6 = r->proto == ETH_P_IPV6;
	if (nout > FF_ICMP_OUT_LABELS)
		return FF_ICMP_UNROUTABLE;
	if (!ff_icmp_on())
		return FF_ICMP_OFF;
	/* packet too big has no room for an extension's length (RFC 4884 section 4.6) */
	nstack = kind == FF_ICMP_PACKET_TOO_BIG ? 0 : r->nstack;
	if (nstack > FF_MAX_LABELS)
		nstack = FF_MAX_LABELS;

	outcome = ff_icmp_check(data + ip_off, r->proto, data_end, &ip_len);
	if (outcome)
		goto out;
	src = bpf_map_lookup_elem(&icmp_src, &r->src);
	if (!src || !(src->flags & (v6 ? FF_ICMP_SRC_HAS_V6 : FF_ICMP_SRC_HAS_V4))) {
		outcome = FF_ICMP_NO_SOURCE;
		goto out;
	}
	switch (ff_icmp_take()) {
	case -1:
		return FF_ICMP_OFF;
	case 0:
		outcome = FF_ICMP_RATE_LIMITED;
		goto out;
	}

	quote = ip_len < FF_ICMP_QUOTE ? ip_len : FF_ICMP_QUOTE;
	have = data_end - data;
	outcome = FF_ICMP_UNROUTABLE;
	if (quote < sizeof(struct iphdr) || ip_off + quote > have)
		goto out;
	scratch = bpf_map_lookup_elem(&icmp_scratch, &zero);
	if (!scratch)
		goto out;
	/* the quote is set aside: the frame is then laid out afresh around it */
	if (bpf_xdp_load_bytes(ctx, ip_off, scratch->quote, quote))
		goto out;
	ext = nstack ? 8 + 4 * nstack : 0;
	body = ext ? FF_ICMP_QUOTE : quote;
	icmp_len = 8 + body + ext;
	iph = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	o.dmac = r->dmac;
	o.smac = r->smac;
	o.outer_tpid = r->outer_tpid;
	o.outer_vid = r->outer_vid;
	o.inner_vid = r->inner_vid;
	o.ethertype = nout ? ETH_P_MPLS_UC : r->proto;
	head = l2_out_len(&o) + 4 * nout + iph + 8; /* everything in front of the quote */

	/* The frame becomes exactly want bytes: shorter by cutting the tail; longer by growing the
	 * tail, or where the driver left no room there (a veth's small frames), the head. */
	want = head + body + ext;
	if (want <= have) {
		if (bpf_xdp_adjust_tail(ctx, (int)want - (int)have))
			goto out;
	} else if (bpf_xdp_adjust_tail(ctx, (int)(want - have)) &&
		   bpf_xdp_adjust_head(ctx, -(int)(want - have))) {
		goto out;
	}
	if (bpf_xdp_store_bytes(ctx, head & 0xff, scratch->quote, quote))
		goto out;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	q = data + (head & 0xff); /* the quote */

	/* RFC 4884: with an extension the quote is zero-padded to 128 bytes */
	if (ext) {
		__u32 pad = FF_ICMP_QUOTE - quote;

		if (pad && bpf_xdp_store_bytes(ctx, (head + quote) & 0x1ff, scratch->zero, pad))
			goto out;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		q = data + (head & 0xff);
		/* extension header (version 2, checksum), one object: MPLS label stack, incoming */
		e = q + FF_ICMP_QUOTE;
		if ((void *)(e + 8) > data_end)
			goto out;
		e[0] = 0x20;
		e[1] = 0;
		e[2] = 0;
		e[3] = 0;
		*(__be16 *)(e + 4) = bpf_htons(4 + 4 * nstack);
		e[6] = 1; /* class-num: MPLS label stack */
		e[7] = 1; /* c-type: incoming label stack */
		/* its checksum, from the words written (memory order, as everywhere here) */
		sum = 0x0020 + bpf_htons(4 + 4 * nstack) + 0x0101;
#pragma unroll
		for (i = 0; i < FF_MAX_LABELS; i++) {
			__be32 *s = (__be32 *)(e + 8) + i;
			__u32 v = r->stack[i];

			if (i >= nstack)
				break;
			if ((void *)(s + 1) > data_end)
				goto out;
			*s = v;
			sum += (v & 0xffff) + (v >> 16);
		}
		*(__u16 *)(e + 2) = ff_csum_fold(sum);
	}

	p = ff_write_l2(data, data_end, &o);
	if (!p)
		goto out;
#pragma unroll
	for (i = 0; i < FF_ICMP_OUT_LABELS; i++) {
		__be32 *l = (__be32 *)p;

		if (i >= nout)
			break;
		if ((void *)(l + 1) > data_end)
			goto out;
		*l = r->out[i];
		p += 4;
	}

	if (v6) {
		struct ipv6hdr *ip6 = (void *)p;

		if ((void *)(ip6 + 1) > data_end)
			goto out;
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(icmp_len);
		ip6->nexthdr = FF_IPPROTO_ICMPV6;
		ip6->hop_limit = 64;
		/* to the offending packet's source, which the quote right behind still holds */
		if (q + 24 > (__u8 *)data_end)
			goto out;
		__builtin_memcpy(ip6->saddr.in6_u.u6_addr8, src->v6, 16);
		__builtin_memcpy(ip6->daddr.in6_u.u6_addr8, q + 8, 16);
		p = (void *)(ip6 + 1);
	} else {
		struct iphdr *ip4 = (void *)p;

		if ((void *)(ip4 + 1) > data_end)
			goto out;
		ip4->version = 4;
		ip4->ihl = 5;
		ip4->tos = 0xc0; /* internetwork control, as routers send errors */
		ip4->tot_len = bpf_htons(sizeof(*ip4) + icmp_len);
		ip4->id = 0;
		ip4->frag_off = 0;
		ip4->ttl = 64;
		ip4->protocol = FF_IPPROTO_ICMP;
		ip4->check = 0;
		if (q + 16 > (__u8 *)data_end)
			goto out;
		__builtin_memcpy(&ip4->saddr, src->v4, 4);
		__builtin_memcpy(&ip4->daddr, q + 12, 4);
		ip4->check = ff_csum_fold(FF_SUM_WORDS(ip4, sizeof(*ip4) / 2, 0));
		p = (void *)(ip4 + 1);
	}

	/* the ICMP header: type, code, checksum, then by kind the RFC 4884 length of the quote
	 * (32-bit words in ICMPv4, 64-bit words in ICMPv6) and the MTU */
	if ((void *)(p + 8) > data_end)
		goto out;
	*(__be32 *)(p + 4) = 0;
	switch (kind) {
	case FF_ICMP_TIME_EXCEEDED_V4:
		p[0] = 11;
		p[1] = 0;
		p[5] = ext ? FF_ICMP_QUOTE / 4 : 0;
		break;
	case FF_ICMP_FRAG_NEEDED:
		p[0] = 3;
		p[1] = 4;
		p[5] = ext ? FF_ICMP_QUOTE / 4 : 0;
		*(__be16 *)(p + 6) = bpf_htons(r->mtu);
		break;
	case FF_ICMP_TIME_EXCEEDED_V6:
		p[0] = 3;
		p[1] = 0;
		p[4] = ext ? FF_ICMP_QUOTE / 8 : 0;
		break;
	default: /* FF_ICMP_PACKET_TOO_BIG */
		p[0] = 2;
		p[1] = 0;
		*(__be32 *)(p + 4) = bpf_htonl(r->mtu);
		break;
	}
	*(__u16 *)(p + 2) = 0;
	sum = 0;
	if (v6) {
		/* the pseudo-header: source, destination, upper-layer length, next header */
		struct ipv6hdr *ip6 = (void *)(p - sizeof(struct ipv6hdr));

		if ((void *)(ip6 + 1) > data_end)
			goto out;
		sum = FF_SUM_WORDS(&ip6->saddr, 16, 0);
		sum += bpf_htons(icmp_len) + bpf_htons(FF_IPPROTO_ICMPV6);
	}
	/* the message runs to the end of the frame */
	i = (__u8 *)p - (__u8 *)data;
	sum += ff_icmp_sum(ctx, i);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	p = data + (i & 0x1ff);
	if ((void *)(p + 4) > data_end)
		goto out;
	*(__u16 *)(p + 2) = ff_csum_fold(sum);
	outcome = FF_ICMP_SENT;
out:
	ff_count_icmp(kind, outcome, r->len);
	return outcome;
}

/* A label stack entry as ICMP errors carry it along an LSP: TTL 255, S as given. */
static __always_inline __be32 ff_icmp_entry(__u32 label, __u8 tc, int bos)
{
	return mpls_entry(label, tc, bos, 255);
}

#endif /* FECFLOW_ICMP_H */
