/* SPDX-License-Identifier: MIT */
/*
 * Longest-prefix match over a prefix table split in two maps (enum ff_prefix_table in
 * fecflow_shared.h): first the exact-match hash of the table's longest prefixes, then, on a
 * miss, the LPM trie of the shorter ones. The answer is the trie's answer over all of them,
 * because nothing in the trie is longer than what the hash holds; it costs one hash lookup
 * for the common case (every subscriber a /32, a /64, …) instead of a walk down a deep trie,
 * and the lookup of an empty map is left out (ff_settings.skip, exact_len).
 */
#ifndef FECFLOW_PREFIX_H
#define FECFLOW_PREFIX_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "fecflow_shared.h"

/* The first bits (0..32, more counts as 32) of a 32-bit word set, network order. */
static __always_inline __be32 ff_mask32(__u32 bits)
{
	if (bits > 32)
		bits = 32;
	return bpf_htonl((__u32)(0xffffffff00000000ull >> bits));
}

/* dst = the IPv6 address src with all but its first len bits cleared. */
static __always_inline void ff_mask_v6(__u8 *dst, const __u8 *src, __u32 len)
{
	__be32 w[4];
	int i;

	__builtin_memcpy(w, src, 16);
#pragma unroll
	for (i = 0; i < 4; i++)
		w[i] &= ff_mask32(len > 32 * i ? len - 32 * i : 0);
	__builtin_memcpy(dst, w, 16);
}

static __always_inline int ff_trie_skipped(const struct ff_settings *s, int table)
{
	return s->skip & FF_SKIP_TRIE(table);
}

/* addr points at 4 bytes already bounds-checked. */
static __always_inline void *ff_prefix_v4(void *exact, void *trie, const struct ff_settings *s,
					  int table, const void *addr)
{
	struct ff_lpm_v4_key k;
	__u32 len = s->exact_len[table];
	__be32 a;
	void *v;

	__builtin_memcpy(&a, addr, 4);
	if (len) {
		__be32 m = a & ff_mask32(len);

		k.prefixlen = len;
		__builtin_memcpy(k.addr, &m, 4);
		v = bpf_map_lookup_elem(exact, &k);
		if (v)
			return v;
	}
	if (ff_trie_skipped(s, table))
		return NULL;
	k.prefixlen = 32;
	__builtin_memcpy(k.addr, &a, 4);
	return bpf_map_lookup_elem(trie, &k);
}

/* addr points at 16 bytes already bounds-checked. */
static __always_inline void *ff_prefix_v6(void *exact, void *trie, const struct ff_settings *s,
					  int table, const void *addr)
{
	struct ff_lpm_v6_key k;
	__u32 len = s->exact_len[table];
	void *v;

	if (len) {
		k.prefixlen = len;
		ff_mask_v6(k.addr, addr, len);
		v = bpf_map_lookup_elem(exact, &k);
		if (v)
			return v;
	}
	if (ff_trie_skipped(s, table))
		return NULL;
	k.prefixlen = 128;
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(trie, &k);
}

/* The same, scoped by ISP (down_*, isp_route_*): the ISP is always matched in full. */
static __always_inline void *ff_scoped_prefix_v4(void *exact, void *trie,
						 const struct ff_settings *s, int table,
						 __u32 isp, const void *addr)
{
	struct ff_scoped_v4_key k = { .isp = isp };
	__u32 len = s->exact_len[table];
	__be32 a;
	void *v;

	__builtin_memcpy(&a, addr, 4);
	if (len) {
		__be32 m = a & ff_mask32(len);

		k.prefixlen = 32 + len;
		__builtin_memcpy(k.addr, &m, 4);
		v = bpf_map_lookup_elem(exact, &k);
		if (v)
			return v;
	}
	if (ff_trie_skipped(s, table))
		return NULL;
	k.prefixlen = 32 + 32;
	__builtin_memcpy(k.addr, &a, 4);
	return bpf_map_lookup_elem(trie, &k);
}

static __always_inline void *ff_scoped_prefix_v6(void *exact, void *trie,
						 const struct ff_settings *s, int table,
						 __u32 isp, const void *addr)
{
	struct ff_scoped_v6_key k = { .isp = isp };
	__u32 len = s->exact_len[table];
	void *v;

	if (len) {
		k.prefixlen = 32 + len;
		ff_mask_v6(k.addr, addr, len);
		v = bpf_map_lookup_elem(exact, &k);
		if (v)
			return v;
	}
	if (ff_trie_skipped(s, table))
		return NULL;
	k.prefixlen = 32 + 128;
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(trie, &k);
}

#endif /* FECFLOW_PREFIX_H */
