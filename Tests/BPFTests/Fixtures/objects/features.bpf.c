/* Exercises the object loader: several programs and sections, BTF and legacy maps, map-in-map
 * and program arrays with initial values, global data, kconfig externs, static and global
 * subprograms, and a bpf_loop callback. Programs run through BPF_PROG_TEST_RUN (raw_tp). */
#include "objtest.h"

char LICENSE[] SEC("license") = "GPL";

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer SEC(".maps") = {
	.values = { [1] = &inner_a, [3] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct bpf_map_def legacy_array SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 2,
};

int tail_target(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(void *));
} jumps SEC(".maps") = {
	.values = { [0] = (void *)&tail_target },
};

const volatile __u64 multiplier = 1;
__u64 counter = 0;          /* .bss */
__u64 data_value = 7;       /* .data */
__u64 loop_sum = 0;
__u64 kconfig_hz = 0;
__u64 kconfig_bpf = 0;
__u64 kversion = 0;

extern unsigned int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_SWIFTBPF_MISSING __kconfig __weak;

static __attribute__((noinline)) __u64 scaled(__u64 value)
{
	return value * multiplier;
}

__attribute__((noinline)) int global_add(int a)
{
	return a + 1;
}

static int loop_step(__u32 index, void *ctx)
{
	loop_sum += index;
	return 0;
}

SEC("raw_tp/sys_enter")
int count_calls(void *ctx)
{
	__u32 key = 1;
	__u64 one = 1, *value;

	counter += scaled(1);
	data_value = global_add((int)data_value);
	value = bpf_map_lookup_elem(&counts, &key);
	if (value)
		*value += 1;
	else
		bpf_map_update_elem(&counts, &key, &one, 0);
	bpf_map_update_elem(&legacy_array, &key, &one, 0);
	bpf_loop(4, loop_step, 0, 0);
	kconfig_hz = CONFIG_HZ;
	kconfig_bpf = CONFIG_BPF_SYSCALL;
	kversion = LINUX_KERNEL_VERSION + CONFIG_SWIFTBPF_MISSING;
	return 0;
}

SEC("raw_tp/sys_enter")
int tail_target(void *ctx)
{
	counter += 100;
	return 0;
}

SEC("raw_tp/sys_exit")
int jump(void *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return 1;
}

SEC("raw_tp/sys_exit")
int use_inner(void *ctx)
{
	__u32 slot = 1, key = 0;
	void *inner = bpf_map_lookup_elem(&outer, &slot);
	__u64 *value;

	if (!inner)
		return 1;
	value = bpf_map_lookup_elem(inner, &key);
	if (value)
		*value += global_add(41);
	return 0;
}
