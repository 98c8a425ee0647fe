// swiftbpf:event-type event
// bash-readline: a uretprobe on bash's readline(), whose return value is the line the user
// just typed (BCC's bashreadline; bpftrace's `ur:/bin/bash:readline { ... str(retval) }`).
// Swift attaches it to the shell binary it is given.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
	__u32 pid;
	char comm[16];
	char line[256];
};
struct event event_layout; /* puts the event struct into BTF for the skeleton */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("uretprobe")
int BPF_URETPROBE(bash_readline, const char *line)
{
	if (!line)
		return 0; /* end of input (Ctrl-D) */
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->line, sizeof(e->line), line);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
