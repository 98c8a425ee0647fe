/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * SwiftBPF's BPF-side helper header: the macro names and meanings libbpf's bpf_helpers.h
 * documents, so programs written for libbpf compile unchanged with `clang -target bpf`.
 * Include vmlinux.h (or <linux/types.h>) first: the helper prototypes use __u32/__u64.
 */
#ifndef __SWIFTBPF_BPF_HELPERS_H
#define __SWIFTBPF_BPF_HELPERS_H

/* Every helper the kernel documents, as `static ret (* const bpf_name)(...) = (void *) id`. */
#include "bpf_helper_defs.h"

/* ---- Argument counting (shared by the other headers) ---------------------------------- */

#define __bpf_paste(a, b) a##b
#define __bpf_cat(a, b) __bpf_paste(a, b)
/* The 14th argument after the list: how many of the (up to 12) arguments were given. The GNU
 * `, ##` form drops the comma for an empty list, so __bpf_nargs() is 0. */
#define __bpf_pick14(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, n, ...) n
#define __bpf_nargs(...) \
	__bpf_pick14(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)

/* ---- Sections and map definitions ------------------------------------------------------ */

/* The ELF section names the program type and attach point ("tracepoint/sched/sched_switch",
 * "xdp", "license", ".maps"); `used` keeps unreferenced programs and maps in the object. */
#define SEC(name) __attribute__((section(name), used))

/* BTF-defined maps: the loader reads each member's *type*, never a value:
 * __uint(max_entries, 64)  -> int (*max_entries)[64]   (the array length is the number)
 * __type(key, __u32)       -> __u32 *key               (the pointee is the key type)
 * __array(values, struct x)-> struct x *values[]       (map-in-map / prog-array inner type)
 * __ulong(map_extra, v)    -> an enum whose one enumerator is v (a 64-bit number). */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#define __array(name, val) __typeof__(val) *name[]
#define __ulong(name, val) enum { __bpf_cat(__bpf_ulong_, __COUNTER__) = val } name

/* Values of the `pinning` map attribute. */
enum libbpf_pin_type {
	LIBBPF_PIN_NONE,
	/* Pin at <pin root, default /sys/fs/bpf>/<map name>, reusing a compatible pinned map. */
	LIBBPF_PIN_BY_NAME,
};

/* Values of tristate Kconfig externs (CONFIG_X=y/m/n). */
enum libbpf_tristate {
	TRI_NO = 0,
	TRI_YES = 1,
	TRI_MODULE = 2,
};

/* ---- Attributes ------------------------------------------------------------------------ */

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
/* Static-linking visibility: callers outside this object cannot resolve the symbol, and the
 * verifier checks hidden global functions as static ones. */
#define __hidden __attribute__((visibility("hidden")))

/* Externs resolved by the loader: kernel symbols/kfuncs (.ksyms) and Kconfig values (.kconfig). */
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
/* Kernel pointers stored in map values, recognised by the verifier through BTF type tags. */
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))
#define __uptr __attribute__((btf_type_tag("uptr")))
/* Graph roots (bpf_list_head, bpf_rb_root): which struct and member the nodes live in. */
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))

/* Global-function argument tags (BTF decl tags the verifier reads, Linux 6.8+). */
#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#define __arg_nonnull __attribute__((btf_decl_tag("arg:nonnull")))
#define __arg_nullable __attribute__((btf_decl_tag("arg:nullable")))
#define __arg_trusted __attribute__((btf_decl_tag("arg:trusted")))
#define __arg_untrusted __attribute__((btf_decl_tag("arg:untrusted")))
#define __arg_arena __attribute__((btf_decl_tag("arg:arena")))

/* ---- Small language helpers ------------------------------------------------------------ */

#ifndef NULL
#define NULL ((void *)0)
#endif

/* Same encoding as the kernel's LINUX_VERSION_CODE; the sublevel saturates at 255. */
#ifndef KERNEL_VERSION
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#endif

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member) \
	({ \
		void *__bpf_member_ptr = (void *)(ptr); \
		((type *)(__bpf_member_ptr - offsetof(type, member))); \
	})
#endif

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif
/* Makes the compiler forget what it knows about `var` (its range, its being a constant), so it
 * cannot fold checks the verifier needs to see. */
#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

/* A path the compiler must treat as impossible; reaching it is a compile error in BPF. */
#ifndef __bpf_unreachable
#define __bpf_unreachable() __builtin_trap()
#endif

/* True when the __weak __ksym extern `sym` was found in the running kernel (the loader
 * resolves missing weak ksyms to 0). Rejects non-weak symbols, whose address is constant. */
