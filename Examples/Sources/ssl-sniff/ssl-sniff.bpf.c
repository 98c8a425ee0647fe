// swiftbpf:event-type ssl_event
// ssl-sniff: the plaintext of TLS connections, taken where it is still plaintext — the buffer
// arguments of libssl's SSL_read/SSL_write (BCC's sslsniff, Pixie's openssl-tracer). The entry
// probe remembers the buffer per thread; the return probe knows how many bytes were moved
// (the return value, or *readbytes/*written for the _ex variants) and copies them out.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_DATA 4096

enum ssl_function { SSL_FUNC_READ = 0, SSL_FUNC_WRITE = 1 };

struct ssl_event {
	__u64 timestamp_ns;
	__u32 pid;
	__u32 tid;
	__u32 function;   /* enum ssl_function */
	__u32 length;     /* bytes moved by the call */
	__u32 captured;   /* bytes in data (length, at most MAX_DATA) */
	char comm[16];
	__u8 data[MAX_DATA];
};
struct ssl_event ssl_event_layout; /* puts the event struct into BTF for the skeleton */

struct ssl_call {
	const void *buffer;
	size_t *moved; /* the _ex variants' out-parameter, or NULL */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);   /* pid_tgid: one call in flight per thread and direction */
	__type(value, struct ssl_call);
} reads SEC(".maps"), writes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

/* Only this process (tgid) is reported; 0 reports every process. Set from Swift before load. */
const volatile __u32 target_tgid = 0;

static __always_inline int remember(void *calls, const void *buffer, size_t *moved)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (target_tgid && (id >> 32) != target_tgid)
		return 0;
	struct ssl_call call = { .buffer = buffer, .moved = moved };
	bpf_map_update_elem(calls, &id, &call, BPF_ANY);
	return 0;
}

static __always_inline int report(void *calls, enum ssl_function function, long returned)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(calls, &id);
	if (!call)
		return 0;
	long length = returned;
	if (call->moved) {
		/* SSL_read_ex/SSL_write_ex return 1 on success and store the count. */
		size_t moved = 0;
		if (returned == 1)
			bpf_probe_read_user(&moved, sizeof(moved), call->moved);
		length = returned == 1 ? (long)moved : 0;
	}
	if (length > 0) {
		struct ssl_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			__u32 captured = length < MAX_DATA ? length : MAX_DATA;
			e->timestamp_ns = bpf_ktime_get_ns();
			e->pid = id >> 32;
			e->tid = (__u32)id;
			e->function = function;
			e->length = length;
			e->captured = captured;
			bpf_get_current_comm(e->comm, sizeof(e->comm));
			if (bpf_probe_read_user(e->data, captured, call->buffer))
				e->captured = 0;
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(calls, &id);
	return 0;
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_UPROBE(ssl_read_entry, void *ssl, void *buf, int num) { return remember(&reads, buf, 0); }
SEC("uretprobe")
int BPF_URETPROBE(ssl_read_return, int ret) { return report(&reads, SSL_FUNC_READ, ret); }

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_UPROBE(ssl_write_entry, void *ssl, const void *buf, int num) { return remember(&writes, buf, 0); }
SEC("uretprobe")
int BPF_URETPROBE(ssl_write_return, int ret) { return report(&writes, SSL_FUNC_WRITE, ret); }

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_UPROBE(ssl_read_ex_entry, void *ssl, void *buf, size_t num, size_t *readbytes) { return remember(&reads, buf, readbytes); }
SEC("uretprobe")
int BPF_URETPROBE(ssl_read_ex_return, int ret) { return report(&reads, SSL_FUNC_READ, ret); }

/* int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_UPROBE(ssl_write_ex_entry, void *ssl, const void *buf, size_t num, size_t *written) { return remember(&writes, buf, written); }
SEC("uretprobe")
int BPF_URETPROBE(ssl_write_ex_return, int ret) { return report(&writes, SSL_FUNC_WRITE, ret); }

char LICENSE[] SEC("license") = "GPL";
