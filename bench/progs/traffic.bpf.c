// SPDX-License-Identifier: MIT
/*
 * The end-to-end benchmark's traffic generator and sink.
 *
 *   xdp_gen   run with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES: every run writes the
 *             template's first GEN_HDR bytes over the frame (recycled pages keep whatever the
 *             routers left in them, so the whole header is rewritten each time), sets the IPv4
 *             source to the next of nflows subscriber addresses, fixes the header checksum and
 *             redirects the frame into the veth towards the headend.
 *   xdp_sink  on the ISP host: counts packets and bytes per CPU and drops.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GEN_HDR 64 /* bytes of template written per frame; frames are at least this long */

struct gen_cfg {
	__u32 ifindex;   /* egress port, a key of gen_port */
	__u32 nflows;    /* source addresses cycled through, >= 1 */
	__u32 src_base;  /* first source address, host order */
	__u32 src_step;  /* distance between consecutive source addresses */
	__u8 hdr[GEN_HDR];
};

struct gen_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} gen_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gen_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} gen_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_count);
} sink_count SEC(".maps");

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct gen_cfg *cfg;
	struct iphdr *ip;
	__u32 zero = 0, *seq, src, sum = 0;
	__u16 *w;
	int i;

	if (data + GEN_HDR > data_end)
		return XDP_ABORTED;
	cfg = bpf_map_lookup_elem(&gen_cfg, &zero);
	seq = bpf_map_lookup_elem(&gen_seq, &zero);
	if (!cfg || !seq || cfg->nflows == 0)
		return XDP_ABORTED;
	__builtin_memcpy(data, cfg->hdr, GEN_HDR);

	ip = data + sizeof(struct ethhdr);
	src = cfg->src_base + (*seq % cfg->nflows) * cfg->src_step;
	*seq += 1;
	ip->saddr = bpf_htonl(src);
	ip->check = 0;
	w = (__u16 *)ip;
#pragma unroll
	for (i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum & 0xffff;
	return bpf_redirect_map(&gen_port, cfg->ifindex, XDP_DROP);
}

SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	struct gen_count *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&sink_count, &zero);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
