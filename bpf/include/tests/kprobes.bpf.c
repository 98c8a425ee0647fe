// SPDX-License-Identifier: GPL-2.0
/* kprobe/kretprobe/ksyscall programs (compiled and loaded, never attached: no kprobes here). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

__u64 unlink_calls = 0;
long last_ret = 0;

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlinkat, int dfd, struct filename *name)
{
	const char *path = BPF_CORE_READ(name, name);
	char buf[32];

	bpf_probe_read_kernel_str(buf, sizeof(buf), path);
	__sync_fetch_and_add(&unlink_calls, 1);
	bpf_printk("unlinkat dfd=%d %s ip=%lx", dfd, buf, PT_REGS_IP(ctx));
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlinkat_return, long ret)
{
	last_ret = ret + PT_REGS_SP_CORE(ctx) * 0;
	return 0;
}

SEC("ksyscall/openat")
int BPF_KSYSCALL(on_openat, int dfd, const char *pathname, int flags, unsigned short mode)
{
	char path[64];

	bpf_probe_read_user_str(path, sizeof(path), pathname);
	bpf_printk("openat %d %s %x %o", dfd, path, flags, mode);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
