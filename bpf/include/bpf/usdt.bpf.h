/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Arguments of USDT probes (statically defined tracing points, <sys/sdt.h>) for programs in
 * SEC("usdt/PATH:PROVIDER:NAME") or SEC("usdt"). The interface is libbpf's: the same two maps,
 * the same spec record member names, bpf_usdt_arg_cnt(), bpf_usdt_arg(), bpf_usdt_cookie() and
 * BPF_USDT(), so programs written for libbpf build and run unchanged.
 *
 * How it works: each probe site's note says where every argument is at the probe (a constant,
 * a register, memory at register + offset, or memory at base + index * scale + offset). The
 * loader turns each distinct argument list into a `struct __bpf_usdt_spec` in the
 * __bpf_usdt_specs array and attaches the site's uprobe with the spec's index as BPF cookie.
 * Here the program finds its spec by that cookie and reads registers from its pt_regs context.
 * Kernels without BPF cookies (before 5.15) would need the instruction-pointer map instead.
 *
 * Include vmlinux.h (or <linux/types.h> and <linux/ptrace.h>) first, and compile with
 * -D__TARGET_ARCH_<arch>.
 */
#ifndef __SWIFTBPF_USDT_BPF_H
#define __SWIFTBPF_USDT_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Distinct argument lists attached at once, per object; define before including to change. */
#ifndef BPF_USDT_MAX_SPEC_CNT
#define BPF_USDT_MAX_SPEC_CNT 256
#endif
/* Probe sites for the instruction-pointer lookup (unused when the kernel has BPF cookies). */
#ifndef BPF_USDT_MAX_IP_CNT
#define BPF_USDT_MAX_IP_CNT (4 * BPF_USDT_MAX_SPEC_CNT)
#endif
/* Arguments per probe <sys/sdt.h> can describe. */
#define BPF_USDT_MAX_ARG_CNT 12

/* errno values returned negated (asm-generic/errno-base.h), under private names so that a
 * later <linux/errno.h> does not clash. */
#define __BPF_USDT_ENOENT 2
#define __BPF_USDT_ESRCH 3
#define __BPF_USDT_EINVAL 22

/* Where an argument is when the probe fires. */
enum __bpf_usdt_arg_type {
	BPF_USDT_ARG_CONST,     /* val_off is the value */
	BPF_USDT_ARG_REG,       /* in the register at reg_off */
	BPF_USDT_ARG_REG_DEREF, /* in user memory at register(reg_off) + val_off */
	BPF_USDT_ARG_SIB,       /* in user memory at register(reg_off) + (register(idx_reg_off) << scale_bitshift) + val_off */
};

/* One argument. Register offsets are byte offsets into the probe's struct pt_regs. The loader
 * reads this layout from the object's BTF, so member order and widths are ours to choose;
 * the names are the contract. */
struct __bpf_usdt_arg_spec {
	__u64 val_off;
	__u8 arg_type;          /* enum __bpf_usdt_arg_type */
	__u8 scale_bitshift;    /* BPF_USDT_ARG_SIB: log2 of the index scale */
	__u16 idx_reg_off;      /* BPF_USDT_ARG_SIB: the index register */
	short reg_off;          /* the (base) register */
	_Bool arg_signed;
	/* 64 - 8 * size: shifting left, then right (arithmetically when signed) by this much
	 * truncates the value to its size and extends it back to 64 bits. */
	char arg_bitshift;
};

struct __bpf_usdt_spec {
	struct __bpf_usdt_arg_spec args[BPF_USDT_MAX_ARG_CNT];
	__u64 usdt_cookie;      /* the value given when attaching */
	short arg_cnt;
};

/* Weak, so that every compilation unit of a program may include this header and the linker
 * keeps one of each. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPF_USDT_MAX_SPEC_CNT);
	__type(key, int);
	__type(value, struct __bpf_usdt_spec);
} __bpf_usdt_specs SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPF_USDT_MAX_IP_CNT);
	__type(key, long);
	__type(value, __u32);
} __bpf_usdt_ip_to_spec_id SEC(".maps") __weak;

/* Set by the loader: whether bpf_get_attach_cookie() exists. A constant to the verifier, so the
 * branch not taken is never checked. */
extern const _Bool LINUX_HAS_BPF_COOKIE __kconfig;

/* The index of this probe site's spec, or -ESRCH. */
static __always_inline int __bpf_usdt_spec_id(struct pt_regs *ctx)
{
	if (LINUX_HAS_BPF_COOKIE)
		return (int)bpf_get_attach_cookie(ctx);
	long ip = PT_REGS_IP(ctx);
	__u32 *id = bpf_map_lookup_elem(&__bpf_usdt_ip_to_spec_id, &ip);
	return id ? (int)*id : -__BPF_USDT_ESRCH;
}

static __always_inline struct __bpf_usdt_spec *__bpf_usdt_spec(struct pt_regs *ctx)
{
	int id = __bpf_usdt_spec_id(ctx);
	if (id < 0)
		return 0;
	return bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
}

