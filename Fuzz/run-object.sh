#!/bin/sh
# Builds and runs the libFuzzer target over ObjectSpec (ELF + BTF + BTF.ext + relocations +
# linking + CO-RE) with AddressSanitizer. Usage: Fuzz/run-object.sh [runs]  (default 1000000)
# Seeds in Fuzz/corpus/object are Fuzz/ObjectSpec/seeds/*.bpf.c compiled with
#   clang -target bpf -g -O2 -I /usr/include/$(uname -m)-linux-gnu -I bpf/include -c X.bpf.c
# and `llvm-strip --strip-debug` (BTF stays, DWARF goes) to keep them small.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-1000000}
out=.build/fuzz
mkdir -p "$out" "$out/corpus-object"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzBPFObject \
    $(find Sources/BPFObject -name '*.swift') Fuzz/ObjectSpec/main.swift -o "$out/fuzz-object"
# New inputs go to the scratch corpus; the checked-in seeds stay small.
exec "$out/fuzz-object" -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$out/corpus-object" Fuzz/corpus/object
