// SPDX-License-Identifier: MIT
/*
 * fecflow's three XDP programs, one per interface role (docs/ARCHITECTURE.md); FORWARDING.md
 * is the exact behaviour.
 *
 *   xdp_access  end-users, upstream:   classify end-user -> ISP, push the ISP's FEC
 *   xdp_core    the MPLS backbone:     ILM lookup; swap, pop and continue, or pop and deliver
 *   xdp_isp     an ISP's link, down:   ISP from the port, route lookup in its table, push
 *
 * Anything a program does not handle goes to the kernel with XDP_PASS; every XDP_DROP is
 * counted by reason in drop_stats.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fecflow_shared.h"
#include "maps.h"
#include "parsing.h"
#include "csum.h"
#include "hash.h"
#include "labels.h"
#include "counters.h"
#include "policer.h"
#include "meter.h"
#include "prefix.h"
#include "icmp.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* settings[0], read once per packet; all zero (the defaults) if it cannot be read. */
static __always_inline void settings_read(struct ff_settings *out)
{
	__u32 zero = 0;
	struct ff_settings *s = bpf_map_lookup_elem(&settings, &zero);

	if (s)
		*out = *s;
	else
		__builtin_memset(out, 0, sizeof(*out));
}

static __always_inline int unknown_policy_pass(void)
{
	__u32 zero = 0;
	struct ff_settings *s = bpf_map_lookup_elem(&settings, &zero);

	return s && s->unknown_policy == FF_UNKNOWN_PASS;
}

static __always_inline void ip_set_ttl(void *ip, __u16 proto, __u8 ttl)
{
	if (proto == ETH_P_IP)
		ff_ipv4_set_ttl(ip, ttl);
	else
		((struct ipv6hdr *)ip)->hop_limit = ttl;
}

/* Whether the destination of a validated IP header is one of the router's own addresses. */
static __always_inline int dst_is_router(void *ip, __u16 proto, void *data_end)
{
	struct ff_local_key key = {};

	if (proto == ETH_P_IP) {
		struct iphdr *ip4 = ip;

		if ((void *)(ip4 + 1) > data_end)
			return 0;
		key.family = 4;
		__builtin_memcpy(key.addr, &ip4->daddr, 4);
	} else {
		struct ipv6hdr *ip6 = ip;

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		key.family = 6;
		__builtin_memcpy(key.addr, ip6->daddr.in6_u.u6_addr8, 16);
	}
	return bpf_map_lookup_elem(&local, &key) != NULL;
}

/* Traffic for the router itself or for the link, which the kernel handles. */
static __always_inline int is_local(const struct ff_l3 *p, void *data_end)
{
	if (p->eth->h_dest[0] & 1)
		return 1;
	if (p->proto == ETH_P_IP) {
		struct iphdr *ip = p->ip;

		if ((void *)(ip + 1) > data_end)
			return 0;
		if (ip->daddr == 0xffffffff || (ip->daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000))
			return 1;
	} else {
		struct ipv6hdr *ip6 = p->ip;
		__u8 *d;

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		d = ip6->daddr.in6_u.u6_addr8;
		if (d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80))
			return 1;
	}
	return dst_is_router(p->ip, p->proto, data_end);
}

/* Whether a classifier match arrived on the line its subscriber is provisioned on: the same
 * port and the same tags (none, one, or outer + inner). */
static __always_inline int on_its_line(const struct ff_sub_match *m, __u32 ifindex,
				       const struct ff_l3 *p)
{
	return m->ifindex == ifindex && m->outer_vid == p->outer_vid &&
	       m->inner_vid == p->inner_vid;
}

/* A next-hop group with 1..FF_MAX_ECMP members, or NULL. */
static __always_inline struct ff_nh_group *nh_group_get(__u32 id)
{
	struct ff_nh_group *g = bpf_map_lookup_elem(&nh_group, &id);

	if (!g || g->count == 0 || g->count > FF_MAX_ECMP)
		return NULL;
	return g;
}

/* The member for this flow, or NULL if it is empty. */
static __always_inline struct ff_nexthop *nh_group_member(struct ff_nh_group *g, __u32 hash)
{
	__u32 i = g->count > 1 ? hash % g->count : 0;
	__u32 id = g->nexthop[i & (FF_MAX_ECMP - 1)];
	struct ff_nexthop *nh = bpf_map_lookup_elem(&nexthop, &id);

	if (!nh || nh->ifindex == 0)
		return NULL;
	return nh;
}

static __always_inline void l2_out_nexthop(struct ff_l2_out *o, const struct ff_nexthop *nh,
					   __u16 ethertype)
{
	o->dmac = nh->dmac;
	o->smac = nh->smac;
	o->outer_tpid = ETH_P_8021Q;
	o->outer_vid = nh->vid;
	o->inner_vid = 0;
	o->ethertype = ethertype;
}

/* Output length minus the Ethernet header, against the egress L3 MTU (0: no check). */
static __always_inline int mtu_exceeded(__u32 out_len, __u16 mtu)
{
	return mtu && out_len - FF_ETH_HLEN > mtu;
}

