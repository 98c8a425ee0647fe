#!/usr/bin/env bash
# `swiftbpf trace` against bpftrace, in the same run: time from spawn to the "Attaching N
# probes..." line and to the first event, peak RSS, instructions of the loaded programs, and the
# printf event rate without loss (Benchmarks/Trace/main.swift measures; see Benchmarks/README.md).
#
#   sudo Benchmarks/run-trace.sh            # needs root; installs bpftrace if missing
#   REPEAT=5 Benchmarks/run-trace.sh        # repetitions per cell (median), default 3
#   ONLY=uprobe SKIP_RATE=1 VERBOSE=1 Benchmarks/run-trace.sh
#   DYNAMIC=1 Benchmarks/run-trace.sh       # swiftbpf linked dynamically (plain `swift build`)
#   PIE=1 Benchmarks/run-trace.sh           # static Swift runtime, dynamic glibc, -no-pie
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
mkdir -p Benchmarks/.out
if ! command -v bpftrace >/dev/null; then apt-get install -y bpftrace >/dev/null; fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace)}
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
# swiftbpf is measured as the README's release build: a fully static executable
# (--static-swift-stdlib -Xswiftc -static-executable): the Swift runtime, Foundation and glibc are
# linked in and the executable has a fixed address, so there is no dynamic loader, no shared
# library to map and no relocation to apply at start-up (~0.9 ms of CPU less than the
# static-stdlib, non-PIE build; ~2 ms less than a dynamic one). PIE=1 measures the
# --static-swift-stdlib -Xlinker -no-pie build, DYNAMIC=1 the default dynamically linked build.
if [ -n "${DYNAMIC:-}" ]; then BUILD=(-c release); LINKING=dynamic
elif [ -n "${PIE:-}" ]; then BUILD=(-c release --static-swift-stdlib -Xlinker -no-pie --build-path .build-static); LINKING="static Swift runtime, non-PIE"
else BUILD=(-c release --static-swift-stdlib -Xswiftc -static-executable --build-path .build-fully-static); LINKING="fully static executable"; fi
swift build "${BUILD[@]}" --product swiftbpf >/dev/null
BIN=$(swift build "${BUILD[@]}" --show-bin-path)
# The driver fires the uprobe through libc.so.6's getppid, so it must not be linked statically.
swift build -c release --product swiftbpf-bench-trace >/dev/null
DRIVER=$(swift build -c release --show-bin-path)/swiftbpf-bench-trace
: >Benchmarks/.out/trace-stderr.log
echo "$("$BPFTRACE" --version) vs swiftbpf $(git rev-parse --short HEAD) ($LINKING); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $REPEAT runs per cell, median"
"$DRIVER" "$BIN/swiftbpf" "$BPFTRACE" "$REPEAT"
