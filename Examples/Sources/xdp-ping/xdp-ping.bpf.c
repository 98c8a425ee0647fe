// xdp-ping: chapter 8's ping(). Walk Ethernet -> IPv4 -> ICMP with an explicit bounds check
// before every header (the verifier refuses a packet read it cannot prove is inside
// [data, data_end)), print "Hello ping" for each ICMP packet, and drop them on request.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* include/uapi/linux/if_ether.h and icmp.h: macros, so not in vmlinux.h. */
#define ETH_P_IP	0x0800
#define ICMP_ECHOREPLY	0
#define ICMP_ECHO	8

/* Set from Swift before load: return XDP_DROP instead of XDP_PASS for ICMP. */
const volatile bool drop_icmp = false;

/* The IPv4 protocol number of the packet, or 0 if it is not a complete IPv4 header. */
static __always_inline int lookup_protocol(struct xdp_md *ctx, struct iphdr **ip_out)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return 0;
	*ip_out = iph;
	return iph->protocol;
}

SEC("xdp")
int ping(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = 0;
	if (lookup_protocol(ctx, &iph) != IPPROTO_ICMP)
		return XDP_PASS;

	/* The ICMP header follows the IP header, whose length is ihl 32-bit words. */
	struct icmphdr *icmp = (void *)iph + iph->ihl * 4;
	if (iph->ihl < 5 || (void *)(icmp + 1) > data_end)
		bpf_printk("Hello ping");
	else if (icmp->type == ICMP_ECHO)
		bpf_printk("Hello ping: echo request id %d seq %d", bpf_ntohs(icmp->un.echo.id), bpf_ntohs(icmp->un.echo.sequence));
	else if (icmp->type == ICMP_ECHOREPLY)
		bpf_printk("Hello ping: echo reply id %d seq %d", bpf_ntohs(icmp->un.echo.id), bpf_ntohs(icmp->un.echo.sequence));
	else
		bpf_printk("Hello ping: ICMP type %d", icmp->type);
	return drop_icmp ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
