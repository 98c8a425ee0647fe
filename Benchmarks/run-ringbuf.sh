#!/usr/bin/env bash
# Event stream consumer benchmark: SwiftBPF's RingBufferReader and PerfBuffer against libbpf's
# ring_buffer and perf_buffer APIs, on the same kernel producers (looping raw tracepoint
# programs calling bpf_ringbuf_reserve/submit or bpf_perf_event_output).
#
#   sudo Benchmarks/run-ringbuf.sh            # needs root (BPF, bpffs pins)
#   REPEAT=5 Benchmarks/run-ringbuf.sh        # more runs per cell (the median is reported)
#   SKIP_PERFBUF=1 Benchmarks/run-ringbuf.sh  # ring buffer only
#
# Scenarios:
#   drain       the ring is filled first, then the consumer empties it: pure consumer speed
#   live-large  producer and consumer run together, ring large enough for no loss
#   live-small  producer and consumer run together on a small ring: delivered/s and loss %
# Allocation counts come from an LD_PRELOAD malloc counter (calls during the consume loop).
# Besides events/s (wall time), each consumer reports its own thread CPU time per event, which
# stays meaningful on a loaded machine where wall times swing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
OUT=Benchmarks/.out
mkdir -p "$OUT"

if [ ! -f /usr/include/bpf/libbpf.h ]; then
    apt-get install -y libbpf-dev >/dev/null
fi
CC=${CC:-cc}
$CC -O2 -Wall -o "$OUT/ringbuf-consumer" Benchmarks/C/ringbuf-consumer.c -lbpf
$CC -O2 -Wall -o "$OUT/perfbuf-consumer" Benchmarks/C/perfbuf-consumer.c -lbpf
$CC -O2 -Wall -shared -fPIC -o "$OUT/malloc-counter.so" Benchmarks/C/malloc-counter.c
swift build -c release --product swiftbpf-bench-ringbuf >/dev/null
BENCH="$(swift build -c release --show-bin-path)/swiftbpf-bench-ringbuf"

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

RESULTS="$OUT/ringbuf-results.txt"
: > "$RESULTS"
run_cell() { # kind scenario ring events record label
    # Alternate the consumers so that changes in machine load hit both alike.
    for _ in $(seq "$REPEAT"); do
        for consumer in libbpf swift; do
            LD_PRELOAD="$PWD/$OUT/malloc-counter.so" "$BENCH" run --kind "$1" --consumer "$consumer" \
                --c-consumer "$OUT/$1-consumer" --scenario "$2" --ring-size "$3" --events "$4" \
                --record "$5" | sed "s/scenario=$2/scenario=$6/" | tee -a "$RESULTS"
        done
    done
}
echo "kernel $(uname -r), $(nproc) CPUs, $REPEAT runs per cell" | tee "$OUT/ringbuf-header.txt"
run_cell ringbuf drain $((256 << 20)) 16000000 8 rb-drain-8B
run_cell ringbuf drain $((256 << 20)) 3500000 64 rb-drain-64B
run_cell ringbuf live $((64 << 20)) 10000000 64 rb-live-large-64B
run_cell ringbuf live $((64 << 10)) 10000000 64 rb-live-small-64B
# Perf buffer (ring size is per CPU; the default wakeup per sample makes live runs slow).
if [ "${SKIP_PERFBUF:-0}" != 1 ]; then
    run_cell perfbuf drain $((32 << 20)) 1000000 8 pb-drain-8B
    run_cell perfbuf live $((1 << 20)) 200000 64 pb-live-64B
    run_cell perfbuf live $((8 << 10)) 200000 64 pb-live-small-64B
fi

python3 - "$RESULTS" <<'PY'
import sys, statistics, collections
cells = collections.defaultdict(lambda: collections.defaultdict(list))
order = []
for line in open(sys.argv[1]):
    fields = dict(pair.split("=", 1) for pair in line.split() if "=" in pair)
    if "rate" not in fields:
        continue
    scenario = fields["scenario"]
    if scenario not in order:
        order.append(scenario)
    cells[scenario][fields["consumer"]].append(fields)
def median(rows, key):
    return statistics.median(float(row[key]) for row in rows)
print()
print("events/s: median (best) of the runs, wall time; consumer CPU ns/event: median (thread CPU time,")
print("immune to other load); loss % median; malloc calls during the consume loop, last run")
header = f"{'scenario':<18} {'libbpf ev/s':>26} {'swift ev/s':>26} {'swift/libbpf':>12} {'cpu ns/ev libbpf':>16} {'cpu ns/ev swift':>15} {'loss% libbpf':>12} {'loss% swift':>11} {'mallocs c/swift':>15} {'accounted':>9}"
print(header)
for scenario in order:
    c, s = cells[scenario]["libbpf"], cells[scenario]["swift"]
    if not c or not s:
        continue
    rc, rs = median(c, "rate"), median(s, "rate")
    bc, bs = max(float(r["rate"]) for r in c), max(float(r["rate"]) for r in s)
    accounted = all(row["accounted"] == "true" for row in c + s)
    mallocs = f"{c[-1]['mallocs']}/{s[-1]['mallocs']}"
    print(f"{scenario:<18} {f'{rc:,.0f} ({bc:,.0f})':>26} {f'{rs:,.0f} ({bs:,.0f})':>26} {f'{rs / rc:.2f} ({bs / bc:.2f})':>12} {median(c, 'cpu_ns_per_event'):>16.2f} {median(s, 'cpu_ns_per_event'):>15.2f} {median(c, 'loss_pct'):>12.2f} {median(s, 'loss_pct'):>11.2f} {mallocs:>15} {str(accounted):>9}")
PY
