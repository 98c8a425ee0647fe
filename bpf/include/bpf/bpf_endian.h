/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Byte order for BPF programs, with libbpf's bpf_endian.h names. bpf_htons(x) and friends fold
 * to a constant when x is one (usable in case labels and static initialisers) and otherwise
 * compile to a single BPF_END instruction through __builtin_bswap*.
 */
#ifndef __SWIFTBPF_BPF_ENDIAN_H
#define __SWIFTBPF_BPF_ENDIAN_H

/* Byte swaps written as integer constant expressions. */
#define __bpf_swab16_constant(x) \
	((unsigned short)((((unsigned short)(x) & 0x00ffU) << 8) | (((unsigned short)(x) & 0xff00U) >> 8)))
#define __bpf_swab32_constant(x) \
	((unsigned int)((((unsigned int)(x) & 0x000000ffU) << 24) | \
			(((unsigned int)(x) & 0x0000ff00U) << 8) | \
			(((unsigned int)(x) & 0x00ff0000U) >> 8) | \
			(((unsigned int)(x) & 0xff000000U) >> 24)))
#define __bpf_swab64_constant(x) \
	((unsigned long long)((((unsigned long long)(x) & 0x00000000000000ffULL) << 56) | \
			      (((unsigned long long)(x) & 0x000000000000ff00ULL) << 40) | \
			      (((unsigned long long)(x) & 0x0000000000ff0000ULL) << 24) | \
			      (((unsigned long long)(x) & 0x00000000ff000000ULL) << 8) | \
			      (((unsigned long long)(x) & 0x000000ff00000000ULL) >> 8) | \
			      (((unsigned long long)(x) & 0x0000ff0000000000ULL) >> 24) | \
			      (((unsigned long long)(x) & 0x00ff000000000000ULL) >> 40) | \
			      (((unsigned long long)(x) & 0xff00000000000000ULL) >> 56)))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __bpf_htons(x) __builtin_bswap16(x)
#define __bpf_htonl(x) __builtin_bswap32(x)
#define __bpf_cpu_to_be64(x) __builtin_bswap64(x)
#define __bpf_constant_htons(x) __bpf_swab16_constant(x)
#define __bpf_constant_htonl(x) __bpf_swab32_constant(x)
#define __bpf_constant_cpu_to_be64(x) __bpf_swab64_constant(x)
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __bpf_htons(x) (x)
#define __bpf_htonl(x) (x)
#define __bpf_cpu_to_be64(x) (x)
#define __bpf_constant_htons(x) (x)
#define __bpf_constant_htonl(x) (x)
#define __bpf_constant_cpu_to_be64(x) (x)
#else
#error "bpf_endian.h: __BYTE_ORDER__ is neither little nor big endian"
#endif

/* A swap is its own inverse. */
#define __bpf_ntohs(x) __bpf_htons(x)
#define __bpf_ntohl(x) __bpf_htonl(x)
#define __bpf_be64_to_cpu(x) __bpf_cpu_to_be64(x)
#define __bpf_constant_ntohs(x) __bpf_constant_htons(x)
#define __bpf_constant_ntohl(x) __bpf_constant_htonl(x)
#define __bpf_constant_be64_to_cpu(x) __bpf_constant_cpu_to_be64(x)

#define bpf_htons(x) (__builtin_constant_p(x) ? __bpf_constant_htons(x) : __bpf_htons(x))
#define bpf_ntohs(x) (__builtin_constant_p(x) ? __bpf_constant_ntohs(x) : __bpf_ntohs(x))
#define bpf_htonl(x) (__builtin_constant_p(x) ? __bpf_constant_htonl(x) : __bpf_htonl(x))
#define bpf_ntohl(x) (__builtin_constant_p(x) ? __bpf_constant_ntohl(x) : __bpf_ntohl(x))
#define bpf_cpu_to_be64(x) (__builtin_constant_p(x) ? __bpf_constant_cpu_to_be64(x) : __bpf_cpu_to_be64(x))
#define bpf_be64_to_cpu(x) (__builtin_constant_p(x) ? __bpf_constant_be64_to_cpu(x) : __bpf_be64_to_cpu(x))

#endif /* __SWIFTBPF_BPF_ENDIAN_H */
