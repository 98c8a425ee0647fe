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

__u64 getppid_calls = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (pid == target_pid)
		getppid_calls++;
	bpf_ringbuf_output(&events, &pid, sizeof(pid), 0);
	return 0;
}

SEC("raw_tp/sys_exit")
int on_sys_exit(void *ctx)
{
	return 0;
}

SEC("xdp")
int pass_all(void *ctx)
{
	return 2; /* XDP_PASS */
}
