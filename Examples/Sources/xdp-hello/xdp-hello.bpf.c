// xdp-hello: chapter 3's first XDP program. Every packet arriving on the interface prints
// "Hello World N" to trace_pipe and bumps a global counter, which lives in the object's .bss
// map, so user space can read it while the program runs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* A zero-initialised global: the loader puts it in the .bss array map. */
int counter = 0;

SEC("xdp")
int hello(struct xdp_md *ctx)
{
	bpf_printk("Hello World %d", counter);
	counter++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
