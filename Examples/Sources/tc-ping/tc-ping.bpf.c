// tc-ping: chapter 8's TC programs on an interface's ingress. `tc_drop_ping` drops ICMP echo
// requests, printing "[tc] ICMP request for <daddr> type <type>"; `tc_pingpong` answers them
// itself: it turns the request into a reply in place (MACs and IPs swapped, type 8 -> 0,
// checksum fixed), sends a copy back out of the interface it came in on, and drops the original
// so the kernel's own ICMP never sees it.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Macros of include/uapi/linux/{if_ether,icmp,pkt_cls}.h, so not in vmlinux.h. */
#define ETH_P_IP	0x0800
#define ETH_ALEN	6
#define ICMP_ECHOREPLY	0
#define ICMP_ECHO	8
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

/* The ICMP header of an IPv4 packet without options, or NULL. Options would move it; the
 * classic example (and ping) never sends them. */
static __always_inline struct icmphdr *icmp_header(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	struct iphdr *iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->protocol != IPPROTO_ICMP || iph->ihl != 5)
		return NULL;
	struct icmphdr *icmp = (void *)(iph + 1);
	if ((void *)(icmp + 1) > data_end)
		return NULL;
	return icmp;
}

SEC("tc")
int tc_drop_ping(struct __sk_buff *skb)
{
	struct icmphdr *icmp = icmp_header(skb);
	if (!icmp || icmp->type != ICMP_ECHO)
		return TC_ACT_OK;
	struct iphdr *iph = (void *)icmp - sizeof(struct iphdr);
	/* daddr as the original prints it: the network-order word in hex. */
	bpf_printk("[tc] ICMP request for %x type %x", iph->daddr, icmp->type);
	return TC_ACT_SHOT;
}

SEC("tc")
int tc_pingpong(struct __sk_buff *skb)
{
	struct icmphdr *icmp = icmp_header(skb);
	if (!icmp || icmp->type != ICMP_ECHO)
		return TC_ACT_OK;
	struct iphdr *iph = (void *)icmp - sizeof(struct iphdr);
	struct ethhdr *eth = (void *)iph - sizeof(struct ethhdr);
	bpf_printk("[tc] ICMP request for %x type %x", iph->daddr, icmp->type);

	/* Back to where it came from: swap the MAC and IP addresses. Swapping the two address
	 * words leaves the IP header checksum unchanged (a one's-complement sum is order-free). */
	__u8 mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	__be32 address = iph->saddr;
	iph->saddr = iph->daddr;
	iph->daddr = address;

	/* Echo request -> echo reply. The type shares a 16-bit checksum word with the code, so
	 * the checksum changes by that word's old and new values (RFC 1624 incremental update). */
	__u16 old_word = *(__u16 *)icmp;
	icmp->type = ICMP_ECHOREPLY;
	__u16 new_word = *(__u16 *)icmp;
	__u32 checksum_offset = sizeof(struct ethhdr) + sizeof(struct iphdr) + __builtin_offsetof(struct icmphdr, checksum);
	bpf_l4_csum_replace(skb, checksum_offset, old_word, new_word, sizeof(__u16));
	bpf_printk("[tc] ICMP reply sent back out of ifindex %d", skb->ifindex);

	/* A copy goes out (egress) of the interface the request arrived on; the original dies. */
	bpf_clone_redirect(skb, skb->ifindex, 0);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
