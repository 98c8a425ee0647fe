#!/usr/bin/env bash
# Fuzzes the tracing language front end (lexer + parser + printers) with libFuzzer and ASan.
# Usage: Fuzz/run-trace.sh [runs] [extra libFuzzer flags...]   (default 1000000 runs)
# SANITIZE=fuzzer skips AddressSanitizer (about 10x faster; Swift's own bounds and overflow
# checks still trap, and the syntax layer has no unsafe code); the default is fuzzer,address.
# The syntax layer imports only Foundation, so it is compiled alone with the fuzz entry.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1000000}"
shift || true
build=".build/fuzz-trace"
mkdir -p "$build" "$build/corpus" "$build/artifacts"
swiftc -sanitize="${SANITIZE:-fuzzer,address}" -parse-as-library -O -g \
    -o "$build/trace-parser" Sources/BPFTrace/Syntax/*.swift Fuzz/TraceParser/main.swift
# Work on a copy of the seeds so the checked-in corpus stays small.
cp -n Fuzz/corpus/trace/* "$build/corpus/" 2>/dev/null || true
# Allocation stack traces dominate the run time and are not needed to find a trap; keep the
# default ASan checks otherwise. (Override by exporting ASAN_OPTIONS.)
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"
exec "$build/trace-parser" "$build/corpus" -runs="$runs" -max_len=1024 \
    -dict=Fuzz/TraceParser/bpftrace.dict -artifact_prefix="$build/artifacts/" -print_final_stats=1 "$@"
