// hello-func: a BPF-to-BPF call. `hello` runs on every syscall entry (raw tracepoint
// sys_enter) and asks a separate, non-inlined function for the syscall number, so the
// translated program shows a subprogram call.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* Only this process (tgid) is reported; 0 reports every process. Set from Swift before load. */
const volatile __u32 target_tgid = 0;

/* noinline keeps get_opcode a subprogram: the verifier and `--dump` see a real call. */
static __attribute__((noinline)) int get_opcode(struct bpf_raw_tracepoint_args *ctx)
{
	return ctx->args[1];
}

SEC("raw_tp/sys_enter")
int hello(struct bpf_raw_tracepoint_args *ctx)
{
	if (target_tgid && (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	int opcode = get_opcode(ctx);
	bpf_printk("Syscall: %d", opcode);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
