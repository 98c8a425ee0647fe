/* Shared by the C consumers the benchmarks compare against: clocks and the malloc counter. */
#ifndef SWIFTBPF_BENCH_CLOCK_H
#define SWIFTBPF_BENCH_CLOCK_H
#include <dlfcn.h>
#include <stdint.h>
#include <time.h>

/* Nanoseconds on `clock`; CLOCK_THREAD_CPUTIME_ID does not grow while other processes run. */
static inline uint64_t clock_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* malloc calls so far, as counted by the preloaded malloc-counter.so; -1 without it. */
static inline long long malloc_calls(void) {
    const uint64_t *counter = dlsym(RTLD_DEFAULT, "sbench_malloc_calls");
    return counter ? (long long)*counter : -1;
}
#endif
