/* A checked-in vmlinux.h (BPFBuildPlugin uses it instead of generating one from the running
 * kernel): the benchmark then builds on machines without /sys/kernel/btf/vmlinux, and the
 * same way everywhere. It holds only what decode.bpf.c and the helper declarations use; the
 * values are the kernel UAPI's (include/uapi/linux/bpf.h). */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef unsigned long size_t;
typedef _Bool bool;

enum bpf_map_type {
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
};

#endif
