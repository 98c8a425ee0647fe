// Times loading whole BPF objects with ObjectLoader: read + parse the ELF, CO-RE against the
// kernel BTF, create the maps, load every program, then release it all — the work
// Benchmarks/C/objload_libbpf.c does with bpf_object__open_file + bpf_object__load + close.
// Run both with Benchmarks/run-objload.sh.
// Usage: swiftbpf-bench-objload ITERATIONS OBJECT...
// Prints per object: `swiftbpf <object> <median-ms> <min-ms>` or `swiftbpf <object> fail <reason>`.
import BPF
import BPFObject
#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) * 1e3 + Double(spec.tv_nsec) / 1e6
}

let arguments = CommandLine.arguments
guard arguments.count > 2, let iterations = Int(arguments[1]), iterations > 0 else {
    print("usage: swiftbpf-bench-objload ITERATIONS OBJECT...")
    exit(2)
}
for path in arguments.dropFirst(2) {
    var samples: [Double] = []
    do {
        for _ in 0..<iterations {
            let start = now()
            // The loaded object is released at the end of the scope: fds closed, like bpf_object__close.
            _ = try ObjectLoader(path: path).load()
            samples.append(now() - start)
        }
        samples.sort()
        print("swiftbpf \(path) \(samples[samples.count / 2]) \(samples[0])")
    } catch {
        print("swiftbpf \(path) fail \(String(describing: error).prefix(80).split(separator: "\n").first ?? "")")
    }
}
