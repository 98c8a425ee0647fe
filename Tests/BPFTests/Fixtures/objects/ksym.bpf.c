/* __ksym kernel variables: a real per-CPU variable, and a __weak one that does not exist. */
#include "vmlinux.h"
#include "objtest.h"

char LICENSE[] SEC("license") = "GPL";

__u64 active_seen = 0;
__u64 weak_absent = 0;

extern const int bpf_prog_active __ksym;
extern const int swiftbpf_no_such_symbol __ksym __weak;

SEC("raw_tp/sys_enter")
int read_strong(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	active_seen = *active + 1;
	return 0;
}

SEC("raw_tp/sys_enter")
int read_weak(void *ctx)
{
	weak_absent = &swiftbpf_no_such_symbol == 0;
	return 0;
}

/* kfuncs: calls through BTF FUNC ids (BPF_PSEUDO_KFUNC_CALL); a __weak absent one must be
 * guarded so the verifier removes the call as dead code. */
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void swiftbpf_no_such_kfunc(void) __ksym __weak;
__u64 kfunc_calls = 0;

SEC("tp_btf/sys_enter")
int call_kfuncs(__u64 *ctx)
{
	bpf_rcu_read_lock();
	kfunc_calls++;
	bpf_rcu_read_unlock();
	if (swiftbpf_no_such_kfunc)
		swiftbpf_no_such_kfunc();
	return 0;
}
