/* SPDX-License-Identifier: MIT */
/*
 * Counter updates. All counter maps are per-CPU, so a plain add is race-free; user space
 * sums the CPUs at scrape time.
 */
#ifndef FECFLOW_COUNTERS_H
#define FECFLOW_COUNTERS_H

#include "maps.h"

static __always_inline void ff_count(struct ff_counter *c, __u64 bytes)
{
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Every XDP_DROP goes through here: a drop is never silent. len is the frame as received. */
static __always_inline int ff_drop(__u32 reason, __u64 len)
{
	ff_count(bpf_map_lookup_elem(&drop_stats, &reason), len);
	return XDP_DROP;
}

static __always_inline void ff_count_isp(__u32 isp, __u32 dir, __u32 point, __u64 ip_len)
{
	__u32 idx = (isp * FF_DIR_MAX + dir) * FF_POINT_MAX + point;

	/* An ISP index out of range finds no entry and is not counted. */
	ff_count(bpf_map_lookup_elem(&isp_stats, &idx), ip_len);
}

/* The control plane creates one entry per ILM label; a missing entry is skipped. */
static __always_inline void ff_count_label(__u32 label, __u64 len)
{
	ff_count(bpf_map_lookup_elem(&label_stats, &label), len);
}

#endif /* FECFLOW_COUNTERS_H */
