#!/bin/sh
# Builds (once) and runs a libFuzzer target over the pure BPFObject parsers, with AddressSanitizer.
# Usage: Fuzz/run.sh btf|usdt|object|tracefs|kconfig [runs] [extra libFuzzer flags...]
# (runs defaults to 1000000). All targets live in one binary, .build/fuzz/fuzz-bpfobject, rebuilt
# only when a source in Sources/BPFObject or Fuzz/ is newer; SWIFTBPF_FUZZ_TARGET selects the target.
# A crash or hang leaves its input in .build/fuzz/artifacts/.
set -eu
cd "$(dirname "$0")/.."
target=${1:-btf}
runs=${2:-1000000}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
case "$target" in
btf | usdt | tracefs) max_len=4096 ;;
object) max_len=8192 ;;
kconfig) max_len=1024 ;;
*) echo "unknown fuzz target '$target' (known: btf, usdt, object, tracefs, kconfig)" >&2; exit 2 ;;
esac
out=.build/fuzz
binary=$out/fuzz-bpfobject
mkdir -p "$out/corpus-$target" "$out/artifacts"
sources="$(find Sources/BPFObject -name '*.swift') Fuzz/Entry.swift $(ls Fuzz/*/*Fuzz.swift)"
if [ ! -x "$binary" ] || [ -n "$(find $sources -newer "$binary")" ]; then
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzBPFObject $sources -o "$binary"
fi
export SWIFTBPF_FUZZ_TARGET="$target"
# Allocation stack traces dominate ASan's cost and are not needed to find a trap.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"
# New inputs go to the scratch corpus; the checked-in seeds stay small.
exec "$binary" -runs="$runs" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$target-" "$@" "$out/corpus-$target" "Fuzz/corpus/$target"
