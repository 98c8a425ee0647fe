/* tp_btf auto-attach and .rodata configuration (needs vmlinux.h). */
#include "vmlinux.h"
#include "objtest.h"

char LICENSE[] SEC("license") = "GPL";

const volatile int target_pid = 0;
__u64 hits = 0;

SEC("tp_btf/sys_enter")
int on_sys_enter(__u64 *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	hits++;
	return 0;
}
