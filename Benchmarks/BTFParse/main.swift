// Times parsing a BTF file (default /sys/kernel/btf/vmlinux) and walking every type, the same
// work Benchmarks/btf_parse_libbpf.c does with libbpf's btf__parse; run both with
// Benchmarks/run-btf.sh. Prints one line: `swiftbpf <median-ms> <min-ms> <types> <peak-rss-KiB>`.
import BPFObject
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let path = arguments.count > 1 ? arguments[1] : "/sys/kernel/btf/vmlinux"
let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 20 : 20

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) * 1e3 + Double(spec.tv_nsec) / 1e6
}

var samples: [Double] = []
var checksum = 0
var types = 0
for _ in 0..<iterations {
    let start = now()
    let btf = try BTF(contentsOfFile: path)
    // Walk all types: kind, vlen and the first byte of the name, like the C side.
    for id in btf.allTypeIDs {
        let head = try btf.head(of: id)
        checksum &+= Int(head.kind.rawValue) &+ head.vlen &+ (btf.hasName(head.nameOffset) ? 1 : 0)
    }
    samples.append(now() - start)
    types = btf.typeCount - 1
}
samples.sort()
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print("swiftbpf \(samples[samples.count / 2]) \(samples[0]) \(types) \(usage.ru_maxrss) checksum=\(checksum)")
