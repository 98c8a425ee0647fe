/* Reads the arguments of the probes in probes.c with BPF_USDT (bpf/include/bpf/usdt.bpf.h).
 * USDT_BINARY is the traced executable's path, given with -D at compile time. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct seen {
	long hits;
	long count;    /* bpf_usdt_arg_cnt */
	long cookie;   /* bpf_usdt_cookie */
	long missing;  /* bpf_usdt_arg of an argument past the last */
	long sizes;    /* bpf_usdt_arg_size of each argument, one decimal digit each */
	long value[4];
};

struct seen args_seen, deref_seen, sema_seen;

static __always_inline void common(struct pt_regs *ctx, struct seen *seen)
{
	long unused;
	seen->hits++;
	seen->count = bpf_usdt_arg_cnt(ctx);
	seen->cookie = bpf_usdt_cookie(ctx);
	seen->missing = bpf_usdt_arg(ctx, seen->count, &unused);
	long sizes = 0;
	for (int i = 0; i < 4 && i < seen->count; i++)
		sizes = sizes * 10 + bpf_usdt_arg_size(ctx, i);
	seen->sizes = sizes;
}

/* Explicit attach (attachUSDT with a cookie). */
SEC("usdt")
int BPF_USDT(on_args, int n, long a, short c, char small)
{
	common(ctx, &args_seen);
	args_seen.value[0] = n;
	args_seen.value[1] = a;
	args_seen.value[2] = c;
	args_seen.value[3] = small;
	return 0;
}

/* Auto-attached from the section name. */
SEC("usdt/" USDT_BINARY ":swiftbpf_test:deref")
int BPF_USDT(on_deref, int b, long element, int constant)
{
	common(ctx, &deref_seen);
	deref_seen.value[0] = b;
	deref_seen.value[1] = element;
	deref_seen.value[2] = constant;
	return 0;
}

SEC("usdt/" USDT_BINARY ":swiftbpf_test:with_sema")
int BPF_USDT(on_sema, int doubled)
{
	common(ctx, &sema_seen);
	sema_seen.value[0] = doubled;
	return 0;
}