#define bpf_ksym_exists(sym) \
	({ \
		_Static_assert(!__builtin_constant_p(!!sym), #sym " must be declared __weak"); \
		!!sym; \
	})

/* ---- Tail calls ------------------------------------------------------------------------ */

#if __clang_major__ >= 8 && defined(__bpf__)
/* bpf_tail_call with a compile-time slot: the index is an immediate loaded right before the
 * call, which lets the JIT patch a direct jump (kernel: "constant map key" tail calls). */
static __always_inline void bpf_tail_call_static(void *ctx, const void *map, const __u32 slot)
{
	if (!__builtin_constant_p(slot))
		__bpf_unreachable();
	asm volatile("r1 = %[ctx]\n\t"
		     "r2 = %[map]\n\t"
		     "r3 = %[slot]\n\t"
		     "call 12"
		     :: [ctx] "r"(ctx), [map] "r"(map), [slot] "i"(slot)
		     : "r0", "r1", "r2", "r3", "r4", "r5");
}
#endif

/* ---- Formatted output ------------------------------------------------------------------ */

/* Stores up to 12 arguments as u64 into `array`, in order. */
#define __bpf_store_args(array, ...) \
	__bpf_cat(__bpf_store_, __bpf_nargs(__VA_ARGS__))(array, 0, ##__VA_ARGS__)
#define __bpf_store_0(array, i)
#define __bpf_store_1(array, i, x) array[i] = (unsigned long long)(x);
#define __bpf_store_2(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_1(array, i + 1, __VA_ARGS__)
#define __bpf_store_3(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_2(array, i + 1, __VA_ARGS__)
#define __bpf_store_4(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_3(array, i + 1, __VA_ARGS__)
#define __bpf_store_5(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_4(array, i + 1, __VA_ARGS__)
#define __bpf_store_6(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_5(array, i + 1, __VA_ARGS__)
#define __bpf_store_7(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_6(array, i + 1, __VA_ARGS__)
#define __bpf_store_8(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_7(array, i + 1, __VA_ARGS__)
#define __bpf_store_9(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_8(array, i + 1, __VA_ARGS__)
#define __bpf_store_10(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_9(array, i + 1, __VA_ARGS__)
#define __bpf_store_11(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_10(array, i + 1, __VA_ARGS__)
#define __bpf_store_12(array, i, x, ...) __bpf_store_1(array, i, x) __bpf_store_11(array, i + 1, __VA_ARGS__)

/* The helpers taking a format plus an array of u64 arguments (bpf_snprintf, bpf_seq_printf,
 * bpf_trace_vprintk) share this: the format lives in .rodata, the arguments on the stack, and
 * `call` is evaluated with __bpf_fmt, __bpf_args and __bpf_args_len(args) in scope. */
#define __bpf_args_len(...) (__bpf_nargs(__VA_ARGS__) * sizeof(unsigned long long))
#define __bpf_format_call(call, fmt, ...) \
	({ \
		static const char __bpf_fmt[] = fmt; \
		unsigned long long __bpf_args[__bpf_nargs(__VA_ARGS__) ? __bpf_nargs(__VA_ARGS__) : 1]; \
		__bpf_store_args(__bpf_args, ##__VA_ARGS__) \
		call; \
	})

/* bpf_snprintf into `out`; returns the length including the NUL, or a negative error. */
#define BPF_SNPRINTF(out, out_size, fmt, ...) \
	__bpf_format_call(bpf_snprintf(out, out_size, __bpf_fmt, __bpf_args, __bpf_args_len(__VA_ARGS__)), \
			  fmt, ##__VA_ARGS__)

/* bpf_trace_printk takes at most 3 arguments in registers; bpf_trace_vprintk (Linux 5.16)
 * takes up to 12 in an array. bpf_printk picks by count, so short calls keep working on older
 * kernels. Both print to /sys/kernel/tracing/trace_pipe. */
#define __bpf_printk_regs(fmt, ...) \
	({ \
		static const char __bpf_fmt[] = fmt; \
		/* parenthesised: bcc_compat.h makes bpf_trace_printk a function-like macro */ \
		(bpf_trace_printk)(__bpf_fmt, sizeof(__bpf_fmt), ##__VA_ARGS__); \
	})
#define __bpf_printk_array(fmt, ...) \
	__bpf_format_call(bpf_trace_vprintk(__bpf_fmt, sizeof(__bpf_fmt), __bpf_args, __bpf_args_len(__VA_ARGS__)), \
			  fmt, ##__VA_ARGS__)
#define __bpf_printk_by_count(...) \
	__bpf_pick14(_, ##__VA_ARGS__, __bpf_printk_array, __bpf_printk_array, __bpf_printk_array, \
		     __bpf_printk_array, __bpf_printk_array, __bpf_printk_array, __bpf_printk_array, \
		     __bpf_printk_array, __bpf_printk_array, __bpf_printk_regs, __bpf_printk_regs, \
		     __bpf_printk_regs, __bpf_printk_regs)
#define bpf_printk(fmt, ...) __bpf_printk_by_count(__VA_ARGS__)(fmt, ##__VA_ARGS__)

/* ---- Open-coded iterators (Linux 6.4 kfuncs) -------------------------------------------- */

struct bpf_iter_num;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __weak __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __weak __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __weak __ksym;

/* for (i = start; i < end; i++) that the verifier accepts without unrolling, built on the
 * bpf_iter_num kfuncs; the iterator is destroyed when the loop's scope ends (also on break).
 * Needs `struct bpf_iter_num` complete, i.e. vmlinux.h from a 6.4+ kernel. */
#define bpf_for(i, start, end) \
	for (struct bpf_iter_num __bpf_it __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *__bpf_it_init __attribute__((unused)) = \
		     (bpf_iter_num_new(&__bpf_it, (start), (end)), (void *)0); \
	     ({ \
		     int *__bpf_cur = bpf_iter_num_next(&__bpf_it); \
		     __bpf_cur ? ((i) = *__bpf_cur, 1) : 0; \
	     });)

/* Runs the body `n` times. */
#define bpf_repeat(n) \
	for (struct bpf_iter_num __bpf_it __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *__bpf_it_init __attribute__((unused)) = \
		     (bpf_iter_num_new(&__bpf_it, 0, (n)), (void *)0); \
	     bpf_iter_num_next(&__bpf_it);)

#endif /* __SWIFTBPF_BPF_HELPERS_H */
