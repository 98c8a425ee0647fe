// The libbpf side of the skeleton decode benchmark (Benchmarks/run-decode.sh): drains the
// ring buffer the Swift harness filled, copying each record into a `struct event` (memcpy,
// as a C consumer would) and folding every field into a checksum — the same work the Swift
// consumer does with its decoded DecodeSkeleton.event. Opens the map from a bpffs pin.
//
//   decode-consumer PIN
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <linux/types.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench-clock.h"

#include "../SkeletonDecode/bpf/decode.h"

struct tally { uint64_t count, checksum; };

static int on_record(void *context, void *data, size_t size) {
    struct tally *tally = context;
    struct event e;
    if (size < sizeof(e)) return 0;
    memcpy(&e, data, sizeof(e));
    tally->count++;
    tally->checksum += e.pid + e.tid + e.seq + e.timestamp + (uint64_t)(int64_t)e.ret + e.flags + e.cpu + e.kind
        + e.args[0] + e.args[1] + (uint8_t)e.comm[0] + (uint8_t)e.comm[15];
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PIN\n", argv[0]);
        return 2;
    }
    int fd = bpf_obj_get(argv[1]);
    if (fd < 0) { perror("bpf_obj_get"); return 1; }
    struct tally tally = {0, 0};
    struct ring_buffer *ring = ring_buffer__new(fd, on_record, &tally, NULL);
    if (!ring) { perror("ring_buffer__new"); return 1; }
    long long mallocs_before = malloc_calls();
    uint64_t start = clock_ns(CLOCK_MONOTONIC), cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    ring_buffer__consume(ring);
    uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start, elapsed = clock_ns(CLOCK_MONOTONIC) - start;
    long long mallocs_after = malloc_calls();
    printf("delivered=%llu ns=%llu cpu_ns=%llu mallocs=%lld checksum=%llu\n", (unsigned long long)tally.count,
           (unsigned long long)elapsed, (unsigned long long)cpu,
           mallocs_before >= 0 ? mallocs_after - mallocs_before : -1, (unsigned long long)tally.checksum);
    ring_buffer__free(ring);
    return 0;
}
