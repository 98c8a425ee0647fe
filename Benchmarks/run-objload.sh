#!/bin/sh
# Whole-object load time (read + parse + CO-RE + create maps + load all programs + close) of the
# libbpf-tools objects that load on this kernel: SwiftBPF's ObjectLoader against libbpf's
# bpf_object__open_file + bpf_object__load, in the same run.
# Usage: Benchmarks/run-objload.sh [iterations]      (needs root, libbpf-dev, libbpf-tools)
set -eu
cd "$(dirname "$0")/.."
iterations=${1:-10}
[ -e /usr/include/bpf/libbpf.h ] || apt-get install -y libbpf-dev >/dev/null
objects=.build/realworld-objects
scripts/realworld-objects.sh "$objects" >/dev/null
build=.build/bench-objload
mkdir -p "$build"
cc -O2 -o "$build/objload_libbpf" Benchmarks/C/objload_libbpf.c -lbpf
swift build -c release --product swiftbpf-bench-objload >/dev/null
swift_bin=$(swift build -c release --show-bin-path)/swiftbpf-bench-objload

set --
for tool in bashreadline biopattern biotop bitesize drsnoop execsnoop exitsnoop filelife filetop \
    gethostlatency killsnoop ksnoop llcstat mountsnoop oomkill opensnoop runqlat runqslower sigsnoop \
    softirqs statsnoop syscount tcpconnect tcplife tcpstates tcptracer; do
    set -- "$@" "$objects/libbpf-tools-$tool.bpf.o"
done
# Alternate the two so neither gets a quieter machine; keep each one's better median.
"$build/objload_libbpf" "$iterations" "$@" >"$build/c1"
"$swift_bin" "$iterations" "$@" >"$build/s1"
"$build/objload_libbpf" "$iterations" "$@" >"$build/c2"
"$swift_bin" "$iterations" "$@" >"$build/s2"

echo "Whole-object load, $iterations iterations per run, best median of 2 runs (ms)"
printf '%-16s %10s %10s %8s\n' object libbpf swiftbpf "ratio"
cat "$build/c1" "$build/c2" "$build/s1" "$build/s2" | awk '
    $3 == "fail" { failed[$1 " " $2] = $0; next }
    { key = $1 " " $2; if (!(key in best) || $3 < best[key]) best[key] = $3 }
    END {
        for (key in best) {
            split(key, parts, " "); if (parts[1] != "libbpf") continue
            object = parts[2]; sub(".*/libbpf-tools-", "", object); sub("[.]bpf[.]o", "", object)
            ours = "swiftbpf " parts[2]
            if (!(ours in best)) { printf "%-16s %10.2f %10s\n", object, best[key], "fail"; continue }
            printf "%-16s %10.2f %10.2f %7.2fx\n", object, best[key], best[ours], best[key] / best[ours]
            c += best[key]; s += best[ours]; n++
        }
        if (n) printf "~total (%d objects): libbpf %.1f ms, swiftbpf %.1f ms, ratio libbpf/swiftbpf %.2fx (>1 means SwiftBPF is faster)\n", n, c, s, c / s
        for (key in failed) print "~failed: " failed[key]
    }' | sort | sed 's/^~//'

# Cold: one load per fresh process, as a tool does it. Our process-wide vmlinux BTF cache cannot
# help here; libbpf parses vmlinux for every object in both tables. Each object is loaded cold
# COLD_ROUNDS times (default 3) by each side, alternating; each side keeps its fastest.
rounds=${COLD_ROUNDS:-3}
echo
echo "Cold (first load in a fresh process, includes parsing /sys/kernel/btf/vmlinux; best of $rounds, ms)"
printf '%-16s %10s %10s %8s\n' object libbpf swiftbpf "ratio"
for round in $(seq "$rounds"); do
    for object in "$@"; do
        name=$(basename "$object" .bpf.o | sed 's/^libbpf-tools-//')
        "$build/objload_libbpf" 1 "$object" | awk -v n="$name" '$3 != "fail" { print n, "libbpf", $3 }'
        "$swift_bin" 1 "$object" | awk -v n="$name" '$3 != "fail" { print n, "swiftbpf", $3 }'
    done
done | awk '
    { key = $1 " " $2; if (!(key in best) || $3 < best[key]) best[key] = $3; names[$1] = 1 }
    END {
        for (name in names) {
            if (!((name " libbpf") in best) || !((name " swiftbpf") in best)) continue
            c = best[name " libbpf"]; s = best[name " swiftbpf"]
            printf "%-16s %10.2f %10.2f %7.2fx\n", name, c, s, c / s
            tc += c; ts += s; n++
        }
        if (n) printf "~total (%d objects): libbpf %.1f ms, swiftbpf %.1f ms, ratio libbpf/swiftbpf %.2fx\n", n, tc, ts, tc / ts
    }' | sort | sed 's/^~//'
