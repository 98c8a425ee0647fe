// libbpf side of the tracing attach benchmark (Benchmarks/run-tracing.sh).
//
//   tracing-attach <tracing-probes.bpf.o> <library path> <symbol> <iterations>
//
// Times, per iteration, attach + detach of (1) a uprobe on <library>:<symbol> given by name, so
// libbpf resolves the symbol's offset from the ELF file every time, as a user's attach call does,
// and (2) the tracepoint syscalls:sys_enter_getppid. Prints the median and minimum wall time
// and the median process CPU time (user + system) in µs.
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clock_us(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *samples, double *cpu, int n) {
    qsort(samples, n, sizeof *samples, compare);
    qsort(cpu, n, sizeof *cpu, compare);
    printf("%s median_us=%.1f min_us=%.1f cpu_median_us=%.1f\n", name, samples[n / 2], samples[0], cpu[n / 2]);
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s OBJECT LIBRARY SYMBOL ITERATIONS\n", argv[0]); return 2; }
    int n = atoi(argv[4]);
    struct bpf_object *object = bpf_object__open_file(argv[1], NULL);
    if (!object || bpf_object__load(object)) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    struct bpf_program *uprobe = bpf_object__find_program_by_name(object, "bench_uprobe");
    struct bpf_program *tracepoint = bpf_object__find_program_by_name(object, "bench_tracepoint");
    double *samples = calloc(n, sizeof *samples);
    double *cpu = calloc(n, sizeof *cpu);

    for (int i = 0; i < n; i++) {
        double start = clock_us(CLOCK_MONOTONIC), cpu_start = clock_us(CLOCK_PROCESS_CPUTIME_ID);
        LIBBPF_OPTS(bpf_uprobe_opts, options, .func_name = argv[3]);
        struct bpf_link *link = bpf_program__attach_uprobe_opts(uprobe, -1, argv[2], 0, &options);
        if (!link) { fprintf(stderr, "uprobe attach failed\n"); return 1; }
        bpf_link__destroy(link);
        samples[i] = clock_us(CLOCK_MONOTONIC) - start;
        cpu[i] = clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    }
    report("uprobe_by_symbol_attach_detach", samples, cpu, n);

    for (int i = 0; i < n; i++) {
        double start = clock_us(CLOCK_MONOTONIC), cpu_start = clock_us(CLOCK_PROCESS_CPUTIME_ID);
        struct bpf_link *link = bpf_program__attach_tracepoint(tracepoint, "syscalls", "sys_enter_getppid");
        if (!link) { fprintf(stderr, "tracepoint attach failed\n"); return 1; }
        bpf_link__destroy(link);
        samples[i] = clock_us(CLOCK_MONOTONIC) - start;
        cpu[i] = clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    }
    report("tracepoint_attach_detach", samples, cpu, n);
    bpf_object__close(object);
    return 0;
}
