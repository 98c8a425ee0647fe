/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* BCC-style conveniences for programs compiled at run time by SwiftBPF's BPFModule (which
 * includes this header, vmlinux.h and bpf_helpers.h/bpf_tracing.h/bpf_core_read.h before the
 * program text). The map macros declare BTF-defined maps (libbpf's `SEC(".maps")` form), so
 * the object is an ordinary one any libbpf-style loader understands.
 *
 * BCC's method syntax (`table.lookup(&key)`, `events.perf_submit(ctx, ...)`) needs BCC's C
 * rewriter and is not supported: call the helpers instead —
 *   bpf_map_lookup_elem(&table, &key), bpf_map_update_elem(&table, &key, &value, BPF_ANY),
 *   bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof(data)),
 *   bpf_ringbuf_output(&events, &data, sizeof(data), 0), bpf_tail_call(ctx, &progs, index),
 *   bcc_map_increment(&table, &key, 1) for BCC's `table.increment(key)`. */
#ifndef __SWIFTBPF_BCC_COMPAT_H
#define __SWIFTBPF_BCC_COMPAT_H

#include <bpf/bpf_helpers.h>

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* BCC's bpf_trace_printk takes only the format and its arguments; the size is implied. */
#define bpf_trace_printk(fmt, ...) bpf_printk(fmt, ##__VA_ARGS__)

/* Picks a macro by argument count (1 to 4 arguments). */
#define __bcc_pick4(_1, _2, _3, _4, chosen, ...) chosen

#define __bcc_map(map_type, name, key_type, value_type, entries) \
	struct { \
		__uint(type, map_type); \
		__type(key, key_type); \
		__type(value, value_type); \
		__uint(max_entries, entries); \
	} name SEC(".maps")

/* BPF_HASH(name [, key_type = u64 [, leaf_type = u64 [, size = 10240]]]) */
#define BPF_HASH(...) __bcc_pick4(__VA_ARGS__, __bcc_hash4, __bcc_hash3, __bcc_hash2, __bcc_hash1)(__VA_ARGS__)
#define __bcc_hash1(name) __bcc_hash4(name, u64, u64, 10240)
#define __bcc_hash2(name, key_type) __bcc_hash4(name, key_type, u64, 10240)
#define __bcc_hash3(name, key_type, leaf_type) __bcc_hash4(name, key_type, leaf_type, 10240)
#define __bcc_hash4(name, key_type, leaf_type, size) __bcc_map(BPF_MAP_TYPE_HASH, name, key_type, leaf_type, size)

/* BPF_LRU_HASH and BPF_PERCPU_HASH take the same arguments as BPF_HASH. */
#define BPF_LRU_HASH(...) __bcc_pick4(__VA_ARGS__, __bcc_lru4, __bcc_lru3, __bcc_lru2, __bcc_lru1)(__VA_ARGS__)
#define __bcc_lru1(name) __bcc_lru4(name, u64, u64, 10240)
#define __bcc_lru2(name, key_type) __bcc_lru4(name, key_type, u64, 10240)
#define __bcc_lru3(name, key_type, leaf_type) __bcc_lru4(name, key_type, leaf_type, 10240)
#define __bcc_lru4(name, key_type, leaf_type, size) __bcc_map(BPF_MAP_TYPE_LRU_HASH, name, key_type, leaf_type, size)

#define BPF_PERCPU_HASH(...) __bcc_pick4(__VA_ARGS__, __bcc_pchash4, __bcc_pchash3, __bcc_pchash2, __bcc_pchash1)(__VA_ARGS__)
#define __bcc_pchash1(name) __bcc_pchash4(name, u64, u64, 10240)
#define __bcc_pchash2(name, key_type) __bcc_pchash4(name, key_type, u64, 10240)
#define __bcc_pchash3(name, key_type, leaf_type) __bcc_pchash4(name, key_type, leaf_type, 10240)
#define __bcc_pchash4(name, key_type, leaf_type, size) __bcc_map(BPF_MAP_TYPE_PERCPU_HASH, name, key_type, leaf_type, size)

/* BPF_ARRAY(name [, leaf_type = u64 [, size = 10240]]): keys are int indexes. */
#define BPF_ARRAY(...) __bcc_pick4(__VA_ARGS__, __bcc_bad_args, __bcc_array3, __bcc_array2, __bcc_array1)(__VA_ARGS__)
#define __bcc_array1(name) __bcc_array3(name, u64, 10240)
#define __bcc_array2(name, leaf_type) __bcc_array3(name, leaf_type, 10240)
#define __bcc_array3(name, leaf_type, size) __bcc_map(BPF_MAP_TYPE_ARRAY, name, int, leaf_type, size)

