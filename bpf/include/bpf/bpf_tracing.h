/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tracing-program conveniences with libbpf's bpf_tracing.h names: register accessors for
 * kprobe/uprobe contexts (PT_REGS_*) and the BPF_PROG / BPF_KPROBE / BPF_KRETPROBE /
 * BPF_KSYSCALL / BPF_UPROBE / BPF_URETPROBE wrappers that turn a context into typed arguments.
 *
 * Architecture: `clang -target bpf` defines neither __x86_64__ nor __aarch64__, so the register
 * layout is chosen with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64 (when compiling for the
 * host instead, its own macros select it). Without one, the PT_REGS_* macros fail to compile
 * with a message saying so; BPF_PROG (tp_btf, fentry, raw tracepoints) needs no architecture.
 * Include vmlinux.h before this header: with it (or __KERNEL__) x86 registers have the kernel's
 * field names (di, si, ...), otherwise the UAPI <asm/ptrace.h> names (rdi, rsi, ...).
 */
#ifndef __SWIFTBPF_BPF_TRACING_H
#define __SWIFTBPF_BPF_TRACING_H

#include "bpf_helpers.h"
#include "bpf_core_read.h"

#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64) && !defined(__bpf__)
#if defined(__x86_64__)
#define __TARGET_ARCH_x86
#elif defined(__aarch64__)
#define __TARGET_ARCH_arm64
#endif
#endif

#if defined(__TARGET_ARCH_x86)
/* x86-64 SysV calling convention: rdi, rsi, rdx, rcx, r8, r9, then the stack; syscalls pass the
 * 4th argument in r10 because `syscall` clobbers rcx. */
#define __BPF_REGS_TYPE struct pt_regs
#if defined(__KERNEL__) || defined(__VMLINUX_H__)
#define __BPF_PARM1_REG di
#define __BPF_PARM2_REG si
#define __BPF_PARM3_REG dx
#define __BPF_PARM4_REG cx
#define __BPF_PARM5_REG r8
#define __BPF_PARM6_REG r9
#define __BPF_SYSCALL_PARM4_REG r10
#define __BPF_RC_REG ax
#define __BPF_SP_REG sp
#define __BPF_FP_REG bp
#define __BPF_IP_REG ip
#else
#define __BPF_PARM1_REG rdi
#define __BPF_PARM2_REG rsi
#define __BPF_PARM3_REG rdx
#define __BPF_PARM4_REG rcx
#define __BPF_PARM5_REG r8
#define __BPF_PARM6_REG r9
#define __BPF_SYSCALL_PARM4_REG r10
#define __BPF_RC_REG rax
#define __BPF_SP_REG rsp
#define __BPF_FP_REG rbp
#define __BPF_IP_REG rip
#endif
/* The return address is the word at the stack pointer on function entry. */
#define __BPF_RET_REG __BPF_SP_REG

#elif defined(__TARGET_ARCH_arm64)
/* AAPCS64: x0-x7 carry arguments 1-8, x0 the result, x29 the frame pointer, x30 the link
 * register. Kprobe contexts expose struct user_pt_regs (the kernel's pt_regs starts with it). */
#define __BPF_REGS_TYPE struct user_pt_regs
#define __BPF_PARM1_REG regs[0]
#define __BPF_PARM2_REG regs[1]
#define __BPF_PARM3_REG regs[2]
#define __BPF_PARM4_REG regs[3]
#define __BPF_PARM5_REG regs[4]
#define __BPF_PARM6_REG regs[5]
#define __BPF_PARM7_REG regs[6]
#define __BPF_PARM8_REG regs[7]
#define __BPF_SYSCALL_PARM4_REG regs[3]
#define __BPF_RC_REG regs[0]
#define __BPF_SP_REG sp
#define __BPF_FP_REG regs[29]
#define __BPF_IP_REG pc
#define __BPF_RET_REG regs[30]
/* The syscall entry overwrites x0 with the return value; the first argument survives in the
 * kernel-only pt_regs.orig_x0. A local "flavor" struct (CO-RE ignores the ___ suffix) names it
 * without needing the full kernel definition. */
