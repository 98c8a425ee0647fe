/* One probe inlined at three sites whose argument specs differ (memory, register, constant):
 * TraceUSDTTests expects one program per site and each site's own values. */
#include <sys/sdt.h>
#include <stdlib.h>
static inline __attribute__((always_inline)) void hit(long v, int w) { DTRACE_PROBE2(m, hit, v, w); }
int main(int argc, char **argv) { volatile long a = 7; volatile int b = 3; hit(a, 1); hit(b, 2); hit(-1, b); return 0; }