static __always_inline int redirect(__u32 ifindex, __u32 len)
{
	if (bpf_redirect_map(&tx_port, ifindex, XDP_DROP) != XDP_REDIRECT)
		return ff_drop(FF_DROP_TX_PORT, len);
	return XDP_REDIRECT;
}

/* Replace everything before keep_off with the L2 header o and n labels, then redirect. */
static __always_inline int emit(struct xdp_md *ctx, __u32 keep_off, const struct ff_l2_out *o,
				const __u32 *labels, __u32 n, __u8 tc, int bos, __u8 ttl,
				__u32 len, __u32 ifindex)
{
	void *data, *data_end, *pos;

	if (ff_resize_head(ctx, keep_off, l2_out_len(o) + n * FF_MPLS_HLEN))
		return ff_drop(FF_DROP_MALFORMED, len);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	pos = ff_write_l2(data, data_end, o);
	if (!pos)
		return ff_drop(FF_DROP_MALFORMED, len);
	if (n && !ff_write_labels(pos, data_end, labels, n, tc, bos, ttl))
		return ff_drop(FF_DROP_MALFORMED, len);
	return redirect(ifindex, len);
}

/* An edge frame (access or isp port) that cannot go on: counted as a drop for reason, and
 * answered with an ICMP error of kind out of the port it came in on (XDP_TX), the MACs swapped
 * and its tags kept. vid picks the port's source address (the isp program's VLAN, else 0). */
