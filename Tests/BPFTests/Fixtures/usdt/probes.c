/* A traced program with USDT probes (<sys/sdt.h>, package systemtap-sdt-dev) whose arguments
 * the compiler places in registers, in memory at register + offset, at base + index * scale
 * (gcc -O2), and as constants. `probes N` calls work() N times with i = 0..N-1:
 *   swiftbpf_test:args      (int 100 + i, long -1234567890123, short 7, char 100 + i)
 *   swiftbpf_test:deref     (int -42, long values[i & 3] = 10 * (1 + (i & 3)), constant 5)
 *   swiftbpf_test:with_sema (int 2 * (100 + i)), only while a tracer holds its semaphore. */
#include <stdlib.h>
#include <sys/sdt.h>

struct item {
	long a;
	int b;
	short c;
};

void semaphore_probe(int n);

__attribute__((noinline)) void work(struct item *item, long *values, long index, int n)
{
	char small = (char)n;
	DTRACE_PROBE4(swiftbpf_test, args, n, item->a, (short)item->c, small);
	STAP_PROBE3(swiftbpf_test, deref, item->b, values[index], 5);
	semaphore_probe(n);
}

int main(int argc, char **argv)
{
	struct item item = { -1234567890123L, -42, 7 };
	long values[4] = { 10, 20, 30, 40 };
	int calls = argc > 1 ? atoi(argv[1]) : 1;
	for (int i = 0; i < calls; i++)
		work(&item, values, i & 3, 100 + i);
	return 0;
}
