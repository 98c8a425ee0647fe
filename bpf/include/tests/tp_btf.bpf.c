// SPDX-License-Identifier: GPL-2.0
/* tp_btf program with BPF_PROG: typed arguments, direct BTF-pointer reads, a direct bitfield
 * read and bpf_core_field_size/offset. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sbpf_hdr_btf_stats SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 key = 0;
	__u64 *slot = bpf_map_lookup_elem(&sbpf_hdr_btf_stats, &key);
	__u64 iowait = BPF_CORE_READ_BITFIELD(prev, in_iowait);
	int sum = 1;

	if (slot)
		__sync_fetch_and_add(slot, (__u64)(prev->pid != next->pid) + iowait + sum +
					   bpf_core_field_size(prev->comm) + bpf_core_field_offset(struct task_struct, pid) * 0);
	if (preempt)
		bpf_printk("preempted %d", prev->pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