static __always_inline int edge_icmp(struct xdp_md *ctx, const struct ff_l3 *p, __u32 reason,
				     __u8 kind, __u32 mtu, __u16 vid)
{
	struct icmp_request r = {};

	ff_drop(reason, p->len);
	r.len = p->len;
	r.ip_off = p->ip_off;
	r.mtu = mtu;
	r.src.ifindex = ctx->ingress_ifindex;
	r.src.vid = vid;
	r.proto = p->proto;
	r.kind = kind;
	__builtin_memcpy(r.dmac, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(r.smac, p->eth->h_dest, ETH_ALEN);
	if (p->ntags) {
		r.outer_tpid = bpf_ntohs(p->eth->h_proto);
		r.outer_vid = p->outer_vid;
		r.inner_vid = p->inner_vid;
	}
	if (ff_icmp_build(ctx, &r) != FF_ICMP_SENT)
		return XDP_DROP;
	return XDP_TX;
}

/* The IPv4 header's don't-fragment bit. */
static __always_inline int ipv4_df(void *ip, void *data_end)
{
	struct iphdr *ip4 = ip;

	return (void *)(ip4 + 1) <= data_end && (ip4->frag_off & bpf_htons(0x4000));
}

/* Ingress push (access upstream, isp downstream): FORWARDING.md access steps 4-7. */
/* meter: the subscriber's meter word (access), 0 where no subscriber is known (isp); vid: the
 * ISP port's VLAN (isp), which picks the ICMP source address, else 0. */
static __always_inline int push_fec(struct xdp_md *ctx, struct ff_l3 *p, void *data_end,
				    const struct ff_settings *st, const struct ff_fec *fec,
				    __u32 isp, __u32 dir, __u32 meter, __u16 vid)
{
	__u32 n = fec->nlabels, ip_len = p->len - p->ip_off, out_len;
	struct ff_nh_group *g;
	struct ff_nexthop *nh;
	struct ff_l2_out o;
	__u8 label_ttl;

	if (p->ttl <= 1)
		return edge_icmp(ctx, p, FF_DROP_TTL_EXPIRED,
				 p->proto == ETH_P_IP ? FF_ICMP_TIME_EXCEEDED_V4 : FF_ICMP_TIME_EXCEEDED_V6,
				 0, vid);
	g = nh_group_get(fec->nh_group);
	if (!g)
		return ff_drop(FF_DROP_NO_NEXTHOP, p->len);
	nh = nh_group_member(g, g->count > 1 ? ff_flow_hash_ip(p->ip, p->proto, data_end) : 0);
	if (!nh)
		return ff_drop(FF_DROP_NO_NEXTHOP, p->len);
	l2_out_nexthop(&o, nh, ETH_P_MPLS_UC);
	out_len = ip_len + l2_out_len(&o) + n * FF_MPLS_HLEN;
	if (mtu_exceeded(out_len, nh->mtu)) {
		/* the largest IP packet that fits: the MTU less the tag and labels in front of it */
		__u32 fits = nh->mtu - (l2_out_len(&o) - FF_ETH_HLEN) - n * FF_MPLS_HLEN;

		if (p->proto == ETH_P_IPV6)
			return edge_icmp(ctx, p, FF_DROP_MTU_EXCEEDED, FF_ICMP_PACKET_TOO_BIG, fits, vid);
		if (ipv4_df(p->ip, data_end))
			return edge_icmp(ctx, p, FF_DROP_MTU_EXCEEDED, FF_ICMP_FRAG_NEEDED, fits, vid);
		/* no fragmentation here: a packet that may be fragmented is dropped */
		return ff_drop(FF_DROP_MTU_EXCEEDED, p->len);
	}
	/* The subscriber's own bucket first: a packet it drops takes no tokens from the ISP's
	 * bucket, which the ISP's other subscribers share. */
	if (!ff_police_sub(meter, dir, ip_len))
		return ff_drop(FF_DROP_SUB_POLICED, p->len);
	if (!ff_police(isp, dir, p->len)) {
		ff_count_isp(isp, dir, FF_POINT_POLICED, ip_len);
		return ff_drop(FF_DROP_POLICED, p->len);
	}
	ff_count_isp(isp, dir, FF_POINT_IN, ip_len);
	ff_meter(meter, dir, p->ip, p->proto, data_end);

	/* RFC 3443: uniform copies the decremented TTL into the labels; pipe decrements the
	 * IP TTL and starts the labels afresh. */
	if (st->ttl_mode == FF_TTL_PIPE) {
		ip_set_ttl(p->ip, p->proto, p->ttl - 1);
		label_ttl = 255;
	} else {
		label_ttl = p->ttl - 1;
	}
	return emit(ctx, p->ip_off, &o, fec->label, n, fec->tc, 1, label_ttl, p->len, nh->ifindex);
}

SEC("xdp")
int xdp_access(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_l3 p = { .len = data_end - data };
	struct ff_sub_match *c = NULL;
	struct ff_settings st;
	struct ff_fec *fec;
	__u32 isp;

	switch (parse_l2_ip(data, data_end, 2, &p)) {
	case FF_PARSE_OK:
		break;
	case FF_PARSE_PASS:
		return XDP_PASS;
	case FF_PARSE_TOO_MANY_TAGS:
		/* No classifier can match a third tag: it is an unknown subscriber, and the kernel
		 * must not see it unless the operator's policy says so. */
		if (unknown_policy_pass())
			return XDP_PASS;
		return ff_drop(FF_DROP_UNKNOWN_SUBSCRIBER, p.len);
	default:
		return ff_drop(FF_DROP_MALFORMED, p.len);
	}
	if (is_local(&p, data_end))
		return XDP_PASS;

	settings_read(&st);

	/* Classify: source MAC, then VLAN, then source prefix; first match wins, and a MAC or
	 * prefix match must be on its subscriber's line (the VLAN key holds the line itself). A
	 * classifier the control plane left empty is not looked up. */
	if (!(st.skip & FF_SKIP_SUB_MAC)) {
		struct ff_mac_key mk = {};

		__builtin_memcpy(mk.mac, p.eth->h_source, ETH_ALEN);
		c = bpf_map_lookup_elem(&sub_mac, &mk);
		if (c && !on_its_line(c, ctx->ingress_ifindex, &p))
			return ff_drop(FF_DROP_WRONG_PORT, p.len);
	}
	if (!c && p.ntags && !(st.skip & FF_SKIP_SUB_VLAN)) {
		struct ff_vlan_key vk = {
			.ifindex = ctx->ingress_ifindex,
			.outer_vid = p.outer_vid,
			.inner_vid = p.inner_vid,
		};

		c = bpf_map_lookup_elem(&sub_vlan, &vk);
	}
	if (!c) {
		if (p.proto == ETH_P_IP) {
			struct iphdr *ip = p.ip;

			if ((void *)(ip + 1) > data_end)
				return ff_drop(FF_DROP_MALFORMED, p.len);
			c = ff_prefix_v4(&sub_v4_exact, &sub_v4, &st, FF_PT_SUB_V4, &ip->saddr);
		} else {
			struct ipv6hdr *ip6 = p.ip;

			if ((void *)(ip6 + 1) > data_end)
				return ff_drop(FF_DROP_MALFORMED, p.len);
			c = ff_prefix_v6(&sub_v6_exact, &sub_v6, &st, FF_PT_SUB_V6, &ip6->saddr);
		}
		if (c && !on_its_line(c, ctx->ingress_ifindex, &p))
			return ff_drop(FF_DROP_WRONG_PORT, p.len);
	}
	if (!c) {
		if (st.unknown_policy == FF_UNKNOWN_PASS)
			return XDP_PASS;
		return ff_drop(FF_DROP_UNKNOWN_SUBSCRIBER, p.len);
	}
	isp = c->isp;
	if (isp == 0 || isp >= FF_MAX_ISPS)
		return ff_drop(FF_DROP_UNKNOWN_SUBSCRIBER, p.len);

	fec = bpf_map_lookup_elem(&fec_up, &isp);
	if (!fec || fec->nlabels == 0 || fec->nlabels > FF_MAX_LABELS)
		return ff_drop(FF_DROP_NO_FEC, p.len);
	return push_fec(ctx, &p, data_end, &st, fec, isp, FF_DIR_UP, c->meter, 0);
}

SEC("xdp")
int xdp_isp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_l3 p = { .len = data_end - data };
	struct ff_isp_port_key pk = {};
	struct ff_settings st;
	struct ff_sub_class *c;
	struct ff_fec *fec;
	__u32 isp;

	switch (parse_l2_ip(data, data_end, 1, &p)) {
	case FF_PARSE_OK:
		break;
	case FF_PARSE_PASS:
	case FF_PARSE_TOO_MANY_TAGS: /* an ISP link's own business (FORWARDING.md) */
		return XDP_PASS;
	default:
		return ff_drop(FF_DROP_MALFORMED, p.len);
	}
	if (is_local(&p, data_end))
		return XDP_PASS;

	pk.ifindex = ctx->ingress_ifindex;
	pk.vid = p.ntags ? p.outer_vid : 0;
	c = bpf_map_lookup_elem(&isp_port, &pk);
	if (!c)
		return XDP_PASS; /* not an ISP port we serve */
	isp = c->isp;
	settings_read(&st);

	if (p.proto == ETH_P_IP) {
		struct iphdr *ip = p.ip;

		if ((void *)(ip + 1) > data_end)
			return ff_drop(FF_DROP_MALFORMED, p.len);
		fec = ff_scoped_prefix_v4(&isp_route_v4_exact, &isp_route_v4, &st,
					  FF_PT_ISP_ROUTE_V4, isp, &ip->daddr);
	} else {
		struct ipv6hdr *ip6 = p.ip;

		if ((void *)(ip6 + 1) > data_end)
			return ff_drop(FF_DROP_MALFORMED, p.len);
		fec = ff_scoped_prefix_v6(&isp_route_v6_exact, &isp_route_v6, &st,
					  FF_PT_ISP_ROUTE_V6, isp, &ip6->daddr);
	}
	if (!fec || fec->nlabels == 0 || fec->nlabels > FF_MAX_LABELS)
		return ff_drop(FF_DROP_NO_ROUTE, p.len);
	return push_fec(ctx, &p, data_end, &st, fec, isp, FF_DIR_DOWN, 0, pk.vid);
}

