/* The event of the decode benchmark, shared by the BPF producer (decode.bpf.c) and the libbpf
 * consumer (Benchmarks/C/decode-consumer.c); the Swift side gets it from BTF as
 * DecodeSkeleton.event. 64 bytes: ints of each width, a signed value, a char array. */
#ifndef SWIFTBPF_BENCH_DECODE_H
#define SWIFTBPF_BENCH_DECODE_H

struct event {
	__u32 pid;
	__u32 tid;
	__u64 seq;
	__u64 timestamp;
	__s32 ret;
	__u16 flags;
	__u8 cpu;
	__u8 kind;
	__u64 args[2];
	char comm[16];
};

#endif
