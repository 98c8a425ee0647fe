#!/usr/bin/env bash
# `swiftbpf trace` against bpftrace, in the same run: time from spawn to the "Attaching N
# probes..." line and to the first event, peak RSS, instructions of the loaded programs, and the
# printf event rate without loss (Benchmarks/Trace/main.swift measures; see Benchmarks/README.md).
#
#   sudo Benchmarks/run-trace.sh            # needs root; installs bpftrace if missing
#   REPEAT=5 Benchmarks/run-trace.sh        # repetitions per cell (median), default 3
#   ONLY=uprobe SKIP_RATE=1 VERBOSE=1 Benchmarks/run-trace.sh
#   DYNAMIC=1 Benchmarks/run-trace.sh       # swiftbpf linked dynamically (plain `swift build`)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
mkdir -p Benchmarks/.out
if ! command -v bpftrace >/dev/null; then apt-get install -y bpftrace >/dev/null; fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace)}
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
# swiftbpf is measured as a release build with the Swift runtime and Foundation linked in
# (--static-swift-stdlib: no dynamic loading of ~20 MB of Swift libraries, ~5 ms less start-up);
# It is also linked as a non-PIE executable (-Xlinker -no-pie): the dynamic loader then has no
# relative relocations to apply to the ~90 MB binary's data, which saves ~230 page faults and
# ~1 ms per start (README "Release build"). DYNAMIC=1 measures the default dynamically linked
# build instead.
if [ -n "${DYNAMIC:-}" ]; then BUILD=(-c release); LINKING=dynamic
else BUILD=(-c release --static-swift-stdlib -Xlinker -no-pie --build-path .build-static); LINKING="static, non-PIE"; fi
swift build "${BUILD[@]}" --product swiftbpf >/dev/null
swift build "${BUILD[@]}" --product swiftbpf-bench-trace >/dev/null
BIN=$(swift build "${BUILD[@]}" --show-bin-path)
: >Benchmarks/.out/trace-stderr.log
echo "$("$BPFTRACE" --version) vs swiftbpf $(git rev-parse --short HEAD) ($LINKING Swift runtime); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $REPEAT runs per cell, median"
"$BIN/swiftbpf-bench-trace" "$BIN/swiftbpf" "$BPFTRACE" "$REPEAT"
