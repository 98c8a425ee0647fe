/* The workload of TraceUSDTTests: fires each probe exactly N times (argv[1], default 3) with
 * known values, after an optional delay in milliseconds (argv[2]) so a tracer can attach by pid.
 * Every probe has a semaphore (_SDT_HAS_SEMAPHORES); only demo:guarded is behind its check, so
 * it fires only while a tracer holds the semaphore. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SEMAPHORE(provider, name) \
    unsigned short provider##_##name##_semaphore __attribute__((unused, section(".probes")))
SEMAPHORE(demo, sizes);
SEMAPHORE(demo, text);
SEMAPHORE(demo, noargs);
SEMAPHORE(demo, guarded);
SEMAPHORE(other, sizes);

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 3;
    if (argc > 2) usleep(atoi(argv[2]) * 1000);
    volatile int8_t small = -5;
    volatile uint16_t half = 65000;
    volatile int32_t word = -100000;
    volatile uint64_t large = 18000000000000000000ull;
    /* Written at run time, so its page is resident when the tracer reads it. */
    char name[16];
    snprintf(name, sizeof name, "hello-%d", 42);
    for (int k = 0; k < count; k++) {
        DTRACE_PROBE4(demo, sizes, small, half, word, large);
        DTRACE_PROBE2(demo, text, k, name);
        DTRACE_PROBE(demo, noargs);
        if (demo_guarded_semaphore) DTRACE_PROBE1(demo, guarded, k * 10);
        DTRACE_PROBE1(other, sizes, (long)-k);
    }
    return 0;
}
