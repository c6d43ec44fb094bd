/* SPDX-License-Identifier: MIT */
/*
 * Per-ISP, per-direction token bucket (FORWARDING.md, "Policer"). The bucket is shared by
 * all CPUs, so it is updated under the entry's bpf_spin_lock; helpers cannot be called
 * while holding it, so the clock is read first.
 */
#ifndef FECFLOW_POLICER_H
#define FECFLOW_POLICER_H

#include <bpf/bpf_helpers.h>
#include "maps.h"

#define FF_NSEC_PER_SEC 1000000000ull

/* Returns 1 if the frame of len bytes conforms (or the ISP has no policer), 0 if not. */
static __always_inline int ff_police(__u32 isp, __u32 dir, __u64 len)
{
	__u32 idx = isp * FF_DIR_MAX + dir;
	struct ff_policer *p;
	__u64 now, last, elapsed, add, tokens, rate;
	int ok;

	p = bpf_map_lookup_elem(&policer, &idx);
	if (!p || !p->rate)
		return 1;
	now = bpf_ktime_get_ns();

	bpf_spin_lock(&p->lock);
	rate = p->rate;
	last = p->last_ns;
	/* Another CPU may have stamped a later clock reading than ours. */
	elapsed = now > last ? now - last : 0;
	if (elapsed > FF_NSEC_PER_SEC) {
		elapsed = FF_NSEC_PER_SEC;
		last = now - FF_NSEC_PER_SEC;
	}
	add = rate ? elapsed * rate / FF_NSEC_PER_SEC : 0;
	tokens = p->tokens + add;
	if (tokens >= p->burst) {
		tokens = p->burst;
		last = now > last ? now : last;
	} else if (add) {
		/* Advance the clock only by the time the credited whole bytes took, so that
		 * frequent small refills do not round the rate down to nothing. */
		last += add * FF_NSEC_PER_SEC / rate;
	}
	ok = tokens >= len;
	if (ok)
		tokens -= len;
	p->tokens = tokens;
	p->last_ns = last;
	bpf_spin_unlock(&p->lock);
	return ok;
}

#endif /* FECFLOW_POLICER_H */
