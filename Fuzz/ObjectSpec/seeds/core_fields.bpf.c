#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct task_struct { int pid; int tgid; char comm[16]; } __attribute__((preserve_access_index));
enum pid_type { PIDTYPE_PID, PIDTYPE_TGID };
extern int LINUX_KERNEL_VERSION __kconfig;
char LICENSE[] SEC("license") = "GPL";
SEC("raw_tp/sched_process_exec")
int core(void *ctx)
{
    struct task_struct *task = (void *)bpf_get_current_task();
    int pid = BPF_CORE_READ(task, pid);
    if (bpf_core_field_exists(task->tgid) && bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID))
        pid += bpf_core_field_size(task->comm) + bpf_core_type_size(struct task_struct);
    return pid + LINUX_KERNEL_VERSION;
}
