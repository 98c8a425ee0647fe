// CO-RE relocations of every kind, compiled at test time (Tests/BPFTests/CORELibbpfComparisonTests) against a vmlinux.h written by
// BTFCHeaderWriter, then relocated by libbpf (the oracle) and by CORERelocator; the test
// compares the patched instructions relocation by relocation. Loading is not the point: many
// of these programs dereference kernel pointers directly and the verifier refuses them.
#include "vmlinux.h"

#define SEC(name) __attribute__((section(name), used))

// Kinds as clang's builtins take them (they mirror enum bpf_core_relo_kind).
#define FIELD_BYTE_OFFSET 0
#define FIELD_BYTE_SIZE 1
#define FIELD_EXISTS 2
#define FIELD_SIGNED 3
#define FIELD_LSHIFT_U64 4
#define FIELD_RSHIFT_U64 5
#define TYPE_ID_LOCAL 0
#define TYPE_ID_TARGET 1
#define TYPE_EXISTS 0
#define TYPE_SIZE 1
#define TYPE_MATCHES 2
#define ENUMVAL_EXISTS 0
#define ENUMVAL_VALUE 1

#define field_info(field, kind) __builtin_preserve_field_info(field, kind)
#define type_info(type, kind) __builtin_preserve_type_info(*(typeof(type) *)0, kind)
#define type_id(type, kind) __builtin_btf_type_id(*(typeof(type) *)0, kind)
#define enum_info(type, value, kind) __builtin_preserve_enum_value(*(typeof(type) *)value, kind)

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct task_struct___mine {
    int pid;
    int tgid;
    int no_such_field;
    unsigned long long flags;   // unsigned int in the kernel: the load narrows to 4 bytes
    long long prio;             // int in the kernel, signed: the load is poisoned
};
struct sk_buff___mine {
    __u8 cloned: 1;
    __u8 pkt_type: 3;
    __u8 nf_trace: 1;
};
struct no_such_kernel_type {
    int x;
};
struct list_head___same {
    struct list_head___same *next;
    struct list_head___same *prev;
};
struct list_head___different {
    int next;
};
#pragma clang attribute pop

enum bpf_map_type___mine {
    BPF_MAP_TYPE_RINGBUF___mine = 1000,
    BPF_MAP_TYPE_NOT_IN_KERNEL___mine = 2000,
};

// A 64-bit local enum (ENUM64 in BTF) against the kernel's 32-bit enum.
enum bpf_map_type___wide {
    BPF_MAP_TYPE_HASH___wide = 0x100000000ULL,
};

__u64 out[64];

SEC("raw_tp/core_fields")
int core_fields(unsigned long long *ctx)
{
    struct task_struct *task = (struct task_struct *)ctx[0];
    struct task_struct___mine *mine = (struct task_struct___mine *)ctx[0];
    struct pid *pid = (struct pid *)ctx[1];

    out[0] = task->pid;
    out[1] = task->tgid;
    out[2] = mine->pid;
    out[3] = field_info(task->comm, FIELD_BYTE_SIZE);
    out[4] = field_info(task->comm[3], FIELD_BYTE_OFFSET);
    out[5] = field_info(task->pid, FIELD_SIGNED);
    out[6] = field_info(task->flags, FIELD_SIGNED);
    out[7] = field_info(mine->no_such_field, FIELD_EXISTS);
    out[8] = field_info(mine->tgid, FIELD_EXISTS);
    out[9] = field_info(pid->numbers[5].nr, FIELD_BYTE_OFFSET);
    out[10] = field_info(task->se.vruntime, FIELD_BYTE_OFFSET);
    return 0;
}

SEC("raw_tp/core_missing")
int core_missing(unsigned long long *ctx)
{
    struct task_struct___mine *mine = (struct task_struct___mine *)ctx[0];

    out[0] = mine->no_such_field;
    out[1] = field_info(mine->no_such_field, FIELD_BYTE_OFFSET);
    out[2] = mine->flags;
    out[3] = mine->prio;
    return 0;
}

