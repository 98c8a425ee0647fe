/* Times libbpf's btf__parse on a BTF file plus a walk over every type (kind, vlen, first byte
 * of the name): the baseline for Benchmarks/BTFParse. Prints
 * `libbpf <median-ms> <min-ms> <types> <peak-rss-KiB>`. */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int iterations = argc > 2 ? atoi(argv[2]) : 20;
	double *samples = calloc(iterations, sizeof(double));
	long checksum = 0;
	unsigned types = 0;

	for (int i = 0; i < iterations; i++) {
		double start = now_ms();
		struct btf *btf = btf__parse(path, NULL);
		if (!btf) {
			perror("btf__parse");
			return 1;
		}
		types = btf__type_cnt(btf) - 1;
		for (unsigned id = 1; id <= types; id++) {
			const struct btf_type *t = btf__type_by_id(btf, id);
			const char *name = btf__name_by_offset(btf, t->name_off);
			checksum += btf_kind(t) + btf_vlen(t) + (name && name[0] ? 1 : 0);
		}
		samples[i] = now_ms() - start;
		btf__free(btf);
	}
	qsort(samples, iterations, sizeof(double), compare);
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	printf("libbpf %f %f %u %ld checksum=%ld\n", samples[iterations / 2], samples[0], types, usage.ru_maxrss, checksum);
	return 0;
}