struct pt_regs___sbpf_arm64 {
	unsigned long orig_x0;
} __attribute__((preserve_access_index));
#define __BPF_SYSCALL_PARM1_CORE(x) BPF_CORE_READ((const struct pt_regs___sbpf_arm64 *)(x), orig_x0)
#endif

#if defined(__TARGET_ARCH_x86) || defined(__TARGET_ARCH_arm64)

#define __BPF_REGS(x) ((const __BPF_REGS_TYPE *)(x))

#define PT_REGS_PARM1(x) (__BPF_REGS(x)->__BPF_PARM1_REG)
#define PT_REGS_PARM2(x) (__BPF_REGS(x)->__BPF_PARM2_REG)
#define PT_REGS_PARM3(x) (__BPF_REGS(x)->__BPF_PARM3_REG)
#define PT_REGS_PARM4(x) (__BPF_REGS(x)->__BPF_PARM4_REG)
#define PT_REGS_PARM5(x) (__BPF_REGS(x)->__BPF_PARM5_REG)
#define PT_REGS_PARM6(x) (__BPF_REGS(x)->__BPF_PARM6_REG)
#define PT_REGS_RET(x) (__BPF_REGS(x)->__BPF_RET_REG)
#define PT_REGS_FP(x) (__BPF_REGS(x)->__BPF_FP_REG)
#define PT_REGS_RC(x) (__BPF_REGS(x)->__BPF_RC_REG)
#define PT_REGS_SP(x) (__BPF_REGS(x)->__BPF_SP_REG)
#define PT_REGS_IP(x) (__BPF_REGS(x)->__BPF_IP_REG)

#define PT_REGS_PARM1_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM1_REG)
#define PT_REGS_PARM2_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM2_REG)
#define PT_REGS_PARM3_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM3_REG)
#define PT_REGS_PARM4_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM4_REG)
#define PT_REGS_PARM5_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM5_REG)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM6_REG)
#define PT_REGS_RET_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_RET_REG)
#define PT_REGS_FP_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_FP_REG)
#define PT_REGS_RC_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_RC_REG)
#define PT_REGS_SP_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_SP_REG)
#define PT_REGS_IP_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_IP_REG)

#if defined(__BPF_PARM7_REG)
#define PT_REGS_PARM7(x) (__BPF_REGS(x)->__BPF_PARM7_REG)
#define PT_REGS_PARM8(x) (__BPF_REGS(x)->__BPF_PARM8_REG)
#define PT_REGS_PARM7_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM7_REG)
#define PT_REGS_PARM8_CORE(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_PARM8_REG)
#else
#define __BPF_STACK_ARGUMENT \
	({ _Static_assert(0, "bpf_tracing.h: arguments 7 and 8 are on the stack on this architecture; " \
			     "read them from PT_REGS_SP with bpf_probe_read_kernel"); 0UL; })
#define PT_REGS_PARM7(x) __BPF_STACK_ARGUMENT
#define PT_REGS_PARM8(x) __BPF_STACK_ARGUMENT
#define PT_REGS_PARM7_CORE(x) __BPF_STACK_ARGUMENT
#define PT_REGS_PARM8_CORE(x) __BPF_STACK_ARGUMENT
#endif

/* Syscall arguments, from the pt_regs the syscall was entered with (for kprobes on the
 * __<arch>_sys_* wrappers that is PT_REGS_PARM1 of the probe's own context). */
#ifdef __BPF_SYSCALL_PARM1_CORE
#define PT_REGS_PARM1_CORE_SYSCALL(x) __BPF_SYSCALL_PARM1_CORE(x)
#define PT_REGS_PARM1_SYSCALL(x) PT_REGS_PARM1_CORE_SYSCALL(x)
#else
#define PT_REGS_PARM1_SYSCALL(x) PT_REGS_PARM1(x)
#define PT_REGS_PARM1_CORE_SYSCALL(x) PT_REGS_PARM1_CORE(x)
#endif
#define PT_REGS_PARM2_SYSCALL(x) PT_REGS_PARM2(x)
#define PT_REGS_PARM3_SYSCALL(x) PT_REGS_PARM3(x)
#define PT_REGS_PARM4_SYSCALL(x) (__BPF_REGS(x)->__BPF_SYSCALL_PARM4_REG)
#define PT_REGS_PARM5_SYSCALL(x) PT_REGS_PARM5(x)
#define PT_REGS_PARM6_SYSCALL(x) PT_REGS_PARM6(x)
#define PT_REGS_PARM2_CORE_SYSCALL(x) PT_REGS_PARM2_CORE(x)
#define PT_REGS_PARM3_CORE_SYSCALL(x) PT_REGS_PARM3_CORE(x)
#define PT_REGS_PARM4_CORE_SYSCALL(x) BPF_CORE_READ(__BPF_REGS(x), __BPF_SYSCALL_PARM4_REG)
#define PT_REGS_PARM5_CORE_SYSCALL(x) PT_REGS_PARM5_CORE(x)
#define PT_REGS_PARM6_CORE_SYSCALL(x) PT_REGS_PARM6_CORE(x)

