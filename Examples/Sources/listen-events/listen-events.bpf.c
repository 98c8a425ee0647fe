// swiftbpf:event-type listen_event
// listen-events: the listen tracer. Whenever a process starts listening on a TCP socket, push
// one event: pid, comm, the socket's network-namespace inode, family, backlog, address, port.
//
// The original hooks inet_listen with a kprobe. Without kprobes, two tracepoints give the same:
// the socket's change to TCP_LISTEN (tp_btf/inet_sock_set_state, with the struct sock itself)
// says which socket, and the end of the listen() call (syscalls:sys_exit_listen) says it worked
// and that the socket is complete — a socket listened on unbound gets its port only after the
// state change (inet_csk_listen_start sets TCP_LISTEN before get_port).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define AF_INET		2
#define AF_INET6	10

struct listen_event {
	__u32 pid;
	__u32 netns;		/* inode of the socket's network namespace, as in /proc/PID/ns/net */
	__u32 backlog;		/* what listen() was given, capped by net.core.somaxconn */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 port;		/* host order */
	__u8 addr[16];		/* 4 bytes for IPv4, 16 for IPv6, network order */
	char comm[16];
};
struct listen_event listen_event_layout;	/* puts the struct into BTF for the skeleton */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Thread (pid_tgid) -> the socket it just moved to TCP_LISTEN, until its listen() returns.
 * LRU: an entry whose syscall exit never comes (io_uring's listen) is evicted, not leaked. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} listening SEC(".maps");

/* Only this process (tgid) is reported; 0 reports every process. Set from Swift before load. */
const volatile __u32 target_tgid = 0;

static __always_inline bool wanted(__u64 pid_tgid)
{
	return !target_tgid || (pid_tgid >> 32) == target_tgid;
}

/* Fills and submits an event for `sk`; `backlog` < 0 reads it from the socket. */
static __always_inline void submit(struct sock *sk, __u64 pid_tgid, int backlog)
{
	struct listen_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->pid = pid_tgid >> 32;
	e->backlog = backlog >= 0 ? backlog : BPF_CORE_READ(sk, sk_max_ack_backlog);
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	if (e->family == AF_INET6)
		BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	else
		BPF_CORE_READ_INTO((__u32 *)e->addr, sk, __sk_common.skc_rcv_saddr);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (newstate != TCP_LISTEN || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted(pid_tgid))
		return 0;
	__u64 address = (__u64)sk;
	bpf_map_update_elem(&listening, &pid_tgid, &address, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_listen")
int on_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 *address = bpf_map_lookup_elem(&listening, &pid_tgid);
	if (!address)
		return 0;
	struct sock *sk = (struct sock *)*address;
	bpf_map_delete_elem(&listening, &pid_tgid);
	if (ctx->ret == 0)
		submit(sk, pid_tgid, -1);
	return 0;
}

/* The original's hook, for kernels with kprobes: inet_listen(struct socket *sock, int backlog).
 * At entry an unbound socket has no port yet (it is chosen inside), so the port may be 0. */
SEC("kprobe/inet_listen")
int BPF_KPROBE(kprobe_inet_listen, struct socket *sock, int backlog)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted(pid_tgid))
		return 0;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	submit(sk, pid_tgid, backlog);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
