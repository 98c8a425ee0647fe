/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CO-RE (compile once, run everywhere) reads: the macro names and meanings of libbpf's
 * bpf_core_read.h. Each macro wraps one of clang's BPF builtins, which records a relocation
 * in .BTF.ext that the loader resolves against the running kernel's BTF:
 *   __builtin_preserve_access_index(expr)      field offsets along an access chain
 *   __builtin_preserve_field_info(field, kind) one fact about a field (enum bpf_field_info_kind)
 *   __builtin_preserve_type_info(*(T *)0, kind) one fact about a type
 *   __builtin_preserve_enum_value(*(E *)V, kind) one fact about an enumerator
 *   __builtin_btf_type_id(*(T *)0, kind)        a local or kernel BTF type id
 */
#ifndef __SWIFTBPF_BPF_CORE_READ_H
#define __SWIFTBPF_BPF_CORE_READ_H

#include "bpf_helpers.h"

/* The `kind` arguments of the builtins (values fixed by clang and the kernel's
 * enum bpf_core_relo_kind). */
enum bpf_field_info_kind {
	BPF_FIELD_BYTE_OFFSET = 0,
	BPF_FIELD_BYTE_SIZE = 1,
	BPF_FIELD_EXISTS = 2,
	BPF_FIELD_SIGNED = 3,
	BPF_FIELD_LSHIFT_U64 = 4,
	BPF_FIELD_RSHIFT_U64 = 5,
};
enum bpf_type_id_kind {
	BPF_TYPE_ID_LOCAL = 0,
	BPF_TYPE_ID_TARGET = 1,
};
enum bpf_type_info_kind {
	BPF_TYPE_EXISTS = 0,
	BPF_TYPE_SIZE = 1,
	BPF_TYPE_MATCHES = 2,
};
enum bpf_enum_value_kind {
	BPF_ENUMVAL_EXISTS = 0,
	BPF_ENUMVAL_VALUE = 1,
};

/* ---- Bitfields ------------------------------------------------------------------------ */

/* A bitfield's value, 64-bit, sign-extended when the field is signed: load the bytes holding
 * it into a u64, shift the field to the top, shift back down. All four numbers are relocated. */
#define __bpf_bitfield_extract(value, s, field) \
	({ \
		value <<= __builtin_preserve_field_info((s)->field, BPF_FIELD_LSHIFT_U64); \
		if (__builtin_preserve_field_info((s)->field, BPF_FIELD_SIGNED)) \
			value = (unsigned long long)((long long)value >> \
				__builtin_preserve_field_info((s)->field, BPF_FIELD_RSHIFT_U64)); \
		else \
			value >>= __builtin_preserve_field_info((s)->field, BPF_FIELD_RSHIFT_U64); \
		value; \
	})

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __bpf_low_bytes(u64_ptr, size) ((void *)(u64_ptr))
#else
#define __bpf_low_bytes(u64_ptr, size) ((void *)(u64_ptr) + 8 - (size))
#endif

/* Through bpf_probe_read_kernel: for pointers the verifier does not let programs dereference
 * (kprobe/tracepoint arguments). */
#define BPF_CORE_READ_BITFIELD_PROBED(s, field) \
	({ \
		unsigned long long __bpf_bf = 0; \
		unsigned int __bpf_bf_size = __builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_SIZE); \
		bpf_probe_read_kernel(__bpf_low_bytes(&__bpf_bf, __bpf_bf_size), __bpf_bf_size, \
				      (const void *)(s) + \
				      __builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_OFFSET)); \
		__bpf_bitfield_extract(__bpf_bf, s, field); \
	})

/* By direct load: for BTF-typed pointers (tp_btf, fentry, iterators) the verifier allows. */
#define BPF_CORE_READ_BITFIELD(s, field) \
	({ \
		const void *__bpf_bf_at = (const void *)(s) + \
			__builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_OFFSET); \
		unsigned long long __bpf_bf; \
		/* One relocated offset for all four loads, not one folded into each. */ \
		barrier_var(__bpf_bf_at); \
		switch (__builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_SIZE)) { \
		case 1: __bpf_bf = *(const unsigned char *)__bpf_bf_at; break; \
		case 2: __bpf_bf = *(const unsigned short *)__bpf_bf_at; break; \
		case 4: __bpf_bf = *(const unsigned int *)__bpf_bf_at; break; \
		case 8: __bpf_bf = *(const unsigned long long *)__bpf_bf_at; break; \
		default: __bpf_bf = 0; \
		} \
		__bpf_bitfield_extract(__bpf_bf, s, field); \
	})

/* ---- Field, type and enum facts -------------------------------------------------------- */

