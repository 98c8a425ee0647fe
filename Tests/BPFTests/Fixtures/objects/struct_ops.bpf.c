/* A TCP congestion control written in BPF (struct tcp_congestion_ops through .struct_ops.link):
 * registered by the loader as "sbpf_ldr_cc" while its link is open. It counts how often the
 * kernel calls init (once per connection that uses it). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

long inits;

SEC("struct_ops/sbpf_init")
void BPF_PROG(sbpf_init, struct sock *sk)
{
	__sync_fetch_and_add(&inits, 1);
}

SEC("struct_ops/sbpf_ssthresh")
__u32 BPF_PROG(sbpf_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/sbpf_cong_avoid")
void BPF_PROG(sbpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/sbpf_undo_cwnd")
__u32 BPF_PROG(sbpf_undo_cwnd, struct sock *sk)
{
	return 10;
}

/* Not used by the table: libbpf leaves such programs unloaded, and so do we. */
SEC("struct_ops/sbpf_unused")
__u32 BPF_PROG(sbpf_unused, struct sock *sk)
{
	return 0;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops sbpf_ldr_cc = {
	.init = (void *)sbpf_init,
	.ssthresh = (void *)sbpf_ssthresh,
	.cong_avoid = (void *)sbpf_cong_avoid,
	.undo_cwnd = (void *)sbpf_undo_cwnd,
	.name = "sbpf_ldr_cc",
};
