// SPDX-License-Identifier: GPL-2.0
/* The rest of the surface, compiled and loaded: tail calls with a constant slot, map-in-map and
 * prog-array definitions with __array, map_extra, __ksym/__weak externs with
 * bpf_ksym_exists, bpf_core_cast, type ids and type_matches, container_of, __arg_ctx, __kptr,
 * BPF_SEQ_PRINTF in an iterator. Only SwiftBPF's headers (libbpf 1.1 lacks several of these). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sbpf_hdr_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} sbpf_hdr_outer SEC(".maps") = {
	.values = { [0] = &sbpf_hdr_inner },
};

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
	__uint(map_extra, 3);
} sbpf_hdr_bloom SEC(".maps");

struct task_holder {
	struct task_struct __kptr *task;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct task_holder);
} sbpf_hdr_kptrs SEC(".maps");

int tail_target(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (void *));
} sbpf_hdr_jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

extern int sbpf_hdr_no_such_kfunc(void) __ksym __weak;

struct list_node_holder {
	int value;
	struct list_head link;
};

__u64 results[8] = {};

static __noinline int count_arg(void *ctx __arg_ctx)
{
	return ctx != NULL;
}

SEC("tc")
int tail_target(void *ctx)
{
	results[0] = 42;
	return 1;
}

SEC("tc")
int features(struct __sk_buff *skb)
{
	struct task_struct *task = bpf_core_cast((void *)bpf_get_current_task(), struct task_struct);
	struct list_node_holder holder = {};
	struct list_node_holder *back = container_of(&holder.link, struct list_node_holder, link);

	results[1] = bpf_ksym_exists(bpf_rdonly_cast);
	results[2] = bpf_ksym_exists(sbpf_hdr_no_such_kfunc);
	results[3] = task->pid != 0;
	results[4] = bpf_core_type_id_kernel(struct task_struct) != 0 && bpf_core_type_id_local(struct task_struct) != 0;
	results[5] = bpf_core_type_matches(struct list_head);
	results[6] = back == &holder;
	results[7] = count_arg(skb) + KERNEL_VERSION(6, 1, 300) - KERNEL_VERSION(6, 1, 255);
	if (likely(skb->len > 0))
		bpf_tail_call_static(skb, &sbpf_hdr_jumps, 1);
	return 0;
}

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d %s\n", task->pid, task->comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
