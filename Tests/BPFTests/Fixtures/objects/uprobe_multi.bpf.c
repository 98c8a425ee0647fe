/* uprobe.multi / uretprobe.multi auto-attach: one link per program for every function of the
 * test binary matching a glob. UPROBE_BINARY is the binary's path, given with -D at compile time. */
#include "objtest.h"

char LICENSE[] SEC("license") = "GPL";

__u64 entries = 0;
__u64 returns = 0;

SEC("uprobe.multi/" UPROBE_BINARY ":swiftbpf_tr*")
int count_entries(void *ctx)
{
	__sync_fetch_and_add(&entries, 1);
	return 0;
}

SEC("uretprobe.multi/" UPROBE_BINARY ":swiftbpf_traced")
int count_returns(void *ctx)
{
	__sync_fetch_and_add(&returns, 1);
	return 0;
}

/* A bare section names no target: attached explicitly only. */
SEC("uprobe.multi")
int explicit_only(void *ctx)
{
	return 0;
}
