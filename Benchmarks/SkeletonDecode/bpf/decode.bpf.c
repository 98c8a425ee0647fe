// swiftbpf:event-type event
/* Producer of the decode benchmark: each BPF_PROG_TEST_RUN of `produce` writes `batch`
 * records into the ring buffer with bpf_loop. Every record depends only on its index in the
 * batch, so a drain of N records gives the same checksum to every consumer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "decode.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Ring buffer records have no map type: a typed global puts the struct into BTF. */
struct event event_layout;

const volatile __u32 batch = 8192;
__u64 produced = 0;
__u64 dropped = 0;

static long emit(__u64 index, void *context)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = 4242;
	e->tid = 4243 + (index & 7);
	e->seq = index;
	e->timestamp = index * 1000 + 17;
	e->ret = -(__s32)(index & 0xff);
	e->flags = index & 0xffff;
	e->cpu = index & 1;
	e->kind = 3;
	e->args[0] = index << 3;
	e->args[1] = ~index;
	__builtin_memcpy(e->comm, "swiftbpf-bench\0", 16);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	__sync_fetch_and_add(&produced, 1);
	return 0;
}

SEC("raw_tp")
int produce(void *context)
{
	bpf_loop(batch, emit, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