/* Reads exactly the argument's bytes from user memory into the low end of *value (so a 4-byte
 * argument at the end of a mapping does not fault on the 4 bytes after it). */
static __always_inline long __bpf_usdt_read_user(unsigned long *value, unsigned long address, char bitshift)
{
	switch (bitshift) {
	case 56: return bpf_probe_read_user(value, 1, (const void *)address);
	case 48: return bpf_probe_read_user(value, 2, (const void *)address);
	case 32: return bpf_probe_read_user(value, 4, (const void *)address);
	default: return bpf_probe_read_user(value, 8, (const void *)address);
	}
}

/* How many arguments the probe has, or -ESRCH when the program runs outside a USDT attach. */
static __always_inline int bpf_usdt_arg_cnt(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec = __bpf_usdt_spec(ctx);
	return spec ? spec->arg_cnt : -__BPF_USDT_ESRCH;
}

/* The size in bytes of argument `arg_num`, or a negative errno. */
static __always_inline int bpf_usdt_arg_size(struct pt_regs *ctx, __u64 arg_num)
{
	struct __bpf_usdt_spec *spec = __bpf_usdt_spec(ctx);
	if (!spec)
		return -__BPF_USDT_ESRCH;
	if (arg_num >= BPF_USDT_MAX_ARG_CNT || arg_num >= (__u64)spec->arg_cnt)
		return -__BPF_USDT_ENOENT;
	return (64 - spec->args[arg_num].arg_bitshift) / 8;
}

/* Argument `arg_num` (from 0), sign- or zero-extended to 64 bits, into *res (0 on failure).
 * Returns 0, -ESRCH (no spec), -ENOENT (no such argument), -EINVAL (unknown kind) or the
 * error of the memory read. */
static __always_inline int bpf_usdt_arg(struct pt_regs *ctx, __u64 arg_num, long *res)
{
	struct __bpf_usdt_spec *spec;
	struct __bpf_usdt_arg_spec *arg;
	unsigned long value = 0, index = 0, address;
	long err;

	*res = 0;
	spec = __bpf_usdt_spec(ctx);
	if (!spec)
		return -__BPF_USDT_ESRCH;
	/* The constant bound first: it is what lets the verifier check args[arg_num]. */
	if (arg_num >= BPF_USDT_MAX_ARG_CNT || arg_num >= (__u64)spec->arg_cnt)
		return -__BPF_USDT_ENOENT;
	arg = &spec->args[arg_num];
	switch (arg->arg_type) {
	case BPF_USDT_ARG_CONST:
		value = arg->val_off;
		break;
	case BPF_USDT_ARG_REG:
		err = bpf_probe_read_kernel(&value, sizeof(value), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		break;
	case BPF_USDT_ARG_REG_DEREF:
		err = bpf_probe_read_kernel(&value, sizeof(value), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		address = value + arg->val_off;
		value = 0;
		err = __bpf_usdt_read_user(&value, address, arg->arg_bitshift);
		if (err)
			return err;
		break;
	case BPF_USDT_ARG_SIB:
		err = bpf_probe_read_kernel(&value, sizeof(value), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		err = bpf_probe_read_kernel(&index, sizeof(index), (void *)ctx + arg->idx_reg_off);
		if (err)
			return err;
		address = value + (index << arg->scale_bitshift) + arg->val_off;
		value = 0;
		err = __bpf_usdt_read_user(&value, address, arg->arg_bitshift);
		if (err)
			return err;
		break;
	default:
		return -__BPF_USDT_EINVAL;
	}
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	/* A short read filled the high-order bytes; bring them down first. */
	if (arg->arg_type == BPF_USDT_ARG_REG_DEREF || arg->arg_type == BPF_USDT_ARG_SIB)
		value >>= arg->arg_bitshift;
#endif
	value <<= arg->arg_bitshift;
	if (arg->arg_signed)
		value = (unsigned long)((long)value >> arg->arg_bitshift);
	else
		value >>= arg->arg_bitshift;
	*res = (long)value;
	return 0;
}

/* The cookie given when attaching (0 if none), or 0 outside a USDT attach. */
static __always_inline long bpf_usdt_cookie(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec = __bpf_usdt_spec(ctx);
	return spec ? (long)spec->usdt_cookie : 0;
}

/* int BPF_USDT(name, int a, long b, ...): the program `name(struct pt_regs *ctx)` with the
 * probe's arguments converted to the declared types (missing ones read as 0). */
#define __bpf_usdt_parm(ctx, index, n) \
	({ long __bpf_usdt_value; bpf_usdt_arg(ctx, index, &__bpf_usdt_value); __bpf_usdt_value; })
#define BPF_USDT(name, args...) \
	__bpf_wrapper(struct pt_regs *ctx, name, ##args) \
	{ \
		__bpf_loosely_typed_call(return ____##name(ctx __bpf_args(__bpf_usdt_parm, ctx, ##args))) \
	} \
	static __always_inline __typeof__(name(0)) ____##name(struct pt_regs *ctx, ##args)

#endif /* __SWIFTBPF_USDT_BPF_H */
