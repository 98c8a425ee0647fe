// The libbpf side of the perf buffer benchmark: the same work per sample as the Swift consumer
// (count it, add its first 8 bytes to a checksum), through perf_buffer__new /
// perf_buffer__poll / perf_buffer__consume. Opens the perf_event_array map from a bpffs pin.
//
//   perfbuf-consumer PIN drain|live PAGES_PER_CPU
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-clock.h"
#include <unistd.h>

struct tally { uint64_t count, checksum, lost; };

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo) { (void)signo; stop_requested = 1; }

static void on_sample(void *context, int cpu, void *data, uint32_t size) {
    struct tally *tally = context;
    uint64_t first;
    (void)cpu;
    (void)size;
    memcpy(&first, data, sizeof first); // raw samples are only 4-byte aligned
    tally->count++;
    tally->checksum += first;
}

static void on_lost(void *context, int cpu, __u64 count) {
    struct tally *tally = context;
    (void)cpu;
    tally->lost += count;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PIN drain|live PAGES_PER_CPU\n", argv[0]);
        return 2;
    }
    int fd = bpf_obj_get(argv[1]);
    if (fd < 0) { perror("bpf_obj_get"); return 1; }
    struct tally tally = {0, 0, 0};
    struct perf_buffer *buffer = perf_buffer__new(fd, (size_t)atol(argv[3]), on_sample, on_lost, &tally, NULL);
    if (!buffer) { perror("perf_buffer__new"); return 1; }
    signal(SIGUSR1, on_signal);
    printf("ready\n");
    fflush(stdout);
    int drain = strcmp(argv[2], "drain") == 0;
    if (drain)
        while (!stop_requested) usleep(1000);
    long long mallocs_before = malloc_calls();
    uint64_t start = clock_ns(CLOCK_MONOTONIC), cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (!drain)
        while (!stop_requested) perf_buffer__poll(buffer, 100);
    perf_buffer__consume(buffer);
    uint64_t elapsed = clock_ns(CLOCK_MONOTONIC) - start, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    long long mallocs_after = malloc_calls();
    char mallocs[32] = "n/a";
    if (mallocs_before >= 0) snprintf(mallocs, sizeof mallocs, "%lld", mallocs_after - mallocs_before);
    printf("delivered=%llu ns=%llu cpu_ns=%llu mallocs=%s checksum=%llu\n", (unsigned long long)tally.count,
           (unsigned long long)elapsed, (unsigned long long)cpu, mallocs, (unsigned long long)tally.checksum);
    perf_buffer__free(buffer);
    return 0;
}
