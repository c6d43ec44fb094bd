// Programs that change the frame, for byte-exact BPF_PROG_TEST_RUN output checks.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

// Swaps the Ethernet source and destination addresses and bounces the frame (XDP_TX).
SEC("xdp")
int xdp_swap_macs(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

// Grows the frame by 4 bytes at the front and writes 0xdeadbeef there, then passes it.
SEC("xdp")
int xdp_push_marker(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_head(ctx, -4))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	unsigned char *p = data;

	if ((void *)(p + 4) > data_end)
		return XDP_ABORTED;
	p[0] = 0xde;
	p[1] = 0xad;
	p[2] = 0xbe;
	p[3] = 0xef;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
