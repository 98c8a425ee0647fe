// SPDX-License-Identifier: GPL-2.0
/* Open-coded iterator loops (bpf_for, bpf_repeat; Linux 6.4+) and BPF_SNPRINTF, run with
 * BPF_PROG_TEST_RUN-free syscall programs. Only SwiftBPF's headers: libbpf 1.1 lacks bpf_for. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

int loop_sum = 0;
int repeat_count = 0;
char formatted[32] = {};

SEC("syscall")
int run_loops(void *ctx)
{
	int i, sum = 0, n = 0;

	bpf_for(i, 0, 10)
		sum += i;
	bpf_repeat(5)
		n++;
	loop_sum = sum;
	repeat_count = n;
	BPF_SNPRINTF(formatted, sizeof(formatted), "sum=%d n=%d", sum, n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
