// run-queue: per-CPU scheduler statistics read straight from the kernel's run queues.
// A perf_event program sampling each CPU (software cpu-clock) finds that CPU's `struct rq`
// from the interrupted task: task->se.cfs_rq is the CFS queue the task is on, and its ->rq
// the CPU's run queue (CONFIG_FAIR_GROUP_SCHED). The per-CPU variable `runqueues` would be
// shorter (a typed __ksym with bpf_this_cpu_ptr), but the kernel resolves a __ksym variable
// through kallsyms, which lists data symbols only with CONFIG_KALLSYMS_ALL — not here.
// All reads are CO-RE, so the offsets come from the running kernel's BTF; fields that moved
// or were renamed between kernels are read only where bpf_core_field_exists says they exist.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define MAX_CPUS 512
#define MAX_RUNQLEN 64

/* cfs_rq's count of queued tasks in the hierarchy: `h_nr_queued` since 6.14, before that
 * `h_nr_running`. A ___flavor struct names the old field so CO-RE can check for it. */
struct cfs_rq___before_6_14 {
	unsigned int h_nr_running;
} __attribute__((preserve_access_index));

struct cpu_stats {
	__u64 samples;
	__u64 nr_running_sum;   /* rq->nr_running, every sample */
	__u64 runqlen_sum;      /* tasks waiting: nr_running without the one running */
	__u32 nr_running_max;
	__u32 cfs_queued;       /* rq->cfs.h_nr_queued (h_nr_running), last sample */
	__s64 nr_uninterruptible; /* rq->nr_uninterruptible, last sample (per-CPU part of a global sum) */
	__u64 nr_switches;      /* rq->nr_switches, last sample (cumulative) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, struct cpu_stats);
} stats SEC(".maps");

/* Linear histogram of the run-queue length seen at each sample (BCC runqlen's). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RUNQLEN);
	__type(key, __u32);
	__type(value, __u64);
} runqlen_hist SEC(".maps");

SEC("perf_event")
int sample_run_queue(struct bpf_perf_event_data *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct cpu_stats *s = bpf_map_lookup_elem(&stats, &cpu);
	if (!s)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (!bpf_core_field_exists(task->se.cfs_rq) || !bpf_core_field_exists(struct cfs_rq, rq))
		return 0; /* no CONFIG_FAIR_GROUP_SCHED: no way from a task to its rq */
	struct rq *rq = BPF_CORE_READ(task, se.cfs_rq, rq);
	if (!rq)
		return 0;

	/* nr_running counts the task on the CPU too (0 when idle). */
	__u32 running = BPF_CORE_READ(rq, nr_running);
	__u32 runqlen = running > 0 ? running - 1 : 0;

	/* Only this CPU's samples write this slot: no atomics needed. */
	s->samples++;
	s->nr_running_sum += running;
	s->runqlen_sum += runqlen;
	if (running > s->nr_running_max)
		s->nr_running_max = running;
	if (bpf_core_field_exists(rq->cfs.h_nr_queued)) {
		s->cfs_queued = BPF_CORE_READ(rq, cfs.h_nr_queued);
	} else {
		struct cfs_rq___before_6_14 *cfs = (void *)&rq->cfs;
		if (bpf_core_field_exists(cfs->h_nr_running))
			s->cfs_queued = BPF_CORE_READ(cfs, h_nr_running);
	}
	if (bpf_core_field_exists(rq->nr_uninterruptible))
		s->nr_uninterruptible = (long)BPF_CORE_READ(rq, nr_uninterruptible);
	s->nr_switches = BPF_CORE_READ(rq, nr_switches);

	__u32 bucket = runqlen < MAX_RUNQLEN ? runqlen : MAX_RUNQLEN - 1;
	__u64 *count = bpf_map_lookup_elem(&runqlen_hist, &bucket);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