/* ---- core ------------------------------------------------------------------------------ */

/* What the ILM walk found: the entry that decides (NULL for an explicit null at the bottom)
 * and where the kept part of the frame begins (right after that entry). */
struct core_state {
	struct ff_settings st;
	struct ff_ilm *ilm;
	__u32 len;
	__u32 keep_off;
	__u8 bos;
	__u8 ttl; /* the decremented label TTL, t' */
	__u8 pipe;
};

/* Last pop: validate the inner IP packet and apply the RFC 3443 last-pop TTL rule.
 * Returns the IP ethertype (host order), or -(drop reason) - 1. */
static __always_inline int last_pop(void *data, void *data_end, const struct core_state *s,
				    void **ip)
{
	struct hdr_cursor nh = { .pos = data + s->keep_off };
	int proto;
	__u8 ip_ttl;

	proto = peek_ip_version(&nh, data_end);
	if (proto < 0)
		return -FF_DROP_MALFORMED - 1;
	proto = parse_ip(&nh, data_end, s->len - s->keep_off, proto, ip, &ip_ttl);
	if (proto < 0)
		return -FF_DROP_MALFORMED - 1;
	if (s->pipe) {
		if (ip_ttl <= 1)
			return -FF_DROP_TTL_EXPIRED - 1;
		ip_set_ttl(*ip, proto, ip_ttl - 1);
	} else if (ip_ttl > s->ttl) {
		/* RFC 3443 section 3.1: the smaller of the two, so a label TTL set high by the
		 * ingress (or by a peer) can never raise the IP TTL. */
		ip_set_ttl(*ip, proto, s->ttl);
	}
	return proto;
}

/* Explicit null at the bottom: strip the labels and hand the IP packet to the kernel if it is
 * addressed to the router. Nothing else may reach the kernel this way (anyone on a core link
 * could route through the router's IP stack), and there is no unlabelled forwarding table to
 * send it on with: the label that named its ISP is gone. */
static __always_inline int core_explicit_null(struct xdp_md *ctx, const struct core_state *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_l2_out o = {};
	__u8 macs[2 * ETH_ALEN];
	void *ip;
	int proto;

	proto = last_pop(data, data_end, s, &ip);
	if (proto < 0)
		return ff_drop(-proto - 1, s->len);
	if (!dst_is_router(ip, proto, data_end))
		return ff_drop(FF_DROP_NO_ROUTE, s->len);
	if (data + sizeof(macs) > data_end)
		return ff_drop(FF_DROP_MALFORMED, s->len);
	__builtin_memcpy(macs, data, sizeof(macs));
	o.dmac = macs;
	o.smac = macs + ETH_ALEN;
	o.ethertype = proto;
	if (ff_resize_head(ctx, s->keep_off, FF_ETH_HLEN))
		return ff_drop(FF_DROP_MALFORMED, s->len);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (!ff_write_l2(data, data_end, &o))
		return ff_drop(FF_DROP_MALFORMED, s->len);
	return XDP_PASS;
}

static __always_inline struct ff_nexthop *core_nexthop(struct xdp_md *ctx, __u32 group)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_nh_group *g = nh_group_get(group);

	if (!g)
		return NULL;
	return nh_group_member(g, g->count > 1 ? ff_flow_hash_mpls(data, data_end) : 0);
}

/* An LSR's per-ISP count (FORWARDING.md): the bytes below the labels this router read, as
 * received, for the ISP the deciding ILM entry names (none: not counted). */
