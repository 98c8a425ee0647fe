#!/bin/sh
# Parse-and-walk benchmark of kernel BTF: SwiftBPF's parser against libbpf's btf__parse, in the
# same run. Usage: Benchmarks/run-btf.sh [BTF-file] [iterations]
set -eu
cd "$(dirname "$0")/.."
file=${1:-/sys/kernel/btf/vmlinux}
iterations=${2:-30}

if [ ! -e /usr/include/bpf/btf.h ]; then
    apt-get install -y libbpf-dev >/dev/null
fi
build=.build/bench-btf
mkdir -p "$build"
cc -O2 -o "$build/btf_parse_libbpf" Benchmarks/btf_parse_libbpf.c -lbpf
swift build -c release --product swiftbpf-bench-btf >/dev/null
swift_bin=$(swift build -c release --show-bin-path)/swiftbpf-bench-btf

# Warm the page cache, then alternate the two so neither gets a quieter machine.
cat "$file" >/dev/null
c1=$("$build/btf_parse_libbpf" "$file" "$iterations")
s1=$("$swift_bin" "$file" "$iterations")
c2=$("$build/btf_parse_libbpf" "$file" "$iterations")
s2=$("$swift_bin" "$file" "$iterations")

echo "BTF parse + walk of $file, $iterations iterations per run, best of 2 runs (median per run)"
printf '%-10s %12s %12s %10s %14s\n' parser "median ms" "min ms" types "peak RSS KiB"
best() { # prints the line with the lower median
    a=$(echo "$1" | awk '{print $2}'); b=$(echo "$2" | awk '{print $2}')
    if awk "BEGIN{exit !($a <= $b)}"; then echo "$1"; else echo "$2"; fi
}
c=$(best "$c1" "$c2"); s=$(best "$s1" "$s2")
for line in "$c" "$s"; do
    echo "$line" | awk '{printf "%-10s %12.2f %12.2f %10s %14s\n", $1, $2, $3, $4, $5}'
done
cm=$(echo "$c" | awk '{print $2}'); sm=$(echo "$s" | awk '{print $2}')
awk "BEGIN{printf \"ratio libbpf/swiftbpf (median): %.2fx (>1 means SwiftBPF is faster)\n\", $cm/$sm}"