/* A field named either as an expression (`s->a.b`) or as a type and a member path
 * (`struct task_struct, pid`). */
#define __bpf_field_ref(...) __bpf_cat(__bpf_field_ref_, __bpf_nargs(__VA_ARGS__))(__VA_ARGS__)
#define __bpf_field_ref_1(field) (field)
#define __bpf_field_ref_2(type, field) (((__typeof__(type) *)0)->field)

#define bpf_core_field_exists(field...) \
	__builtin_preserve_field_info(__bpf_field_ref(field), BPF_FIELD_EXISTS)
#define bpf_core_field_size(field...) \
	__builtin_preserve_field_info(__bpf_field_ref(field), BPF_FIELD_BYTE_SIZE)
#define bpf_core_field_offset(field...) \
	__builtin_preserve_field_info(__bpf_field_ref(field), BPF_FIELD_BYTE_OFFSET)

#define bpf_core_type_id_local(type) __builtin_btf_type_id(*(__typeof__(type) *)0, BPF_TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) __builtin_btf_type_id(*(__typeof__(type) *)0, BPF_TYPE_ID_TARGET)
#define bpf_core_type_exists(type) __builtin_preserve_type_info(*(__typeof__(type) *)0, BPF_TYPE_EXISTS)
/* The kernel type has the same shape (member names and kinds, recursively) as the local one. */
#define bpf_core_type_matches(type) __builtin_preserve_type_info(*(__typeof__(type) *)0, BPF_TYPE_MATCHES)
#define bpf_core_type_size(type) __builtin_preserve_type_info(*(__typeof__(type) *)0, BPF_TYPE_SIZE)

#define bpf_core_enum_value_exists(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(__typeof__(enum_type) *)enum_value, BPF_ENUMVAL_EXISTS)
#define bpf_core_enum_value(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(__typeof__(enum_type) *)enum_value, BPF_ENUMVAL_VALUE)

/* ---- Single reads ---------------------------------------------------------------------- */