SEC("raw_tp/core_bitfields")
int core_bitfields(unsigned long long *ctx)
{
    struct sk_buff *skb = (struct sk_buff *)ctx[0];
    struct sk_buff___mine *mine = (struct sk_buff___mine *)ctx[0];

    out[0] = field_info(skb->pkt_type, FIELD_BYTE_OFFSET);
    out[1] = field_info(skb->pkt_type, FIELD_BYTE_SIZE);
    out[2] = field_info(skb->pkt_type, FIELD_LSHIFT_U64);
    out[3] = field_info(skb->pkt_type, FIELD_RSHIFT_U64);
    out[4] = field_info(skb->pkt_type, FIELD_SIGNED);
    out[5] = field_info(mine->pkt_type, FIELD_BYTE_OFFSET);
    out[6] = field_info(mine->pkt_type, FIELD_LSHIFT_U64);
    out[7] = field_info(mine->pkt_type, FIELD_RSHIFT_U64);
    out[8] = field_info(mine->nf_trace, FIELD_LSHIFT_U64);
    out[9] = field_info(mine->nf_trace, FIELD_BYTE_OFFSET);
    out[10] = field_info(mine->cloned, FIELD_LSHIFT_U64);
    out[11] = field_info(skb->csum_level, FIELD_LSHIFT_U64);
    return 0;
}

SEC("raw_tp/core_types")
int core_types(unsigned long long *ctx)
{
    out[0] = type_id(struct task_struct, TYPE_ID_LOCAL);
    out[1] = type_id(struct task_struct, TYPE_ID_TARGET);
    out[2] = type_info(struct task_struct, TYPE_EXISTS);
    out[3] = type_info(struct task_struct, TYPE_SIZE);
    out[4] = type_info(struct task_struct___mine, TYPE_EXISTS);
    out[5] = type_info(struct task_struct___mine, TYPE_MATCHES);
    out[6] = type_info(struct no_such_kernel_type, TYPE_EXISTS);
    out[7] = type_info(struct no_such_kernel_type, TYPE_SIZE);
    out[8] = type_id(struct no_such_kernel_type, TYPE_ID_TARGET);
    out[9] = type_info(struct list_head___same, TYPE_MATCHES);
    out[10] = type_info(struct list_head___different, TYPE_MATCHES);
    out[11] = type_info(pid_t, TYPE_SIZE);
    out[12] = type_info(pid_t, TYPE_MATCHES);
    out[13] = type_id(struct sk_buff___mine, TYPE_ID_TARGET);
    out[14] = type_info(enum bpf_map_type, TYPE_SIZE);
    return 0;
}

SEC("raw_tp/core_enums")
int core_enums(unsigned long long *ctx)
{
    out[0] = enum_info(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF, ENUMVAL_VALUE);
    out[1] = enum_info(enum bpf_map_type, BPF_MAP_TYPE_HASH, ENUMVAL_EXISTS);
    out[2] = enum_info(enum bpf_map_type___mine, BPF_MAP_TYPE_RINGBUF___mine, ENUMVAL_VALUE);
    out[3] = enum_info(enum bpf_map_type___mine, BPF_MAP_TYPE_RINGBUF___mine, ENUMVAL_EXISTS);
    out[4] = enum_info(enum bpf_map_type___mine, BPF_MAP_TYPE_NOT_IN_KERNEL___mine, ENUMVAL_EXISTS);
    out[5] = enum_info(enum bpf_map_type___mine, BPF_MAP_TYPE_NOT_IN_KERNEL___mine, ENUMVAL_VALUE);
    return 0;
}

SEC("raw_tp/core_more")
int core_more(unsigned long long *ctx)
{
    struct tcp_sock *tp = (struct tcp_sock *)ctx[0];

    out[0] = field_info(tp->nonagle, FIELD_BYTE_OFFSET);
    out[1] = field_info(tp->nonagle, FIELD_LSHIFT_U64);
    out[2] = field_info(tp->nonagle, FIELD_RSHIFT_U64);
    out[3] = field_info(tp->repair, FIELD_LSHIFT_U64);
    out[4] = field_info(tp->is_cwnd_limited, FIELD_BYTE_SIZE);
    out[5] = field_info(tp->inet_conn.icsk_inet.sk.__sk_common.skc_family, FIELD_BYTE_OFFSET);
    out[6] = tp->inet_conn.icsk_inet.sk.__sk_common.skc_family;
    out[7] = enum_info(enum perf_event_state, PERF_EVENT_STATE_DEAD, ENUMVAL_VALUE);
    out[8] = enum_info(enum bpf_map_type___wide, BPF_MAP_TYPE_HASH___wide, ENUMVAL_VALUE);
    out[9] = enum_info(enum bpf_map_type___wide, BPF_MAP_TYPE_HASH___wide, ENUMVAL_EXISTS);
    out[10] = type_info(enum bpf_map_type___wide, TYPE_SIZE);
    out[11] = type_info(enum bpf_map_type___wide, TYPE_MATCHES);
    out[12] = type_info(struct list_head, TYPE_MATCHES);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
