#!/usr/bin/env bash
# Instructions of the programs `swiftbpf trace` and bpftrace load for the same scripts, both tools
# in the same run: each tool is started on a script, and once it has attached, every BPF program
# it holds (/proc/PID/fd → anon_inode:bpf-prog, id from /proc/PID/fdinfo) is looked up with
# bpftool; "xlated" is the program's length after the verifier's rewrites (bytes_xlated / 8),
# what `bpftool prog dump xlated` prints. Programs named BEGIN or END are left out of the
# comparison: bpftrace 0.17 runs BEGIN and closes it before attaching the rest and loads END
# only at exit, while `swiftbpf trace` holds both for the whole session (shown apart).
#
#   sudo Benchmarks/run-trace-insns.sh          # root; installs bpftrace if missing
#   ONLY=map Benchmarks/run-trace-insns.sh      # scripts whose name contains "map"
#   SWIFTBPF=path/to/swiftbpf Benchmarks/run-trace-insns.sh
#   BASELINE=path/to/older/swiftbpf Benchmarks/run-trace-insns.sh   # adds its count as a column
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v bpftrace >/dev/null; then apt-get install -y bpftrace >/dev/null; fi
BPFTRACE=${BPFTRACE:-$(command -v bpftrace)}
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
if [ -z "${SWIFTBPF:-}" ]; then
    swift build --product swiftbpf >/dev/null
    SWIFTBPF="$(swift build --show-bin-path)/swiftbpf"
fi
LIBC=/lib/x86_64-linux-gnu/libc.so.6
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# name|script (inline) or name|@file
SCRIPTS=(
    'tracepoint printf|tracepoint:syscalls:sys_enter_getppid { printf("%s %d\n", comm, pid); }'
    "uprobe printf|uprobe:$LIBC:getppid { printf(\"%s %d\\n\", comm, tid); }"
    'interval count|interval:ms:10 { @ticks = count(); }'
    'profile count|profile:hz:99 { @[cpu] = count(); }'
    'map-heavy|tracepoint:raw_syscalls:sys_enter { @calls[comm, args->id] = count(); @bytes[pid] = sum(args->id); @lat = hist(args->id); @last[tid] = nsecs; }'
    'struct access|tracepoint:sched:sched_switch { @[curtask->pid, curtask->comm] = count(); }'
    'predicate + arithmetic|tracepoint:syscalls:sys_enter_read /pid > 1 && args->count >= 4096/ { @[comm] = sum(args->count / 1024); }'
    'string compare|tracepoint:syscalls:sys_enter_openat /comm == "bash"/ { printf("%s\n", str(args->filename)); }'
)
for tool in execsnoop opensnoop syscount bitesize killsnoop setuids writeback statsnoop syncsnoop threadsnoop pidpersec; do
    [ -f "/usr/sbin/$tool.bt" ] && SCRIPTS+=("$tool.bt|@/usr/sbin/$tool.bt")
done

# Prints "programs xlated begin-end-xlated" for the BPF programs process $1 holds.
count_programs() {
    local pid=$1 programs=0 xlated=0 special=0 id info bytes
    declare -A seen=()
    for fd in /proc/"$pid"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-prog" ] || continue
        id=$(sed -n 's/^prog_id:[[:space:]]*//p' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null)
        [ -n "$id" ] && [ -z "${seen[$id]:-}" ] || continue
        seen[$id]=1
        info=$(bpftool prog show id "$id" --json)
        bytes=$(jq '.bytes_xlated' <<<"$info")
        if [[ "$(jq -r '.name' <<<"$info")" =~ ^(BEGIN|END)$ ]]; then
            special=$((special + bytes / 8))
        else
            programs=$((programs + 1)); xlated=$((xlated + bytes / 8))
        fi
    done
    echo "$programs $xlated $special"
}

# Runs "$@" until it prints "Attaching" (or 20 s pass), then counts its programs and stops it.
measure() {
    local log=$OUT/log pid result="- - -"
    "$@" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        if grep -q "Attaching" "$log"; then
            # bpftrace prints the line before it loads; wait until its program count settles.
            local previous="" current
            for _ in $(seq 50); do
                current=$(count_programs "$pid")
                [ "$current" = "$previous" ] && [ "$current" != "0 0 0" ] && break
                previous=$current; sleep 0.2
            done
            result=$current
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ "$result" = "- - -" ] && sed 's/^/    /' "$log" | head -3 >&2
    echo "$result"
}

echo "$("$BPFTRACE" --version) vs swiftbpf $(git rev-parse --short HEAD); xlated instructions (after the verifier)"
echo
if [ -n "${BASELINE:-}" ]; then
    echo "| script | probe programs | bpftrace xlated | swiftbpf before | swiftbpf xlated | swiftbpf / bpftrace | swiftbpf BEGIN+END xlated |"
    echo "|---|---|---|---|---|---|---|"
else
    echo "| script | probe programs | bpftrace xlated | swiftbpf xlated | swiftbpf / bpftrace | swiftbpf BEGIN+END xlated |"
    echo "|---|---|---|---|---|---|"
fi
for entry in "${SCRIPTS[@]}"; do
    name=${entry%%|*}; script=${entry#*|}
    [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]] && continue
    if [[ "$script" == @* ]]; then
        read -r bp bx _ < <(measure "$BPFTRACE" "${script#@}")
        read -r sp sx ss < <(measure "$SWIFTBPF" trace "${script#@}")
        [ -n "${BASELINE:-}" ] && read -r _ ox _ < <(measure "$BASELINE" trace "${script#@}")
    else
        read -r bp bx _ < <(measure "$BPFTRACE" -e "$script")
        read -r sp sx ss < <(measure "$SWIFTBPF" trace -e "$script")
        [ -n "${BASELINE:-}" ] && read -r _ ox _ < <(measure "$BASELINE" trace -e "$script")
    fi
    ratio=-
    [[ "$bx" =~ ^[0-9]+$ && "$sx" =~ ^[0-9]+$ && "$bx" != 0 ]] && ratio=$(awk -v s="$sx" -v b="$bx" 'BEGIN { printf "%.2f", s / b }')
    if [ -n "${BASELINE:-}" ]; then
        echo "| $name | $bp / $sp | $bx | $ox | $sx | $ratio | $ss |"
    else
        echo "| $name | $bp / $sp | $bx | $sx | $ratio | $ss |"
    fi
done
