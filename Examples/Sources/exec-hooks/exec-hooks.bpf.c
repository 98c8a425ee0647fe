// swiftbpf:event-type event
// exec-hooks (chapter 7): six programs that all see execve, each from a different kind of
// hook, reporting through one ring buffer which hook saw which exec. The tracepoint, raw
// tracepoint and BTF tracepoint work everywhere; the ksyscall/kprobe need CONFIG_KPROBES and
// fentry needs BPF trampolines, so Swift loads those three only on request.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* Which program produced an event; Swift prints the section name for each. */
enum exec_hook {
	HOOK_TP_SYS_ENTER_EXECVE = 0,
	HOOK_RAW_TP_SCHED_PROCESS_EXEC = 1,
	HOOK_TP_BTF_SCHED_PROCESS_EXEC = 2,
	HOOK_KSYSCALL_EXECVE = 3,
	HOOK_KPROBE_DO_EXECVE = 4,
	HOOK_FENTRY_DO_EXECVE = 5,
};

struct event {
	__u32 pid;
	__u32 hook;
	char comm[16];
	char filename[128];
};
struct event event_layout; /* puts the event struct into BTF for the skeleton */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline struct event *start_event(enum exec_hook hook)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->hook = hook;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* The tracepoint's record, written out by hand from
 * /sys/kernel/tracing/events/syscalls/sys_enter_execve/format: 8 bytes of common fields,
 * the syscall number (padded to 8), then filename, argv, envp as 8-byte values. */
struct sys_enter_execve_ctx {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
	int syscall_nr;
	const char *filename_ptr;
	const char *const *argv;
	const char *const *envp;
};

SEC("tp/syscalls/sys_enter_execve")
int tp_sys_enter_execve(struct sys_enter_execve_ctx *ctx)
{
	struct event *e = start_event(HOOK_TP_SYS_ENTER_EXECVE);
	if (!e)
		return 0;
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename_ptr);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* raw tracepoint: the arguments of trace_sched_process_exec(p, old_pid, bprm) as u64s. */
SEC("raw_tp/sched_process_exec")
int raw_tp_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	struct event *e = start_event(HOOK_RAW_TP_SCHED_PROCESS_EXEC);
	if (!e)
		return 0;
	const char *filename = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* BTF tracepoint: the same arguments, typed; bprm can be dereferenced directly. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct event *e = start_event(HOOK_TP_BTF_SCHED_PROCESS_EXEC);
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Not loaded unless asked for (--kprobe): a kprobe on the syscall's entry function. */
SEC("ksyscall/execve")
int BPF_KSYSCALL(kprobe_sys_execve, const char *pathname)
{
	struct event *e = start_event(HOOK_KSYSCALL_EXECVE);
	if (!e)
		return 0;
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), pathname);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Not loaded unless asked for (--kprobe): a kprobe on the kernel function do_execve. */
SEC("kprobe/do_execve")
int BPF_KPROBE(kprobe_do_execve, struct filename *filename)
{
	struct event *e = start_event(HOOK_KPROBE_DO_EXECVE);
	if (!e)
		return 0;
	const char *name = BPF_CORE_READ(filename, name);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Not loaded unless asked for (--fentry): the BPF-trampoline equivalent of the kprobe. */
SEC("fentry/do_execve")
int BPF_PROG(fentry_execve, struct filename *filename)
{
	struct event *e = start_event(HOOK_FENTRY_DO_EXECVE);
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename->name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
