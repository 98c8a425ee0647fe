// swiftbpf:event-type data_t
// hello-buffer-config (chapters 4 and 5): for every execve, the pid, uid, command and a
// message; the message is the global default unless user space configured one for the uid
// in the `my_config` hash map (chapter 4 calls it `config`). Two programs share the logic:
// `hello` sends through a perf buffer (the book's BPF_PERF_OUTPUT), `hello_ring` through a
// ring buffer; Swift loads one.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct user_msg_t {
	char message[12];
};

struct data_t {
	int pid;
	int uid;
	char command[16];
	char message[12];
	char path[16];
};
struct data_t data_t_layout; /* puts the event struct into BTF for the skeleton */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct user_msg_t);
} my_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} output SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ring_output SEC(".maps");

/* The default message: a global in .data, as in chapter 5. */
char message[12] = "Hello World";

/* Layout of the tracepoint's record (tracefs events/syscalls/sys_enter_execve/format):
 * 8 bytes of common fields, the syscall number, then each argument as 8 bytes. */
struct sys_enter_execve_args {
	__u64 common;
	int syscall_nr;
	const char *filename;
	const char *const *argv;
	const char *const *envp;
};

static __always_inline void fill(struct data_t *data, struct sys_enter_execve_args *ctx)
{
	__u32 uid = bpf_get_current_uid_gid() & 0xFFFFFFFF;
	data->pid = bpf_get_current_pid_tgid() >> 32;
	data->uid = uid;
	bpf_get_current_comm(&data->command, sizeof(data->command));
	bpf_probe_read_user_str(&data->path, sizeof(data->path), ctx->filename);
	struct user_msg_t *configured = bpf_map_lookup_elem(&my_config, &uid);
	if (configured)
		bpf_probe_read_kernel(&data->message, sizeof(data->message), configured->message);
	else
		bpf_probe_read_kernel(&data->message, sizeof(data->message), message);
}

SEC("tp/syscalls/sys_enter_execve")
int hello(struct sys_enter_execve_args *ctx)
{
	struct data_t data = {};
	fill(&data, ctx);
	bpf_perf_event_output(ctx, &output, BPF_F_CURRENT_CPU, &data, sizeof(data));
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int hello_ring(struct sys_enter_execve_args *ctx)
{
	struct data_t *data = bpf_ringbuf_reserve(&ring_output, sizeof(*data), 0);
	if (!data)
		return 0;
	__builtin_memset(data, 0, sizeof(*data));
	fill(data, ctx);
	bpf_ringbuf_submit(data, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
