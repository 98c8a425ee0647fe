#!/usr/bin/env bash
# Skeleton decode benchmark: the cost per event of decoding ring buffer records into the
# skeleton's generated struct, against libbpf's ring_buffer__consume with a memcpy into the
# same C struct (and a Swift handler on raw bytes), draining the same ring filled by the same
# BPF program for each consumer in one run. Prints CPU and wall ns/event, mallocs/event and
# the ratios to libbpf.
#
#   sudo Benchmarks/run-decode.sh                   # needs root (BPF, a bpffs pin)
#   ROUNDS=9 EVENTS=1638400 Benchmarks/run-decode.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=Benchmarks/.out
mkdir -p "$OUT"

if [ ! -f /usr/include/bpf/libbpf.h ]; then
    apt-get install -y libbpf-dev >/dev/null
fi
CC=${CC:-cc}
$CC -O2 -Wall -o "$OUT/decode-consumer" Benchmarks/C/decode-consumer.c -lbpf
$CC -O2 -Wall -shared -fPIC -o "$OUT/malloc-counter.so" Benchmarks/C/malloc-counter.c
# The BPF side is compiled, and the skeleton generated, by BPFBuildPlugin during this build.
swift build -c release --product swiftbpf-bench-decode >/dev/null
BENCH="$(swift build -c release --show-bin-path)/swiftbpf-bench-decode"

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# Both consumers run with the malloc counter preloaded (the C one inherits LD_PRELOAD).
LD_PRELOAD="$PWD/$OUT/malloc-counter.so" "$BENCH" --c-consumer "$OUT/decode-consumer" \
    --events "${EVENTS:-819200}" --rounds "${ROUNDS:-5}" --pin "/sys/fs/bpf/swiftbpf_bench_decode_$$"
