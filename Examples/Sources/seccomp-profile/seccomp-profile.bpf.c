// seccomp-profile (chapter 9's OCI seccomp hook): record which system calls a set of
// processes makes. `traced` holds the processes (by tgid): Swift puts the command's pid in
// before it runs, and every process it forks is added here. `syscalls` marks each syscall
// number seen.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_SYSCALL_NR 1024

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);   /* tgid */
	__type(value, __u8);
} traced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL_NR);
	__type(key, __u32);   /* syscall number */
	__type(value, __u64); /* calls */
} syscalls SEC(".maps");

SEC("tp/raw_syscalls/sys_enter")
int on_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_lookup_elem(&traced, &tgid))
		return 0;
	__u32 nr = ctx->id;
	__u64 *calls = bpf_map_lookup_elem(&syscalls, &nr);
	if (calls)
		__sync_fetch_and_add(calls, 1);
	return 0;
}

/* Children of a traced process are traced too (threads share the tgid already). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	if (!bpf_map_lookup_elem(&traced, &parent_tgid))
		return 0;
	__u32 child_tgid = child->tgid;
	__u8 yes = 1;
	bpf_map_update_elem(&traced, &child_tgid, &yes, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
