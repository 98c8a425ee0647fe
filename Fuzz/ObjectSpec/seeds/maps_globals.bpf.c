#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, int); __type(value, long); } counts SEC(".maps");
const volatile int knob = 3;
long total;
char LICENSE[] SEC("license") = "GPL";
SEC("tracepoint/syscalls/sys_enter_getpid")
int count(void *ctx)
{
    int key = knob;
    long one = 1, *value = bpf_map_lookup_elem(&counts, &key);
    if (value) __sync_fetch_and_add(value, 1); else bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
    total++;
    return 0;
}
