// SPDX-License-Identifier: GPL-2.0
/* uprobe/uretprobe programs with typed arguments and a user-memory CO-RE read. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* libbpf before 1.2 (the oracle the tests compare with) has no BPF_UPROBE names. */
#ifndef BPF_UPROBE
#define BPF_UPROBE BPF_KPROBE
#define BPF_URETPROBE BPF_KRETPROBE
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} sbpf_hdr_uprobe_args SEC(".maps");

SEC("uprobe")
int BPF_UPROBE(on_call, struct timespec64 *ts, long count)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 value = count + BPF_CORE_READ_USER(ts, tv_nsec);

	bpf_map_update_elem(&sbpf_hdr_uprobe_args, &tid, &value, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(on_return, int rc)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *value = bpf_map_lookup_elem(&sbpf_hdr_uprobe_args, &tid);

	if (value)
		*value += rc;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