static __always_inline void count_transit(const struct core_state *s)
{
	if (s->ilm->isp)
		ff_count_isp(s->ilm->isp, s->ilm->dir ? FF_DIR_DOWN : FF_DIR_UP, FF_POINT_TRANSIT,
			     s->len - s->keep_off);
}

/* The label stack as received, down to its bottom entry (at most FF_MAX_LABELS), into r: the
 * entries for the extension and the offset of the IP packet below. 0 if it ends deeper. */
static __always_inline int core_stack(void *data, void *data_end, struct icmp_request *r)
{
	__be32 *e = data + FF_ETH_HLEN;
	int i;

#pragma unroll
	for (i = 0; i < FF_MAX_LABELS; i++) {
		__be32 *x = e + i;

		if ((void *)(x + 1) > data_end)
			return 0;
		r->stack[i] = *x;
		if (bpf_ntohl(*x) & FF_MPLS_S_BIT) {
			r->nstack = i + 1;
			r->ip_off = FF_ETH_HLEN + (i + 1) * FF_MPLS_HLEN;
			return 1;
		}
	}
	return 0;
}

/* The labels of a FEC (1..3), as an ICMP error pushes them: TTL 255, S on the last. */
static __always_inline int core_icmp_fec(struct icmp_request *r, const struct ff_fec *fec)
{
	__u32 i, n = fec->nlabels;

	if (n == 0 || n > FF_MAX_LABELS)
		return 0;
#pragma unroll
	for (i = 0; i < FF_MAX_LABELS; i++)
		if (i < n)
			r->out[i] = ff_icmp_entry(fec->label[i], fec->tc, i == n - 1);
	r->nout = n;
	return 1;
}

/*
 * A labelled frame that cannot go on (FORWARDING.md, "ICMP errors"): counted as a drop for
 * reason, and turned into an ICMP error carrying the received label stack (RFC 4950) from the
 * address of the port it came in on. mtu == 0: its TTL expired; else it would leave as out_len
 * bytes through a next hop of that L3 MTU. Where the error goes: an LSR (swap, or a pop with
 * labels left) sends it on along the LSP, to be returned by the LSP's egress (RFC 3032 section
 * 2.3.2); the tailend (pop to ISP) sends it back on the ISP's route to the source, the headend
 * (pop to subscriber) on the ISP's upstream FEC.
 */
static __noinline int core_icmp(struct xdp_md *ctx, const struct core_state *s, __u32 reason,
				__u32 mtu, __u32 out_len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct ff_ilm *e = s->ilm;
	struct icmp_request r = {};
	struct ff_nexthop *nh = NULL;
	struct ff_fec *fec = NULL;
	__u32 d, i, n = 0, isp;
	__u8 *ip, kind = mtu ? FF_ICMP_FRAG_NEEDED : FF_ICMP_TIME_EXCEEDED_V4;

	ff_drop(reason, s->len);
	if (!e)
		return XDP_DROP;
	r.len = s->len;
	r.src.ifindex = ctx->ingress_ifindex;
	if (!core_stack(data, data_end, &r))
		goto unroutable;
	ip = data + (r.ip_off & 0xff);
	if ((void *)(ip + 1) > data_end)
		goto unroutable;
	if ((*ip >> 4) == 4) {
		r.proto = ETH_P_IP;
		/* no fragmentation here: a packet that may be fragmented is dropped */
		if (mtu && !ipv4_df(ip, data_end))
			return XDP_DROP;
	} else if ((*ip >> 4) == 6) {
		r.proto = ETH_P_IPV6;
		kind = mtu ? FF_ICMP_PACKET_TOO_BIG : FF_ICMP_TIME_EXCEEDED_V6;
	} else {
		goto unroutable;
	}
	r.kind = kind;
	if (mtu)
		r.mtu = mtu - (out_len - FF_ETH_HLEN - (s->len - r.ip_off));
	d = (s->keep_off - FF_ETH_HLEN) / FF_MPLS_HLEN - 1; /* the entry that decided */
	isp = e->isp;

	switch (e->action) {
	case FF_ILM_SWAP:
		n = e->nlabels;
		if (n == 0 || n > FF_MAX_LABELS)
			goto unroutable;
#pragma unroll
		for (i = 0; i < FF_MAX_LABELS; i++)
			if (i < n)
				r.out[i] = ff_icmp_entry(e->label[i], e->tc, s->bos && i == n - 1);
		/* fallthrough: the entries below the swapped one go on as they came */
	case FF_ILM_POP_FORWARD:
		if (e->action == FF_ILM_POP_FORWARD && s->bos)
			goto unroutable; /* PHP of the last label: the LSP ends at the next hop */
#pragma unroll
		for (i = 1; i < FF_MAX_LABELS; i++) {
			__u32 j = d + i;

			if (j >= r.nstack || j >= FF_MAX_LABELS || n >= FF_ICMP_OUT_LABELS)
				break;
			r.out[n++] = r.stack[j] | bpf_htonl(0xff);
		}
		r.nout = n;
		nh = core_nexthop(ctx, e->nh_group);
		break;
	case FF_ILM_POP_TO_ISP:
		if (r.proto == ETH_P_IP) {
			struct iphdr *ip4 = (void *)ip;

			if ((void *)(ip4 + 1) > data_end)
				goto unroutable;
			fec = ff_scoped_prefix_v4(&isp_route_v4_exact, &isp_route_v4, &s->st,
						  FF_PT_ISP_ROUTE_V4, isp, &ip4->saddr);
		} else {
			struct ipv6hdr *ip6 = (void *)ip;

			if ((void *)(ip6 + 1) > data_end)
				goto unroutable;
			fec = ff_scoped_prefix_v6(&isp_route_v6_exact, &isp_route_v6, &s->st,
						  FF_PT_ISP_ROUTE_V6, isp, &ip6->saddr);
		}
		break;
	case FF_ILM_POP_TO_SUB:
		fec = bpf_map_lookup_elem(&fec_up, &isp);
		break;
	default:
		goto unroutable;
	}
	if (fec) {
		if (!core_icmp_fec(&r, fec))
			goto unroutable;
		nh = core_nexthop(ctx, fec->nh_group);
	}
	if (!nh)
		goto unroutable;
	__builtin_memcpy(r.dmac, nh->dmac, ETH_ALEN);
	__builtin_memcpy(r.smac, nh->smac, ETH_ALEN);
	r.outer_tpid = ETH_P_8021Q;
	r.outer_vid = nh->vid;
	if (ff_icmp_build(ctx, &r) != FF_ICMP_SENT)
		return XDP_DROP;
	return redirect(nh->ifindex, s->len);
unroutable:
	if (ff_icmp_on())
		ff_count_icmp(kind, FF_ICMP_UNROUTABLE, s->len);
	return XDP_DROP;
}

