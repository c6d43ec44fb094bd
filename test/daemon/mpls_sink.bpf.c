// The far end of the daemon tests' core link: counts MPLS frames per top label and drops
// them (a veth only receives redirected frames when its peer has an XDP program). Anything
// else goes to the kernel.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* frames per top label, for labels below 1023; slot 1023 counts every other label */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} mpls_count SEC(".maps");

SEC("xdp")
int xdp_mpls_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 *lse = data + sizeof(*eth);

	if ((void *)(lse + 1) > end || eth->h_proto != bpf_htons(0x8847))
		return XDP_PASS;
	__u32 label = bpf_ntohl(*lse) >> 12;
	if (label > 1023)
		label = 1023;
	__u64 *c = bpf_map_lookup_elem(&mpls_count, &label);
	if (c)
		(*c)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