#else /* no target architecture */

#define __BPF_NO_TARGET_ARCH \
	({ _Static_assert(0, "bpf_tracing.h: choose the register layout with -D__TARGET_ARCH_x86 " \
			     "or -D__TARGET_ARCH_arm64"); 0UL; })
#define PT_REGS_PARM1(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM2(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM3(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM4(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM5(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM6(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM7(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM8(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_RET(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_FP(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_RC(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_SP(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_IP(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM1_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM2_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM3_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM4_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM5_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM6_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM7_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM8_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_RET_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_FP_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_RC_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_SP_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_IP_CORE(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM1_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM2_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM3_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM4_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM5_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM6_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM1_CORE_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM2_CORE_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM3_CORE_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM4_CORE_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM5_CORE_SYSCALL(x) __BPF_NO_TARGET_ARCH
#define PT_REGS_PARM6_CORE_SYSCALL(x) __BPF_NO_TARGET_ARCH

#endif

/* ---- Typed-argument wrappers ----------------------------------------------------------- */

/*
 * Each wrapper declares `name(ctx)` as the program, and an always-inline body taking the
 * context plus the listed arguments, filled from the context. Arguments arrive as integers or
 * pointers in 64-bit registers, so each is passed through `(void *)` and converted implicitly;
 * -Wint-conversion is silenced for that call only. `int BPF_KPROBE(f, ...)` gives the program
 * its return type.
 */
#define __bpf_args_0(get, ctx)
#define __bpf_args_1(get, ctx) , (void *)get(ctx, 0, 1)
#define __bpf_args_2(get, ctx) __bpf_args_1(get, ctx), (void *)get(ctx, 1, 2)
#define __bpf_args_3(get, ctx) __bpf_args_2(get, ctx), (void *)get(ctx, 2, 3)
#define __bpf_args_4(get, ctx) __bpf_args_3(get, ctx), (void *)get(ctx, 3, 4)
#define __bpf_args_5(get, ctx) __bpf_args_4(get, ctx), (void *)get(ctx, 4, 5)
#define __bpf_args_6(get, ctx) __bpf_args_5(get, ctx), (void *)get(ctx, 5, 6)
#define __bpf_args_7(get, ctx) __bpf_args_6(get, ctx), (void *)get(ctx, 6, 7)
#define __bpf_args_8(get, ctx) __bpf_args_7(get, ctx), (void *)get(ctx, 7, 8)
#define __bpf_args_9(get, ctx) __bpf_args_8(get, ctx), (void *)get(ctx, 8, 9)
#define __bpf_args_10(get, ctx) __bpf_args_9(get, ctx), (void *)get(ctx, 9, 10)
#define __bpf_args_11(get, ctx) __bpf_args_10(get, ctx), (void *)get(ctx, 10, 11)
#define __bpf_args_12(get, ctx) __bpf_args_11(get, ctx), (void *)get(ctx, 11, 12)
/* ", arg1, arg2, ..." for as many declarations as `args` has, each from get(ctx, index, n). */
#define __bpf_args(get, ctx, args...) __bpf_cat(__bpf_args_, __bpf_nargs(args))(get, ctx)

