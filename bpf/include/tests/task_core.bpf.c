// SPDX-License-Identifier: GPL-2.0
/* Tracepoint program in libbpf style: CO-RE pointer chains on struct task_struct, a ring buffer
 * of events, a hash map, a .rodata filter and a .bss counter, bpf_printk both ways, and the
 * field/type/enum queries. Compiled against both SwiftBPF's and libbpf's headers by the tests. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 parent_tgid_via_chain;
	__u64 reset_on_fork;
	__s64 pid_type_tgid;
	__u32 task_size;
	__u8 has_cgroup_type;
	__u8 has_pid_field;
	char comm[TASK_COMM_LEN];
	char exe[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sbpf_hdr_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_NONE);
} sbpf_hdr_switches SEC(".maps");

const volatile __u32 target_tgid = 0;
__u64 switch_count = 0;

SEC("tracepoint/sched/sched_switch")
int on_sched_switch(struct trace_event_raw_sched_switch *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *count;
	struct exec_event *event;

	if (target_tgid && tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&switch_count, 1);

	count = bpf_map_lookup_elem(&sbpf_hdr_switches, &tgid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&sbpf_hdr_switches, &tgid, &one, BPF_NOEXIST);

	event = bpf_ringbuf_reserve(&sbpf_hdr_events, sizeof(*event), 0);
	if (!event)
		return 0;
	event->pid = BPF_CORE_READ(task, pid);
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_INTO(&event->parent_tgid_via_chain, task, real_parent, group_leader, tgid);
	BPF_CORE_READ_STR_INTO(&event->comm, task, comm);
	BPF_CORE_READ_STR_INTO(&event->exe, task, mm, exe_file, f_path.dentry, d_name.name);
	event->reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork);
	event->pid_type_tgid = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID)
		? bpf_core_enum_value(enum pid_type, PIDTYPE_TGID) : -1;
	event->task_size = bpf_core_type_size(struct task_struct);
	event->has_cgroup_type = bpf_core_type_exists(struct cgroup);
	event->has_pid_field = bpf_core_field_exists(task->pid) && bpf_core_field_exists(struct task_struct, tgid);
	bpf_ringbuf_submit(event, 0);

	bpf_printk("switch %d -> %d", ctx->prev_pid, ctx->next_pid);
	bpf_printk("switch %s(%d) prio %d -> %s(%d)", ctx->prev_comm, ctx->prev_pid, ctx->prev_prio,
		   ctx->next_comm, ctx->next_pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
