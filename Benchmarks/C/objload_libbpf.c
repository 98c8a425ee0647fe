// Times libbpf loading whole BPF objects: bpf_object__open_file + bpf_object__load +
// bpf_object__close, the same work as Benchmarks/ObjectLoad (run both with
// Benchmarks/run-objload.sh). Usage: objload_libbpf ITERATIONS OBJECT...
// Prints per object: `libbpf <object> <median-ms> <min-ms>` or `libbpf <object> fail <error>`.
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int quiet(enum libbpf_print_level level, const char *format, va_list args)
{
    (void)level; (void)format; (void)args;
    return 0;
}

static double now_ms(void)
{
    struct timespec spec;
    clock_gettime(CLOCK_MONOTONIC, &spec);
    return spec.tv_sec * 1e3 + spec.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: %s ITERATIONS OBJECT...\n", argv[0]);
        return 2;
    }
    int iterations = atoi(argv[1]);
    double *samples = calloc(iterations, sizeof(double));
    libbpf_set_print(quiet);
    for (int arg = 2; arg < argc; arg++) {
        int failed = 0;
        for (int i = 0; i < iterations && !failed; i++) {
            double start = now_ms();
            struct bpf_object *object = bpf_object__open_file(argv[arg], NULL);
            if (!object) {
                printf("libbpf %s fail open\n", argv[arg]);
                failed = 1;
                break;
            }
            int result = bpf_object__load(object);
            bpf_object__close(object);
            if (result) {
                printf("libbpf %s fail load %d\n", argv[arg], result);
                failed = 1;
                break;
            }
            samples[i] = now_ms() - start;
        }
        if (failed)
            continue;
        qsort(samples, iterations, sizeof(double), compare);
        printf("libbpf %s %f %f\n", argv[arg], samples[iterations / 2], samples[0]);
        fflush(stdout);
    }
    free(samples);
    return 0;
}
