#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, int); } hits SEC(".maps");
static __attribute__((noinline)) int bump(int x) { int k = 0; int *v = bpf_map_lookup_elem(&hits, &k); if (v) *v += x; return x; }
char LICENSE[] SEC("license") = "GPL";
SEC("xdp") int pass(struct xdp_md *ctx) { return bump(2) ? XDP_PASS : XDP_DROP; }
SEC("socket") int sock(struct __sk_buff *skb) { return bump(1); }
