/* SPDX-License-Identifier: MIT */
/*
 * Token buckets: per ISP and direction, and per subscriber and direction (FORWARDING.md,
 * "Policer"). The bucket is shared by
 * all CPUs, so it is updated under the entry's bpf_spin_lock; helpers cannot be called
 * while holding it, so the clock is read first.
 */
#ifndef FECFLOW_POLICER_H
#define FECFLOW_POLICER_H

#include <bpf/bpf_helpers.h>
#include "maps.h"

#define FF_NSEC_PER_SEC 1000000000ull

/*
 * Tokens earned in `elapsed` ns at `rate` bytes/s, exactly: floor((elapsed x rate + frac) / 1e9)
 * with the remainder carried in p->frac, so that neither frequent small refills nor huge rates
 * lose anything. elapsed x rate itself overflows 64 bits above ~147 Gbit/s for a one-second gap,
 * so it is split: elapsed = secs x 1e9 + sub and rate = q x 1e9 + r give
 *   secs x rate + q x sub + (r x sub + frac) / 1e9,
 * where r x sub + frac < 1e18 + 1e9, and secs x rate is only computed when it stays below the
 * room left in the bucket (otherwise the bucket is simply full). Every product then fits in
 * 64 bits for rates and bursts below 2^62, far above the schema's limits (2^53 bit/s, 2^53 B).
 */

/* Returns 1 if the frame of len bytes conforms to the bucket p (or p has no rate), 0 if not. */
static __always_inline int ff_police_bucket(struct ff_policer *p, __u64 len)
{
	__u64 now, elapsed, secs, sub, num, need, tokens, rate, burst;
	__u32 frac;
	int ok;

	if (!p || !p->rate)
		return 1;
	now = bpf_ktime_get_ns();

	bpf_spin_lock(&p->lock);
	rate = p->rate;
	burst = p->burst;
	tokens = p->tokens;
	frac = p->frac;
	/* Another CPU may have stamped a later clock reading than ours. */
	elapsed = now > p->last_ns ? now - p->last_ns : 0;
	if (now > p->last_ns)
		p->last_ns = now;
	need = burst > tokens ? burst - tokens : 0;
	secs = elapsed / FF_NSEC_PER_SEC;
	sub = elapsed % FF_NSEC_PER_SEC;
	if (rate == 0 || secs > need / rate) {
		/* the whole seconds alone fill the bucket: (need / rate + 1) x rate > need */
		tokens = burst;
		frac = 0;
	} else {
		num = (rate % FF_NSEC_PER_SEC) * sub + frac;
		tokens += secs * rate + (rate / FF_NSEC_PER_SEC) * sub + num / FF_NSEC_PER_SEC;
		frac = num % FF_NSEC_PER_SEC;
		if (tokens >= burst) {
			tokens = burst;
			frac = 0;
		}
	}
	ok = tokens >= len;
	if (ok)
		tokens -= len;
	p->tokens = tokens;
	p->frac = frac;
	bpf_spin_unlock(&p->lock);
	return ok;
}

/* Returns 1 if the frame of len bytes conforms (or the ISP has no policer), 0 if not. */
static __always_inline int ff_police(__u32 isp, __u32 dir, __u64 len)
{
	__u32 idx = isp * FF_DIR_MAX + dir;

	return ff_police_bucket(bpf_map_lookup_elem(&policer, &idx), len);
}

/* The subscriber's own bucket, when its meter word says it has one (1: conforms). */
static __always_inline int ff_police_sub(__u32 meter, __u32 dir, __u64 len)
{
	__u32 idx;

	if (!(meter & FF_METER_POLICED))
		return 1;
	idx = (meter & FF_METER_SLOT_MASK) * FF_DIR_MAX + dir;
	return ff_police_bucket(bpf_map_lookup_elem(&sub_policer, &idx), len);
}

#endif /* FECFLOW_POLICER_H */
