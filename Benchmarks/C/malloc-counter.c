// Counts calls to the C allocator, for LD_PRELOAD into a benchmark consumer: the consumers
// read `sbench_malloc_calls` before and after their consume loop to show that the zero-copy
// path allocates nothing per record.
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

uint64_t sbench_malloc_calls;

void *malloc(size_t size) {
    __atomic_fetch_add(&sbench_malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    __atomic_fetch_add(&sbench_malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    __atomic_fetch_add(&sbench_malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_realloc(pointer, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    __atomic_fetch_add(&sbench_malloc_calls, 1, __ATOMIC_RELAXED);
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer) return 12; // ENOMEM
    *result = pointer;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    __atomic_fetch_add(&sbench_malloc_calls, 1, __ATOMIC_RELAXED);
    return __libc_memalign(alignment, size);
}
