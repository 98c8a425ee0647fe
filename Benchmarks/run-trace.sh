#!/usr/bin/env bash
# `swiftbpf trace` against bpftrace, in the same run: time from spawn to the "Attaching N
# probes..." line and to the first event, peak RSS, instructions of the loaded programs, and the
# printf event rate without loss (Benchmarks/Trace/main.swift measures; see Benchmarks/README.md).
#
#   sudo Benchmarks/run-trace.sh            # needs root; installs bpftrace if missing
#   REPEAT=5 Benchmarks/run-trace.sh        # repetitions per cell (median), default 3
#   ONLY=uprobe SKIP_RATE=1 VERBOSE=1 Benchmarks/run-trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
mkdir -p Benchmarks/.out
if ! command -v bpftrace >/dev/null; then apt-get install -y bpftrace >/dev/null; fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace)}
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
swift build -c release --product swiftbpf >/dev/null
swift build -c release --product swiftbpf-bench-trace >/dev/null
BIN=$(swift build -c release --show-bin-path)
: >Benchmarks/.out/trace-stderr.log
echo "$("$BPFTRACE" --version) vs swiftbpf $(git rev-parse --short HEAD); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $REPEAT runs per cell, median"
"$BIN/swiftbpf-bench-trace" "$BIN/swiftbpf" "$BPFTRACE" "$REPEAT"
