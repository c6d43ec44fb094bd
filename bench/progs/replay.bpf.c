// SPDX-License-Identifier: MIT
/*
 * Per-packet cost harness: lets BPF_PROG_TEST_RUN repeat a program over many different flows.
 *
 * With repeat > 1 the kernel runs a program again on the frame the previous run left behind,
 * and a forwarding program changes its frame (a label pushed or popped, MACs rewritten). So
 * xdp_replay runs first on every repetition: it puts the frame back to its original length
 * (bpf_xdp_adjust_head undoes the previous push or pop), writes the next flow's template over it,
 * and tail-calls the program under test (slot 0 of replay_target). Each repetition therefore
 * sees a fresh frame of a different flow, and table lookups walk the tables as real traffic
 * would. The cost of this harness is measured the same way by tail-calling the floor programs.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define REPLAY_WORDS 16 /* templates hold up to 128 bytes */
#define REPLAY_FLOWS 65536

struct replay_cfg {
	__u32 nflows; /* templates 0..nflows-1 are used in turn */
	__u32 len;    /* the frame length of every template (bytes, multiple of 8) */
};

struct replay_tmpl {
	__u64 w[REPLAY_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct replay_cfg);
} replay_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, REPLAY_FLOWS);
	__type(key, __u32);
	__type(value, struct replay_tmpl);
} replay_tmpl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} replay_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} replay_target SEC(".maps");

SEC("xdp")
int xdp_replay(struct xdp_md *ctx)
{
	struct replay_cfg *cfg;
	struct replay_tmpl *t;
	void *data, *data_end;
	__u32 zero = 0, *seq, idx;
	int i, cur;

	cfg = bpf_map_lookup_elem(&replay_cfg, &zero);
	seq = bpf_map_lookup_elem(&replay_seq, &zero);
	if (!cfg || !seq || cfg->nflows == 0)
		return XDP_ABORTED;
	idx = *seq;
	*seq = idx + 1 >= cfg->nflows ? 0 : idx + 1;
	t = bpf_map_lookup_elem(&replay_tmpl, &idx);
	if (!t)
		return XDP_ABORTED;

	/* data_end does not move with adjust_head: the original start is data_end - len. */
	cur = (int)(ctx->data_end - ctx->data);
	if (cur != (int)cfg->len && bpf_xdp_adjust_head(ctx, cur - (int)cfg->len))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
#pragma unroll
	for (i = 0; i < REPLAY_WORDS; i++) {
		if (i * 8 >= cfg->len || data + (i + 1) * 8 > data_end)
			break;
		((__u64 *)data)[i] = t->w[i];
	}
	bpf_tail_call(ctx, &replay_target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