#define BPF_PERCPU_ARRAY(...) __bcc_pick4(__VA_ARGS__, __bcc_bad_args, __bcc_pcarray3, __bcc_pcarray2, __bcc_pcarray1)(__VA_ARGS__)
#define __bcc_pcarray1(name) __bcc_pcarray3(name, u64, 10240)
#define __bcc_pcarray2(name, leaf_type) __bcc_pcarray3(name, leaf_type, 10240)
#define __bcc_pcarray3(name, leaf_type, size) __bcc_map(BPF_MAP_TYPE_PERCPU_ARRAY, name, int, leaf_type, size)

/* BPF_HISTOGRAM(name [, key_type = int [, size = 64]]): with the default int key an array of
 * 64 u64 buckets indexed by bcc_log2l()/a linear slot; with a struct key (section + slot) a
 * hash, as BCC makes it. */
#define BPF_HISTOGRAM(...) __bcc_pick4(__VA_ARGS__, __bcc_bad_args, __bcc_hist3, __bcc_hist2, __bcc_hist1)(__VA_ARGS__)
#define __bcc_hist1(name) __bcc_map(BPF_MAP_TYPE_ARRAY, name, int, u64, 64)
#define __bcc_hist2(name, key_type) __bcc_map(BPF_MAP_TYPE_HASH, name, key_type, u64, 64)
#define __bcc_hist3(name, key_type, size) __bcc_map(BPF_MAP_TYPE_HASH, name, key_type, u64, size)

/* BPF_PERF_OUTPUT(name): one perf ring per possible CPU (max_entries 0 is sized by the loader). */
#define BPF_PERF_OUTPUT(name) \
	struct { \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); \
		__uint(key_size, sizeof(int)); \
		__uint(value_size, sizeof(__u32)); \
	} name SEC(".maps")

/* BPF_RINGBUF_OUTPUT(name, page_count): page_count must be a power of two. */
#define BPF_RINGBUF_OUTPUT(name, page_count) \
	struct { \
		__uint(type, BPF_MAP_TYPE_RINGBUF); \
		__uint(max_entries, (page_count) * 4096); \
	} name SEC(".maps")

/* BPF_PROG_ARRAY(name, size): tail-call targets, filled from Swift (BPFModule.setTailCall). */
#define BPF_PROG_ARRAY(name, size) \
	struct { \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY); \
		__uint(key_size, sizeof(__u32)); \
		__uint(value_size, sizeof(__u32)); \
		__uint(max_entries, size); \
	} name SEC(".maps")

/* BCC's slot numbering for log2 histograms: 0 and 1 go to slot 1, [2^(n-1), 2^n) to slot n. */
static __always_inline unsigned int bcc_log2(__u32 v)
{
	unsigned int r = 0, shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline unsigned int bcc_log2l(__u64 v)
{
	__u32 high = v >> 32;
	return high ? bcc_log2(high) + 33 : bcc_log2((__u32)v) + 1;
}

/* BCC's names for them. */
#define bpf_log2(v) bcc_log2(v)
#define bpf_log2l(v) bcc_log2l(v)

/* BCC's `table.increment(key, delta)`: adds to an existing u64 value, or inserts it. */
static __always_inline void bcc_map_increment(void *map, const void *key, __u64 delta)
{
	__u64 *value = bpf_map_lookup_elem(map, key);
	if (value) {
		__sync_fetch_and_add(value, delta);
		return;
	}
	__u64 initial = delta;
	if (bpf_map_update_elem(map, key, &initial, BPF_NOEXIST) != 0) {
		/* Another CPU inserted it meanwhile. */
		value = bpf_map_lookup_elem(map, key);
		if (value)
			__sync_fetch_and_add(value, delta);
	}
}

/* TRACEPOINT_PROBE(category, event) { ... args->field ... }: BPFModule generates
 * `struct tracepoint__<category>__<event>` from the tracepoint's tracefs format and attaches
 * the function on autoAttach(). */
#define TRACEPOINT_PROBE(category, event) \
	int tracepoint__##category##__##event(struct tracepoint__##category##__##event *args)

/* RAW_TRACEPOINT_PROBE(event) { ... ctx->args[i] ... } */
#define RAW_TRACEPOINT_PROBE(event) \
	int raw_tracepoint__##event(struct bpf_raw_tracepoint_args *ctx)

#endif /* __SWIFTBPF_BCC_COMPAT_H */