/*
 * An ICMP error that a router of the LSP sent on along it towards its source (core_icmp) comes
 * out at the egress addressed to the other side: at the tailend to an end-user, at the headend
 * to an ISP host. The egress returns it: it pushes the FEC back (the ISP's route at the tailend,
 * its upstream FEC at the headend) and sends it to that FEC's next hop. Label TTL: the IP TTL
 * after the last pop (uniform), 255 (pipe). Nothing is counted for the ISP: it is the routers'
 * own traffic.
 */
static __always_inline int core_return(struct xdp_md *ctx, const struct core_state *s,
				       const struct ff_fec *fec, __u16 proto, __u8 ip_ttl)
{
	struct ff_nexthop *nh;
	struct ff_l2_out o;
	__u32 n = fec->nlabels;

	if (n == 0 || n > FF_MAX_LABELS)
		return ff_drop(FF_DROP_NO_ROUTE, s->len);
	if (!s->pipe && ip_ttl == 0)
		return ff_drop(FF_DROP_TTL_EXPIRED, s->len);
	nh = core_nexthop(ctx, fec->nh_group);
	if (!nh)
		return ff_drop(FF_DROP_NO_NEXTHOP, s->len);
	l2_out_nexthop(&o, nh, ETH_P_MPLS_UC);
	if (mtu_exceeded(s->len - s->keep_off + l2_out_len(&o) + n * FF_MPLS_HLEN, nh->mtu))
		return ff_drop(FF_DROP_MTU_EXCEEDED, s->len);
	return emit(ctx, s->keep_off, &o, fec->label, n, fec->tc, 1, s->pipe ? 255 : ip_ttl,
		    s->len, nh->ifindex);
}

/* The IP TTL or hop limit of a validated header. */
static __always_inline __u8 ip_ttl_of(void *ip, __u16 proto, void *data_end)
{
	if (proto == ETH_P_IP) {
		struct iphdr *ip4 = ip;

		return (void *)(ip4 + 1) <= data_end ? ip4->ttl : 0;
	} else {
		struct ipv6hdr *ip6 = ip;

		return (void *)(ip6 + 1) <= data_end ? ip6->hop_limit : 0;
	}
}

static __always_inline int core_swap(struct xdp_md *ctx, const struct core_state *s)
{
	const struct ff_ilm *e = s->ilm;
	struct ff_nexthop *nh;
	struct ff_l2_out o;
	__u32 n = e->nlabels, out_len;

	if (n == 0 || n > FF_MAX_LABELS)
		return ff_drop(FF_DROP_UNKNOWN_LABEL, s->len);
	nh = core_nexthop(ctx, e->nh_group);
	if (!nh)
		return ff_drop(FF_DROP_NO_NEXTHOP, s->len);
	l2_out_nexthop(&o, nh, ETH_P_MPLS_UC);
	out_len = s->len - s->keep_off + l2_out_len(&o) + n * FF_MPLS_HLEN;
	if (mtu_exceeded(out_len, nh->mtu))
		return core_icmp(ctx, s, FF_DROP_MTU_EXCEEDED, nh->mtu, out_len);
	count_transit(s);
	return emit(ctx, s->keep_off, &o, e->label, n, e->tc, s->bos, s->ttl, s->len, nh->ifindex);
}

