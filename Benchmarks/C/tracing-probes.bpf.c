// Empty programs for the attach benchmark: the cost measured is attaching and detaching.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe")
int bench_uprobe(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_getppid")
int bench_tracepoint(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
