// Counting XDP programs for attach and traffic tests: each program adds to its own slot of a
// per-CPU array and passes the frame on, so a test can tell which program saw the traffic.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct counters);
} counter SEC(".maps");

static __always_inline int count(struct xdp_md *ctx, __u32 slot, int action)
{
	struct counters *c = bpf_map_lookup_elem(&counter, &slot);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

SEC("xdp")
int xdp_count_a(struct xdp_md *ctx)
{
	return count(ctx, 0, XDP_PASS);
}

SEC("xdp")
int xdp_count_b(struct xdp_md *ctx)
{
	return count(ctx, 1, XDP_PASS);
}

// Bounces the frame back out of the interface it came in on; with live frames this turns
// BPF_PROG_TEST_RUN into a traffic generator.
SEC("xdp")
int xdp_count_tx(struct xdp_md *ctx)
{
	return count(ctx, 2, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
