#!/bin/sh
# Builds and runs a libFuzzer target over the pure parsers (with AddressSanitizer).
# Usage: Fuzz/run.sh btf|usdt [runs]     (runs defaults to 1000000)
set -eu
cd "$(dirname "$0")/.."
target=${1:-btf}
runs=${2:-1000000}
case "$target" in
btf) main=Fuzz/BTFParser/main.swift; corpus=Fuzz/corpus/btf ;;
usdt) main=Fuzz/USDTNote/main.swift; corpus=Fuzz/corpus/usdt ;;
*) echo "unknown fuzz target '$target' (known: btf, usdt)" >&2; exit 2 ;;
esac
out=.build/fuzz
mkdir -p "$out" "$out/corpus-$target"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzBPFObject \
    $(find Sources/BPFObject -name '*.swift') "$main" -o "$out/fuzz-$target"
# New inputs go to the scratch corpus; the checked-in seeds stay small.
exec "$out/fuzz-$target" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$out/corpus-$target" "$corpus"
