/* The probe with a semaphore: sdt.h emits semaphore addresses for every probe of a translation
 * unit that defines _SDT_HAS_SEMAPHORES, so it lives apart from the others. The kernel
 * increments the semaphore while a uprobe with ref_ctr_offset is on the probe. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short swiftbpf_test_with_sema_semaphore __attribute__((unused, section(".probes")));

__attribute__((noinline)) void semaphore_probe(int n)
{
	if (swiftbpf_test_with_sema_semaphore)
		STAP_PROBE1(swiftbpf_test, with_sema, n * 2);
}
