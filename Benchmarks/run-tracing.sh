#!/usr/bin/env bash
# Tracing attach benchmark: SwiftBPF against libbpf, attaching and detaching
#   - a uprobe on a libc function given by name (symbol resolved from the ELF file each time),
#   - the tracepoint syscalls:sys_enter_getppid.
#
#   sudo Benchmarks/run-tracing.sh               # needs root; installs libbpf-dev if missing
#   ITERATIONS=500 Benchmarks/run-tracing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-200}
SYMBOL=${SYMBOL:-getppid}
OUT=Benchmarks/.out
mkdir -p "$OUT"
if [ ! -f /usr/include/bpf/libbpf.h ]; then apt-get install -y libbpf-dev >/dev/null; fi
LIBC=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64|libc\.so\.6 .*AArch64/ {print $NF; exit}')
CLANG=${CLANG:-$(command -v /opt/swift/usr/bin/clang || command -v clang)}
"$CLANG" -target bpf -O2 -g -I"/usr/include/$(gcc -dumpmachine)" -c Benchmarks/C/tracing-probes.bpf.c -o "$OUT/tracing-probes.bpf.o"
${CC:-cc} -O2 -Wall -o "$OUT/tracing-attach" Benchmarks/C/tracing-attach.c -lbpf
swift build -c release --product swiftbpf-bench-tracing >/dev/null
BENCH="$(swift build -c release --show-bin-path)/swiftbpf-bench-tracing"
echo "libbpf $(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || echo '?'), $ITERATIONS iterations, $LIBC:$SYMBOL"
echo "--- libbpf"
"$OUT/tracing-attach" "$OUT/tracing-probes.bpf.o" "$LIBC" "$SYMBOL" "$ITERATIONS"
echo "--- SwiftBPF"
"$BENCH" "$LIBC" "$SYMBOL" "$ITERATIONS"
