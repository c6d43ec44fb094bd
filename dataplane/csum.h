/* SPDX-License-Identifier: MIT */
/*
 * Incremental IPv4 header checksum update (RFC 1624, eqn. 3): only the 16-bit word holding
 * TTL and protocol changes, so the checksum is patched rather than recomputed.
 */
#ifndef FECFLOW_CSUM_H
#define FECFLOW_CSUM_H

#include <linux/types.h>
#include <linux/ip.h>

/* HC' = ~(~HC + ~m + m'). Both words are read from the packet as stored, so byte order
 * cancels out of the one's complement sum. */
static __always_inline __u16 ff_csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u32)(__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline void ff_ipv4_set_ttl(struct iphdr *iph, __u8 ttl)
{
	__u16 *word = (__u16 *)&iph->ttl; /* ttl | protocol */
	__u16 old = *word;

	iph->ttl = ttl;
	iph->check = ff_csum_replace2(iph->check, old, *word);
}

#endif /* FECFLOW_CSUM_H */
