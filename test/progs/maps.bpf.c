// Maps of every kind the binding tests exercise, plus one trivial program so the object loads.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// A value with explicit padding, so a struct codec's offsets can be checked against BTF.
struct test_value {
	__u8 kind;
	__u8 pad[3];
	__u32 ifindex;
	__u64 bytes;
};

struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct test_value);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} array_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} lpm_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct counters);
} percpu_array_map SEC(".maps");

// A 4-byte per-CPU value: user space must lay it out in 8-byte slots, one per possible CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} percpu_hash_map SEC(".maps");

// A devmap has no batch operations: user space must fall back to one write per entry.
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} devmap_hash_map SEC(".maps");

SEC("xdp")
int xdp_touch_maps(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&array_map, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	if (bpf_map_lookup_elem(&hash_map, &k) || bpf_map_lookup_elem(&percpu_array_map, &k) ||
	    bpf_map_lookup_elem(&percpu_hash_map, &k))
		return XDP_PASS;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
