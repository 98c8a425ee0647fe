// The libbpf side of the ring buffer benchmark: the same work per record as the Swift
// consumer (count it, add its first 8 bytes to a checksum), through ring_buffer__new /
// ring_buffer__poll / ring_buffer__consume. Opens the map from a bpffs pin.
//
//   ringbuf-consumer PIN drain|live
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench-clock.h"

struct tally { uint64_t count, checksum; };

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo) { (void)signo; stop_requested = 1; }

static int on_record(void *context, void *data, size_t size) {
    struct tally *tally = context;
    (void)size;
    tally->count++;
    tally->checksum += *(const uint64_t *)data;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PIN drain|live\n", argv[0]);
        return 2;
    }
    int fd = bpf_obj_get(argv[1]);
    if (fd < 0) { perror("bpf_obj_get"); return 1; }
    struct tally tally = {0, 0};
    struct ring_buffer *ring = ring_buffer__new(fd, on_record, &tally, NULL);
    if (!ring) { perror("ring_buffer__new"); return 1; }
    long long mallocs_before = malloc_calls();
    uint64_t start = clock_ns(CLOCK_MONOTONIC);
    uint64_t cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (strcmp(argv[2], "drain") == 0) {
        ring_buffer__consume(ring);
    } else {
        signal(SIGUSR1, on_signal);
        printf("ready\n");
        fflush(stdout);
        mallocs_before = malloc_calls();
        cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        while (!stop_requested) ring_buffer__poll(ring, 100);
        ring_buffer__consume(ring);
    }
    uint64_t elapsed = clock_ns(CLOCK_MONOTONIC) - start;
    uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    long long mallocs_after = malloc_calls();
    if (mallocs_before >= 0)
        printf("delivered=%llu ns=%llu cpu_ns=%llu mallocs=%lld checksum=%llu\n", (unsigned long long)tally.count,
               (unsigned long long)elapsed, (unsigned long long)cpu, mallocs_after - mallocs_before,
               (unsigned long long)tally.checksum);
    else
        printf("delivered=%llu ns=%llu cpu_ns=%llu mallocs=n/a checksum=%llu\n", (unsigned long long)tally.count,
               (unsigned long long)elapsed, (unsigned long long)cpu, (unsigned long long)tally.checksum);
    ring_buffer__free(ring);
    return 0;
}
