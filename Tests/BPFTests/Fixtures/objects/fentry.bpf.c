/* fentry: refused with EPERM on kernels without trampolines. */
#include "vmlinux.h"
#include "objtest.h"

char LICENSE[] SEC("license") = "GPL";
__u64 calls = 0;

SEC("fentry/do_nanosleep")
int on_nanosleep(void *ctx)
{
	calls++;
	return 0;
}