/* PHP: remove the top entry; what is below goes on unchanged (but for TTL). */
static __always_inline int core_pop_forward(struct xdp_md *ctx, const struct core_state *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_nexthop *nh;
	struct ff_l2_out o;
	int proto = ETH_P_MPLS_UC;
	__u32 out_len;

	if (s->bos) {
		void *ip;

		proto = last_pop(data, data_end, s, &ip);
		if (proto < 0)
			return ff_drop(-proto - 1, s->len);
	} else {
		__u8 *below = data + s->keep_off;

		/* RFC 3032: S = 0 promises another entry. */
		if ((void *)(below + FF_MPLS_HLEN) > data_end)
			return ff_drop(FF_DROP_MALFORMED, s->len);
		if (!s->pipe)
			below[3] = s->ttl;
	}
	nh = core_nexthop(ctx, s->ilm->nh_group);
	if (!nh)
		return ff_drop(FF_DROP_NO_NEXTHOP, s->len);
	l2_out_nexthop(&o, nh, proto);
	out_len = s->len - s->keep_off + l2_out_len(&o);
	if (mtu_exceeded(out_len, nh->mtu))
		return core_icmp(ctx, s, FF_DROP_MTU_EXCEEDED, nh->mtu, out_len);
	count_transit(s);
	return emit(ctx, s->keep_off, &o, NULL, 0, 0, 0, 0, s->len, nh->ifindex);
}

/* Tailend upstream: pop the bottom label and hand the IP packet to the ISP's link. */
static __always_inline int core_pop_to_isp(struct xdp_md *ctx, const struct core_state *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_nexthop *nh;
	struct ff_l2_out o;
	__u32 out_len;
	void *ip;
	int proto;

	if (!s->bos)
		return ff_drop(FF_DROP_MALFORMED, s->len);
	proto = last_pop(data, data_end, s, &ip);
	if (proto == -FF_DROP_TTL_EXPIRED - 1)
		return core_icmp(ctx, s, FF_DROP_TTL_EXPIRED, 0, 0);
	if (proto < 0)
		return ff_drop(-proto - 1, s->len);
	/* an ICMP error for one of the ISP's end-users, sent along the LSP: return it */
	if (ff_is_icmp_error(ip, proto, data_end)) {
		struct ff_fec *back;

		if (proto == ETH_P_IP) {
			struct iphdr *ip4 = ip;

			if ((void *)(ip4 + 1) > data_end)
				return ff_drop(FF_DROP_MALFORMED, s->len);
			back = ff_scoped_prefix_v4(&isp_route_v4_exact, &isp_route_v4, &s->st,
						   FF_PT_ISP_ROUTE_V4, s->ilm->isp, &ip4->daddr);
		} else {
			struct ipv6hdr *ip6 = ip;

			if ((void *)(ip6 + 1) > data_end)
				return ff_drop(FF_DROP_MALFORMED, s->len);
			back = ff_scoped_prefix_v6(&isp_route_v6_exact, &isp_route_v6, &s->st,
						   FF_PT_ISP_ROUTE_V6, s->ilm->isp, &ip6->daddr);
		}
		if (back)
			return core_return(ctx, s, back, proto, ip_ttl_of(ip, proto, data_end));
	}
	nh = core_nexthop(ctx, s->ilm->nh_group);
	if (!nh)
		return ff_drop(FF_DROP_NO_NEXTHOP, s->len);
	l2_out_nexthop(&o, nh, proto);
	out_len = s->len - s->keep_off + l2_out_len(&o);
	if (mtu_exceeded(out_len, nh->mtu))
		return core_icmp(ctx, s, FF_DROP_MTU_EXCEEDED, nh->mtu, out_len);
	ff_count_isp(s->ilm->isp, FF_DIR_UP, FF_POINT_OUT, s->len - s->keep_off);
	return emit(ctx, s->keep_off, &o, NULL, 0, 0, 0, 0, s->len, nh->ifindex);
}

