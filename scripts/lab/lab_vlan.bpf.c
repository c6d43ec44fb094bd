// A VLAN sub-interface made of two tc programs, for kernels built without 802.1Q support
// (CONFIG_VLAN_8021Q, as here): on egress every frame the kernel sends gets the end-user's two
// tags (802.1Q inner, 802.1ad outer), on ingress frames carrying exactly those tags lose them.
// The lab runs it on the VLAN end-user's host and on the headend's access port towards it, so
// both kernels talk IP (ARP, ND, ping) over the double-tagged link while the XDP programs see
// the tags in the frame. OUTER_VID and INNER_VID are given at compile time (-D).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef OUTER_VID
#error "compile with -DOUTER_VID=<id> -DINNER_VID=<id>"
#endif

#define ETH_P_8021AD_ 0x88A8
#define ETH_P_8021Q_ 0x8100

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

SEC("tc")
int lab_vlan_egress(struct __sk_buff *skb)
{
	/* inner first: the second push moves it from metadata into the frame */
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q_), INNER_VID))
		return TC_ACT_SHOT;
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021AD_), OUTER_VID))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int lab_vlan_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct vlan_tag *inner = (void *)(eth + 1);

	/* the receive path has already moved the outer tag into skb metadata */
	if (!skb->vlan_present || skb->vlan_proto != bpf_htons(ETH_P_8021AD_) || (skb->vlan_tci & 0xfff) != OUTER_VID)
		return TC_ACT_OK;
	if ((void *)(inner + 1) > end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_8021Q_) || (bpf_ntohs(inner->tci) & 0xfff) != INNER_VID)
		return TC_ACT_OK;
	bpf_skb_vlan_pop(skb); /* the outer tag, from metadata; the inner one moves there */
	bpf_skb_vlan_pop(skb); /* the inner tag */
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
