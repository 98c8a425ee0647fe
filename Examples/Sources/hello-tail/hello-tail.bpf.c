// hello-tail: chapter 2's tail calls. `hello` runs on every syscall entry (raw tracepoint
// sys_enter) and jumps, with bpf_tail_call, to the program in slot <syscall number> of the
// prog array `syscall`; a slot left empty makes the tail call fall through to the next line.
// User space fills the slots with the other programs, using the host's syscall numbers.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u32);
} syscall SEC(".maps");

/* Only this process (tgid) is reported; 0 reports every process. Set from Swift before load. */
const volatile __u32 target_tgid = 0;
/* The example itself: its reads of trace_pipe would otherwise each print a line to read. */
const volatile __u32 self_tgid = 0;
/* The host's numbers of timer_create and timer_delete (x86-64: 222, 226; arm64: 107, 111). */
const volatile __u32 timer_create_nr = 0;
const volatile __u32 timer_delete_nr = 0;

SEC("raw_tp/sys_enter")
int hello(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if ((target_tgid && tgid != target_tgid) || tgid == self_tgid)
		return 0;
	/* sys_enter(struct pt_regs *regs, long id): args[1] is the syscall number. */
	int opcode = ctx->args[1];
	bpf_tail_call(ctx, &syscall, opcode);
	/* Only reached when slot `opcode` is empty. */
	bpf_printk("Another syscall: %d", opcode);
	return 0;
}

SEC("raw_tp")
int hello_exec(void *ctx)
{
	bpf_printk("Executing a program");
	return 0;
}

SEC("raw_tp")
int hello_timer(struct bpf_raw_tracepoint_args *ctx)
{
	int opcode = ctx->args[1];
	if (opcode == timer_create_nr)
		bpf_printk("Creating a timer");
	else if (opcode == timer_delete_nr)
		bpf_printk("Deleting a timer");
	else
		bpf_printk("Some other timer operation");
	return 0;
}

SEC("raw_tp")
int ignore_opcode(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
