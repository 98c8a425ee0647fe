// A relocation libbpf refuses: an unsigned 32-bit enumerator with the top bit set. libbpf reads
// enumerators as __s32 and sign-extends them, so the value it expects (0xffffffffeffffff) is
// not the one clang encoded (0xefffffff) and it fails with "unexpected insn ... value".
// CORERelocator must refuse the same relocation the same way.
#include "vmlinux.h"

#define SEC(name) __attribute__((section(name), used))

__u64 out[4];

SEC("raw_tp/core_rejected")
int core_rejected(unsigned long long *ctx)
{
    out[0] = __builtin_preserve_enum_value(*(typeof(enum perf_event_state) *)PERF_EVENT_STATE_DEAD, 1);
    out[1] = __builtin_preserve_enum_value(*(typeof(enum init_ns_ino) *)IPC_NS_INIT_INO, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
