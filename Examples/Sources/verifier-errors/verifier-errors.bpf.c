// verifier-errors (chapter 6): each program below makes one classic mistake the verifier
// rejects. They compile (clang does not know the verifier's rules); Swift loads them one at
// a time and shows what SwiftBPF says about each: the verifier's message, the failing
// instruction and this file's source line.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct message {
	char text[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct message);
} messages SEC(".maps");

/* 1. A helper this program type may not call: bpf_skb_load_bytes is for programs that
 *    see a socket buffer (TC, socket filters), not XDP's raw frames. */
SEC("xdp")
int unknown_helper(struct xdp_md *ctx)
{
	__u8 first[4];
	bpf_skb_load_bytes(ctx, 0, first, sizeof(first));
	return first[0] == 0xff ? XDP_DROP : XDP_PASS;
}

/* 2. A GPL-only helper (bpf_trace_printk) from a program Swift loads under a non-GPL
 *    license. */
SEC("xdp")
int gpl_only_helper(struct xdp_md *ctx)
{
	bpf_printk("Hello World");
	return XDP_PASS;
}

/* 3. The map value pointer may be NULL (no entry for the key) and is used unchecked. */
SEC("xdp")
int unchecked_map_value(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct message *value = bpf_map_lookup_elem(&messages, &key);
	return value->text[0] == 'x' ? XDP_DROP : XDP_PASS;
}

/* 4. An index the verifier cannot bound within the value: 12 bytes, index up to 15. */
SEC("xdp")
int out_of_bounds(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct message *value = bpf_map_lookup_elem(&messages, &key);
	if (!value)
		return XDP_PASS;
	__u32 index = bpf_get_prandom_u32() & 15;
	return value->text[index] == 'x' ? XDP_DROP : XDP_PASS;
}

/* 5. Exits without setting R0, the return value (the book removes the return statement;
 *    the assembly says the same without undefined behaviour in C). */
SEC("xdp")
__attribute__((naked)) int missing_return_value(void)
{
	asm volatile("exit");
}

/* 6. A loop the verifier cannot prove ends: nothing changes between iterations. */
SEC("xdp")
int unbounded_loop(struct xdp_md *ctx)
{
	volatile __u32 stop = 0;
	while (!stop)
		;
	return XDP_PASS;
}

/* 7. Reads the Ethernet header without first checking it lies before data_end. */
SEC("xdp")
int packet_past_data_end(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	return eth->h_proto == 0 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
