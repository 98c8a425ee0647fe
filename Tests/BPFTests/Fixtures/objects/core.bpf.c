/* CO-RE: task->tgid read through a field-offset relocation (vmlinux.h types carry
 * preserve_access_index), checked against the test's own pid. */
#include "vmlinux.h"
#include "objtest.h"

static __u64 (*bpf_get_current_task)(void) = (void *)35;

char LICENSE[] SEC("license") = "GPL";

const volatile int target_pid = 0;
int seen_tgid = 0;

SEC("tp_btf/sys_enter")
int read_tgid(__u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int tgid = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	bpf_probe_read_kernel(&tgid, sizeof(tgid), &task->tgid);
	seen_tgid = tgid;
	return 0;
}