#define bpf_core_read(dst, sz, src) \
	bpf_probe_read_kernel(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user(dst, sz, src) \
	bpf_probe_read_user(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_str(dst, sz, src) \
	bpf_probe_read_kernel_str(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user_str(dst, sz, src) \
	bpf_probe_read_user_str(dst, sz, (const void *)__builtin_preserve_access_index(src))

/* The kernel's view of `ptr` as a `type *` the program may dereference directly (read-only,
 * faults read as zero): the bpf_rdonly_cast kfunc with the kernel's id of `type`. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define bpf_core_cast(ptr, type) ((__typeof__(type) *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

/* ---- Pointer chains: src->a->b->c in one expression ------------------------------------ */

/* Temporaries take the type of the field they hold without its qualifiers: a field reached
 * through a `const T *` is const, and a const temporary could not be read into. */
#if defined(__clang_major__) && __clang_major__ >= 19
#define __bpf_unqual_typeof(x) __typeof_unqual__(x)
#else
#define __bpf_unqual_typeof(x) __typeof__(x)
#endif

/*
 * A chain of n accessors makes n reads. Each hop declares its own temporary (__bpf_hop<n>,
 * distinct per depth because the depths nest) typed as the field it holds, reads the field
 * through `hop_read`, and continues from it; the last hop reads through `last_read` into dst.
 * An accessor may itself be a path inside one struct (`a.b`, `arr[2]`).
 */
#define __bpf_chain_last(last_read, dst, src, a) \
	last_read((void *)(dst), sizeof(*(dst)), &(src)->a)
#define __bpf_chain_hop(n, hop_read, src, a) \
	__bpf_unqual_typeof((src)->a) __bpf_hop##n; \
	hop_read((void *)&__bpf_hop##n, sizeof(__bpf_hop##n), &(src)->a);

#define __bpf_chain_1(hr, lr, dst, src, a) __bpf_chain_last(lr, dst, src, a)
#define __bpf_chain_2(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(2, hr, src, a) __bpf_chain_1(hr, lr, dst, __bpf_hop2, __VA_ARGS__); })
#define __bpf_chain_3(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(3, hr, src, a) __bpf_chain_2(hr, lr, dst, __bpf_hop3, __VA_ARGS__); })
#define __bpf_chain_4(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(4, hr, src, a) __bpf_chain_3(hr, lr, dst, __bpf_hop4, __VA_ARGS__); })
#define __bpf_chain_5(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(5, hr, src, a) __bpf_chain_4(hr, lr, dst, __bpf_hop5, __VA_ARGS__); })
#define __bpf_chain_6(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(6, hr, src, a) __bpf_chain_5(hr, lr, dst, __bpf_hop6, __VA_ARGS__); })
#define __bpf_chain_7(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(7, hr, src, a) __bpf_chain_6(hr, lr, dst, __bpf_hop7, __VA_ARGS__); })
#define __bpf_chain_8(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(8, hr, src, a) __bpf_chain_7(hr, lr, dst, __bpf_hop8, __VA_ARGS__); })
#define __bpf_chain_9(hr, lr, dst, src, a, ...) ({ __bpf_chain_hop(9, hr, src, a) __bpf_chain_8(hr, lr, dst, __bpf_hop9, __VA_ARGS__); })
#define __bpf_chain(hop_read, last_read, dst, src, ...) \
	__bpf_cat(__bpf_chain_, __bpf_nargs(__VA_ARGS__))(hop_read, last_read, dst, src, __VA_ARGS__)

/* The type of src->a->b->...: what BPF_CORE_READ returns. */
#define __bpf_arrows_1(src, a) (src)->a
#define __bpf_arrows_2(src, a, ...) __bpf_arrows_1((src)->a, __VA_ARGS__)
#define __bpf_arrows_3(src, a, ...) __bpf_arrows_2((src)->a, __VA_ARGS__)
#define __bpf_arrows_4(src, a, ...) __bpf_arrows_3((src)->a, __VA_ARGS__)
#define __bpf_arrows_5(src, a, ...) __bpf_arrows_4((src)->a, __VA_ARGS__)
#define __bpf_arrows_6(src, a, ...) __bpf_arrows_5((src)->a, __VA_ARGS__)
#define __bpf_arrows_7(src, a, ...) __bpf_arrows_6((src)->a, __VA_ARGS__)
#define __bpf_arrows_8(src, a, ...) __bpf_arrows_7((src)->a, __VA_ARGS__)
#define __bpf_arrows_9(src, a, ...) __bpf_arrows_8((src)->a, __VA_ARGS__)
#define __bpf_chain_type(src, ...) \
	__bpf_unqual_typeof(__bpf_cat(__bpf_arrows_, __bpf_nargs(__VA_ARGS__))(src, __VA_ARGS__))

/* Reads src->a->b->... into *dst; returns 0 or the last read's negative error (a failed
 * intermediate read leaves a zero pointer, which makes the following reads fail too). */
#define BPF_CORE_READ_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_core_read, bpf_core_read, dst, (src), a, ##__VA_ARGS__); })
#define BPF_CORE_READ_USER_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_core_read_user, bpf_core_read_user, dst, (src), a, ##__VA_ARGS__); })
#define BPF_PROBE_READ_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_probe_read_kernel, bpf_probe_read_kernel, dst, (src), a, ##__VA_ARGS__); })
#define BPF_PROBE_READ_USER_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_probe_read_user, bpf_probe_read_user, dst, (src), a, ##__VA_ARGS__); })

/* Same, the last field read as a NUL-terminated string of at most sizeof(*dst) bytes;
 * returns the string read's length (with the NUL) or a negative error. */
#define BPF_CORE_READ_STR_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_core_read, bpf_core_read_str, dst, (src), a, ##__VA_ARGS__); })
#define BPF_CORE_READ_USER_STR_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_core_read_user, bpf_core_read_user_str, dst, (src), a, ##__VA_ARGS__); })
#define BPF_PROBE_READ_STR_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_probe_read_kernel, bpf_probe_read_kernel_str, dst, (src), a, ##__VA_ARGS__); })
#define BPF_PROBE_READ_USER_STR_INTO(dst, src, a, ...) \
	({ __bpf_chain(bpf_probe_read_user, bpf_probe_read_user_str, dst, (src), a, ##__VA_ARGS__); })

/* The value of src->a->b->... (zero where a read failed: the probe-read helpers zero their
 * destination on error). */
#define __bpf_chain_value(into, src, a, ...) \
	({ \
		__bpf_chain_type(src, a, ##__VA_ARGS__) __bpf_chain_result; \
		into(&__bpf_chain_result, src, a, ##__VA_ARGS__); \
		__bpf_chain_result; \
	})
#define BPF_CORE_READ(src, a, ...) __bpf_chain_value(BPF_CORE_READ_INTO, src, a, ##__VA_ARGS__)
#define BPF_CORE_READ_USER(src, a, ...) __bpf_chain_value(BPF_CORE_READ_USER_INTO, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ(src, a, ...) __bpf_chain_value(BPF_PROBE_READ_INTO, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ_USER(src, a, ...) __bpf_chain_value(BPF_PROBE_READ_USER_INTO, src, a, ##__VA_ARGS__)

#endif /* __SWIFTBPF_BPF_CORE_READ_H */