#define __bpf_ctx_slot(ctx, index, n) (ctx)[index]
#define __bpf_kprobe_parm(ctx, index, n) PT_REGS_PARM##n(ctx)
#define __bpf_syscall_parm(ctx, index, n) PT_REGS_PARM##n##_SYSCALL(ctx)
#define __bpf_syscall_parm_core(ctx, index, n) PT_REGS_PARM##n##_CORE_SYSCALL(ctx)

#define __bpf_loosely_typed_call(call) \
	_Pragma("GCC diagnostic push") \
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"") \
	call; \
	_Pragma("GCC diagnostic pop")

#define __bpf_wrapper(ctx_decl, name, args...) \
	name(ctx_decl); \
	static __always_inline __typeof__(name(0)) ____##name(ctx_decl, ##args); \
	__typeof__(name(0)) name(ctx_decl)

/* tp_btf, fentry/fexit, raw tracepoints, struct_ops, LSM: the context is an array of u64, one
 * per argument of the traced function or tracepoint. */
#define BPF_PROG(name, args...) \
	__bpf_wrapper(unsigned long long *ctx, name, ##args) \
	{ \
		__bpf_loosely_typed_call(return ____##name(ctx __bpf_args(__bpf_ctx_slot, ctx, ##args))) \
	} \
	static __always_inline __typeof__(name(0)) ____##name(unsigned long long *ctx, ##args)

/* kprobe on function entry: arguments from the calling-convention registers. */
#define BPF_KPROBE(name, args...) \
	__bpf_wrapper(struct pt_regs *ctx, name, ##args) \
	{ \
		__bpf_loosely_typed_call(return ____##name(ctx __bpf_args(__bpf_kprobe_parm, ctx, ##args))) \
	} \
	static __always_inline __typeof__(name(0)) ____##name(struct pt_regs *ctx, ##args)

/* kretprobe: at most one argument, the return value. */
#define __bpf_kretprobe_args_0(ctx)
#define __bpf_kretprobe_args_1(ctx) , (void *)PT_REGS_RC(ctx)
#define BPF_KRETPROBE(name, args...) \
	__bpf_wrapper(struct pt_regs *ctx, name, ##args) \
	{ \
		__bpf_loosely_typed_call(return ____##name(ctx __bpf_cat(__bpf_kretprobe_args_, __bpf_nargs(args))(ctx))) \
	} \
	static __always_inline __typeof__(name(0)) ____##name(struct pt_regs *ctx, ##args)

/* uprobes see user registers in the same pt_regs layout. */
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)

/* kprobe on a syscall entry (SEC("ksyscall/<name>")): arguments as the syscall received them.
 * Kernels built with syscall wrappers (x86-64 since 4.17, arm64 since 4.19) call
 * __<arch>_sys_<name>(const struct pt_regs *regs), so the user registers are one pointer away
 * and read with CO-RE; otherwise they are the probe context itself. The loader sets the
 * LINUX_HAS_SYSCALL_WRAPPER Kconfig extern. */
#define BPF_KSYSCALL(name, args...) \
	__bpf_wrapper(struct pt_regs *ctx, name, ##args) \
	{ \
		extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig; \
		struct pt_regs *__bpf_user_regs = LINUX_HAS_SYSCALL_WRAPPER \
			? (struct pt_regs *)PT_REGS_PARM1(ctx) : ctx; \
		if (LINUX_HAS_SYSCALL_WRAPPER) { \
			__bpf_loosely_typed_call(return ____##name(ctx __bpf_args(__bpf_syscall_parm_core, __bpf_user_regs, ##args))) \
		} else { \
			__bpf_loosely_typed_call(return ____##name(ctx __bpf_args(__bpf_syscall_parm, __bpf_user_regs, ##args))) \
		} \
	} \
	static __always_inline __typeof__(name(0)) ____##name(struct pt_regs *ctx, ##args)
#define BPF_KPROBE_SYSCALL BPF_KSYSCALL

/* ---- seq_file output for iterator programs ----------------------------------------------- */

#define BPF_SEQ_PRINTF(seq, fmt, ...) \
	__bpf_format_call(bpf_seq_printf(seq, __bpf_fmt, sizeof(__bpf_fmt), __bpf_args, __bpf_args_len(__VA_ARGS__)), \
			  fmt, ##__VA_ARGS__)

#endif /* __SWIFTBPF_BPF_TRACING_H */
