// SPDX-License-Identifier: GPL-2.0
/* XDP packet classifier using bpf_endian.h: counts IPv4 packets per protocol, drops UDP to a
 * configured port. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define IPPROTO_UDP_NUMBER 17

const volatile __u16 drop_udp_port = 9;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} sbpf_hdr_proto_counts SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 proto;
	__u64 *count;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	proto = ip->protocol;
	count = bpf_map_lookup_elem(&sbpf_hdr_proto_counts, &proto);
	if (count)
		*count += 1;
	if (proto != IPPROTO_UDP_NUMBER || ip->ihl != 5 || bpf_ntohl(ip->daddr) >> 24 != 127)
		return XDP_PASS;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	return bpf_ntohs(udp->dest) == drop_udp_port ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