/* Headend downstream: pop the bottom label and deliver to the subscriber, tags restored. */
static __always_inline int core_pop_to_sub(struct xdp_md *ctx, const struct core_state *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ff_sub_route *r;
	struct ff_l2_out o;
	__u32 isp = s->ilm->isp, out_len;
	void *ip;
	int proto;

	if (!s->bos)
		return ff_drop(FF_DROP_MALFORMED, s->len);
	proto = last_pop(data, data_end, s, &ip);
	if (proto == -FF_DROP_TTL_EXPIRED - 1)
		return core_icmp(ctx, s, FF_DROP_TTL_EXPIRED, 0, 0);
	if (proto < 0)
		return ff_drop(-proto - 1, s->len);
	if (proto == ETH_P_IP) {
		struct iphdr *ip4 = ip;

		if ((void *)(ip4 + 1) > data_end)
			return ff_drop(FF_DROP_MALFORMED, s->len);
		r = ff_scoped_prefix_v4(&down_v4_exact, &down_v4, &s->st, FF_PT_DOWN_V4, isp,
					&ip4->daddr);
	} else {
		struct ipv6hdr *ip6 = ip;

		if ((void *)(ip6 + 1) > data_end)
			return ff_drop(FF_DROP_MALFORMED, s->len);
		r = ff_scoped_prefix_v6(&down_v6_exact, &down_v6, &s->st, FF_PT_DOWN_V6, isp,
					&ip6->daddr);
	}
	if (!r) {
		/* an ICMP error for one of the ISP's hosts, sent along the LSP: return it */
		if (ff_is_icmp_error(ip, proto, data_end)) {
			struct ff_fec *back = bpf_map_lookup_elem(&fec_up, &isp);

			if (back)
				return core_return(ctx, s, back, proto, ip_ttl_of(ip, proto, data_end));
		}
		return ff_drop(FF_DROP_NO_ROUTE, s->len);
	}
	o.dmac = r->dmac;
	o.smac = r->smac;
	o.outer_tpid = r->outer_tpid ? r->outer_tpid : ETH_P_8021Q;
	o.outer_vid = r->outer_vid;
	o.inner_vid = r->inner_vid;
	o.ethertype = proto;
	out_len = s->len - s->keep_off + l2_out_len(&o);
	if (mtu_exceeded(out_len, r->mtu))
		return core_icmp(ctx, s, FF_DROP_MTU_EXCEEDED, r->mtu, out_len);
	if (!ff_police_sub(r->meter, FF_DIR_DOWN, s->len - s->keep_off))
		return ff_drop(FF_DROP_SUB_POLICED, s->len);
	ff_count_isp(isp, FF_DIR_DOWN, FF_POINT_OUT, s->len - s->keep_off);
	ff_meter(r->meter, FF_DIR_DOWN, ip, proto, data_end);
	return emit(ctx, s->keep_off, &o, NULL, 0, 0, 0, 0, s->len, r->ifindex);
}

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct core_state s = { .len = data_end - data };
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	__u32 entry, label;
	int i;

	settings_read(&s.st);
	s.pipe = s.st.ttl_mode == FF_TTL_PIPE;

	if (parse_ethhdr(&nh, data_end, &eth) < 0)
		return ff_drop(FF_DROP_MALFORMED, s.len);
	if (eth->h_proto != bpf_htons(ETH_P_MPLS_UC))
		return XDP_PASS;

	/* Walk the stack: at most FF_MAX_LABELS lookups; explicit null and POP_CONTINUE go
	 * on to the entry below, any other ILM action decides. */
	for (i = 0; i < FF_MAX_LABELS; i++) {
		if (parse_mpls(&nh, data_end, &entry) < 0)
			return ff_drop(FF_DROP_MALFORMED, s.len);
		label = mpls_label(entry);
		if (label == FF_LABEL_ROUTER_ALERT)
			return XDP_PASS;
		if (label > FF_MAX_RESERVED_LABEL) {
			s.ilm = bpf_map_lookup_elem(&ilm, &label);
			if (!s.ilm)
				return ff_drop(FF_DROP_UNKNOWN_LABEL, s.len);
		} else if (label == FF_LABEL_IPV4_EXPLICIT_NULL ||
			   label == FF_LABEL_IPV6_EXPLICIT_NULL) {
			s.ilm = NULL;
		} else {
			return ff_drop(FF_DROP_UNKNOWN_LABEL, s.len);
		}
		/* RFC 3443: uniform decrements once per router; pipe treats every exposed
		 * entry as newly received. */
		if (i == 0 || s.pipe) {
			if (mpls_ttl(entry) <= 1) {
				/* answered where a label decides where the frame goes */
				if (!s.ilm || s.ilm->action == FF_ILM_POP_CONTINUE)
					return ff_drop(FF_DROP_TTL_EXPIRED, s.len);
				s.bos = mpls_bos(entry);
				s.keep_off = FF_ETH_HLEN + (i + 1) * FF_MPLS_HLEN;
				return core_icmp(ctx, &s, FF_DROP_TTL_EXPIRED, 0, 0);
			}
			s.ttl = mpls_ttl(entry) - 1;
		}
		if (s.ilm)
			ff_count_label(label, s.len);
		s.bos = mpls_bos(entry);
		s.keep_off = FF_ETH_HLEN + (i + 1) * FF_MPLS_HLEN;
		if (!s.ilm) {
			if (s.bos)
				return core_explicit_null(ctx, &s);
			continue;
		}
		if (s.ilm->action != FF_ILM_POP_CONTINUE)
			break;
		if (s.bos)
			return ff_drop(FF_DROP_MALFORMED, s.len);
	}
	if (i == FF_MAX_LABELS)
		return ff_drop(FF_DROP_STACK_TOO_DEEP, s.len);

	switch (s.ilm->action) {
	case FF_ILM_SWAP:
		return core_swap(ctx, &s);
	case FF_ILM_POP_FORWARD:
		return core_pop_forward(ctx, &s);
	case FF_ILM_POP_TO_ISP:
		return core_pop_to_isp(ctx, &s);
	case FF_ILM_POP_TO_SUB:
		return core_pop_to_sub(ctx, &s);
	default:
		return ff_drop(FF_DROP_UNKNOWN_LABEL, s.len);
	}
}
